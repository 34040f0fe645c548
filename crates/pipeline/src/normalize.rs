//! Normalization: raw events through a source's format into serialized ECS events,
//! or into dead-letter records with the format's reason.

use std::sync::Arc;

use intake_engine::{Format, Map, Value};

use crate::config::RAW_FORMAT;
use crate::dead_letter::DeadRecord;
use crate::event::EncodedBatch;

/// One raw event as read: its text and where it was.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub message: String,
    /// 1-based line in the object or file (0 when not meaningful).
    pub line: u64,
}

/// A source's format, or `raw` (events pass as `{"message": …}`).
#[derive(Clone)]
pub enum Normalizer {
    Engine(Arc<Format>),
    Raw,
}

impl Normalizer {
    pub fn from_name(name: &str) -> Result<Normalizer, String> {
        if name == RAW_FORMAT {
            return Ok(Normalizer::Raw);
        }
        intake_formats::builtin(name)
            .map(|f| Normalizer::Engine(Arc::new(f)))
            .map_err(|e| format!("format {name:?}: {e}"))
    }

    /// Normalizes a chunk. Rejected events come back as dead records (origin left
    /// for the caller to fill in).
    pub fn normalize(&self, events: Vec<RawEvent>) -> (EncodedBatch, Vec<DeadRecord>) {
        let now = chrono::Utc::now();
        let mut batch = EncodedBatch {
            ndjson: Vec::with_capacity(events.len() * 512),
            count: 0,
        };
        let mut dead = Vec::new();
        for ev in events {
            match self {
                Normalizer::Raw => {
                    let mut m = Map::with_capacity(1);
                    m.insert("message", Value::from(ev.message));
                    intake_engine::json::write_json(&Value::Map(m), &mut batch.ndjson);
                    batch.ndjson.push(b'\n');
                    batch.count += 1;
                }
                Normalizer::Engine(format) => {
                    let mut input = Map::with_capacity(1);
                    input.insert("message", Value::from(ev.message.as_str()));
                    match format.parse(input, now) {
                        Ok(value) => {
                            intake_engine::json::write_json(&value, &mut batch.ndjson);
                            batch.ndjson.push(b'\n');
                            batch.count += 1;
                        }
                        Err(rejection) => dead.push(DeadRecord {
                            reason: rejection.reason,
                            message: Some(ev.message),
                            line: (ev.line > 0).then_some(ev.line),
                            ..DeadRecord::default()
                        }),
                    }
                }
            }
        }
        (batch, dead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_passes_through() {
        let (b, dead) = Normalizer::Raw.normalize(vec![RawEvent {
            message: "a \"b\"".into(),
            line: 1,
        }]);
        assert!(dead.is_empty());
        assert_eq!(b.count, 1);
        assert_eq!(b.ndjson, b"{\"message\":\"a \\\"b\\\"\"}\n");
    }
}
