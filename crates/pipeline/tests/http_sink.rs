//! The `http` sink against a local HTTP server (a plain std listener: the test
//! controls each answer): a 429 with `Retry-After` is retried after that delay and
//! nothing is lost; a redirect to another host is not followed with the headers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use intake_pipeline::{Config, topology};
use tokio_util::sync::CancellationToken;

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    headers: Vec<String>,
    body: Vec<u8>,
}

/// Serves on a free port; `answer(n)` gives the status line and headers of the
/// n-th request (0-based).
fn serve(answer: impl Fn(usize) -> String + Send + Sync + 'static) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = log.clone();
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut headers = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end().to_string();
                        if line.is_empty() {
                            break;
                        }
                        headers.push(line);
                    }
                    let len = headers
                        .iter()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let n = {
                        let mut l = log.lock().unwrap();
                        l.push(Seen {
                            at: Instant::now(),
                            headers,
                            body,
                        });
                        l.len() - 1
                    };
                    let head = answer(n);
                    let reply = format!("{head}\r\nContent-Length: 0\r\n\r\n");
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn flows(n: usize) -> String {
    (0..n)
        .map(|i| format!("2 123456789010 eni-{i:08x} 10.0.0.1 10.1.0.1 443 5000 6 1 40 1599665193 1599665488 ACCEPT OK\n"))
        .collect()
}

async fn run(config: String) {
    let config = Config::from_toml(&config).unwrap_or_else(|e| panic!("{e}\n{config}"));
    let stop = CancellationToken::new();
    let task = tokio::spawn(topology::run(config, topology::until(stop.clone())));
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the run ends once every event is delivered")
        .unwrap()
        .unwrap();
}

fn config(dir: &std::path::Path, input: &std::path::Path, port: u16, extra: &str) -> String {
    format!(
        r#"
[sources.f]
type = "file"
paths = ["{input}"]
format = "aws-vpc-flow-logs"
dead_letter = "rejects"

[sinks.siem]
type = "http"
inputs = ["f"]
uri = "http://127.0.0.1:{port}/batch"
headers = {{ "X-Intake-Key" = "k-secret" }}
encoding = "ndjson"
retry_initial_backoff_ms = 10
batch = {{ max_events = 100, timeout_secs = 0.1 }}
{extra}

[sinks.rejects]
type = "file"
path = "{dead}"
"#,
        input = input.display(),
        dead = dir.join("rejects.ndjson").display(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_retry_after_is_retried_after_that_delay_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flows.log");
    std::fs::write(&input, flows(250)).unwrap();
    let (port, seen) = serve(|n| {
        if n == 0 {
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2".to_string()
        } else {
            "HTTP/1.1 200 OK".to_string()
        }
    });
    run(config(dir.path(), &input, port, "concurrency = 1")).await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{} requests", seen.len());
    assert!(
        seen[0]
            .headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("x-intake-key: k-secret")),
        "{:?}",
        seen[0].headers
    );
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    // The refused request came again: every event arrived (at least once).
    let mut ids = std::collections::BTreeSet::new();
    for s in &seen[1..] {
        for line in s.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            ids.insert(v["observer"]["ingress"]["interface"]["name"].to_string());
        }
    }
    assert_eq!(ids.len(), 250);
    assert!(
        !dir.path().join("rejects.ndjson").exists()
            || std::fs::read(dir.path().join("rejects.ndjson"))
                .unwrap()
                .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_host_is_not_followed_with_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flows.log");
    std::fs::write(&input, flows(20)).unwrap();
    let (other, other_seen) = serve(|_| "HTTP/1.1 200 OK".to_string());
    // "localhost" is another origin than 127.0.0.1 (another host name).
    let (port, _) = serve(move |_| {
        format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{other}/steal")
    });
    run(config(dir.path(), &input, port, "")).await;
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "the other host received a request"
    );
    let rejects = std::fs::read_to_string(dir.path().join("rejects.ndjson")).unwrap();
    assert_eq!(rejects.lines().count(), 20, "refused events are kept");
    assert!(rejects.contains("redirect"), "{rejects}");
    assert!(!rejects.contains("k-secret"));
}
