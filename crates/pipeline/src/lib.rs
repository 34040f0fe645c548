//! intake's pipeline: configuration, sources (S3 via SQS notifications, files,
//! stdin), normalization through a format, sinks (file, stdout, HTTP), end-to-end
//! acknowledgements, dead letters, metrics and graceful shutdown.

pub mod ack;
pub mod aws;
pub mod config;
pub mod dead_letter;
pub mod decode;
pub mod event;
pub mod metrics;
pub mod normalize;
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

/// `intake validate`: checks a configuration; with `online`, also that each AWS
/// source's queue is reachable with its credentials. Returns one line per check.
pub fn validate_file(path: &Path, online: bool) -> anyhow::Result<Vec<String>> {
    let config = Config::load(path)?;
    topology::normalizers(&config)?;
    let mut report = vec![format!(
        "{}: {} source(s), {} sink(s): configuration valid",
        path.display(),
        config.sources.len(),
        config.sinks.len()
    )];
    if online {
        let rt = runtime()?;
        rt.block_on(async {
            for (name, source) in &config.sources {
                if let config::SourceConfig::AwsS3Sqs(c) = source {
                    let s = sources::s3_sqs::S3SqsSource::new(
                        name.as_str().into(),
                        c.clone(),
                        event::Output {
                            source: name.as_str().into(),
                            sinks: vec![],
                            dead_letter: dead_letter::DeadLetter {
                                source: name.as_str().into(),
                                sink: None,
                            },
                        },
                        normalize::Normalizer::Raw,
                        shutdown::Signal::never(),
                        shutdown::Signal::never(),
                    )
                    .await?;
                    let arn = tokio::time::timeout(Duration::from_secs(30), s.check_online())
                        .await
                        .map_err(|_| {
                            anyhow::anyhow!("sources.{name}: timed out reaching the queue")
                        })?
                        .map_err(|e| anyhow::anyhow!("sources.{name}: {e}"))?;
                    report.push(format!("sources.{name}: queue reachable ({arn})"));
                }
            }
            anyhow::Ok(())
        })?;
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    Ok(report)
}
