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
    limit_malloc_arenas();
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

/// glibc gives each thread that allocates its own arena, and the memory a batch
/// leaves in one is not reused by the others: with the normalize workers, the sink
/// threads and the runtime's threads, peak memory then grew with the number of
/// threads rather than with the batches in flight. Two arenas keep it flat.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first in main, before any other thread exists; mallopt only
    // changes the allocator's tuning.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
