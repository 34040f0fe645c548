//! The three kinds of components and what the topology gives each.
//!
//! - A **source** reads or receives raw events and hands them to its
//!   [`SourceOutput`] in batches, each with an acknowledgement claim; the pipeline
//!   normalizes them on the worker pool and passes them on in order.
//! - A **transform** turns batches of normalized events into batches (on its
//!   default output and on named outputs such as `cti.alerts`).
//! - A **sink** delivers batches and settles each batch's claim once the batch is
//!   durably accepted.
//!
//! Each kind's configuration implements [`SourceConfig`], [`TransformConfig`] or
//! [`SinkConfig`] in the component's own module; `registry.rs` maps the `type`
//! names of the TOML to them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ack::AckRef;
use crate::dead_letter::{DeadLetter, DeadRecord};
use crate::event::{Closed, Delivery, EncodedBatch, RawBatch};
use crate::normalize::Normalizer;
use crate::pool::{Pending, Pool};

/// What every source's configuration says besides its own settings.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCommon {
    /// A built-in format's slug, a format folder, or `raw`.
    pub format: Option<String>,
    /// The sink that takes this source's dead-letter records.
    pub dead_letter: Option<String>,
    /// Longer events go to the dead letter.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// How each line is read: `lines` (the raw event) or `json` (`message` + fields).
    #[serde(default)]
    pub framing: crate::normalize::Framing,
    /// Load a format folder leniently (third-party catalogs).
    #[serde(default)]
    pub lenient: bool,
}

fn default_max_event_bytes() -> usize {
    crate::reader::MAX_EVENT_BYTES
}

/// A source's configuration: deserialized from its TOML table, checked, built.
#[async_trait]
pub trait SourceConfig: std::fmt::Debug + Send + Sync {
    /// Offline checks beyond what deserializing catches (`intake validate`).
    fn validate(&self, _common: &SourceCommon) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether the source needs a `format` (a source whose events choose their
    /// format themselves does not).
    fn needs_format(&self) -> bool {
        true
    }

    async fn build(&self, cx: &SourceBuild) -> anyhow::Result<Box<dyn Source>>;

    /// `intake validate --online`: reach what the source reads, with its
    /// credentials. `Ok(None)` when there is nothing to reach.
    async fn healthcheck(&self, _cx: &SourceBuild) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

/// What a source is built with.
pub struct SourceBuild {
    pub name: Arc<str>,
    pub common: SourceCommon,
}

#[async_trait]
pub trait Source: Send {
    /// Runs until the source has nothing more to read or `cx.stop` is cancelled;
    /// in-flight work may finish until `cx.abort`.
    async fn run(self: Box<Self>, cx: SourceContext) -> anyhow::Result<()>;
}

/// What a running source is given.
pub struct SourceContext {
    pub name: Arc<str>,
    pub output: SourceOutput,
    /// Stop taking new work.
    pub stop: CancellationToken,
    /// Abandon in-flight work (not acknowledged).
    pub abort: CancellationToken,
}

/// Where a source hands its raw batches: to the normalize workers, then, in the
/// order they were handed, to the transforms and sinks that take the source.
#[derive(Clone)]
pub struct SourceOutput {
    name: Arc<str>,
    normalizer: Arc<Normalizer>,
    pool: Pool,
    ordered: mpsc::Sender<InFlight>,
    dead_letter: DeadLetter,
}

/// A submitted batch on its way to the forwarder.
pub(crate) struct InFlight {
    pending: Pending,
    ack: AckRef,
    received: Instant,
    normalizer: Arc<Normalizer>,
}

impl SourceOutput {
    pub(crate) fn new(
        name: Arc<str>,
        normalizer: Arc<Normalizer>,
        pool: Pool,
        ordered: mpsc::Sender<InFlight>,
        dead_letter: DeadLetter,
    ) -> SourceOutput {
        SourceOutput {
            name,
            normalizer,
            pool,
            ordered,
            dead_letter,
        }
    }

    pub fn source(&self) -> &Arc<str> {
        &self.name
    }

    pub fn normalizer(&self) -> &Arc<Normalizer> {
        &self.normalizer
    }

    /// The same output, normalizing with another format (a source whose events
    /// choose their format).
    pub fn with_normalizer(&self, normalizer: Arc<Normalizer>) -> SourceOutput {
        SourceOutput {
            normalizer,
            ..self.clone()
        }
    }

    /// Hands a batch on; `ack` is settled once every sink accepted its events (or
    /// they were dead-lettered). Waits while the pipeline is saturated.
    pub async fn send(&self, batch: RawBatch, ack: &AckRef) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        crate::internal_events::EventsReceived {
            source: &self.name,
            count: batch.len(),
            bytes: batch.data.len(),
        }
        .emit();
        let pending = self.pool.submit(batch, &self.normalizer).await?;
        self.ordered
            .send(self.in_flight(pending, ack))
            .await
            .map_err(|_| Closed)
    }

    /// [`SourceOutput::send`] from a blocking thread.
    pub fn send_blocking(&self, batch: RawBatch, ack: &AckRef) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        crate::internal_events::EventsReceived {
            source: &self.name,
            count: batch.len(),
            bytes: batch.data.len(),
        }
        .emit();
        let pending = self.pool.submit_blocking(batch, &self.normalizer)?;
        self.ordered
            .blocking_send(self.in_flight(pending, ack))
            .map_err(|_| Closed)
    }

    fn in_flight(&self, pending: Pending, ack: &AckRef) -> InFlight {
        InFlight {
            pending,
            ack: ack.clone(),
            received: Instant::now(),
            normalizer: self.normalizer.clone(),
        }
    }

    /// Sends records that are not events at all (a notification that is not one, an
    /// object that cannot be read) to the dead letter, with a claim on `ack`.
    pub async fn dead_letter(&self, records: &[DeadRecord], ack: &AckRef) -> Result<(), Closed> {
        self.dead_letter.send(records, ack).await
    }

    /// [`SourceOutput::dead_letter`] from a blocking thread.
    pub fn dead_letter_blocking(&self, records: &[DeadRecord], ack: &AckRef) -> Result<(), Closed> {
        let handle = tokio::runtime::Handle::current();
        handle.block_on(self.dead_letter.send(records, ack))
    }
}

/// Takes a source's normalized batches in submission order and hands them on.
pub(crate) async fn forward(
    source: Arc<str>,
    mut ordered: mpsc::Receiver<InFlight>,
    fanout: Fanout,
    dead_letter: DeadLetter,
) {
    while let Some(InFlight {
        pending,
        ack,
        received,
        normalizer,
    }) = ordered.recv().await
    {
        let Some(done) = pending.recv().await else {
            ack.reject();
            continue;
        };
        let normalized = done.normalized;
        crate::internal_events::EventsNormalized {
            source: &source,
            format: normalizer.format.slug(),
            count: normalized.events.count,
            fell_back: normalized.fell_back,
        }
        .emit();
        // The batch's own unit: its settling measures the time from receipt to
        // acceptance by every sink.
        let batch_source = source.clone();
        let batch_ack = AckRef::nested(&ack, move |ok| {
            crate::internal_events::BatchSettled {
                source: &batch_source,
                accepted: ok,
                seconds: received.elapsed().as_secs_f64(),
            }
            .emit()
        });
        let result = async {
            dead_letter.send(&normalized.dead, &batch_ack).await?;
            if normalized.events.count > 0 {
                let delivery = Delivery {
                    batch: Arc::new(normalized.events),
                    ack: batch_ack.clone(),
                    origin: done.raw.origin.clone(),
                    context: done.raw.context.clone(),
                    dead_letter: Some(dead_letter.clone()),
                };
                fanout.send(delivery).await?;
            }
            Ok::<(), Closed>(())
        }
        .await;
        match result {
            Ok(()) => batch_ack.accept(),
            Err(Closed) => batch_ack.reject(),
        }
        ack.accept();
    }
}

/// The queues of the components that take one output.
#[derive(Clone, Default)]
pub struct Fanout {
    targets: Vec<mpsc::Sender<Delivery>>,
}

impl Fanout {
    pub fn new(targets: Vec<mpsc::Sender<Delivery>>) -> Fanout {
        Fanout { targets }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Sends the delivery to every target (each gets its own claim).
    pub async fn send(&self, delivery: Delivery) -> Result<(), Closed> {
        match self.targets.split_last() {
            Some((last, rest)) => {
                for tx in rest {
                    tx.send(delivery.clone()).await.map_err(|_| Closed)?;
                }
                last.send(delivery).await.map_err(|_| Closed)?;
            }
            // Nobody takes this output: nothing is owed for it.
            None => delivery.ack.accept(),
        }
        Ok(())
    }
}

/// A transform's configuration.
pub trait TransformConfig: std::fmt::Debug + Send + Sync {
    fn validate(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Named outputs besides the default one (`alerts` makes `name.alerts`).
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }

    fn build(&self, name: &str) -> anyhow::Result<Box<dyn Transform>>;
}

/// A transform: synchronous, called for each batch on its own task.
pub trait Transform: Send {
    /// Processes one batch: returns the batch for the default output (the same one
    /// when nothing changed) and pushes batches for named outputs into `named`.
    fn transform(
        &mut self,
        batch: Arc<EncodedBatch>,
        named: &mut BTreeMap<&'static str, EncodedBatch>,
    ) -> Arc<EncodedBatch>;

    /// Called about once a second, for outputs that depend on time (closing
    /// aggregation windows, reloading data that changed).
    fn tick(&mut self, _named: &mut BTreeMap<&'static str, EncodedBatch>) {}
}

/// What every sink's configuration says besides its own settings.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkCommon {
    /// Sources, transforms or `transform.output`s whose events this sink takes.
    #[serde(default)]
    pub inputs: Vec<String>,
}

#[async_trait]
pub trait SinkConfig: std::fmt::Debug + Send + Sync {
    fn validate(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Whether the sink can refuse events for good (an HTTP 4xx): then every
    /// source that feeds it must have a dead letter.
    fn can_reject(&self) -> bool {
        false
    }

    async fn build(&self, name: Arc<str>) -> anyhow::Result<Box<dyn Sink>>;

    async fn healthcheck(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

#[async_trait]
pub trait Sink: Send {
    /// Runs until its input closes and is drained (or `abort`).
    async fn run(self: Box<Self>, input: SinkInput) -> anyhow::Result<()>;
}

pub struct SinkInput {
    pub name: Arc<str>,
    pub rx: mpsc::Receiver<Delivery>,
    /// Give up on in-flight batches (not acknowledged).
    pub abort: CancellationToken,
}

/// A source output wired to in-memory queues, for tests of sources: normalized
/// batches arrive on the first receiver, dead-letter records on the second.
/// Call from within a Tokio runtime.
#[doc(hidden)]
pub fn test_output(
    format: &str,
) -> (
    SourceOutput,
    mpsc::Receiver<Delivery>,
    mpsc::Receiver<Delivery>,
) {
    let normalizer = crate::topology::normalizer_for(format).expect("test format");
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (dead_tx, dead_rx) = mpsc::channel(1024);
    let dead_letter = DeadLetter {
        source: "test".into(),
        sink: Some(dead_tx),
    };
    let (ordered_tx, ordered_rx) = mpsc::channel(8);
    tokio::spawn(forward(
        "test".into(),
        ordered_rx,
        Fanout::new(vec![events_tx]),
        dead_letter.clone(),
    ));
    let output = SourceOutput::new(
        "test".into(),
        normalizer,
        Pool::new(2),
        ordered_tx,
        dead_letter,
    );
    (output, events_rx, dead_rx)
}
