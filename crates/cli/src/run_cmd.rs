//! `intake run` and `intake validate`: configuration-driven collection.
//! CONTRACT: `run(RunArgs)` and `validate(ValidateArgs)` return the process exit code.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  intake run --config intake.toml
  RUST_LOG=debug intake run --config intake.toml --log-json

The configuration names sources (aws_s3_sqs, file, stdin), each with a format, and
sinks (file, stdout, http) fed by them; see docs/collect-s3.md. SIGINT/SIGTERM stop
receiving and acknowledge only what the sinks accepted.")]
pub struct RunArgs {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Logs as JSON lines (on standard error) instead of text.
    #[arg(long)]
    pub log_json: bool,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  intake validate --config intake.toml
  intake validate --config intake.toml --online   # also resolve credentials and reach each queue")]
pub struct ValidateArgs {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Also check that credentials and endpoints are reachable.
    #[arg(long)]
    pub online: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    intake_pipeline::init_logging(args.log_json);
    intake_pipeline::run_file(&args.config)?;
    Ok(ExitCode::SUCCESS)
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    if args.online {
        intake_pipeline::init_logging(false);
    }
    for line in intake_pipeline::validate_file(&args.config, args.online)? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
