//! The `file` sink: NDJSON files, path with strftime placeholders (UTC time of
//! writing), rotation by size, optional gzip.
//!
//! Durability: the batches waiting in the queue are written together, then the
//! file is synced (`sync = "batch"`, the default), and only then are their claims
//! accepted, so an acknowledged event survives a crash of the host. With gzip, each
//! such group is one complete gzip member (a kill never leaves a readable file
//! followed by garbage). On open, a torn tail left by a killed process is cut off:
//! the partial last line of a plain file, the unfinished last member of a gzip
//! file; the events in it were never acknowledged, so they are delivered again.
//!
//! Rotated files get a counter before the extensions: `flows-2024-05-01.ndjson`,
//! then `flows-2024-05-01.1.ndjson`, … On start the sink appends to the last file
//! of the series if it has room. Files are created with mode 0600 unless `mode`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::component::{Sink, SinkConfig, SinkInput};
use crate::event::Delivery;
use crate::internal_events::{SinkDelivered, SinkFailed};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    /// Sync after every delivery.
    Always,
    /// Sync once per group of deliveries written together (before accepting them).
    #[default]
    Batch,
    /// Never sync: an acknowledged event can be lost if the host crashes.
    Never,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Path, with strftime placeholders (`%Y-%m-%d`) taken from the UTC time of writing.
    pub path: String,
    /// Rotate when the current file reaches this many bytes (uncompressed).
    pub max_bytes: Option<u64>,
    /// Gzip the files.
    #[serde(default)]
    pub gzip: bool,
    #[serde(default)]
    pub sync: Sync,
    /// Permissions of new files, in octal (`"0640"`); default `"0600"`.
    pub mode: Option<String>,
}

impl FileSinkConfig {
    fn mode(&self) -> anyhow::Result<u32> {
        match &self.mode {
            None => Ok(0o600),
            Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| anyhow::anyhow!("mode: {m:?} is not an octal mode like \"0640\"")),
        }
    }
}

#[async_trait]
impl SinkConfig for FileSinkConfig {
    fn validate(&self) -> anyhow::Result<()> {
        check_path_template(&self.path).map_err(|e| anyhow::anyhow!("path: {e}"))?;
        self.mode()?;
        Ok(())
    }

    async fn build(&self, name: Arc<str>) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(FileSink {
            name,
            template: self.path.clone(),
            max_bytes: self.max_bytes.filter(|m| *m > 0),
            gzip: self.gzip,
            sync: self.sync,
            mode: self.mode()?,
            open: None,
        }))
    }
}

/// Refuses strftime placeholders chrono does not know (formatting them would fail).
pub fn check_path_template(path: &str) -> anyhow::Result<()> {
    use chrono::format::{Item, StrftimeItems};
    if path.is_empty() {
        anyhow::bail!("empty path");
    }
    if StrftimeItems::new(path).any(|i| matches!(i, Item::Error)) {
        anyhow::bail!("invalid date placeholder in {path:?}");
    }
    Ok(())
}

struct Open {
    /// The rendered template (before the rotation counter).
    base: String,
    index: u32,
    file: File,
    /// Bytes of events written to this file (uncompressed), including what was
    /// there on open.
    written: u64,
}

pub struct FileSink {
    name: Arc<str>,
    template: String,
    max_bytes: Option<u64>,
    gzip: bool,
    sync: Sync,
    mode: u32,
    open: Option<Open>,
}

#[async_trait]
impl Sink for FileSink {
    async fn run(self: Box<Self>, input: SinkInput) -> anyhow::Result<()> {
        let SinkInput { rx, .. } = input;
        tokio::task::spawn_blocking(move || self.run_blocking(rx)).await?;
        Ok(())
    }
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

/// Most deliveries written before one sync.
const GROUP: usize = 64;

impl FileSink {
    fn run_blocking(mut self, mut rx: mpsc::Receiver<Delivery>) {
        let mut group: Vec<Delivery> = Vec::with_capacity(GROUP);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            if self.sync != Sync::Always {
                while group.len() < GROUP {
                    match rx.try_recv() {
                        Ok(d) => group.push(d),
                        Err(_) => break,
                    }
                }
            }
            let started = Instant::now();
            let events: usize = group.iter().map(|d| d.batch.count).sum();
            let bytes: usize = group.iter().map(|d| d.batch.ndjson.len()).sum();
            match self.write_group(&group) {
                Ok(()) => {
                    SinkDelivered {
                        sink: &self.name,
                        events,
                        bytes,
                        seconds: started.elapsed().as_secs_f64(),
                    }
                    .emit();
                    for d in group.drain(..) {
                        d.ack.accept();
                    }
                }
                Err(e) => {
                    SinkFailed {
                        sink: &self.name,
                        events,
                        reason: &format!("cannot write: {e}"),
                    }
                    .emit();
                    // Start over with a fresh file handle (and a tail check) next time.
                    self.open = None;
                    for d in group.drain(..) {
                        d.ack.reject();
                    }
                }
            }
        }
    }

    /// Writes deliveries as one unit (one gzip member), then syncs as configured.
    fn write_group(&mut self, group: &[Delivery]) -> io::Result<()> {
        let len: u64 = group.iter().map(|d| d.batch.ndjson.len() as u64).sum();
        let (gzip, sync) = (self.gzip, self.sync);
        let open = self.file_for(len)?;
        if gzip {
            let mut enc = GzEncoder::new(Vec::with_capacity(len as usize / 4), Compression::fast());
            for d in group {
                enc.write_all(&d.batch.ndjson)?;
            }
            open.file.write_all(&enc.finish()?)?;
        } else {
            for d in group {
                open.file.write_all(&d.batch.ndjson)?;
            }
        }
        open.written += len;
        if sync != Sync::Never {
            open.file.sync_data()?;
        }
        Ok(())
    }

    /// Writes one batch (tests and tools).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let (gzip, sync) = (self.gzip, self.sync);
        let open = self.file_for(data.len() as u64)?;
        if gzip {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(data)?;
            open.file.write_all(&enc.finish()?)?;
        } else {
            open.file.write_all(data)?;
        }
        open.written += data.len() as u64;
        if sync != Sync::Never {
            open.file.sync_data()?;
        }
        Ok(())
    }

    /// The file to write `len` more bytes to (rotating by date or size).
    fn file_for(&mut self, len: u64) -> io::Result<&mut Open> {
        let base = render_path(&self.template, chrono::Utc::now());
        let full = match (&self.open, self.max_bytes) {
            (Some(o), Some(max)) => o.written > 0 && o.written + len > max,
            _ => false,
        };
        let stale = self.open.as_ref().is_some_and(|o| o.base != base);
        if stale || full || self.open.is_none() {
            let next = match (&self.open, full && !stale) {
                (Some(o), true) => o.index + 1,
                _ => 0,
            };
            self.open = Some(self.open_file(&base, next)?);
        }
        self.open
            .as_mut()
            .ok_or_else(|| io::Error::other("no open file"))
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
            let mut options = OpenOptions::new();
            options.create(true).read(true).write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, self.mode);
            let mut file = options.open(&path)?;
            let written = if self.gzip {
                repair_gzip(&mut file, &path)?
            } else {
                repair_lines(&mut file, &path)?
            };
            file.seek(SeekFrom::End(0))?;
            tracing::debug!(sink = %self.name, path = %path.display(), "opened");
            return Ok(Open {
                base: base.to_string(),
                index,
                file,
                written,
            });
        }
    }
}

/// Cuts a partial last line (left by a killed writer); returns the size kept.
fn repair_lines(file: &mut File, path: &Path) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    // Find the last newline, reading backwards in blocks.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            let keep = start + i as u64 + 1;
            if keep < len {
                tracing::warn!(path = %path.display(), cut = len - keep, "a partial last line (left by an interrupted write, never acknowledged) was removed");
                file.set_len(keep)?;
            }
            return Ok(keep);
        }
        end = start;
    }
    tracing::warn!(path = %path.display(), cut = len, "the file held only a partial line (never acknowledged); it was emptied");
    file.set_len(0)?;
    Ok(0)
}

/// Cuts an unfinished last gzip member; returns the uncompressed size kept.
fn repair_gzip(file: &mut File, path: &Path) -> io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut reader = Counting {
        inner: BufReader::with_capacity(64 * 1024, &mut *file),
        pos: 0,
    };
    let mut good = 0u64;
    let mut text = 0u64;
    loop {
        if reader.fill_buf()?.is_empty() {
            break;
        }
        let mut member = flate2::bufread::GzDecoder::new(&mut reader);
        match io::copy(&mut member, &mut io::sink()) {
            Ok(n) => {
                text += n;
                good = reader.pos;
            }
            Err(_) => break,
        }
    }
    if good < len {
        tracing::warn!(path = %path.display(), cut = len - good, "an unfinished gzip member (left by an interrupted write, never acknowledged) was removed");
        file.set_len(good)?;
    }
    Ok(text)
}

/// A buffered reader that knows how many bytes were consumed.
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt as u64;
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        FileSink {
            name: "t".into(),
            template: dir.join("out.ndjson").to_string_lossy().into_owned(),
            max_bytes: max,
            gzip,
            sync: Sync::Batch,
            mode: 0o600,
            open: None,
        }
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
    fn files_are_private_by_default() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path(), None, false);
        s.write(b"{}\n").unwrap();
        let mode = std::fs::metadata(dir.path().join("out.ndjson"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_torn_line_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, b"{\"a\":1}\n{\"a\":2,\"hal").unwrap();
        let mut s = sink(dir.path(), None, false);
        s.write(b"{\"a\":3}\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"a\":3}\n");
    }

    #[test]
    fn an_unfinished_gzip_member_is_cut_and_every_write_is_a_whole_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut s = sink(dir.path(), None, true);
        s.write(b"{\"a\":1}\n").unwrap();
        s.write(b"{\"a\":2}\n").unwrap();
        drop(s);
        // A killed writer's half member.
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(&b"{\"lost\":true}\n".repeat(100)).unwrap();
        let half = e.finish().unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&half[..half.len() / 2]).unwrap();
        drop(f);
        let mut s = sink(dir.path(), None, true);
        s.write(b"{\"a\":3}\n").unwrap();
        let data = std::fs::read(&path).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&data[..])
            .read_to_string(&mut text)
            .expect("the whole file decompresses");
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    }
}
