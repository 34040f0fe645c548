//! The `file` sink: NDJSON files, path with strftime placeholders (UTC time of
//! writing), rotation by size, optional gzip.
//!
//! Rotated files get a counter before the extensions: `flows-2024-05-01.ndjson`,
//! then `flows-2024-05-01.1.ndjson`, `flows-2024-05-01.2.ndjson`… On start the
//! sink appends to the last file of the series if it has room (a gzip file then
//! holds several members, which every gzip reader accepts).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::mpsc;

use crate::config::FileSinkConfig;
use crate::event::Delivery;
use crate::metrics;

enum Writer {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Writer {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Writer::Plain(w) => w.write_all(data),
            Writer::Gzip(w) => w.write_all(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Plain(w) => w.flush(),
            Writer::Gzip(w) => w.flush(),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Writer::Plain(mut w) => w.flush(),
            Writer::Gzip(w) => w.finish()?.flush(),
        }
    }
}

struct Open {
    /// The rendered template (before the rotation counter).
    base: String,
    index: u32,
    writer: Writer,
    /// Bytes written to this file (uncompressed), including what was there on open.
    written: u64,
}

pub struct FileSink {
    name: Arc<str>,
    template: String,
    max_bytes: Option<u64>,
    gzip: bool,
    open: Option<Open>,
}

/// `dir/name.ext.gz` with index 2 → `dir/name.2.ext.gz`.
pub fn indexed_path(base: &str, index: u32) -> PathBuf {
    if index == 0 {
        return PathBuf::from(base);
    }
    let path = Path::new(base);
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new_name = match file_name.find('.') {
        Some(dot) if dot > 0 => format!("{}.{index}{}", &file_name[..dot], &file_name[dot..]),
        _ => format!("{file_name}.{index}"),
    };
    path.with_file_name(new_name)
}

pub fn render_path(template: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    if template.contains('%') {
        // The template was checked at configuration time: formatting cannot fail.
        let mut s = String::new();
        use std::fmt::Write as _;
        if write!(s, "{}", now.format(template)).is_ok() {
            return s;
        }
    }
    template.to_string()
}

impl FileSink {
    pub fn new(name: Arc<str>, config: &FileSinkConfig) -> FileSink {
        FileSink {
            name,
            template: config.path.clone(),
            max_bytes: config.max_bytes.filter(|m| *m > 0),
            gzip: config.gzip,
            open: None,
        }
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<Delivery>) {
        let out_total = metrics::counter("intake_events_out_total", &[("sink", &self.name)]);
        let errors = metrics::counter("intake_sink_errors_total", &[("sink", &self.name)]);
        while let Some(d) = rx.blocking_recv() {
            match self.write(&d.batch.ndjson) {
                Ok(()) => {
                    metrics::add(&out_total, d.batch.count as u64);
                    d.ack.accept();
                }
                Err(e) => {
                    metrics::add(&errors, 1);
                    tracing::error!(sink = %self.name, "cannot write: {e}; batch not acknowledged");
                    // Start over with a fresh file handle next time.
                    if let Some(open) = self.open.take() {
                        let _ = open.writer.finish();
                    }
                }
            }
        }
        if let Some(open) = self.open.take()
            && let Err(e) = open.writer.finish()
        {
            tracing::error!(sink = %self.name, "cannot close file: {e}");
        }
    }

    /// Writes and flushes one batch.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let base = render_path(&self.template, chrono::Utc::now());
        let full = match (&self.open, self.max_bytes) {
            (Some(o), Some(max)) => o.written > 0 && o.written + data.len() as u64 > max,
            _ => false,
        };
        let stale = self.open.as_ref().is_some_and(|o| o.base != base);
        if stale || full {
            let old = self.open.take();
            let next_index = match (&old, full && !stale) {
                (Some(o), true) => o.index + 1,
                _ => 0,
            };
            if let Some(o) = old {
                o.writer.finish()?;
            }
            self.open = Some(self.open_file(&base, next_index)?);
        } else if self.open.is_none() {
            self.open = Some(self.open_file(&base, 0)?);
        }
        let Some(open) = self.open.as_mut() else {
            return Err(io::Error::other("no open file"));
        };
        open.writer.write_all(data)?;
        open.writer.flush()?;
        open.written += data.len() as u64;
        Ok(())
    }

    /// Opens the first file of the series, from `index`, that has room.
    fn open_file(&self, base: &str, mut index: u32) -> io::Result<Open> {
        loop {
            let path = indexed_path(base, index);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let next_exists = indexed_path(base, index + 1).exists();
            let has_room = self.max_bytes.is_none_or(|max| size < max);
            if next_exists || !has_room {
                index += 1;
                continue;
            }
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let buf = BufWriter::with_capacity(64 * 1024, file);
            let writer = if self.gzip {
                Writer::Gzip(GzEncoder::new(buf, Compression::default()))
            } else {
                Writer::Plain(buf)
            };
            tracing::debug!(sink = %self.name, path = %path.display(), "opened");
            return Ok(Open {
                base: base.to_string(),
                index,
                writer,
                written: size,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn indexed_paths() {
        assert_eq!(indexed_path("a/b.ndjson", 0), PathBuf::from("a/b.ndjson"));
        assert_eq!(indexed_path("a/b.ndjson", 2), PathBuf::from("a/b.2.ndjson"));
        assert_eq!(
            indexed_path("a.d/b.ndjson.gz", 1),
            PathBuf::from("a.d/b.1.ndjson.gz")
        );
        assert_eq!(indexed_path("a/b", 3), PathBuf::from("a/b.3"));
    }

    #[test]
    fn renders_dates() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            render_path("x/f-%Y-%m-%d.ndjson", t),
            "x/f-2024-05-01.ndjson"
        );
        assert_eq!(render_path("plain", t), "plain");
    }

    fn sink(dir: &Path, max: Option<u64>, gzip: bool) -> FileSink {
        FileSink::new(
            "t".into(),
            &FileSinkConfig {
                inputs: vec![],
                path: dir.join("out.ndjson").to_string_lossy().into_owned(),
                max_bytes: max,
                gzip,
            },
        )
    }

    #[test]
    fn rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), Some(10), false);
        for _ in 0..3 {
            s.write(b"{\"a\":123}\n").unwrap();
        }
        drop(s);
        for name in ["out.ndjson", "out.1.ndjson", "out.2.ndjson"] {
            assert_eq!(
                std::fs::read(dir.path().join(name)).unwrap(),
                b"{\"a\":123}\n"
            );
        }
        // A restart continues the series.
        let mut s = sink(dir.path(), Some(10), false);
        s.write(b"{\"b\":1}\n").unwrap();
        assert!(dir.path().join("out.3.ndjson").exists());
    }

    #[test]
    fn gzip_is_readable_after_each_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), None, true);
        s.write(b"{\"a\":1}\n").unwrap();
        let mut text = String::new();
        let data = std::fs::read(dir.path().join("out.ndjson")).unwrap();
        // Flushed but not finished: read what is there.
        let mut d = flate2::read::MultiGzDecoder::new(&data[..]);
        let _ = d.read_to_string(&mut text);
        assert_eq!(text, "{\"a\":1}\n");
        s.write(b"{\"a\":2}\n").unwrap();
        drop(s.open.take().unwrap().writer.finish());
        let data = std::fs::read(dir.path().join("out.ndjson")).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&data[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
    }
}
