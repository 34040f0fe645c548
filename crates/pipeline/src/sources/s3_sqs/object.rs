//! Reading one object through the shared reader (gzip, zstd, Parquet or plain,
//! streamed, never whole in memory), with the flow-log layout applied to its lines.
//! Runs on a blocking thread.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use crate::ack::AckRef;
use crate::component::SourceOutput;
use crate::sources::{StreamError, StreamOptions, StreamStats};

use super::layout::{Layout, LineConverter};

/// Why an object could not be read to the end.
#[derive(Debug)]
pub enum ObjectError {
    /// Worth retrying: the message is left for redelivery (network, S3 5xx, sink down).
    Transient(String),
    /// Will never work (corrupt data): dead-lettered, the message can go. What was
    /// readable before the damage was delivered.
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

/// Everything needed to turn an object into delivered events.
pub struct ObjectContext {
    pub url: String,
    pub message_id: String,
    pub output: SourceOutput,
    pub fields: Option<Layout>,
    pub max_event_bytes: usize,
    pub ack: AckRef,
    /// Abandon the object (shutdown past its grace period).
    pub abort: CancellationToken,
}

/// Reads a whole object from its (compressed) body.
pub fn process<R: Read + Send + 'static>(
    ctx: &ObjectContext,
    body: SourceReader<R>,
) -> Result<StreamStats, ObjectError> {
    let net_failed = body.failed.clone();
    let mut layout = LineConverter::new(ctx.fields.clone());
    let options = StreamOptions {
        max_event_bytes: ctx.max_event_bytes,
        plain: false,
        context: Some(ctx.message_id.as_str().into()),
        rewriter: Some(&mut layout),
        abort: &ctx.abort,
    };
    let result = crate::sources::read_stream(
        Box::new(body),
        ctx.url.as_str().into(),
        options,
        &ctx.output,
        &ctx.ack,
    );
    match result {
        Ok(stats) => Ok(stats),
        Err(StreamError::Stopped) => Err(ObjectError::Transient(if ctx.ack.is_failed() {
            "a sink did not accept an earlier batch".into()
        } else {
            "shutting down".into()
        })),
        Err(StreamError::Corrupt(m) | StreamError::Io(m)) => {
            if net_failed.load(Ordering::Relaxed) {
                Err(ObjectError::Transient(format!(
                    "reading from S3 failed: {m}"
                )))
            } else {
                Err(ObjectError::Permanent(m))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Delivery;
    use std::io::Write;
    use tokio::sync::mpsc;

    fn context(
        fields: Option<Layout>,
    ) -> (
        ObjectContext,
        mpsc::Receiver<Delivery>,
        mpsc::Receiver<Delivery>,
        crate::ack::AckWaiter,
    ) {
        let (output, rx, drx) = crate::component::test_output("raw");
        let (ack, waiter) = AckRef::new();
        let ctx = ObjectContext {
            url: "s3://b/k.gz".into(),
            message_id: "m".into(),
            output,
            fields,
            max_event_bytes: 1 << 20,
            ack,
            abort: CancellationToken::new(),
        };
        (ctx, rx, drx, waiter)
    }

    /// Processes `data` as one object; the messages delivered, the dead-letter
    /// records, and the outcome.
    async fn process_all(
        data: Vec<u8>,
        fields: Option<Layout>,
    ) -> (
        Vec<String>,
        Vec<serde_json::Value>,
        Result<StreamStats, ObjectError>,
    ) {
        let (ctx, mut rx, mut drx, _waiter) = context(fields);
        let result = tokio::task::spawn_blocking(move || {
            let r = process(&ctx, SourceReader::new(std::io::Cursor::new(data)));
            drop(ctx);
            r
        })
        .await
        .unwrap();
        let mut messages = Vec::new();
        while let Some(d) = rx.recv().await {
            for l in d.batch.lines() {
                let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                messages.push(v["message"].as_str().unwrap().to_string());
            }
            d.ack.accept();
        }
        let mut dead = Vec::new();
        while let Some(d) = drx.recv().await {
            for l in d.batch.lines() {
                dead.push(serde_json::from_slice(l).unwrap());
            }
            d.ack.accept();
        }
        (messages, dead, result)
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn multi_member_gzip_with_header() {
        let mut data = gzip(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 10 1 2 ACCEPT OK\n",
        );
        data.extend(gzip(
            "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 11 1 2 ACCEPT OK\r\n\n",
        ));
        let (msgs, dead, r) = process_all(data, None).await;
        r.unwrap();
        assert!(dead.is_empty(), "{dead:?}");
        assert_eq!(msgs.len(), 2);
        assert!(msgs[1].ends_with(" 11 1 2 ACCEPT OK"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn zstd_plain_and_custom_layout() {
        let text = "version srcaddr bytes\n8 1.1.1.1 5\n8 - 6\n";
        let data = zstd::encode_all(text.as_bytes(), 3).unwrap();
        let (msgs, _, r) = process_all(data, None).await;
        r.unwrap();
        assert_eq!(
            msgs,
            vec![
                r#"{"version":8,"srcaddr":"1.1.1.1","bytes":5}"#,
                r#"{"version":8,"bytes":6}"#
            ]
        );
        let (msgs, _, _) = process_all(b"a b c".to_vec(), None).await;
        assert_eq!(msgs, vec!["a b c"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn truncated_gzip_keeps_every_readable_line_and_dead_letters_the_tail() {
        let mut lines = String::new();
        for i in 0..2000 {
            lines.push_str(&format!(
                "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 {i} 1 2 ACCEPT OK\n"
            ));
        }
        let data = gzip(&lines);
        let cut = data[..data.len() / 2].to_vec();
        // What a standard reader gets out of the cut stream.
        let mut readable = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&cut[..]),
            &mut readable,
        );
        let whole = readable.iter().filter(|b| **b == b'\n').count();
        let (msgs, dead, r) = process_all(cut, None).await;
        match r {
            Err(ObjectError::Permanent(m)) => assert!(m.contains("s3://b/k.gz"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            msgs.len(),
            whole,
            "every whole line before the cut is delivered"
        );
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0]["intake"]["line"], whole as u64 + 1);
        assert!(
            dead[0]["intake"]["reason"]
                .as_str()
                .unwrap()
                .contains("truncated")
        );
        assert_eq!(dead[0]["intake"]["sqs_message_id"], "m");
        let garbage = vec![0x1f, 0x8b, 0xff, 0xff, 0, 1, 2, 3];
        assert!(matches!(
            process_all(garbage, None).await.2,
            Err(ObjectError::Permanent(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn invalid_utf8_and_field_count_mismatch_are_dead_lettered() {
        let (msgs, dead, r) =
            process_all(b"version srcaddr\n1 2\n1 2 3\n1 \xff\n".to_vec(), None).await;
        r.unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(dead.len(), 2, "{dead:?}");
        let by_line: Vec<u64> = dead
            .iter()
            .map(|d| d["intake"]["line"].as_u64().unwrap())
            .collect();
        assert!(by_line.contains(&3) && by_line.contains(&4), "{by_line:?}");
        for d in &dead {
            assert_eq!(d["intake"]["origin"], "s3://b/k.gz");
        }
        let utf8 = dead.iter().find(|d| d["intake"]["line"] == 4).unwrap();
        assert!(utf8["intake"]["raw_base64"].is_string(), "{utf8}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn parquet_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        super::super::parquet::write_test_file(&path, &[(5, "1", "1.1.1.1", Some(1), 7, "ACCEPT")]);
        let data = std::fs::read(&path).unwrap();
        let (msgs, _, r) = process_all(data, None).await;
        r.unwrap();
        assert_eq!(
            msgs,
            vec![
                r#"{"version":5,"account_id":"1","srcaddr":"1.1.1.1","srcport":1,"bytes":7,"action":"ACCEPT"}"#
            ]
        );
        let bad = b"PAR1 garbage garbage PAR1".to_vec();
        assert!(matches!(
            process_all(bad, None).await.2,
            Err(ObjectError::Permanent(_))
        ));
    }
}
