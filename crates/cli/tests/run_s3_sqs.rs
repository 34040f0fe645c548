//! `intake run` as a process against a real moto_server: killed with SIGKILL in
//! the middle of an object and restarted, every event still arrives at least once;
//! the metrics endpoint answers; SIGTERM stops it cleanly.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn delivered(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("flows") && !name.starts_with("rejects") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for l in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            let from_message = v
                .get("message")
                .and_then(|m| m.as_str())
                .and_then(|m| m.split_ascii_whitespace().nth(9))
                .and_then(|b| b.parse().ok());
            if let Some(b) = from_message {
                out.push(b);
            }
        }
    }
    out
}

#[test]
fn sigkill_mid_object_then_restart_delivers_everything() {
    let (_moto, endpoint) = moto();
    let aws = Aws::new(&endpoint);
    let queue_url = aws.queue_url.clone();
    let total = 200_000u64;
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for b in 0..total {
        text.push_str(&flow_line(b));
        text.push('\n');
    }
    aws.put("big.log.gz", gzip(text.as_bytes()));
    let messages_left = || aws.messages_left();

    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let config = dir.path().join("intake.toml");
    // `raw` keeps this test about delivery; the format is exercised elsewhere.
    std::fs::write(
        &config,
        format!(
            r#"
shutdown_timeout_secs = 5
[metrics]
address = "127.0.0.1:{metrics_port}"

[sources.flows]
type = "aws_s3_sqs"
queue_url = "{queue_url}"
region = "{REGION}"
endpoint_url = "{endpoint}"
access_key_id = "testing"
secret_access_key = "testing"
format = "raw"
wait_time_secs = 1
visibility_timeout_secs = 4
dead_letter = "rejects"

[sinks.archive]
type = "file"
inputs = ["flows"]
path = "{dir}/flows-%Y-%m-%d.ndjson"

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
            dir = dir.path().display()
        ),
    )
    .unwrap();

    let mut first = spawn_intake(&config, &dir.path().join("first.log"));
    wait_for(120, "the first events", || {
        !delivered(dir.path()).is_empty()
    });
    first.0.kill().unwrap(); // SIGKILL
    let _ = first.0.wait();
    let before = delivered(dir.path()).len() as u64;
    eprintln!("killed after {before} of {total} events");
    if before < total {
        assert_eq!(
            messages_left(),
            1,
            "message deleted before its object was delivered"
        );
    }

    let mut second = spawn_intake(&config, &dir.path().join("second.log"));
    wait_for(60, "the metrics endpoint", || {
        http_get(metrics_port, "/metrics")
            .is_some_and(|r| r.contains("intake_sqs_messages_received_total"))
    });
    wait_for(300, "every event delivered and the queue empty", || {
        let seen: BTreeSet<u64> = delivered(dir.path()).into_iter().collect();
        seen.len() as u64 == total && messages_left() == 0
    });
    let metrics = http_get(metrics_port, "/metrics").unwrap();
    assert!(
        metrics.contains("intake_sqs_messages_deleted_total{source=\"flows\"} 1"),
        "{metrics}"
    );

    // SIGTERM: a clean, successful exit.
    let pid = second.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = second.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(log.contains("SIGTERM"), "{log}");
}
