//! Sources: where raw events come from.

pub mod azure_blob;
pub mod file;
pub mod s3_sqs;
pub mod stdin;

use std::io::BufRead;

use crate::ack::AckRef;
use crate::dead_letter::DeadRecord;
use crate::event::Output;
use crate::metrics;
use crate::normalize::{Normalizer, RawEvent};

/// Raw events normalized and sent together by line-oriented sources.
pub const CHUNK_EVENTS: usize = 500;

/// Normalizes a chunk and sends it on (blocking threads only). `false` once the
/// sinks are gone.
pub fn deliver_chunk(
    output: &Output,
    normalizer: &Normalizer,
    origin: &str,
    chunk: Vec<RawEvent>,
) -> bool {
    if chunk.is_empty() {
        return true;
    }
    let source: &str = &output.source;
    metrics::add(
        &metrics::counter("intake_events_in_total", &[("source", source)]),
        chunk.len() as u64,
    );
    let (batch, mut dead) = normalizer.normalize(chunk);
    metrics::add(
        &metrics::counter("intake_events_normalized_total", &[("source", source)]),
        batch.count as u64,
    );
    for d in &mut dead {
        d.origin = Some(origin.to_string());
    }
    let ack = AckRef::none();
    output.send_blocking(batch, &ack).is_ok()
        && output.dead_letter.send_blocking(&dead, &ack).is_ok()
}

/// Reads lines until the end (or `stop`), delivering them in chunks. Returns the
/// number of lines and whether the sinks are still there.
pub fn read_lines(
    reader: &mut impl BufRead,
    output: &Output,
    normalizer: &Normalizer,
    origin: &str,
    first_line: u64,
    stop: &crate::shutdown::Signal,
) -> std::io::Result<(u64, bool)> {
    let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        n += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        chunk.push(RawEvent {
            message: text.to_string(),
            line: first_line + n,
        });
        if chunk.len() >= CHUNK_EVENTS {
            if !deliver_chunk(output, normalizer, origin, std::mem::take(&mut chunk)) {
                return Ok((n, false));
            }
            if stop.is_fired() {
                break;
            }
        }
    }
    let alive = deliver_chunk(output, normalizer, origin, chunk);
    Ok((n, alive))
}

/// A dead-letter record for a source-level failure (unreadable file…).
pub fn report(output: &Output, origin: &str, reason: String) {
    tracing::error!(source = %output.source, origin, "{reason}");
    let _ = output.dead_letter.send_blocking(
        &[DeadRecord {
            reason,
            origin: Some(origin.to_string()),
            ..DeadRecord::default()
        }],
        &AckRef::none(),
    );
}
