//! Local per-blob checkpoints: how far each blob was handed on, kept in one
//! append-only file.
//!
//! Every change appends one JSON line and syncs it, so a kill loses at most the line
//! being written; that torn last line (no newline, or not JSON) is ignored when the file
//! is opened again. The map lives in memory (constant-time lookup); once the file holds
//! many superseded lines it is rewritten to a temporary file and renamed over the old
//! one, which is atomic: a kill leaves either the old file or the new one.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The bytes just before the checkpoint, kept to notice a blob rewritten from scratch.
pub const TAIL_BYTES: usize = 16;

/// Where one blob stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Bytes of the blob handed on (the end of the last record delivered).
    #[serde(rename = "o")]
    pub offset: u64,
    /// Hex of the (up to) `TAIL_BYTES` bytes before `offset`.
    #[serde(rename = "t", default)]
    pub tail: String,
    /// The blob's size when it was last read: an unchanged blob is not read again.
    #[serde(rename = "s", default)]
    pub size: u64,
    /// The blob's hour is over and it was read to its closing `]`: never read again.
    #[serde(rename = "f", default)]
    pub finished: bool,
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(rename = "k")]
    key: String,
    #[serde(flatten)]
    checkpoint: Checkpoint,
}

pub struct CheckpointStore {
    path: PathBuf,
    map: HashMap<String, Checkpoint>,
    file: File,
    /// Lines in the file, live or superseded.
    lines: usize,
}

const FILE_NAME: &str = "azure-blob-checkpoints.ndjson";

impl CheckpointStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("checkpoint folder {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let mut map = HashMap::new();
        let mut lines = 0;
        let mut torn = false;
        if let Ok(f) = File::open(&path) {
            let mut reader = BufReader::new(f);
            let mut buf = Vec::new();
            let mut n = 0usize;
            loop {
                buf.clear();
                let read = reader
                    .read_until(b'\n', &mut buf)
                    .with_context(|| format!("reading {}", path.display()))?;
                if read == 0 {
                    break;
                }
                n += 1;
                let complete = buf.ends_with(b"\n");
                match serde_json::from_slice::<Line>(&buf) {
                    Ok(line) if complete => {
                        map.insert(line.key, line.checkpoint);
                        lines += 1;
                    }
                    // Only the last line can be torn by a kill in the middle of a write.
                    _ if !complete => torn = true,
                    Err(e) => bail!("{} line {n}: not a checkpoint ({e})", path.display()),
                    Ok(_) => unreachable!(),
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut store = CheckpointStore {
            path,
            map,
            file,
            lines,
        };
        if torn {
            tracing::warn!(
                path = %store.path.display(),
                "the last checkpoint line was cut by an interrupted write; it is ignored"
            );
            // Rewriting drops the torn bytes, so that later appends start on a new line.
            store.compact()?;
        }
        Ok(store)
    }

    pub fn get(&self, key: &str) -> Option<&Checkpoint> {
        self.map.get(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records a blob's checkpoint durably (the line is synced before this returns).
    pub fn set(&mut self, key: &str, checkpoint: Checkpoint) -> anyhow::Result<()> {
        self.set_many([(key.to_string(), checkpoint)])
    }

    /// Records several checkpoints with one sync.
    pub fn set_many(
        &mut self,
        items: impl IntoIterator<Item = (String, Checkpoint)>,
    ) -> anyhow::Result<()> {
        let mut lines = Vec::new();
        let mut changed = Vec::new();
        for (key, checkpoint) in items {
            if self.map.get(&key) == Some(&checkpoint) {
                continue;
            }
            serde_json::to_writer(
                &mut lines,
                &Line {
                    key: key.clone(),
                    checkpoint: checkpoint.clone(),
                },
            )?;
            lines.push(b'\n');
            changed.push((key, checkpoint));
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&lines)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.lines += changed.len();
        self.map.extend(changed);
        // Superseded lines are dropped once they outnumber the live ones (amortized O(1)).
        if self.lines > 2 * self.map.len() + 1024 {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file with one line per blob: temporary file, sync, rename.
    pub fn compact(&mut self) -> anyhow::Result<()> {
        let tmp = self.path.with_extension("ndjson.tmp");
        let write = || -> std::io::Result<File> {
            let mut out = std::io::BufWriter::new(File::create(&tmp)?);
            for (key, checkpoint) in &self.map {
                serde_json::to_writer(
                    &mut out,
                    &Line {
                        key: key.clone(),
                        checkpoint: checkpoint.clone(),
                    },
                )?;
                out.write_all(b"\n")?;
            }
            let f = out.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent()
                && let Ok(d) = File::open(dir)
            {
                let _ = d.sync_all();
            }
            OpenOptions::new().append(true).open(&self.path)
        };
        self.file = write().with_context(|| format!("compacting {}", self.path.display()))?;
        self.lines = self.map.len();
        Ok(())
    }
}

/// Hex of the last `TAIL_BYTES` bytes of `bytes`.
pub fn tail_of(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(TAIL_BYTES);
    bytes[start..].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn cp(offset: u64) -> Checkpoint {
        Checkpoint {
            offset,
            tail: tail_of(b"...}"),
            size: offset + 2,
            finished: false,
        }
    }

    #[test]
    fn checkpoints_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = CheckpointStore::open(dir.path()).unwrap();
        s.set("c/a", cp(10)).unwrap();
        s.set("c/b", cp(20)).unwrap();
        s.set("c/a", cp(30)).unwrap();
        drop(s);
        let s = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(s.get("c/a"), Some(&cp(30)));
        assert_eq!(s.get("c/b"), Some(&cp(20)));
        assert_eq!(s.get("c/z"), None);
    }

    #[test]
    fn a_line_torn_by_a_kill_is_ignored_and_later_writes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = CheckpointStore::open(dir.path()).unwrap();
        s.set("c/a", cp(10)).unwrap();
        drop(s);
        // A kill in the middle of the next append leaves half a line.
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"k":"c/a","o":9"#).unwrap();
        drop(f);
        let mut s = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(s.get("c/a"), Some(&cp(10)));
        s.set("c/b", cp(5)).unwrap();
        drop(s);
        let s = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(s.get("c/a"), Some(&cp(10)));
        assert_eq!(s.get("c/b"), Some(&cp(5)));
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_an_error_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(FILE_NAME),
            "{\"k\":\"a\",\"o\":1}\nnot json\n{\"k\":\"b\",\"o\":2}\n",
        )
        .unwrap();
        let e = CheckpointStore::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains(FILE_NAME), "{e}");
    }

    /// 100,000 blobs, written in groups of 1,000 per sync, then all updated again
    /// (the file is compacted as it grows) and read back; one synced update is timed on
    /// its own. Prints the figures (`--nocapture`).
    #[test]
    fn a_hundred_thousand_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = CheckpointStore::open(dir.path()).unwrap();
        let n = 100_000u64;
        let key = |i: u64| {
            format!(
                "insights-logs-flowlogflowevent/resourceId=/SUBSCRIPTIONS/S/y=2026/m=03/d=02/h=14/m=00/macAddress=blob{i}/PT1H.json"
            )
        };
        let t = Instant::now();
        for round in 0..2 {
            for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
                s.set_many(chunk.iter().map(|&i| (key(i), cp(i + round))))
                    .unwrap();
            }
        }
        let write = t.elapsed();
        assert!(s.lines <= 2 * n as usize + 1024, "{} lines", s.lines);
        let t = Instant::now();
        for i in 0..100 {
            s.set(&key(i), cp(i + 7)).unwrap();
        }
        let single = t.elapsed() / 100;
        drop(s);
        let size = fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
        let t = Instant::now();
        let s = CheckpointStore::open(dir.path()).unwrap();
        let open = t.elapsed();
        assert_eq!(s.len(), n as usize);
        let keys: Vec<String> = (0..n).step_by(7).map(key).collect();
        let t = Instant::now();
        for (k, i) in keys.iter().zip((0..n).step_by(7)) {
            let want = if i < 100 { i + 7 } else { i + 1 };
            assert_eq!(s.get(k).unwrap().offset, want);
        }
        let lookups = t.elapsed();
        eprintln!(
            "checkpoints: 2 x {n} updates in {write:?}; one synced update {single:?}; reopen of {n} blobs ({size} bytes) in {open:?}; {} lookups in {lookups:?}",
            keys.len()
        );
    }
}
