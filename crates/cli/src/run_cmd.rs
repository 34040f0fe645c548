//! `intake run` and `intake validate`: configuration-driven collection.
//! CONTRACT: `run(RunArgs)` and `validate(ValidateArgs)` return the process exit code.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
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

pub fn run(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`intake run` is not implemented yet")
}

pub fn validate(_args: ValidateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`intake validate` is not implemented yet")
}
