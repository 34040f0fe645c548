//! Transforms: what happens to normalized events between the sources and the sinks.
//! Each runs on batches of serialized events and rewrites only the events it changes.

pub mod geoip;
pub mod threat_match;

use std::sync::Arc;

use crate::event::EncodedBatch;

/// Rewrites each line of `batch` with `each` (which writes the new line into its
/// buffer and says so, or leaves it empty to keep the line); the same batch when no
/// line changed, so events that match nothing cost no copy.
pub fn rewrite_lines(
    batch: Arc<EncodedBatch>,
    mut each: impl FnMut(&[u8], &mut Vec<u8>) -> bool,
) -> Arc<EncodedBatch> {
    let mut out: Option<EncodedBatch> = None;
    let mut scratch = Vec::new();
    let mut start = 0;
    let data = &batch.ndjson;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        scratch.clear();
        let changed = !line.is_empty() && each(line, &mut scratch);
        if changed && out.is_none() {
            // The first change: copy the lines before it.
            let mut b = EncodedBatch {
                ndjson: crate::buffers::take(),
                count: batch.count,
            };
            b.ndjson.extend_from_slice(&data[..start]);
            out = Some(b);
        }
        if let Some(b) = out.as_mut() {
            b.ndjson
                .extend_from_slice(if changed { &scratch } else { line });
            b.ndjson.push(b'\n');
        }
        start = end + 1;
    }
    match out {
        Some(b) => Arc::new(b),
        None => batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_batches_are_passed_as_they_are() {
        let b = Arc::new(EncodedBatch {
            ndjson: b"{\"a\":1}\n{\"a\":2}\n".to_vec(),
            count: 2,
        });
        let same = rewrite_lines(b.clone(), |_, _| false);
        assert!(Arc::ptr_eq(&b, &same));
        let changed = rewrite_lines(b, |line, out| {
            if line == b"{\"a\":2}" {
                out.extend_from_slice(b"{\"a\":20}");
                true
            } else {
                false
            }
        });
        assert_eq!(changed.ndjson, b"{\"a\":1}\n{\"a\":20}\n");
        assert_eq!(changed.count, 2);
    }
}
