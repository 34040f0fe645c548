//! Reading one object: decompression sniffed from the first bytes (gzip, possibly
//! multi-member; zstd; Parquet; else plain text), line splitting with a bounded line
//! length, layout handling, normalization in chunks, and hand-over to the sinks.
//! Runs on a blocking thread; the body is streamed, never whole in memory.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::ack::AckRef;
use crate::dead_letter::DeadRecord;
use crate::event::Output;
use crate::metrics;
use crate::normalize::{Normalizer, RawEvent};

use crate::decode::cloudwatch;
use crate::decode::vpc_layout::{Decoded, Layout, LayoutTracker};

/// Raw events normalized and sent together.
pub const CHUNK_EVENTS: usize = 500;
/// Longest line accepted; longer ones are dead-lettered (truncated).
pub const MAX_LINE: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Zstd,
    Parquet,
    Plain,
}

pub fn sniff(head: &[u8]) -> Encoding {
    if head.starts_with(&[0x1f, 0x8b]) {
        Encoding::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Encoding::Zstd
    } else if head.starts_with(b"PAR1") {
        Encoding::Parquet
    } else {
        Encoding::Plain
    }
}

/// Why an object could not be read to the end.
#[derive(Debug)]
pub enum ObjectError {
    /// Worth retrying: the message is left for redelivery (network, S3 5xx, sink down).
    Transient(String),
    /// Will never work (corrupt data): dead-lettered, the message can go.
    Permanent(String),
}

/// Counts bytes read from the network and remembers whether the network failed
/// (so a read error can be told apart from corrupt data).
pub struct SourceReader<R> {
    inner: R,
    pub bytes: Arc<AtomicU64>,
    pub failed: Arc<AtomicBool>,
}

impl<R> SourceReader<R> {
    pub fn new(inner: R) -> SourceReader<R> {
        SourceReader {
            inner,
            bytes: Arc::default(),
            failed: Arc::default(),
        }
    }
}

impl<R: Read> Read for SourceReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// Everything needed to turn an object's lines into delivered events.
pub struct ObjectContext {
    pub url: String,
    pub message_id: String,
    pub output: Output,
    pub normalizer: Normalizer,
    pub fields: Option<Layout>,
    /// The format reads flow logs: headerless lines must have a positional layout's shape.
    pub flow_logs: bool,
    pub ack: AckRef,
    /// Abandon the object (shutdown past its grace period).
    pub abort: crate::shutdown::Signal,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ObjectStats {
    pub events: u64,
    pub normalized: u64,
    pub dead: u64,
    /// Header lines and CloudWatch Logs control messages: not events.
    pub skipped: u64,
}

struct Chunker<'a> {
    ctx: &'a ObjectContext,
    raw: Vec<RawEvent>,
    dead: Vec<DeadRecord>,
    stats: ObjectStats,
    events_in: Arc<AtomicU64>,
    normalized: Arc<AtomicU64>,
}

impl<'a> Chunker<'a> {
    fn new(ctx: &'a ObjectContext) -> Chunker<'a> {
        let source: &str = &ctx.output.source;
        Chunker {
            ctx,
            raw: Vec::with_capacity(CHUNK_EVENTS),
            dead: Vec::new(),
            stats: ObjectStats::default(),
            events_in: metrics::counter("intake_events_in_total", &[("source", source)]),
            normalized: metrics::counter("intake_events_normalized_total", &[("source", source)]),
        }
    }

    fn push(&mut self, message: String, line: u64) -> Result<(), ObjectError> {
        self.raw.push(RawEvent { message, line });
        if self.raw.len() >= CHUNK_EVENTS {
            self.flush()?;
        }
        Ok(())
    }

    fn push_dead(&mut self, reason: String, message: String, line: u64) -> Result<(), ObjectError> {
        self.stats.events += 1;
        metrics::add(&self.events_in, 1);
        self.dead.push(DeadRecord {
            reason,
            message: Some(message),
            line: Some(line),
            ..DeadRecord::default()
        });
        if self.dead.len() >= CHUNK_EVENTS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ObjectError> {
        if self.ctx.ack.is_failed() {
            return Err(ObjectError::Transient(
                "a sink did not accept an earlier batch".into(),
            ));
        }
        if self.ctx.abort.is_fired() {
            return Err(ObjectError::Transient("shutting down".into()));
        }
        let raw = std::mem::take(&mut self.raw);
        let n = raw.len() as u64;
        let (batch, rejected) = self.ctx.normalizer.normalize(raw);
        self.stats.events += n;
        self.stats.normalized += batch.count as u64;
        metrics::add(&self.events_in, n);
        metrics::add(&self.normalized, batch.count as u64);
        self.dead.extend(rejected);
        let closed = |_| ObjectError::Transient("shutting down: a sink stopped".into());
        self.ctx
            .output
            .send_blocking(batch, &self.ctx.ack)
            .map_err(closed)?;
        if !self.dead.is_empty() {
            let mut dead = std::mem::take(&mut self.dead);
            for d in &mut dead {
                d.origin = Some(self.ctx.url.clone());
                d.sqs_message_id = Some(self.ctx.message_id.clone());
            }
            self.stats.dead += dead.len() as u64;
            self.ctx
                .output
                .dead_letter
                .send_blocking(&dead, &self.ctx.ack)
                .map_err(closed)?;
        }
        Ok(())
    }
}

/// Reads one line into `buf` (without its `\n`), at most `MAX_LINE` bytes kept.
/// Returns `None` at the end, `Some(truncated)` otherwise.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let mut truncated = false;
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (chunk, found) = match memchr_newline(available) {
            Some(i) => (&available[..i], Some(i)),
            None => (available, None),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if chunk.len() > room {
            truncated = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = found.map_or(available.len(), |i| i + 1);
        r.consume(consumed);
        if found.is_some() {
            return Ok(Some(truncated));
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

/// Processes the decompressed text of an object.
fn process_text(ctx: &ObjectContext, reader: &mut impl BufRead) -> Result<ObjectStats, io::Error> {
    // Subscription payloads may come back to back on one line: read them as JSON.
    if cloudwatch::is_payload(reader.fill_buf()?) {
        return process_payloads(ctx, reader);
    }
    // Separate the I/O error (returned) from the delivery error (kept aside).
    let mut chunker = Chunker::new(ctx);
    let mut layout = LayoutTracker::new(ctx.fields.clone(), ctx.flow_logs);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut delivery: Result<(), ObjectError> = Ok(());
    while let Some(truncated) = read_line(reader, &mut buf)? {
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        let r = if truncated {
            chunker.push_dead(
                format!("line longer than {MAX_LINE} bytes (truncated here)"),
                text.to_string(),
                line_no,
            )
        } else {
            match layout.decode(text) {
                Decoded::Header => {
                    chunker.stats.skipped += 1;
                    Ok(())
                }
                Decoded::Message(message) => chunker.push(message.into_owned(), line_no),
                Decoded::Reject(reason) => chunker.push_dead(reason, text.to_string(), line_no),
            }
        };
        if let Err(e) = r {
            delivery = Err(e);
            break;
        }
    }
    if delivery.is_ok() {
        delivery = chunker.flush();
    }
    match delivery {
        Ok(()) => Ok(chunker.stats),
        Err(e) => Err(io::Error::other(DeliveryError(e))),
    }
}

/// Processes CloudWatch Logs subscription payloads: each log event's message is one
/// line of the configured layout (numbered in the object's order of events).
fn process_payloads(
    ctx: &ObjectContext,
    reader: &mut impl BufRead,
) -> Result<ObjectStats, io::Error> {
    let mut chunker = Chunker::new(ctx);
    let mut layout = LayoutTracker::new(ctx.fields.clone(), ctx.flow_logs);
    let mut event_no = 0u64;
    let read = cloudwatch::read_payloads(reader, |payload| {
        let cloudwatch::Payload::Data(messages) = payload else {
            chunker.stats.skipped += 1;
            return Ok(());
        };
        for message in messages {
            event_no += 1;
            match layout.decode(&message) {
                Decoded::Header => chunker.stats.skipped += 1,
                Decoded::Message(m) => {
                    let m = m.into_owned();
                    chunker.push(m, event_no)?
                }
                Decoded::Reject(reason) => chunker.push_dead(reason, message, event_no)?,
            }
        }
        Ok(())
    });
    let delivery = match read {
        Ok(Ok(())) => chunker.flush(),
        Ok(Err(e)) => Err(e),
        Err(reason) => {
            // What was read before still goes out; the rest is reported.
            chunker.flush().and(Err(ObjectError::Permanent(format!(
                "{}: {reason} (after {event_no} log events)",
                ctx.url
            ))))
        }
    };
    match delivery {
        Ok(()) => Ok(chunker.stats),
        Err(e) => Err(io::Error::other(DeliveryError(e))),
    }
}

#[derive(Debug)]
struct DeliveryError(ObjectError);

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for DeliveryError {}

/// Processes a whole object from its (compressed) body.
pub fn process<R: Read>(
    ctx: &ObjectContext,
    body: SourceReader<R>,
) -> Result<ObjectStats, ObjectError> {
    let net_failed = body.failed.clone();
    let mut reader = BufReader::with_capacity(64 * 1024, body);
    let classify = |e: io::Error, what: &str| -> ObjectError {
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<DeliveryError>()) {
            return match &inner.0 {
                ObjectError::Transient(s) => ObjectError::Transient(s.clone()),
                ObjectError::Permanent(s) => ObjectError::Permanent(s.clone()),
            };
        }
        if net_failed.load(Ordering::Relaxed) {
            ObjectError::Transient(format!("{}: reading from S3 failed: {e}", ctx.url))
        } else {
            ObjectError::Permanent(format!("{}: {what}: {e}", ctx.url))
        }
    };
    let head = reader.fill_buf().map_err(|e| classify(e, "cannot read"))?;
    // A 64 KiB buffer always holds the few magic bytes unless the object is shorter.
    let encoding = sniff(head);
    match encoding {
        Encoding::Plain => process_text(ctx, &mut reader).map_err(|e| classify(e, "invalid text")),
        Encoding::Gzip => {
            let mut r =
                BufReader::with_capacity(64 * 1024, flate2::bufread::MultiGzDecoder::new(reader));
            process_text(ctx, &mut r).map_err(|e| classify(e, "corrupt gzip"))
        }
        Encoding::Zstd => {
            let dec = zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| classify(e, "corrupt zstd"))?;
            let mut r = BufReader::with_capacity(64 * 1024, dec);
            process_text(ctx, &mut r).map_err(|e| classify(e, "corrupt zstd"))
        }
        Encoding::Parquet => process_parquet(ctx, reader, &classify),
    }
}

fn process_parquet<R: Read>(
    ctx: &ObjectContext,
    mut reader: BufReader<SourceReader<R>>,
    classify: &dyn Fn(io::Error, &str) -> ObjectError,
) -> Result<ObjectStats, ObjectError> {
    let mut spool = tempfile::tempfile().map_err(|e| {
        ObjectError::Transient(format!("{}: cannot create a temporary file: {e}", ctx.url))
    })?;
    io::copy(&mut reader, &mut spool).map_err(|e| classify(e, "cannot spool"))?;
    let mut chunker = Chunker::new(ctx);
    let mut row_no = 0u64;
    let result = super::parquet::for_each_row(spool, |json| {
        row_no += 1;
        chunker.push(json, row_no)
    });
    match result {
        Err(reason) => {
            // Rows read so far still go out; the rest is reported.
            chunker.flush()?;
            Err(ObjectError::Permanent(format!("{}: {reason}", ctx.url)))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => {
            chunker.flush()?;
            Ok(chunker.stats)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letter::DeadLetter;
    use crate::event::{Delivery, SinkSender};
    use std::io::Write;
    use tokio::sync::mpsc;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Encoding::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Encoding::Zstd);
        assert_eq!(sniff(b"PAR1xxxx"), Encoding::Parquet);
        assert_eq!(sniff(b"version account-id"), Encoding::Plain);
        assert_eq!(sniff(b""), Encoding::Plain);
    }

    #[test]
    fn lines_are_bounded() {
        let mut data = vec![b'a'; MAX_LINE + 10];
        data.extend_from_slice(b"\nshort\nlast");
        let mut r = BufReader::with_capacity(1000, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(true));
        assert_eq!(buf.len(), MAX_LINE);
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(false));
        assert_eq!(buf, b"short");
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(false));
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), None);
    }

    fn context() -> (
        ObjectContext,
        mpsc::Receiver<Delivery>,
        mpsc::Receiver<Delivery>,
        crate::ack::AckWaiter,
    ) {
        let (tx, rx) = mpsc::channel(1000);
        let (dtx, drx) = mpsc::channel(1000);
        let (ack, waiter) = AckRef::new();
        let output = Output {
            source: "t".into(),
            sinks: vec![SinkSender {
                name: "s".into(),
                tx,
            }],
            dead_letter: DeadLetter {
                source: "t".into(),
                sink: Some(SinkSender {
                    name: "d".into(),
                    tx: dtx,
                }),
            },
        };
        let ctx = ObjectContext {
            url: "s3://b/k.gz".into(),
            message_id: "m".into(),
            output,
            normalizer: Normalizer::Raw,
            fields: None,
            flow_logs: true,
            ack,
            abort: crate::shutdown::Signal::never(),
        };
        (ctx, rx, drx, waiter)
    }

    fn drain(rx: &mut mpsc::Receiver<Delivery>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            for l in d.batch.lines() {
                let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                out.push(v["message"].as_str().unwrap().to_string());
            }
            d.ack.accept();
        }
        out
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn multi_member_gzip_with_header() {
        let (ctx, mut rx, _drx, _w) = context();
        let mut data = gzip(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 10 1 2 ACCEPT OK\n",
        );
        data.extend(gzip(
            "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 11 1 2 ACCEPT OK\r\n\n",
        ));
        let stats = process(&ctx, SourceReader::new(&data[..])).unwrap();
        assert_eq!(stats.events, 2);
        let msgs = drain(&mut rx);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[1].ends_with(" 11 1 2 ACCEPT OK"));
    }

    #[test]
    fn zstd_plain_and_custom_layout() {
        let (ctx, mut rx, _drx, _w) = context();
        let text = "version srcaddr bytes\n8 1.1.1.1 5\n8 - 6\n";
        let data = zstd::encode_all(text.as_bytes(), 3).unwrap();
        process(&ctx, SourceReader::new(&data[..])).unwrap();
        assert_eq!(
            drain(&mut rx),
            vec![
                r#"{"version":8,"srcaddr":"1.1.1.1","bytes":5}"#,
                r#"{"version":8,"bytes":6}"#
            ]
        );
        process(&ctx, SourceReader::new(&b"a b c"[..])).unwrap();
        assert!(
            drain(&mut rx).is_empty(),
            "a headerless line of no known layout"
        );
    }

    #[test]
    fn truncated_gzip_is_permanent_and_names_the_key() {
        let (ctx, mut rx, _drx, _w) = context();
        let mut lines = String::new();
        for i in 0..2000 {
            lines.push_str(&format!(
                "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 {i} 1 2 ACCEPT OK\n"
            ));
        }
        let data = gzip(&lines);
        let cut = &data[..data.len() / 2];
        let err = process(&ctx, SourceReader::new(cut)).unwrap_err();
        match err {
            ObjectError::Permanent(m) => assert!(m.contains("s3://b/k.gz"), "{m}"),
            other => panic!("{other:?}"),
        }
        drop(drain(&mut rx));
        let garbage = [0x1f, 0x8b, 0xff, 0xff, 0, 1, 2, 3];
        assert!(matches!(
            process(&ctx, SourceReader::new(&garbage[..])),
            Err(ObjectError::Permanent(_))
        ));
    }

    #[test]
    fn field_count_mismatch_is_dead_lettered() {
        let (ctx, mut rx, mut drx, _w) = context();
        process(
            &ctx,
            SourceReader::new(&b"version srcaddr\n1 2\n1 2 3\n"[..]),
        )
        .unwrap();
        assert_eq!(drain(&mut rx).len(), 1);
        let d = drx.try_recv().unwrap();
        let v: serde_json::Value = serde_json::from_slice(d.batch.lines().next().unwrap()).unwrap();
        assert_eq!(v["intake"]["line"], 3);
        assert_eq!(v["intake"]["origin"], "s3://b/k.gz");
        d.ack.accept();
    }

    #[test]
    fn parquet_rows() {
        let (ctx, mut rx, _drx, _w) = context();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        super::super::parquet::write_test_file(&path, &[(5, "1", "1.1.1.1", Some(1), 7, "ACCEPT")]);
        let data = std::fs::read(&path).unwrap();
        process(&ctx, SourceReader::new(&data[..])).unwrap();
        assert_eq!(
            drain(&mut rx),
            vec![
                r#"{"version":5,"account_id":"1","srcaddr":"1.1.1.1","srcport":1,"bytes":7,"action":"ACCEPT"}"#
            ]
        );
        let bad = b"PAR1 garbage garbage PAR1";
        assert!(matches!(
            process(&ctx, SourceReader::new(&bad[..])),
            Err(ObjectError::Permanent(_))
        ));
    }
}
