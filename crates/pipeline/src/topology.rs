//! Wiring a configuration into running tasks, generically over the component
//! traits: sinks first (each with a bounded queue), then transforms, then the
//! normalize pool and the sources with their ordered forwarders; then the shutdown
//! sequence.
//!
//! Shutdown: `stop` (sources take no new work; in-flight work finishes within the
//! grace period), then `abort` (what is still in flight is abandoned without being
//! acknowledged, so it is delivered again later).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::component::{
    self, Fanout, SinkInput, SourceBuild, SourceContext, SourceOutput, Transform,
};
use crate::config::Config;
use crate::dead_letter::DeadLetter;
use crate::event::{Delivery, EncodedBatch};
use crate::normalize::{Normalizer, load_format};
use crate::pool::Pool;

/// Batches waiting in a component's queue.
pub const QUEUE_CAPACITY: usize = 4;

/// Loads every source's format (errors name the source).
pub fn normalizers(config: &Config) -> anyhow::Result<BTreeMap<String, Arc<Normalizer>>> {
    let mut out = BTreeMap::new();
    for (name, source) in &config.sources {
        // A source whose events choose their format loads its formats itself.
        let spec = match source.config.needs_format() {
            true => source
                .common
                .format
                .as_deref()
                .unwrap_or(crate::normalize::RAW_FORMAT),
            false => crate::normalize::RAW_FORMAT,
        };
        let (format, warnings) = load_format(spec, source.common.lenient)
            .map_err(|e| anyhow::anyhow!("sources.{name}.format: {e}"))?;
        for w in warnings {
            tracing::warn!(source = %name, "format: {w}");
        }
        let mut n = Normalizer::new(format);
        n.framing = source.common.framing;
        n.max_event_bytes = source.common.max_event_bytes;
        out.insert(name.clone(), Arc::new(n));
    }
    Ok(out)
}

/// The queues that take each output (`source`, `transform`, `transform.output`).
struct Wiring {
    targets: BTreeMap<String, Vec<mpsc::Sender<Delivery>>>,
}

impl Wiring {
    fn fanout(&mut self, output: &str) -> Fanout {
        Fanout::new(self.targets.remove(output).unwrap_or_default())
    }
}

/// Runs until every source has finished (files read, end of stdin) or until
/// `external_stop` resolves (SIGINT/SIGTERM for `intake run`).
pub async fn run(
    config: Config,
    external_stop: impl std::future::Future<Output = &'static str>,
) -> anyhow::Result<()> {
    let mut normalizers = normalizers(&config)?;
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let grace = Duration::from_secs(config.shutdown_timeout_secs);
    let threads = config
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    crate::metrics::install();
    let metrics_task = match &config.metrics {
        Some(m) => Some(crate::metrics::serve(m.address).await?),
        None => None,
    };

    let mut wiring = Wiring {
        targets: BTreeMap::new(),
    };
    // Sinks: each subscribes to its inputs through one merged queue.
    let mut sink_queues: BTreeMap<String, mpsc::Sender<Delivery>> = BTreeMap::new();
    let mut sink_tasks = JoinSet::new();
    for (name, entry) in &config.sinks {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        for input in &entry.common.inputs {
            wiring
                .targets
                .entry(input.clone())
                .or_default()
                .push(tx.clone());
        }
        sink_queues.insert(name.clone(), tx);
        let sink = entry
            .config
            .build(name.as_str().into())
            .await
            .map_err(|e| anyhow::anyhow!("sinks.{name}: {e}"))?;
        let input = SinkInput {
            name: name.as_str().into(),
            rx,
            abort: abort.clone(),
        };
        let name = name.clone();
        sink_tasks.spawn(async move {
            if let Err(e) = sink.run(input).await {
                tracing::error!(sink = %name, "stopped: {e}");
            }
        });
    }

    // Transforms, each on its own task; their outputs go to what subscribed.
    let mut transform_tasks = JoinSet::new();
    let mut transform_inputs = Vec::new();
    for (name, entry) in &config.transforms {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        for input in &entry.inputs {
            wiring
                .targets
                .entry(input.clone())
                .or_default()
                .push(tx.clone());
        }
        let transform = entry
            .config
            .build(name)
            .map_err(|e| anyhow::anyhow!("transforms.{name}: {e}"))?;
        transform_inputs.push((name.clone(), entry.config.outputs(), transform, rx));
    }
    // Outputs are known once every subscriber is: transforms before sources.
    for (name, outputs, transform, rx) in transform_inputs {
        let default = wiring.fanout(&name);
        let named: BTreeMap<&'static str, Fanout> = outputs
            .iter()
            .map(|o| (*o, wiring.fanout(&format!("{name}.{o}"))))
            .collect();
        transform_tasks.spawn(run_transform(name, transform, rx, default, named));
    }

    // The normalize workers, and the sources.
    let pool = Pool::new(threads);
    let mut source_tasks = JoinSet::new();
    let mut forwarders = JoinSet::new();
    for (name, entry) in &config.sources {
        let source_name: Arc<str> = name.as_str().into();
        let fanout = wiring.fanout(name);
        let dead_letter = DeadLetter {
            source: source_name.clone(),
            sink: entry
                .common
                .dead_letter
                .as_ref()
                .and_then(|d| sink_queues.get(d).cloned()),
        };
        let normalizer = normalizers
            .remove(name)
            .ok_or_else(|| anyhow::anyhow!("sources.{name}: no format"))?;
        let (ordered_tx, ordered_rx) = mpsc::channel(threads + 2);
        forwarders.spawn(component::forward(
            source_name.clone(),
            ordered_rx,
            fanout,
            dead_letter.clone(),
        ));
        let output = SourceOutput::new(
            source_name.clone(),
            normalizer.clone(),
            pool.clone(),
            ordered_tx,
            dead_letter,
        );
        let build = SourceBuild {
            name: source_name.clone(),
            common: entry.common.clone(),
        };
        let source = entry
            .config
            .build(&build)
            .await
            .map_err(|e| anyhow::anyhow!("sources.{name}: {e}"))?;
        tracing::info!(source = %name, kind = entry.kind, format = normalizer.format.slug(), "starting source");
        let cx = SourceContext {
            name: source_name,
            output,
            stop: stop.clone(),
            abort: abort.clone(),
        };
        let name = name.clone();
        source_tasks.spawn(async move {
            if let Err(e) = source.run(cx).await {
                tracing::error!(source = %name, "stopped: {e:#}");
            }
        });
    }
    // Only the sources and forwarders hold the queues now: they close in order
    // once the sources end.
    drop(sink_queues);
    drop(wiring);
    drop(pool);

    tokio::pin!(external_stop);
    let mut signalled = false;
    loop {
        tokio::select! {
            r = source_tasks.join_next() => if r.is_none() { break },
            sig = &mut external_stop, if !signalled => {
                signalled = true;
                tracing::info!("{sig}: stopping; in-flight work has {grace:?} to finish");
                stop.cancel();
                break;
            }
        }
    }
    let drain = async {
        while source_tasks.join_next().await.is_some() {}
        while forwarders.join_next().await.is_some() {}
        while transform_tasks.join_next().await.is_some() {}
        while sink_tasks.join_next().await.is_some() {}
    };
    if signalled {
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                "shutdown grace period over: abandoning in-flight work (not acknowledged)"
            );
            abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while source_tasks.join_next().await.is_some() {}
                while forwarders.join_next().await.is_some() {}
                while transform_tasks.join_next().await.is_some() {}
                while sink_tasks.join_next().await.is_some() {}
            })
            .await;
        }
    } else {
        tracing::info!("all sources finished; flushing sinks");
        stop.cancel();
        drain.await;
    }
    if let Some(t) = metrics_task {
        t.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs one transform: each batch in, its outputs on; a tick every second.
async fn run_transform(
    name: String,
    mut transform: Box<dyn Transform>,
    mut rx: mpsc::Receiver<Delivery>,
    default: Fanout,
    named: BTreeMap<&'static str, Fanout>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut extra: BTreeMap<&'static str, EncodedBatch> = BTreeMap::new();
    loop {
        let delivery = tokio::select! {
            d = rx.recv() => match d {
                Some(d) => Some(d),
                None => break,
            },
            _ = tick.tick() => None,
        };
        let template = match delivery {
            Some(d) => {
                let batch = transform.transform(d.batch.clone(), &mut extra);
                let out = Delivery { batch, ..d.clone() };
                if out.batch.is_empty() {
                    out.ack.accept();
                } else if default.send(out).await.is_err() {
                    tracing::warn!(transform = %name, "its outputs stopped");
                }
                Some(d)
            }
            None => {
                transform.tick(&mut extra);
                None
            }
        };
        for (output, batch) in std::mem::take(&mut extra) {
            let Some(fanout) = named.get(output) else {
                continue;
            };
            if batch.is_empty() {
                continue;
            }
            // Outputs made from a batch share its claim; outputs made by time
            // (a closing window) have no upstream unit.
            let delivery = match &template {
                Some(d) => Delivery {
                    batch: Arc::new(batch),
                    ..d.clone()
                },
                None => Delivery {
                    batch: Arc::new(batch),
                    ack: crate::ack::AckRef::none(),
                    origin: name.as_str().into(),
                    context: None,
                    dead_letter: None,
                },
            };
            let _ = fanout.send(delivery).await;
        }
        // This task's own claim on the batch: its outputs hold theirs.
        if let Some(d) = template {
            d.ack.accept();
        }
    }
    // Flush what time-based outputs still hold.
    transform.finish(&mut extra);
    for (output, batch) in extra {
        if let Some(fanout) = named.get(output)
            && !batch.is_empty()
        {
            let _ = fanout
                .send(Delivery {
                    batch: Arc::new(batch),
                    ack: crate::ack::AckRef::none(),
                    origin: name.as_str().into(),
                    context: None,
                    dead_letter: None,
                })
                .await;
        }
    }
}

/// For tests: a future that resolves once `token` is cancelled.
pub async fn until(token: CancellationToken) -> &'static str {
    token.cancelled().await;
    "stop requested"
}

/// A helper for sources and tests: the default normalizer of a format name.
pub fn normalizer_for(spec: &str) -> anyhow::Result<Arc<Normalizer>> {
    let (format, _) = load_format(spec, false).map_err(anyhow::Error::msg)?;
    Ok(Arc::new(Normalizer::new(format)))
}
