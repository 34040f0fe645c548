//! Shared by the tests that run `intake` as a process against a real moto_server.
#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// A child process killed when the test ends, however it ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Starts moto_server on a free port (scripts/test.sh installs it; its absence is a
/// failure, never a skip).
pub fn moto() -> (Killed, String) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("moto_server").is_file()));
    assert!(
        found,
        "moto_server is not on PATH: run scripts/test.sh, or pip install 'moto[server]'"
    );
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_get(port, "/moto-api/").is_some_and(|r| r.starts_with("HTTP/1")) {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (guard, format!("http://127.0.0.1:{port}"))
}

/// A bucket `flowlogs` and a queue `flows` in moto, with a runtime to drive them.
pub struct Aws {
    pub rt: tokio::runtime::Runtime,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Aws {
    pub fn new(endpoint: &str) -> Aws {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (s3, sqs, queue_url) = rt.block_on(async {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(aws_credential_types::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .load()
                .await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build(),
            );
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            s3.create_bucket().bucket("flowlogs").send().await.unwrap();
            let url = sqs
                .create_queue()
                .queue_name("flows")
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            (s3, sqs, url)
        });
        Aws {
            rt,
            s3,
            sqs,
            queue_url,
        }
    }

    /// Puts an object and announces it on the queue.
    pub fn put(&self, key: &str, body: Vec<u8>) {
        let notification = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "flowlogs"}, "object": {"key": key, "size": body.len()}}
        }]})
        .to_string();
        self.rt.block_on(async {
            self.s3
                .put_object()
                .bucket("flowlogs")
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(notification)
                .send()
                .await
                .unwrap();
        });
    }

    /// Messages in the queue, visible or in flight.
    pub fn messages_left(&self) -> u64 {
        self.rt.block_on(async {
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
            let a = out.attributes.unwrap_or_default();
            let get = |k: A| -> u64 { a.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0) };
            get(A::ApproximateNumberOfMessages) + get(A::ApproximateNumberOfMessagesNotVisible)
        })
    }
}

/// A default-layout flow record whose `bytes` field is `id`.
pub fn flow_line(id: u64) -> String {
    format!(
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 {id} 1418530010 1418530070 ACCEPT OK"
    )
}

pub fn gzip(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    gz.finish().unwrap()
}

pub fn spawn_intake(config: &Path, log: &Path) -> Killed {
    let log = std::fs::File::create(log).unwrap();
    Killed(
        Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["run", "--config"])
            .arg(config)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

pub fn wait_for(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A local HTTP endpoint that answers 200 to every POST, after `delay`, and keeps the
/// bodies.
pub fn http_collector(delay: Duration) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    std::thread::sleep(delay);
                    kept.lock().unwrap().push(body);
                    if writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, bodies)
}
