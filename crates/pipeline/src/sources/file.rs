//! The `file` source: paths or glob patterns, read once; with `follow`, read as
//! they grow (new matching files are picked up, truncated files are read again).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::FileSourceConfig;
use crate::decode::vpc_layout::{Layout, LayoutTracker, is_flow_log_format};
use crate::event::Output;
use crate::normalize::Normalizer;
use crate::shutdown::Signal;

/// The files the patterns match now, sorted, without duplicates.
pub fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut out = std::collections::BTreeSet::new();
    for p in patterns {
        match glob::glob(p) {
            Ok(paths) => {
                for path in paths.flatten() {
                    if path.is_file() {
                        out.insert(path);
                    }
                }
            }
            Err(e) => tracing::error!("invalid pattern {p:?}: {e}"),
        }
    }
    out.into_iter().collect()
}

struct Tracked {
    offset: u64,
    lines: u64,
    /// The file's flow-log layout (its header stays in force while it grows).
    layout: Option<LayoutTracker>,
}

pub fn run(config: FileSourceConfig, output: Output, normalizer: Normalizer, stop: Signal) {
    let mut tracked: BTreeMap<PathBuf, Tracked> = BTreeMap::new();
    let configured = config.fields.as_deref().map(Layout::from_names);
    let flow_logs = match &normalizer {
        Normalizer::Engine(f) => is_flow_log_format(f.slug()),
        Normalizer::Raw => false,
    };
    let new_layout = || {
        (flow_logs || configured.is_some())
            .then(|| LayoutTracker::new(configured.clone(), flow_logs))
    };
    loop {
        let paths = expand(&config.paths);
        if paths.is_empty() && !config.follow {
            tracing::warn!(source = %output.source, "no file matches {:?}", config.paths);
        }
        for path in paths {
            if stop.is_fired() {
                return;
            }
            let origin = path.display().to_string();
            let t = tracked.entry(path.clone()).or_insert_with(|| Tracked {
                offset: 0,
                lines: 0,
                layout: new_layout(),
            });
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    super::report(&output, &origin, format!("cannot open {origin}: {e}"));
                    continue;
                }
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < t.offset {
                tracing::info!(source = %output.source, file = %origin, "truncated: reading from the start");
                t.offset = 0;
                t.lines = 0;
                t.layout = new_layout();
            }
            if len == t.offset {
                continue;
            }
            let mut reader = BufReader::with_capacity(64 * 1024, file);
            if let Err(e) = reader.seek(SeekFrom::Start(t.offset)) {
                super::report(&output, &origin, format!("cannot seek in {origin}: {e}"));
                continue;
            }
            // When following, only complete lines are read: stop at the last newline.
            let mut limited = std::io::Read::take(
                reader,
                if config.follow {
                    complete_len(&path, t.offset, len)
                } else {
                    u64::MAX
                },
            );
            let mut buffered = BufReader::new(&mut limited);
            // Files read once may be compressed (recognized by their first bytes);
            // followed files are read as text, since a compressed stream cannot be tailed.
            let encoding = match std::io::BufRead::fill_buf(&mut buffered) {
                Ok(head) if !config.follow => super::s3_sqs::object::sniff(head),
                _ => super::s3_sqs::object::Encoding::Plain,
            };
            let mut decoded: Box<dyn std::io::BufRead + '_> = match encoding {
                super::s3_sqs::object::Encoding::Gzip => Box::new(BufReader::new(
                    flate2::bufread::MultiGzDecoder::new(buffered),
                )),
                super::s3_sqs::object::Encoding::Zstd => {
                    match zstd::stream::read::Decoder::with_buffer(buffered) {
                        Ok(d) => Box::new(BufReader::new(d)),
                        Err(e) => {
                            super::report(
                                &output,
                                &origin,
                                format!("corrupt zstd in {origin}: {e}"),
                            );
                            continue;
                        }
                    }
                }
                _ => Box::new(buffered),
            };
            match super::read_lines(
                &mut decoded,
                &output,
                &normalizer,
                &origin,
                t.lines,
                &stop,
                t.layout.as_mut(),
            ) {
                Ok((n, alive)) => {
                    t.lines += n;
                    t.offset = if config.follow {
                        t.offset + complete_len(&path, t.offset, len)
                    } else {
                        len
                    };
                    if !alive {
                        return;
                    }
                }
                Err(e) => super::report(&output, &origin, format!("cannot read {origin}: {e}")),
            }
        }
        if !config.follow {
            tracing::info!(source = %output.source, "files read");
            return;
        }
        for _ in 0..5 {
            if stop.is_fired() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Bytes from `offset` up to and including the last newline before `len`.
fn complete_len(path: &PathBuf, offset: u64, len: u64) -> u64 {
    use std::io::Read;
    let Ok(mut f) = File::open(path) else {
        return 0;
    };
    let window = 64 * 1024u64;
    let mut end = len;
    while end > offset {
        let start = end.saturating_sub(window).max(offset);
        let mut buf = vec![0u8; (end - start) as usize];
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut buf).is_err() {
            return 0;
        }
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            return start + i as u64 + 1 - offset;
        }
        end = start;
    }
    0
}
