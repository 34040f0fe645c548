//! The one reader: a byte stream becomes batches of raw events.
//!
//! Every byte-stream source (`intake parse`, the `file` and `stdin` sources, S3
//! objects) goes through it, so they all agree on:
//! - decompression by magic bytes: gzip (multi-member), zstd, else plain (Parquet is
//!   recognized so that the caller can read it by rows);
//! - newline framing, a `\r` before the newline dropped, empty lines skipped;
//! - `max_event_bytes`: a longer line keeps only its first bytes and is marked
//!   oversize (the rest is skipped without being held in memory);
//! - a stream that breaks off (a truncated gzip) is an error naming how far it got;
//!   the whole lines before it are kept, and the unterminated tail is marked truncated.
//!
//! UTF-8 is checked by the normalize stage, in parallel (a line that is not UTF-8
//! goes to the dead letter with its bytes in base64, never lossily replaced).

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use crate::event::{LineKind, RawBatch};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// How much of an oversize line is kept for the dead letter.
pub const OVERSIZE_SAMPLE: usize = 1024;

/// The default batch size: large enough that handing a batch between threads is
/// cheap, small enough that the batches in flight stay a few MiB.
pub const BATCH_BYTES: usize = 256 * 1024;

/// The default longest event.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Zstd,
    Parquet,
    Plain,
}

/// The encoding announced by a stream's first bytes.
pub fn sniff(head: &[u8]) -> Encoding {
    if head.starts_with(GZIP_MAGIC) {
        Encoding::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Encoding::Zstd
    } else if head.starts_with(PARQUET_MAGIC) {
        Encoding::Parquet
    } else {
        Encoding::Plain
    }
}

/// A stream after its encoding was recognized.
pub enum Opened<R> {
    /// Text, decompressed; the encoding it had.
    Text(Box<dyn Read + Send>, Encoding),
    /// A Parquet file: read it by rows (it needs random access).
    Parquet(BufReader<R>),
}

/// Recognizes the encoding of `raw` and decompresses it.
pub fn decode<R: Read + Send + 'static>(raw: R) -> io::Result<Opened<R>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let head = loop {
        match buffered.fill_buf() {
            Ok(h) => break h,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    Ok(match sniff(head) {
        Encoding::Gzip => Opened::Text(Box::new(MultiGzDecoder::new(buffered)), Encoding::Gzip),
        Encoding::Zstd => Opened::Text(
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
            Encoding::Zstd,
        ),
        Encoding::Parquet => Opened::Parquet(buffered),
        Encoding::Plain => Opened::Text(Box::new(buffered), Encoding::Plain),
    })
}

/// Cuts a text stream into batches of about `batch_bytes`, keeping each line whole.
pub struct LineReader {
    reader: Box<dyn Read + Send>,
    origin: Arc<str>,
    max_line: usize,
    batch_bytes: usize,
    /// The beginning of a line that continues in the next read.
    carry: Vec<u8>,
    /// Inside an oversize line whose sample was already emitted.
    skipping: bool,
    line_number: u64,
    done: bool,
    /// Decompressed bytes read so far (for error messages).
    bytes_read: u64,
    /// The read buffer, kept from batch to batch.
    chunk: Vec<u8>,
    /// For error messages: what the stream was (a gzip error is corrupt data).
    encoding: Encoding,
}

impl LineReader {
    pub fn new(
        reader: Box<dyn Read + Send>,
        origin: Arc<str>,
        max_line: usize,
        batch_bytes: usize,
    ) -> LineReader {
        LineReader {
            reader,
            origin,
            max_line: max_line.max(1),
            batch_bytes: batch_bytes.max(1),
            carry: Vec::new(),
            skipping: false,
            line_number: 0,
            done: false,
            bytes_read: 0,
            chunk: vec![0u8; 128 * 1024],
            encoding: Encoding::Plain,
        }
    }

    /// Names the stream's encoding in error messages.
    pub fn with_encoding(mut self, encoding: Encoding) -> LineReader {
        self.encoding = encoding;
        self
    }

    pub fn origin(&self) -> &Arc<str> {
        &self.origin
    }

    /// Lines read so far (the line number of the last one).
    pub fn lines_read(&self) -> u64 {
        self.line_number
    }

    /// Decompressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Fills `batch` (emptied first; its buffers are reused) with the next lines.
    /// `Ok(false)` at the end. On a read error (a truncated gzip, a network
    /// failure) the error is returned once, saying how far the stream got; the
    /// lines before it were in earlier batches or are in `batch`, and the
    /// unterminated tail is in `batch` as a [`LineKind::Truncated`] line.
    pub fn next_batch(&mut self, batch: &mut RawBatch) -> Result<bool, ReadError> {
        batch.clear(self.origin.clone());
        if self.done {
            return Ok(false);
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        let result = self.fill(batch, &mut chunk);
        self.chunk = chunk;
        result
    }

    /// Reads into `batch` until it is full or the input ends; whether it has lines.
    fn fill(&mut self, batch: &mut RawBatch, chunk: &mut [u8]) -> Result<bool, ReadError> {
        loop {
            let n = match self.reader.read(chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    if !self.carry.is_empty() {
                        let line = std::mem::take(&mut self.carry);
                        self.push_line(batch, &line, LineKind::Truncated);
                    }
                    let what = match self.encoding {
                        Encoding::Gzip => "corrupt gzip: ",
                        Encoding::Zstd => "corrupt zstd: ",
                        _ => "",
                    };
                    return Err(ReadError {
                        message: format!(
                            "{}: {what}{e} after {} bytes ({} lines); the events read before are kept",
                            self.origin, self.bytes_read, self.line_number
                        ),
                        error: e,
                        lines_in_batch: !batch.lines.is_empty(),
                    });
                }
            };
            if n == 0 {
                self.done = true;
                if !self.carry.is_empty() && !self.skipping {
                    let line = std::mem::take(&mut self.carry);
                    self.push_line(batch, &line, LineKind::Whole);
                }
                return Ok(!batch.lines.is_empty());
            }
            self.bytes_read += n as u64;
            self.split(&chunk[..n], batch);
            if batch.data.len() >= self.batch_bytes {
                return Ok(true);
            }
        }
    }

    fn push_line(&mut self, batch: &mut RawBatch, bytes: &[u8], kind: LineKind) {
        self.line_number += 1;
        let mut bytes = bytes;
        if let [rest @ .., b'\r'] = bytes {
            bytes = rest;
        }
        if bytes.is_empty() && kind == LineKind::Whole {
            return;
        }
        batch.push(bytes, self.line_number, kind);
    }

    fn split(&mut self, mut chunk: &[u8], batch: &mut RawBatch) {
        while !chunk.is_empty() {
            let Some(i) = memchr::memchr(b'\n', chunk) else {
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
            };
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
    }
}

/// A stream that broke off.
#[derive(Debug)]
pub struct ReadError {
    /// Names the origin and how far it got.
    pub message: String,
    pub error: io::Error,
    /// Whether the batch being filled holds lines (deliver them).
    pub lines_in_batch: bool,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(data: &'static [u8], max: usize, batch: usize) -> LineReader {
        LineReader::new(Box::new(data), "t".into(), max, batch)
    }

    fn lines(r: &mut LineReader) -> Vec<(String, LineKind, u64)> {
        let mut out = Vec::new();
        let mut b = RawBatch::default();
        while r.next_batch(&mut b).unwrap() {
            for l in &b.lines {
                out.push((
                    String::from_utf8_lossy(b.bytes(l)).into_owned(),
                    l.kind,
                    l.number,
                ));
            }
        }
        out
    }

    #[test]
    fn splits_lines_across_batches_and_drops_cr_and_empty_lines() {
        let mut r = reader(b"a\r\nbb\n\nccc\nlast", 100, 3);
        let got: Vec<(String, u64)> = lines(&mut r).into_iter().map(|l| (l.0, l.2)).collect();
        assert_eq!(
            got,
            [
                ("a".into(), 1),
                ("bb".into(), 2),
                ("ccc".into(), 4),
                ("last".into(), 5)
            ]
        );
        assert_eq!(r.lines_read(), 5);
    }

    #[test]
    fn oversize_lines_are_flagged_and_skipped() {
        let mut r = reader(b"ok\n0123456789abcdef\nok2\n", 8, 1 << 20);
        let got = lines(&mut r);
        assert_eq!(got[0].0, "ok");
        assert_eq!(got[1].1, LineKind::Oversize);
        assert_eq!(got[2].0, "ok2");
        assert_eq!(got.len(), 3);
        // Split across reads, with no end.
        let mut r = LineReader::new(Box::new(&b"x\nyyyyyyyyyyyyyyyyyyyyy"[..]), "t".into(), 4, 2);
        r.chunk = vec![0; 3];
        let got = lines(&mut r);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, LineKind::Oversize);
    }

    #[test]
    fn truncated_gzip_keeps_the_lines_before_and_the_tail() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        for i in 0..1000 {
            writeln!(enc, "line {i}").unwrap();
        }
        let gz = enc.finish().unwrap();
        let cut = gz[..gz.len() / 2].to_vec();
        let Opened::Text(text, encoding) = decode(io::Cursor::new(cut)).unwrap() else {
            panic!("gzip not recognized")
        };
        let mut r = LineReader::new(text, "cut.gz".into(), 1 << 20, 64).with_encoding(encoding);
        let mut b = RawBatch::default();
        let mut whole = 0;
        let err = loop {
            match r.next_batch(&mut b) {
                Ok(true) => whole += b.lines.len(),
                Ok(false) => panic!("truncation not detected"),
                Err(e) => break e,
            }
        };
        assert!(whole > 0 && whole < 1000);
        assert!(
            err.message.starts_with("cut.gz: corrupt gzip: "),
            "{}",
            err.message
        );
        assert!(err.message.contains("lines"), "{}", err.message);
        let tail: Vec<LineKind> = b.lines.iter().map(|l| l.kind).collect();
        assert_eq!(tail.last(), Some(&LineKind::Truncated));
        assert_eq!(whole as u64 + b.lines.len() as u64, r.lines_read());
        assert!(!r.next_batch(&mut b).unwrap());
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Encoding::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Encoding::Zstd);
        assert_eq!(sniff(b"PAR1xxxx"), Encoding::Parquet);
        assert_eq!(sniff(b"version account-id"), Encoding::Plain);
        assert_eq!(sniff(b""), Encoding::Plain);
    }

    #[test]
    fn zstd_and_plain_decode() {
        let z = zstd::encode_all(&b"a\nb\n"[..], 3).unwrap();
        for data in [z, b"a\nb\n".to_vec()] {
            let Opened::Text(text, _) = decode(io::Cursor::new(data)).unwrap() else {
                panic!()
            };
            let mut r = LineReader::new(text, "t".into(), 100, 100);
            assert_eq!(lines(&mut r).len(), 2);
        }
    }
}
