//! `intake run` and `intake validate`: configuration-driven collection.
//! CONTRACT: `run(RunArgs)` and `validate(ValidateArgs)` return the process exit code.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Logs as JSON lines (on standard error) instead of text.
    #[arg(long)]
    pub log_json: bool,
}

#[derive(clap::Args)]
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
