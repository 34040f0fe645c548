//! intake's pipeline: sources, the one reader, the normalize stage, transforms,
//! sinks, end-to-end acknowledgements, dead letters, metrics and shutdown, wired by
//! a configuration. Components implement the traits of `component.rs` and are
//! registered in `registry.rs`.

pub mod ack;
pub mod aws;
pub mod buffers;
pub mod component;
pub mod config;
pub mod dead_letter;
pub mod event;
pub mod internal_events;
pub mod metrics;
pub mod normalize;
pub mod pool;
pub mod reader;
pub mod registry;
pub mod shutdown;
pub mod sinks;
pub mod sources;
pub mod topology;

use std::path::Path;
use std::time::Duration;

pub use config::Config;

/// Sets up structured logs on standard error (`RUST_LOG` filters; JSON if asked).
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()?)
}

/// `intake run`: runs a configuration until SIGINT/SIGTERM (or until every
/// source has finished).
pub fn run_file(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let rt = runtime()?;
    let result = rt.block_on(topology::run(config, shutdown::os_signal()));
    // A blocking read (stdin) must not keep the process alive.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// `intake validate`: checks a configuration and loads its formats; with `online`,
/// also reaches what each component reads or writes, with its credentials.
/// Returns one line per check.
pub fn validate_file(path: &Path, online: bool) -> anyhow::Result<Vec<String>> {
    let config = Config::load(path)?;
    topology::normalizers(&config)?;
    let mut report = vec![format!(
        "{}: {} source(s), {} transform(s), {} sink(s): configuration valid",
        path.display(),
        config.sources.len(),
        config.transforms.len(),
        config.sinks.len()
    )];
    if online {
        let rt = runtime()?;
        rt.block_on(async {
            for (name, entry) in &config.sources {
                let build = component::SourceBuild {
                    name: name.as_str().into(),
                    common: entry.common.clone(),
                };
                if let Some(line) = entry
                    .config
                    .healthcheck(&build)
                    .await
                    .map_err(|e| anyhow::anyhow!("sources.{name}: {e}"))?
                {
                    report.push(format!("sources.{name}: {line}"));
                }
            }
            for (name, entry) in &config.sinks {
                if let Some(line) = entry
                    .config
                    .healthcheck()
                    .await
                    .map_err(|e| anyhow::anyhow!("sinks.{name}: {e}"))?
                {
                    report.push(format!("sinks.{name}: {line}"));
                }
            }
            anyhow::Ok(())
        })?;
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    Ok(report)
}
