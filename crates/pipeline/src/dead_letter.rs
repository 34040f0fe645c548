//! The dead letter: raw events that could not be normalized, notifications that are
//! not notifications, objects that cannot be read, batches a sink refused for good.
//! Each record keeps the raw text and says why, where it came from, and when.
//!
//! A source's `dead_letter` names a sink; without one, records are logged (never
//! silently dropped).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::ack::AckRef;
use crate::event::{Closed, Delivery, EncodedBatch};

/// One dead-lettered item.
#[derive(Debug, Clone, Default)]
pub struct DeadRecord {
    pub reason: String,
    /// The raw event or message, when there is one (written as text when it is
    /// UTF-8, else in base64).
    pub raw: Option<Vec<u8>>,
    /// Where it came from: `s3://bucket/key`, a file path, `stdin`, a peer.
    pub origin: Option<String>,
    /// 1-based line (or row, frame) in its origin.
    pub line: Option<u64>,
    /// The upstream unit it belonged to (an SQS message id).
    pub sqs_message_id: Option<String>,
}

impl DeadRecord {
    pub fn new(reason: impl Into<String>) -> DeadRecord {
        DeadRecord {
            reason: reason.into(),
            ..DeadRecord::default()
        }
    }

    pub fn with_text(mut self, text: impl Into<String>) -> DeadRecord {
        self.raw = Some(text.into().into_bytes());
        self
    }

    /// The raw event as text (lossy, for logs).
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.raw.as_deref().map(String::from_utf8_lossy)
    }

    /// One NDJSON line: `{"@timestamp", "message" | intake.raw_base64, "intake":
    /// {source, reason, origin, line, sqs_message_id}, "dead_letter": true}`.
    pub fn write_json(&self, source: &str, out: &mut Vec<u8>) {
        use base64::Engine as _;
        let mut intake = serde_json::Map::new();
        intake.insert("source".into(), source.into());
        intake.insert("reason".into(), self.reason.clone().into());
        if let Some(o) = &self.origin {
            intake.insert("origin".into(), o.clone().into());
        }
        if let Some(l) = self.line {
            intake.insert("line".into(), l.into());
        }
        if let Some(id) = &self.sqs_message_id {
            intake.insert("sqs_message_id".into(), id.clone().into());
        }
        let mut doc = serde_json::Map::new();
        doc.insert(
            "@timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        if let Some(raw) = &self.raw {
            match std::str::from_utf8(raw) {
                Ok(text) => {
                    doc.insert("message".into(), text.into());
                }
                Err(_) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
                    intake.insert("raw_base64".into(), b64.into());
                }
            }
        }
        doc.insert("intake".into(), serde_json::Value::Object(intake));
        doc.insert("dead_letter".into(), true.into());
        // Serializing a serde_json::Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &serde_json::Value::Object(doc));
        out.push(b'\n');
    }
}

/// Where a source's dead-letter records go: a sink's queue, or (without one) the
/// log, where each is counted and its reason shown (never silently dropped).
#[derive(Clone)]
pub struct DeadLetter {
    pub source: Arc<str>,
    pub sink: Option<mpsc::Sender<Delivery>>,
}

impl DeadLetter {
    fn encode(&self, records: &[DeadRecord]) -> EncodedBatch {
        let mut batch = EncodedBatch {
            ndjson: crate::buffers::take(),
            count: 0,
        };
        for r in records {
            r.write_json(&self.source, &mut batch.ndjson);
            batch.count += 1;
        }
        batch
    }

    fn log(&self, records: &[DeadRecord]) {
        for r in records.iter().take(5) {
            tracing::warn!(
                source = %self.source,
                origin = r.origin.as_deref().unwrap_or(""),
                line = r.line,
                sqs_message_id = r.sqs_message_id.as_deref(),
                message = r.text().as_deref().map(|m| truncate(m, 300)),
                "dead letter (no dead_letter sink configured): {}",
                r.reason
            );
        }
        if records.len() > 5 {
            tracing::warn!(source = %self.source, "{} more dead-letter records not shown", records.len() - 5);
        }
    }

    /// Hands `records` to the dead-letter sink with a claim on `ack`, or logs them.
    pub async fn send(&self, records: &[DeadRecord], ack: &AckRef) -> Result<(), Closed> {
        if records.is_empty() {
            return Ok(());
        }
        crate::internal_events::DeadLettered {
            source: &self.source,
            count: records.len(),
        }
        .emit();
        match &self.sink {
            Some(tx) => {
                let first = &records[0];
                let delivery = Delivery {
                    batch: Arc::new(self.encode(records)),
                    ack: ack.clone(),
                    origin: first.origin.as_deref().unwrap_or("").into(),
                    context: first.sqs_message_id.as_deref().map(Into::into),
                    dead_letter: None,
                };
                tx.send(delivery).await.map_err(|_| Closed)
            }
            None => {
                self.log(records);
                Ok(())
            }
        }
    }
}

pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_json() {
        let r = DeadRecord {
            reason: "bad".into(),
            raw: Some(b"x y".to_vec()),
            origin: Some("s3://b/k".into()),
            line: Some(3),
            sqs_message_id: None,
        };
        let mut out = Vec::new();
        r.write_json("flows", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["intake"]["reason"], "bad");
        assert_eq!(v["intake"]["origin"], "s3://b/k");
        assert_eq!(v["intake"]["line"], 3);
        assert_eq!(v["message"], "x y");
        assert!(out.ends_with(b"\n"));
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
