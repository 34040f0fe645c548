//! Wiring a configuration into running tasks: sinks first (each with a bounded
//! queue), then sources with their outputs; then the shutdown sequence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::{Config, SourceConfig};
use crate::dead_letter::DeadLetter;
use crate::event::{Output, SinkSender};
use crate::normalize::Normalizer;
use crate::shutdown::{self, Signal};
use crate::sinks;
use crate::sources;

/// Compiles every source's format (errors name the source).
pub fn normalizers(config: &Config) -> anyhow::Result<BTreeMap<String, Normalizer>> {
    let mut out = BTreeMap::new();
    for (name, source) in &config.sources {
        let n = Normalizer::from_name(source.format())
            .map_err(|e| anyhow::anyhow!("sources.{name}.format: {e}"))?;
        out.insert(name.clone(), n);
    }
    Ok(out)
}

/// Runs until every source has finished (files read, end of stdin) or until
/// `external_stop` resolves (SIGINT/SIGTERM for `intake run`).
pub async fn run(
    config: Config,
    external_stop: impl std::future::Future<Output = &'static str>,
) -> anyhow::Result<()> {
    let mut normalizers = normalizers(&config)?;
    let (stop_trigger, stop) = shutdown::signal();
    let (abort_trigger, abort) = shutdown::signal();
    let grace = Duration::from_secs(config.shutdown_timeout_secs);

    let metrics_task = match &config.metrics {
        Some(m) => Some(crate::metrics::serve(m.address).await?),
        None => None,
    };

    let mut senders: BTreeMap<String, SinkSender> = BTreeMap::new();
    let mut sink_tasks = JoinSet::new();
    for (name, sink) in &config.sinks {
        let (tx, rx) = mpsc::channel(sinks::QUEUE_CAPACITY);
        let name: Arc<str> = name.as_str().into();
        senders.insert(
            name.to_string(),
            SinkSender {
                name: name.clone(),
                tx,
            },
        );
        let handle = sinks::spawn(name, sink, rx, abort.clone())?;
        sink_tasks.spawn(async move {
            let _ = handle.await;
        });
    }

    let mut source_tasks = JoinSet::new();
    for (name, source) in &config.sources {
        let source_name: Arc<str> = name.as_str().into();
        let output = Output {
            source: source_name.clone(),
            sinks: config
                .sinks
                .iter()
                .filter(|(_, s)| s.inputs().iter().any(|i| i == name))
                .filter_map(|(sink, _)| senders.get(sink).cloned())
                .collect(),
            dead_letter: DeadLetter {
                source: source_name.clone(),
                sink: source.dead_letter().and_then(|d| senders.get(d).cloned()),
            },
        };
        let normalizer = normalizers
            .remove(name)
            .ok_or_else(|| anyhow::anyhow!("sources.{name}: no format"))?;
        tracing::info!(source = %name, kind = source.kind(), format = source.format(), sinks = output.sinks.len(), "starting source");
        match source {
            SourceConfig::AwsS3Sqs(c) => {
                let s = sources::s3_sqs::S3SqsSource::new(
                    source_name,
                    c.clone(),
                    output,
                    normalizer,
                    stop.clone(),
                    abort.clone(),
                )
                .await?;
                source_tasks.spawn(s.run());
            }
            SourceConfig::File(c) => {
                let (c, stop) = (c.clone(), stop.clone());
                source_tasks.spawn(async move {
                    let _ = tokio::task::spawn_blocking(move || {
                        sources::file::run(c, output, normalizer, stop)
                    })
                    .await;
                });
            }
            SourceConfig::Stdin(_) => {
                let stop = stop.clone();
                source_tasks.spawn(async move {
                    let _ = tokio::task::spawn_blocking(move || {
                        sources::stdin::run(output, normalizer, stop)
                    })
                    .await;
                });
            }
        }
    }
    // Only the sources hold senders now: sink queues close once the sources end.
    drop(senders);

    tokio::pin!(external_stop);
    let mut signalled = false;
    loop {
        tokio::select! {
            r = source_tasks.join_next() => if r.is_none() { break },
            sig = &mut external_stop, if !signalled => {
                signalled = true;
                tracing::info!("{sig}: stopping; in-flight work has {grace:?} to finish");
                stop_trigger.fire();
                break;
            }
        }
    }
    if signalled {
        let drained = tokio::time::timeout(grace, async {
            while source_tasks.join_next().await.is_some() {}
            while sink_tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "shutdown grace period over: abandoning in-flight work (not acknowledged)"
            );
            abort_trigger.fire();
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while source_tasks.join_next().await.is_some() {}
                while sink_tasks.join_next().await.is_some() {}
            })
            .await;
        }
    } else {
        tracing::info!("all sources finished; flushing sinks");
        stop_trigger.fire();
        while sink_tasks.join_next().await.is_some() {}
    }
    if let Some(t) = metrics_task {
        t.abort();
    }
    drop(abort_trigger);
    tracing::info!("stopped");
    Ok(())
}

/// A signal future for tests: never resolves until `signal` fires.
pub async fn until(signal: Signal) -> &'static str {
    signal.fired().await;
    "stop requested"
}
