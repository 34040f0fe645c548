//! Sources: where raw events come from. Byte-stream sources read through
//! [`read_stream`], the one reader shared with `intake parse`.

pub mod azure_blob;
pub mod deliver;
pub mod file;
pub mod http_intake;
pub mod s3_sqs;
pub mod stdin;
pub mod syslog;

use std::io::Read;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ack::AckRef;
use crate::component::SourceOutput;
use crate::event::{Closed, LineKind, RawBatch};
use crate::reader::{self, LineReader, Opened};

/// Rewrites the lines of a batch before normalization, in order (a flow-log
/// header sets the layout of the lines after it).
pub trait LineRewriter: Send {
    fn rewrite(&mut self, batch: RawBatch) -> RawBatch;
}

/// How a stream is read.
pub struct StreamOptions<'a> {
    pub max_event_bytes: usize,
    /// Read as text whatever the first bytes (a followed file cannot be decompressed).
    pub plain: bool,
    /// The SQS message id (or other upstream unit) the stream belongs to.
    pub context: Option<Arc<str>>,
    pub rewriter: Option<&'a mut dyn LineRewriter>,
    /// Stop reading (shutdown past its grace period, or the unit already failed).
    pub abort: &'a CancellationToken,
}

/// What reading a stream came to.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamStats {
    pub lines: u64,
    pub bytes: u64,
}

#[derive(Debug)]
pub enum StreamError {
    /// The stream broke off or is not what it claims (a truncated gzip, corrupt
    /// Parquet); what was read before was delivered.
    Corrupt(String),
    /// Reading it failed for a reason worth retrying (network).
    Io(String),
    /// The pipeline is shutting down, or a sink already failed the unit.
    Stopped,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Corrupt(m) | StreamError::Io(m) => f.write_str(m),
            StreamError::Stopped => f.write_str("stopped before the end"),
        }
    }
}

/// Reads a whole stream (plain, gzip, zstd or Parquet), handing its events to
/// `output` in batches with claims on `ack`. From a blocking thread.
pub fn read_stream(
    raw: Box<dyn Read + Send>,
    origin: Arc<str>,
    options: StreamOptions<'_>,
    output: &SourceOutput,
    ack: &AckRef,
) -> Result<StreamStats, StreamError> {
    read_batches(raw, origin, options, &mut |batch| {
        if ack.is_failed() {
            return Err(Closed);
        }
        output.send_blocking(batch, ack)
    })
}

/// The one reader loop: a stream into raw batches, each handed to `send` in order
/// (`intake parse` hands them to its workers, sources to their output).
pub fn read_batches(
    raw: Box<dyn Read + Send>,
    origin: Arc<str>,
    mut options: StreamOptions<'_>,
    send: &mut dyn FnMut(RawBatch) -> Result<(), Closed>,
) -> Result<StreamStats, StreamError> {
    let opened = if options.plain {
        Opened::Text(raw, reader::Encoding::Plain)
    } else {
        reader::decode(raw).map_err(|e| StreamError::Io(format!("{origin}: cannot read: {e}")))?
    };
    let (text, encoding) = match opened {
        Opened::Text(text, encoding) => (text, encoding),
        Opened::Parquet(buffered) => {
            return read_parquet(buffered, origin, options, send);
        }
    };
    // CloudWatch Logs subscription payloads (as Firehose writes them to S3, back to
    // back without newlines) are read as JSON, one event per log event.
    let mut text = std::io::BufReader::with_capacity(64 * 1024, text);
    let head = std::io::BufRead::fill_buf(&mut text)
        .map_err(|e| StreamError::Io(format!("{origin}: cannot read: {e}")))?;
    if options.rewriter.is_some() && crate::decode::cloudwatch::is_payload(head) {
        return read_cloudwatch(text, origin, options, send);
    }
    let text: Box<dyn Read + Send> = Box::new(text);
    let mut lines = LineReader::new(
        text,
        origin.clone(),
        options.max_event_bytes,
        reader::BATCH_BYTES,
    )
    .with_encoding(encoding);
    loop {
        if options.abort.is_cancelled() {
            return Err(StreamError::Stopped);
        }
        let mut batch = RawBatch::new(origin.clone());
        let result = lines.next_batch(&mut batch);
        batch.context = options.context.clone();
        let (more, error) = match result {
            Ok(more) => (more, None),
            Err(e) => (false, Some(e)),
        };
        if !batch.lines.is_empty() {
            if let Some(r) = options.rewriter.as_deref_mut() {
                batch = r.rewrite(batch);
            }
            send(batch).map_err(|_| StreamError::Stopped)?;
        }
        if let Some(e) = error {
            return Err(StreamError::Corrupt(e.message));
        }
        if !more {
            return Ok(StreamStats {
                lines: lines.lines_read(),
                bytes: lines.bytes_read(),
            });
        }
    }
}

/// CloudWatch Logs payloads streamed: each log event's message is one line of the
/// configured layout (numbered in the order of the events); control messages are
/// counted as skipped.
fn read_cloudwatch(
    reader: impl Read,
    origin: Arc<str>,
    mut options: StreamOptions<'_>,
    send: &mut dyn FnMut(RawBatch) -> Result<(), Closed>,
) -> Result<StreamStats, StreamError> {
    use crate::decode::cloudwatch::{Payload, read_payloads};
    let new_batch = |options: &StreamOptions<'_>| {
        let mut b = RawBatch::new(origin.clone());
        b.context = options.context.clone();
        b
    };
    let mut batch = new_batch(&options);
    let mut number = 0u64;
    let mut flush = |batch: RawBatch, options: &mut StreamOptions<'_>| {
        let batch = match options.rewriter.as_deref_mut() {
            Some(r) => r.rewrite(batch),
            None => batch,
        };
        send(batch).map_err(|_| StreamError::Stopped)
    };
    let result = read_payloads(reader, |payload| {
        match payload {
            Payload::Data(messages) => {
                for m in messages {
                    number += 1;
                    batch.push(m.as_bytes(), number, LineKind::Whole);
                }
            }
            Payload::Control => batch.skipped += 1,
        }
        if batch.data.len() >= reader::BATCH_BYTES {
            if options.abort.is_cancelled() {
                return Err(StreamError::Stopped);
            }
            let full = std::mem::replace(&mut batch, new_batch(&options));
            flush(full, &mut options)?;
        }
        Ok(())
    });
    // What was read before a broken payload still goes out.
    flush(batch, &mut options)?;
    match result {
        Err(reason) => Err(StreamError::Corrupt(format!(
            "{origin}: {reason} (after {number} log events)"
        ))),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => Ok(StreamStats {
            lines: number,
            bytes: 0,
        }),
    }
}

/// Parquet rows become JSON records (Parquet needs random access: the stream is
/// spooled to a temporary file, so memory stays bounded).
fn read_parquet<R: Read>(
    mut buffered: std::io::BufReader<R>,
    origin: Arc<str>,
    options: StreamOptions<'_>,
    send: &mut dyn FnMut(RawBatch) -> Result<(), Closed>,
) -> Result<StreamStats, StreamError> {
    let mut spool = tempfile::tempfile()
        .map_err(|e| StreamError::Io(format!("cannot create a temporary file: {e}")))?;
    let bytes = std::io::copy(&mut buffered, &mut spool)
        .map_err(|e| StreamError::Io(format!("{origin}: cannot read: {e}")))?;
    let mut batch = RawBatch::new(origin.clone());
    batch.context = options.context.clone();
    let mut rows = 0u64;
    let mut flush = |batch: &mut RawBatch| -> Result<(), StreamError> {
        let mut full = RawBatch::new(origin.clone());
        full.context = options.context.clone();
        std::mem::swap(batch, &mut full);
        send(full).map_err(|_| StreamError::Stopped)
    };
    let result = s3_sqs::parquet::for_each_row(spool, |json| {
        rows += 1;
        batch.push(json.as_bytes(), rows, LineKind::Whole);
        if batch.data.len() >= reader::BATCH_BYTES {
            if options.abort.is_cancelled() {
                return Err(StreamError::Stopped);
            }
            flush(&mut batch)?;
        }
        Ok(())
    });
    // Rows read so far still go out, whatever happened next.
    flush(&mut batch)?;
    match result {
        Err(reason) => Err(StreamError::Corrupt(format!("{origin}: {reason}"))),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => Ok(StreamStats { lines: rows, bytes }),
    }
}
