//! The narrow interface of the sources that acknowledge per request or per record
//! (syslog, http_intake, azure_blob): a source hands raw events to a `Deliver` and
//! learns whether they were accepted durably, so it acknowledges upstream only then.
//! [`OutputDeliver`] implements it over a [`SourceOutput`]: the events are normalized
//! and delivered as any source's are.

use std::collections::HashMap;
use std::sync::Arc;

use intake_engine::{Map, Value};

use crate::ack::AckRef;
use crate::component::SourceOutput;
use crate::dead_letter::DeadRecord;
use crate::event::{Extras, LineKind, RawBatch};

/// One raw event received by a source, before normalization.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The raw text the format reads as `message`.
    pub message: String,
    /// Other input fields the format reads (`/jsons` object keys). `None` for plain text.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// ECS fields to add when the format did not set them (syslog header, peer), nested.
    pub defaults: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Incoming {
    pub fn plain(message: String) -> Incoming {
        Incoming {
            message,
            fields: None,
            defaults: None,
        }
    }
}

/// What the pipeline gives a source.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Hands the events on. `true` once every event was accepted durably or dead-lettered
    /// with its reason; `false` when a sink failed or the pipeline is shutting down (the
    /// sender must not be acknowledged). Waits when the pipeline is saturated.
    async fn deliver(&self, origin: &str, events: Vec<Incoming>) -> bool;
    /// A record that is not an event at all (over-long frame, malformed body line).
    async fn dead_letter(&self, origin: &str, reason: String, raw: Vec<u8>) -> bool;
}

/// `Deliver` over the pipeline: one raw batch per call, settled when every sink
/// accepted its events (or they were dead-lettered).
pub struct OutputDeliver {
    output: SourceOutput,
}

impl OutputDeliver {
    pub fn new(output: SourceOutput) -> OutputDeliver {
        OutputDeliver { output }
    }
}

/// A JSON object as the engine's map (input fields and defaults of an event),
/// converted in place, without a round trip through text.
fn engine_map(map: serde_json::Map<String, serde_json::Value>) -> Option<Map> {
    match serde_json::from_value(serde_json::Value::Object(map)) {
        Ok(Value::Map(m)) => Some(m),
        _ => None,
    }
}

/// One `Deliver` per format of a source whose events choose their format (each key
/// of `http_intake`, `auto` of `azure_blob`): the same output, its own normalizer.
pub fn per_format(
    output: &SourceOutput,
    formats: impl IntoIterator<Item = impl Into<String>>,
) -> anyhow::Result<HashMap<String, Arc<dyn Deliver>>> {
    let mut out: HashMap<String, Arc<dyn Deliver>> = HashMap::new();
    for format in formats {
        let format = format.into();
        let normalizer = crate::topology::normalizer_for(&format)?;
        let deliver = OutputDeliver::new(output.with_normalizer(normalizer));
        out.insert(format, Arc::new(deliver));
    }
    Ok(out)
}

#[async_trait::async_trait]
impl Deliver for OutputDeliver {
    async fn deliver(&self, origin: &str, events: Vec<Incoming>) -> bool {
        let mut batch = RawBatch::new(origin.into());
        for (i, e) in events.into_iter().enumerate() {
            let number = i as u64 + 1;
            if e.fields.is_none() && e.defaults.is_none() {
                batch.push(e.message.as_bytes(), number, LineKind::Whole);
            } else {
                let extras = Extras {
                    fields: e.fields.and_then(engine_map),
                    defaults: e.defaults.and_then(engine_map).map(Arc::new),
                };
                batch.push_with(&e.message, number, extras);
            }
        }
        let (ack, waiter) = AckRef::new();
        if self.output.send(batch, &ack).await.is_err() {
            return false;
        }
        ack.accept();
        waiter.wait().await
    }

    async fn dead_letter(&self, origin: &str, reason: String, raw: Vec<u8>) -> bool {
        let record = DeadRecord {
            reason,
            raw: Some(raw),
            origin: Some(origin.to_string()),
            ..DeadRecord::default()
        };
        let (ack, waiter) = AckRef::new();
        if self.output.dead_letter(&[record], &ack).await.is_err() {
            return false;
        }
        ack.accept();
        waiter.wait().await
    }
}

/// The first bytes of a rejected record, enough to recognize it without keeping it whole.
pub fn first_bytes(raw: &[u8], limit: usize) -> Vec<u8> {
    raw[..raw.len().min(limit)].to_vec()
}

#[cfg(test)]
pub mod testing {
    //! A `Deliver` that collects what it is given, and can be told to refuse or to block.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::{Notify, watch};

    use super::{Deliver, Incoming};

    #[derive(Debug, Clone, PartialEq)]
    pub struct Dead {
        pub origin: String,
        pub reason: String,
        pub raw: Vec<u8>,
    }

    pub struct Collector {
        pub events: Mutex<Vec<(String, Incoming)>>,
        pub dead: Mutex<Vec<Dead>>,
        /// Answer `false` (a sink failed) while set.
        pub refuse: AtomicBool,
        /// Wait while this is `true` (a sink that stopped answering).
        blocked: watch::Sender<bool>,
        pub arrived: Notify,
    }

    impl Collector {
        pub fn new() -> std::sync::Arc<Collector> {
            std::sync::Arc::new(Collector {
                events: Mutex::new(Vec::new()),
                dead: Mutex::new(Vec::new()),
                refuse: AtomicBool::new(false),
                blocked: watch::channel(false).0,
                arrived: Notify::new(),
            })
        }
        pub fn block(&self, on: bool) {
            self.blocked.send_replace(on);
        }
        pub fn messages(&self) -> Vec<String> {
            let events = self.events.lock().unwrap();
            events.iter().map(|(_, e)| e.message.clone()).collect()
        }
        pub fn count(&self) -> usize {
            self.events.lock().unwrap().len()
        }
        /// Waits until at least `n` events (and `d` dead records) arrived, or panics after `secs`.
        pub async fn wait_for(&self, n: usize, d: usize, secs: u64) {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
            loop {
                if self.count() >= n && self.dead.lock().unwrap().len() >= d {
                    return;
                }
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                assert!(
                    !left.is_zero(),
                    "timed out: {} events of {n}, {} dead of {d}",
                    self.count(),
                    self.dead.lock().unwrap().len()
                );
                let _ = tokio::time::timeout(
                    left.min(std::time::Duration::from_millis(50)),
                    self.arrived.notified(),
                )
                .await;
            }
        }
        async fn unblocked(&self) {
            let mut rx = self.blocked.subscribe();
            let _ = rx.wait_for(|b| !*b).await;
        }
    }

    #[async_trait::async_trait]
    impl Deliver for Collector {
        async fn deliver(&self, origin: &str, events: Vec<Incoming>) -> bool {
            self.unblocked().await;
            if self.refuse.load(Ordering::SeqCst) {
                return false;
            }
            let mut all = self.events.lock().unwrap();
            all.extend(events.into_iter().map(|e| (origin.to_string(), e)));
            drop(all);
            self.arrived.notify_waiters();
            true
        }
        async fn dead_letter(&self, origin: &str, reason: String, raw: Vec<u8>) -> bool {
            self.unblocked().await;
            if self.refuse.load(Ordering::SeqCst) {
                return false;
            }
            self.dead.lock().unwrap().push(Dead {
                origin: origin.to_string(),
                reason,
                raw,
            });
            self.arrived.notify_waiters();
            true
        }
    }
}
