//! The `intake` binary: a thin layer over the engine, the formats and the pipeline.

mod run_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "intake", version, about = "Collect security telemetry and normalize it into ECS events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collectors and sinks of a configuration until stopped.
    Run(run_cmd::RunArgs),
    /// Check a configuration without running it.
    Validate(run_cmd::ValidateArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Validate(args) => run_cmd::validate(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("intake: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
