//! The dead letter: raw events that could not be normalized, notifications that are
//! not notifications, objects that cannot be read, batches a sink refused for good.
//! Each record keeps the raw text and says why, where it came from, and when.
//!
//! A source's `dead_letter` names a sink; without one, records are logged (never
//! silently dropped).

use std::sync::Arc;

use crate::ack::AckRef;
use crate::event::{Closed, Delivery, EncodedBatch, SinkSender};
use crate::metrics;

/// One dead-lettered item.
#[derive(Debug, Clone, Default)]
pub struct DeadRecord {
    pub reason: String,
    /// The raw event or message text, when there is one.
    pub message: Option<String>,
    /// Where it came from: `s3://bucket/key`, a file path, `stdin`, `sqs`.
    pub origin: Option<String>,
    /// 1-based line in the object or file.
    pub line: Option<u64>,
    pub sqs_message_id: Option<String>,
}

impl DeadRecord {
    pub fn write_json(&self, source: &str, out: &mut Vec<u8>) {
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
        if let Some(m) = &self.message {
            doc.insert("message".into(), m.clone().into());
        }
        doc.insert("intake".into(), serde_json::Value::Object(intake));
        doc.insert("dead_letter".into(), true.into());
        // Serializing a serde_json::Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &serde_json::Value::Object(doc));
        out.push(b'\n');
    }
}

/// Where a source's dead-letter records go.
#[derive(Clone)]
pub struct DeadLetter {
    pub source: Arc<str>,
    pub sink: Option<SinkSender>,
}

impl DeadLetter {
    fn encode(&self, records: &[DeadRecord]) -> EncodedBatch {
        let mut batch = EncodedBatch::default();
        for r in records {
            r.write_json(&self.source, &mut batch.ndjson);
            batch.count += 1;
        }
        metrics::add(
            &metrics::counter(
                "intake_events_dead_lettered_total",
                &[("source", &self.source)],
            ),
            records.len() as u64,
        );
        batch
    }

    fn log(&self, records: &[DeadRecord]) {
        for r in records.iter().take(5) {
            tracing::warn!(
                source = %self.source,
                origin = r.origin.as_deref().unwrap_or(""),
                line = r.line,
                sqs_message_id = r.sqs_message_id.as_deref(),
                message = r.message.as_deref().map(|m| truncate(m, 300)),
                "dead letter (no dead_letter sink configured): {}",
                r.reason
            );
        }
        if records.len() > 5 {
            tracing::warn!(source = %self.source, "{} more dead-letter records not shown", records.len() - 5);
        }
    }

    fn delivery(&self, records: &[DeadRecord], ack: &AckRef) -> Option<(SinkSender, Delivery)> {
        if records.is_empty() {
            return None;
        }
        let batch = self.encode(records);
        match &self.sink {
            Some(sink) => Some((
                sink.clone(),
                Delivery {
                    batch: Arc::new(batch),
                    ack: ack.clone(),
                    dead_letter: None,
                },
            )),
            None => {
                self.log(records);
                None
            }
        }
    }

    /// From blocking threads only.
    pub fn send_blocking(&self, records: &[DeadRecord], ack: &AckRef) -> Result<(), Closed> {
        match self.delivery(records, ack) {
            Some((sink, d)) => sink.tx.blocking_send(d).map_err(|_| Closed),
            None => Ok(()),
        }
    }

    pub async fn send(&self, records: &[DeadRecord], ack: &AckRef) -> Result<(), Closed> {
        match self.delivery(records, ack) {
            Some((sink, d)) => sink.tx.send(d).await.map_err(|_| Closed),
            None => Ok(()),
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
            message: Some("x y".into()),
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
