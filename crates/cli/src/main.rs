//! The `intake` binary: a thin layer over the engine, the formats and the pipeline.

mod formats_cmd;
mod parse_cmd;
mod run_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "intake",
    version,
    about = "Collect security telemetry and normalize it into ECS events",
    after_help = "Examples:
  intake parse --format aws-vpc-flow-logs samples/aws-vpc-flow-logs.log.gz
  intake formats list
  intake formats test formats/
  intake run --config intake.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Normalize raw events from files or stdin into NDJSON ECS events.
    Parse(parse_cmd::ParseArgs),
    /// List the built-in formats, or run format test cases.
    #[command(subcommand)]
    Formats(formats_cmd::FormatsCommand),
    /// Run the collectors and sinks of a configuration until stopped.
    Run(run_cmd::RunArgs),
    /// Check a configuration without running it.
    Validate(run_cmd::ValidateArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse_cmd::run(args),
        Command::Formats(cmd) => formats_cmd::run(cmd),
        Command::Run(args) => run_cmd::run(args),
        Command::Validate(args) => run_cmd::validate(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("intake: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
