//! Test harness: a real `moto_server` on a free port (killed on drop), AWS clients
//! pointed at it, fixtures, and polling helpers.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

pub const REGION: &str = "us-east-1";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(cmd).is_file()))
}

/// Starts moto, or returns `None` (with a loud message) when it is not installed.
pub fn moto() -> Option<Moto> {
    if !on_path("moto_server") {
        // In CI the emulator is installed by .ci/run: its absence is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "moto_server is not on PATH (pip install 'moto[server]')"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: moto_server is not on PATH (pip install 'moto[server]') !!!!!!!!\n"
        );
        return None;
    }
    // Dummy credentials for the SDK's default chain, whatever the environment.
    // SAFETY: set before any client is built; every test sets the same values.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", REGION);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_ready(port) {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// Whether an HTTP server answers on the port (not just a socket accepting).
fn http_ready(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1")
}

pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub bucket: String,
}

impl Aws {
    pub async fn new(endpoint: &str, bucket: &str, queue: &str) -> Aws {
        let sdk = sdk(endpoint).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(queue)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        Aws {
            s3,
            sqs,
            queue_url,
            bucket: bucket.to_string(),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    pub async fn send(&self, body: String) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Visible + in-flight messages.
    pub async fn messages_left(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes.unwrap_or_default();
        let get = |a: A| -> u64 { attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0) };
        get(A::ApproximateNumberOfMessages) + get(A::ApproximateNumberOfMessagesNotVisible)
    }
}

/// An S3 `ObjectCreated:Put` notification, the key encoded as S3 does.
pub fn s3_event(bucket: &str, key: &str) -> String {
    let encoded: String = key
        .split(' ')
        .map(|part| {
            percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2F", "/")
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_")
        })
        .collect::<Vec<_>>()
        .join("+");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2024-05-01T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "flows",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": 100, "eTag": "0"}}
    }]})
    .to_string()
}

pub fn sns_envelope(inner: &str) -> String {
    serde_json::json!({
        "Type": "Notification", "MessageId": "5e3f0f0a-0000-4000-8000-000000000000",
        "TopicArn": format!("arn:aws:sns:{REGION}:123456789012:flows"),
        "Subject": "Amazon S3 Notification", "Message": inner,
        "Timestamp": "2024-05-01T10:00:00.000Z", "SignatureVersion": "1",
        "Signature": "x", "SigningCertURL": "https://example.invalid/cert.pem",
        "UnsubscribeURL": "https://example.invalid/unsubscribe"
    })
    .to_string()
}

pub fn eventbridge_event(bucket: &str, key: &str) -> String {
    serde_json::json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2024-05-01T10:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 100, "etag": "0", "sequencer": "0"},
                   "request-id": "r", "requester": "123456789012", "reason": "PutObject"}
    })
    .to_string()
}

pub fn test_event(bucket: &str) -> String {
    serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
        "Time": "2024-05-01T10:00:00.000Z", "Bucket": bucket,
        "RequestId": "r", "HostId": "h"})
    .to_string()
}

pub const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// A default-layout (v2) line whose `bytes` field is `bytes`.
pub fn v2_line(bytes: u64) -> String {
    format!(
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 {bytes} 1418530010 1418530070 ACCEPT OK"
    )
}

pub fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// (version, account_id, srcaddr, srcport, bytes, action).
pub type FlowRow<'a> = (i32, &'a str, &'a str, Option<i32>, i64, &'a str);

/// Writes a Parquet flow-log object: columns as VPC Flow Logs write them.
pub fn parquet_object(rows: &[FlowRow<'_>]) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;
    let schema = Arc::new(
        parse_message_type(
            "message flows { optional int32 version; optional binary account_id (UTF8); optional binary srcaddr (UTF8); optional int32 srcport; optional int64 bytes; optional binary action (UTF8); }",
        )
        .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, props).unwrap();
    let mut rg = writer.next_row_group().unwrap();
    let all = vec![1i16; rows.len()];
    let mut col = 0;
    while let Some(mut w) = rg.next_column().unwrap() {
        match col {
            0 => {
                let v: Vec<i32> = rows.iter().map(|r| r.0).collect();
                w.typed::<Int32Type>()
                    .write_batch(&v, Some(&all), None)
                    .unwrap();
            }
            3 => {
                let v: Vec<i32> = rows.iter().filter_map(|r| r.3).collect();
                let defs: Vec<i16> = rows.iter().map(|r| r.3.is_some() as i16).collect();
                w.typed::<Int32Type>()
                    .write_batch(&v, Some(&defs), None)
                    .unwrap();
            }
            4 => {
                let v: Vec<i64> = rows.iter().map(|r| r.4).collect();
                w.typed::<Int64Type>()
                    .write_batch(&v, Some(&all), None)
                    .unwrap();
            }
            c => {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| {
                        ByteArray::from(match c {
                            1 => r.1,
                            2 => r.2,
                            _ => r.5,
                        })
                    })
                    .collect();
                w.typed::<ByteArrayType>()
                    .write_batch(&v, Some(&all), None)
                    .unwrap();
            }
        }
        w.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    writer.close().unwrap();
    out
}

/// The format the tests run: the built-in flow-log format once the engine parses
/// it, else `raw` (announced loudly) so the collector itself is still exercised.
pub fn flow_format() -> &'static str {
    let sample = v2_line(1);
    match intake_formats::builtin("aws-vpc-flow-logs") {
        Ok(f) if f.parse_message(&sample, chrono::Utc::now()).is_ok() => "aws-vpc-flow-logs",
        other => {
            let why = match other {
                Ok(f) => f
                    .parse_message(&sample, chrono::Utc::now())
                    .err()
                    .map(|r| r.reason)
                    .unwrap_or_default(),
                Err(e) => e,
            };
            eprintln!(
                "\n!!!! aws-vpc-flow-logs cannot parse yet ({why}): running with format = \"raw\" !!!!\n"
            );
            "raw"
        }
    }
}

/// Every JSON document in the NDJSON files (gzip or not) under `dir` whose name starts with `prefix`.
pub fn read_events(dir: &Path, prefix: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        let Ok(data) = std::fs::read(&p) else {
            continue;
        };
        let text = if data.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(&data[..]),
                &mut s,
            );
            s
        } else {
            String::from_utf8_lossy(&data).into_owned()
        };
        for line in text.lines() {
            // A line being written may be incomplete: skip what does not parse.
            if let Ok(v) = serde_json::from_str(line) {
                out.push(v);
            }
        }
    }
    out
}

/// The `bytes` field of the flow record an event came from (raw text or JSON record).
pub fn bytes_of(event: &serde_json::Value) -> Option<u64> {
    if let Some(b) = event.pointer("/source/bytes").and_then(|v| v.as_u64()) {
        return Some(b);
    }
    let message = event.get("message")?.as_str()?;
    if message.starts_with('{') {
        let record: serde_json::Value = serde_json::from_str(message).ok()?;
        return record.get("bytes")?.as_u64();
    }
    message.split_ascii_whitespace().nth(9)?.parse().ok()
}

/// Polls `check` until it returns true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
