//! The `file` source: paths or glob patterns, read once; with `follow`, read as
//! they grow (new matching files are picked up, truncated files are read again).
//! Files read once may be compressed; followed files are read as text, since a
//! compressed stream cannot be tailed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use crate::ack::AckRef;
use crate::component::{Source, SourceBuild, SourceConfig, SourceContext};
use crate::dead_letter::DeadRecord;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Paths or glob patterns.
    pub paths: Vec<String>,
    /// Keep reading files as they grow (like `tail -F`), instead of reading them once.
    #[serde(default)]
    pub follow: bool,
}

#[async_trait]
impl SourceConfig for FileSourceConfig {
    fn validate(&self, _common: &crate::component::SourceCommon) -> anyhow::Result<()> {
        if self.paths.is_empty() {
            anyhow::bail!("paths: empty");
        }
        for p in &self.paths {
            glob::Pattern::new(p).map_err(|e| anyhow::anyhow!("paths: {p:?}: {e}"))?;
        }
        Ok(())
    }

    async fn build(&self, cx: &SourceBuild) -> anyhow::Result<Box<dyn Source>> {
        Ok(Box::new(FileSource {
            config: self.clone(),
            max_event_bytes: cx.common.max_event_bytes,
        }))
    }
}

struct FileSource {
    config: FileSourceConfig,
    max_event_bytes: usize,
}

#[async_trait]
impl Source for FileSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> anyhow::Result<()> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let _guard = handle.enter();
            self.read(&cx)
        })
        .await?;
        Ok(())
    }
}

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

impl FileSource {
    fn read(&self, cx: &SourceContext) {
        let mut offsets: BTreeMap<PathBuf, u64> = BTreeMap::new();
        loop {
            let paths = expand(&self.config.paths);
            if paths.is_empty() && !self.config.follow {
                tracing::warn!(source = %cx.name, "no file matches {:?}", self.config.paths);
            }
            for path in paths {
                if cx.stop.is_cancelled() {
                    return;
                }
                let offset = offsets.entry(path.clone()).or_insert(0);
                if let Some(next) = self.read_file(cx, &path, *offset) {
                    *offset = next;
                }
            }
            if !self.config.follow {
                tracing::info!(source = %cx.name, "files read");
                return;
            }
            for _ in 0..5 {
                if cx.stop.is_cancelled() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Reads `path` from `offset`; the new offset, or `None` after an error
    /// (reported to the dead letter with the file's name).
    fn read_file(&self, cx: &SourceContext, path: &Path, offset: u64) -> Option<u64> {
        let origin = path.display().to_string();
        let report = |reason: String| {
            tracing::error!(source = %cx.name, file = %origin, "{reason}");
            let record = DeadRecord {
                reason,
                origin: Some(origin.clone()),
                ..DeadRecord::default()
            };
            let _ = cx.output.dead_letter_blocking(&[record], &AckRef::none());
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                report(format!("cannot open {origin}: {e}"));
                return None;
            }
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut offset = offset;
        if len < offset {
            tracing::info!(source = %cx.name, file = %origin, "truncated: reading from the start");
            offset = 0;
        }
        if len == offset {
            return Some(offset);
        }
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            report(format!("cannot seek in {origin}: {e}"));
            return None;
        }
        // When following, only complete lines are read, as text.
        let (reader, end): (Box<dyn Read + Send>, u64) = if self.config.follow {
            let complete = complete_len(path, offset, len);
            (Box::new(file.take(complete)), offset + complete)
        } else {
            (Box::new(file), len)
        };
        let options = super::StreamOptions {
            max_event_bytes: self.max_event_bytes,
            plain: self.config.follow,
            context: None,
            rewriter: None,
            abort: &cx.abort,
        };
        match super::read_stream(
            reader,
            origin.as_str().into(),
            options,
            &cx.output,
            &AckRef::none(),
        ) {
            Ok(_) => Some(end),
            Err(super::StreamError::Stopped) => None,
            Err(e) => {
                report(e.to_string());
                Some(end)
            }
        }
    }
}

/// Bytes from `offset` up to and including the last newline before `len`.
fn complete_len(path: &Path, offset: u64, len: u64) -> u64 {
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
        if let Some(i) = memchr::memrchr(b'\n', &buf) {
            return start + i as u64 + 1 - offset;
        }
        end = start;
    }
    0
}
