//! What travels through the pipeline: batches of raw events from the sources, and
//! batches of serialized events (NDJSON, one compact JSON document per line) with an
//! acknowledgement claim towards the transforms and sinks.

use std::sync::Arc;

use intake_engine::Map;

use crate::ack::AckRef;
use crate::dead_letter::DeadRecord;

/// What a raw line of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Whole,
    /// Longer than the limit: the range holds only its beginning.
    Oversize,
    /// The stream broke off inside it (e.g. a truncated gzip).
    Truncated,
}

/// One raw event of a batch: a byte range of the batch's data.
#[derive(Debug, Clone, Copy)]
pub struct RawLine {
    pub start: usize,
    pub end: usize,
    /// 1-based position in its origin (line of a file, row, frame); 0 when none.
    pub number: u64,
    pub kind: LineKind,
}

/// What a source knows of an event besides its text.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Other input fields the format reads (the event is then interpreted).
    pub fields: Option<Map>,
    /// Fields added to the normalized event where the format did not set them
    /// (a syslog header, the peer's address).
    pub defaults: Option<Arc<Map>>,
}

/// Raw events from one origin, back to back in one buffer (no allocation per event).
#[derive(Debug, Default)]
pub struct RawBatch {
    /// Where they came from: a file path, `s3://bucket/key`, a peer address.
    pub origin: Arc<str>,
    /// An upstream unit they belong to (an SQS message id), for dead-letter records.
    pub context: Option<Arc<str>>,
    pub data: Vec<u8>,
    pub lines: Vec<RawLine>,
    /// Per-line extras, parallel to `lines`; empty when no line has any.
    pub extras: Vec<Option<Box<Extras>>>,
    /// Records that were already refused before normalization (a frame too long, a
    /// line in no known layout), delivered to the dead letter with the batch.
    pub dead: Vec<DeadRecord>,
    /// Lines read that are not events (flow-log headers, CloudWatch control
    /// messages), counted so that every line read is accounted for.
    pub skipped: u64,
}

impl RawBatch {
    pub fn new(origin: Arc<str>) -> RawBatch {
        RawBatch {
            origin,
            context: None,
            data: crate::buffers::take(),
            lines: Vec::new(),
            extras: Vec::new(),
            dead: Vec::new(),
            skipped: 0,
        }
    }

    /// Empties the batch for reuse, keeping its buffers.
    pub fn clear(&mut self, origin: Arc<str>) {
        self.origin = origin;
        self.context = None;
        self.data.clear();
        self.lines.clear();
        self.extras.clear();
        self.dead.clear();
        self.skipped = 0;
    }

    pub fn push(&mut self, bytes: &[u8], number: u64, kind: LineKind) {
        self.push_line(bytes, number, kind);
        if !self.extras.is_empty() {
            self.extras.push(None);
        }
    }

    /// A whole event with extras.
    pub fn push_with(&mut self, text: &str, number: u64, extras: Extras) {
        // Lines pushed before without extras get `None`.
        self.extras.resize_with(self.lines.len(), || None);
        self.push_line(text.as_bytes(), number, LineKind::Whole);
        self.extras.push(Some(Box::new(extras)));
    }

    fn push_line(&mut self, bytes: &[u8], number: u64, kind: LineKind) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.lines.push(RawLine {
            start,
            end: self.data.len(),
            number,
            kind,
        });
    }

    pub fn bytes(&self, line: &RawLine) -> &[u8] {
        &self.data[line.start..line.end]
    }

    pub fn extras(&self, index: usize) -> Option<&Extras> {
        self.extras.get(index).and_then(|e| e.as_deref())
    }

    pub fn len(&self) -> usize {
        self.lines.len() + self.dead.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dead.is_empty() && self.skipped == 0
    }
}

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

impl Drop for RawBatch {
    fn drop(&mut self) {
        crate::buffers::give(std::mem::take(&mut self.data));
    }
}

impl Drop for EncodedBatch {
    fn drop(&mut self) {
        crate::buffers::give(std::mem::take(&mut self.ndjson));
    }
}

/// One batch handed to a transform or a sink.
#[derive(Clone)]
pub struct Delivery {
    pub batch: Arc<EncodedBatch>,
    /// Settled once the batch is durably accepted (or given up on).
    pub ack: AckRef,
    /// Where the batch came from (dead-letter records of a sink rejection name it).
    pub origin: Arc<str>,
    pub context: Option<Arc<str>>,
    /// Where records this batch's events become go if a sink refuses them for good.
    pub dead_letter: Option<crate::dead_letter::DeadLetter>,
}

/// A downstream component's input queue has closed (shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the pipeline is shutting down")
    }
}

impl std::error::Error for Closed {}

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
