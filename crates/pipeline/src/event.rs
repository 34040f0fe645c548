//! What travels from sources to sinks: batches of serialized events (NDJSON, one
//! compact JSON document per line), each with an acknowledgement claim.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::ack::AckRef;
use crate::dead_letter::DeadLetter;

/// Events serialized as NDJSON: `count` documents, each ending with `\n`.
#[derive(Debug, Default)]
pub struct EncodedBatch {
    pub ndjson: Vec<u8>,
    pub count: usize,
}

impl EncodedBatch {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The documents as one JSON array (`[doc,doc]`).
    pub fn to_json_array(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ndjson.len() + 2);
        out.push(b'[');
        for (i, line) in self.lines().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(line);
        }
        out.push(b']');
        out
    }

    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty())
    }
}

/// One batch handed to one sink.
pub struct Delivery {
    pub batch: Arc<EncodedBatch>,
    pub ack: AckRef,
    /// Where the sink sends events it can never deliver (e.g. an HTTP 4xx).
    pub dead_letter: Option<DeadLetter>,
}

/// The sending side of a sink's input queue (bounded: backpressure).
#[derive(Clone)]
pub struct SinkSender {
    pub name: Arc<str>,
    pub tx: mpsc::Sender<Delivery>,
}

/// A sink's input queue has closed (shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sink stopped")
    }
}

/// A source's output: the sinks that take its events, and its dead letter.
#[derive(Clone)]
pub struct Output {
    pub source: Arc<str>,
    pub sinks: Vec<SinkSender>,
    pub dead_letter: DeadLetter,
}

impl Output {
    fn deliveries(
        &self,
        batch: EncodedBatch,
        ack: &AckRef,
    ) -> Vec<(mpsc::Sender<Delivery>, Delivery)> {
        let batch = Arc::new(batch);
        self.sinks
            .iter()
            .map(|s| {
                (
                    s.tx.clone(),
                    Delivery {
                        batch: batch.clone(),
                        ack: ack.clone(),
                        dead_letter: Some(self.dead_letter.clone()),
                    },
                )
            })
            .collect()
    }

    /// Sends a batch to every sink, waiting for room. From blocking threads only.
    pub fn send_blocking(&self, batch: EncodedBatch, ack: &AckRef) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        for (tx, d) in self.deliveries(batch, ack) {
            tx.blocking_send(d).map_err(|_| Closed)?;
        }
        Ok(())
    }

    /// Sends a batch to every sink, waiting for room.
    pub async fn send(&self, batch: EncodedBatch, ack: &AckRef) -> Result<(), Closed> {
        if batch.is_empty() {
            return Ok(());
        }
        for (tx, d) in self.deliveries(batch, ack) {
            tx.send(d).await.map_err(|_| Closed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_array() {
        let b = EncodedBatch {
            ndjson: b"{\"a\":1}\n{\"b\":2}\n".to_vec(),
            count: 2,
        };
        assert_eq!(b.to_json_array(), b"[{\"a\":1},{\"b\":2}]");
        assert_eq!(EncodedBatch::default().to_json_array(), b"[]");
    }
}
