//! Reading raw events: files or stdin, plain, gzip (multi-member) or zstd by their
//! magic bytes, cut into batches of whole lines read in large blocks.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;

/// An input stream with its name for messages and a counter of raw bytes read.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

/// Counts the raw (compressed) bytes read, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Opens `path` (`-` for stdin), decompressing by magic bytes.
pub fn open(path: &str, raw_bytes: Arc<AtomicU64>) -> io::Result<Input> {
    let (name, raw): (String, Box<dyn Read + Send>) = if path == "-" {
        ("<stdin>".into(), Box::new(io::stdin()))
    } else {
        let file = File::open(Path::new(path))
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
        (path.to_string(), Box::new(file))
    };
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            count: raw_bytes,
        },
    );
    let head = buffered.fill_buf()?;
    let reader: Box<dyn Read + Send> = if head.starts_with(GZIP_MAGIC) {
        Box::new(MultiGzDecoder::new(buffered))
    } else if head.starts_with(ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
    } else {
        Box::new(buffered)
    };
    Ok(Input { name, reader })
}

/// What a line of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Whole,
    /// Longer than the limit: the range holds only its beginning.
    Oversize,
    /// The stream broke off inside it (e.g. a truncated gzip).
    Truncated,
}

/// One line of a batch: a byte range of the batch's data.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub start: usize,
    pub end: usize,
    /// 1-based line number in its input.
    pub number: u64,
    pub kind: LineKind,
}

/// A run of whole lines from one input.
#[derive(Debug, Default)]
pub struct Batch {
    pub seq: u64,
    pub input: Arc<str>,
    pub data: Vec<u8>,
    pub lines: Vec<Line>,
}

/// How much of an oversize line is kept for the dead letter.
const OVERSIZE_SAMPLE: usize = 1024;

/// Cuts a stream into batches of about `batch_bytes`, keeping each line whole.
pub struct LineSplitter {
    input: Input,
    name: Arc<str>,
    max_line: usize,
    batch_bytes: usize,
    /// The beginning of a line that continues in the next read.
    carry: Vec<u8>,
    /// Inside an oversize line: its number and whether its sample was already emitted.
    skipping: bool,
    line_number: u64,
    done: bool,
    /// Decompressed bytes read so far (for error messages).
    pub bytes_read: u64,
    /// The read buffer, kept from batch to batch.
    chunk: Vec<u8>,
}

impl LineSplitter {
    pub fn new(input: Input, max_line: usize, batch_bytes: usize) -> LineSplitter {
        let name: Arc<str> = Arc::from(input.name.as_str());
        LineSplitter {
            input,
            name,
            max_line,
            batch_bytes,
            carry: Vec::new(),
            skipping: false,
            line_number: 0,
            done: false,
            bytes_read: 0,
            chunk: vec![0u8; 128 * 1024],
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn lines_read(&self) -> u64 {
        self.line_number
    }

    /// The next batch, `Ok(None)` at the end. On a read error (e.g. a truncated
    /// gzip) the error is returned once; the whole lines read before it were in
    /// earlier batches, and [`LineSplitter::take_partial`] gives the unterminated tail.
    /// `spent` is a batch already consumed, whose buffers are reused.
    pub fn next_batch(&mut self, seq: u64, spent: Option<Batch>) -> io::Result<Option<Batch>> {
        if self.done {
            return Ok(None);
        }
        let mut batch = match spent {
            Some(mut batch) => {
                batch.seq = seq;
                batch.input = self.name.clone();
                batch.data.clear();
                batch.lines.clear();
                batch
            }
            None => Batch {
                seq,
                input: self.name.clone(),
                data: Vec::with_capacity(self.batch_bytes + self.max_line.min(self.batch_bytes)),
                lines: Vec::with_capacity(self.batch_bytes / 96),
            },
        };
        let mut chunk = std::mem::take(&mut self.chunk);
        let result = self.fill(&mut batch, &mut chunk);
        self.chunk = chunk;
        Ok(result?.then_some(batch))
    }

    /// Reads into `batch` until it is full or the input ends; whether it has lines.
    fn fill(&mut self, batch: &mut Batch, chunk: &mut [u8]) -> io::Result<bool> {
        loop {
            let n = match self.input.reader.read(chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            if n == 0 {
                self.done = true;
                self.finish_carry(batch);
                return Ok(!batch.lines.is_empty());
            }
            self.bytes_read += n as u64;
            self.split(&chunk[..n], batch);
            if batch.data.len() >= self.batch_bytes {
                return Ok(true);
            }
        }
    }

    /// The unterminated line left when the stream broke off, if any.
    pub fn take_partial(&mut self, seq: u64) -> Option<Batch> {
        if self.carry.is_empty() {
            return None;
        }
        let mut batch = Batch {
            seq,
            input: self.name.clone(),
            ..Batch::default()
        };
        let line = std::mem::take(&mut self.carry);
        self.push_line(&mut batch, &line, LineKind::Truncated);
        Some(batch)
    }

    fn push_line(&mut self, batch: &mut Batch, bytes: &[u8], kind: LineKind) {
        self.line_number += 1;
        let start = batch.data.len();
        batch.data.extend_from_slice(bytes);
        batch.lines.push(Line {
            start,
            end: batch.data.len(),
            number: self.line_number,
            kind,
        });
    }

    fn split(&mut self, mut chunk: &[u8], batch: &mut Batch) {
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    let piece = &chunk[..i];
                    chunk = &chunk[i + 1..];
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    if self.carry.is_empty() {
                        if piece.len() > self.max_line {
                            self.push_line(
                                batch,
                                &piece[..OVERSIZE_SAMPLE.min(piece.len())],
                                LineKind::Oversize,
                            );
                        } else {
                            self.push_line(batch, piece, LineKind::Whole);
                        }
                    } else {
                        let mut line = std::mem::take(&mut self.carry);
                        line.extend_from_slice(piece);
                        if line.len() > self.max_line {
                            line.truncate(OVERSIZE_SAMPLE);
                            self.push_line(batch, &line, LineKind::Oversize);
                        } else {
                            self.push_line(batch, &line, LineKind::Whole);
                        }
                        line.clear();
                        self.carry = line;
                    }
                }
                None => {
                    if !self.skipping {
                        self.carry.extend_from_slice(chunk);
                        if self.carry.len() > self.max_line {
                            // Emit the oversize line now and skip the rest of it, so a
                            // line without end cannot grow memory without bound.
                            let mut sample = std::mem::take(&mut self.carry);
                            sample.truncate(OVERSIZE_SAMPLE);
                            self.push_line(batch, &sample, LineKind::Oversize);
                            self.skipping = true;
                        }
                    }
                    return;
                }
            }
        }
    }

    fn finish_carry(&mut self, batch: &mut Batch) {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.push_line(batch, &line, LineKind::Whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitter(data: &'static [u8], max: usize, batch: usize) -> LineSplitter {
        let input = Input {
            name: "t".into(),
            reader: Box::new(data),
        };
        LineSplitter::new(input, max, batch)
    }

    fn lines(s: &mut LineSplitter) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut seq = 0;
        while let Some(b) = s.next_batch(seq, None).unwrap() {
            seq += 1;
            for l in &b.lines {
                out.push((
                    String::from_utf8_lossy(&b.data[l.start..l.end]).into_owned(),
                    l.kind == LineKind::Oversize,
                ));
            }
        }
        out
    }

    #[test]
    fn splits_lines_across_batches() {
        let mut s = splitter(b"a\nbb\nccc\nlast", 100, 3);
        let got: Vec<String> = lines(&mut s).into_iter().map(|l| l.0).collect();
        assert_eq!(got, ["a", "bb", "ccc", "last"]);
        assert_eq!(s.lines_read(), 4);
    }

    #[test]
    fn oversize_lines_are_flagged_and_skipped() {
        let mut s = splitter(b"ok\n0123456789abcdef\nok2\n", 8, 1 << 20);
        let got = lines(&mut s);
        assert_eq!(got[0], ("ok".to_string(), false));
        assert!(got[1].1, "oversize flagged");
        assert_eq!(got[2], ("ok2".to_string(), false));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn truncated_gzip_is_an_error_after_the_good_lines() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        for i in 0..1000 {
            writeln!(enc, "line {i}").unwrap();
        }
        let gz = enc.finish().unwrap();
        let cut: &'static [u8] = Box::leak(gz[..gz.len() / 2].to_vec().into_boxed_slice());
        let path = std::env::temp_dir().join(format!("intake-trunc-{}.gz", std::process::id()));
        std::fs::write(&path, cut).unwrap();
        let input = open(path.to_str().unwrap(), Arc::default()).unwrap();
        let mut s = LineSplitter::new(input, 1 << 20, 64);
        let mut good = 0;
        let err = loop {
            match s.next_batch(0, None) {
                Ok(Some(b)) => good += b.lines.len(),
                Ok(None) => panic!("truncation not detected"),
                Err(e) => break e,
            }
        };
        std::fs::remove_file(&path).ok();
        assert!(good > 0, "lines before the cut are kept");
        assert!(good < 1000);
        assert!(!err.to_string().is_empty());
    }
}
