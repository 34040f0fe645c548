//! Fault injection: `intake run` collecting flow-log objects from S3 (moto) into a
//! plain file sink, a gzip file sink and an http sink is killed with SIGKILL at
//! random moments, three times, then left to finish. Every record of every object
//! must be delivered at least once to every sink, and every delivered line must be
//! readable by standard tools (no torn line, no broken gzip member).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const OBJECTS: u64 = 5;
const PER_OBJECT: u64 = 20_000;

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The record ids in NDJSON text; panics on a line that is not JSON (a torn line).
fn ids_in(text: &str, what: &str, counts: &mut BTreeMap<u64, u32>) {
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{what}: line {} is not JSON ({e}): {line:.200}", i + 1));
        let id = v["message"]
            .as_str()
            .and_then(|m| m.split_ascii_whitespace().nth(9))
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("{what}: line {} is not a record: {line:.200}", i + 1));
        *counts.entry(id).or_default() += 1;
    }
}

/// Checks a sink's counts: nothing lost; returns (delivered, duplicated).
fn tally(name: &str, counts: &BTreeMap<u64, u32>) -> (u64, u64) {
    let expected = OBJECTS * PER_OBJECT;
    let lost: Vec<u64> = (0..expected).filter(|i| !counts.contains_key(i)).collect();
    let delivered: u64 = counts.values().map(|c| *c as u64).sum();
    let duplicated = delivered - counts.len() as u64;
    eprintln!(
        "fault injection, {name}: expected {expected}, delivered {delivered}, lost {}, duplicated {duplicated}",
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "{name}: {} records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    (delivered, duplicated)
}

#[test]
fn sigkill_at_random_moments_loses_nothing_in_any_sink() {
    let (_moto, endpoint) = moto();
    let aws = Aws::new(&endpoint);
    for o in 0..OBJECTS {
        let mut text = String::from(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
        );
        for i in 0..PER_OBJECT {
            text.push_str(&flow_line(o * PER_OBJECT + i));
            text.push('\n');
        }
        aws.put(&format!("flows/{o}.log.gz"), gzip(text.as_bytes()));
    }
    // A destination that takes a while per request keeps the collection going long
    // enough for the kills to land in the middle of it.
    let (http_port, bodies) = http_collector(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            r#"
shutdown_timeout_secs = 10
[sources.flows]
type = "aws_s3_sqs"
queue_url = "{queue}"
region = "{REGION}"
endpoint_url = "{endpoint}"
access_key_id = "testing"
secret_access_key = "testing"
format = "raw"
wait_time_secs = 1
visibility_timeout_secs = 3
concurrency = 2
dead_letter = "rejects"

[sinks.plain]
type = "file"
inputs = ["flows"]
path = "{dir}/plain.ndjson"

[sinks.gz]
type = "file"
inputs = ["flows"]
path = "{dir}/gz.ndjson.gz"
gzip = true

[sinks.siem]
type = "http"
inputs = ["flows"]
uri = "http://127.0.0.1:{http_port}/batch"
encoding = "ndjson"
batch = {{ max_events = 250, timeout_secs = 0.2 }}

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
            queue = aws.queue_url,
            dir = dir.path().display()
        ),
    )
    .unwrap();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("fault injection seed: {seed}");
    let mut rng = Rng(seed);
    let plain = dir.path().join("plain.ndjson");
    for kill in 0..3 {
        let mut child = spawn_intake(&config, &dir.path().join(format!("run{kill}.log")));
        // Kill once some events were written, at a random moment after.
        let before = std::fs::metadata(&plain).map(|m| m.len()).unwrap_or(0);
        let mut drained = false;
        wait_for(120, "events being written", || {
            drained = aws.messages_left() == 0;
            drained || std::fs::metadata(&plain).map(|m| m.len()).unwrap_or(0) > before
        });
        if drained {
            // Everything was acknowledged before this kill: nothing left to interrupt.
            eprintln!("the queue was empty before SIGKILL {}", kill + 1);
            break;
        }
        std::thread::sleep(Duration::from_millis(rng.next() % 800));
        child.0.kill().unwrap();
        let _ = child.0.wait();
        eprintln!(
            "SIGKILL {}: {} bytes in the plain sink",
            kill + 1,
            std::fs::metadata(&plain).map(|m| m.len()).unwrap_or(0)
        );
    }
    let mut last = spawn_intake(&config, &dir.path().join("last.log"));
    let expected = OBJECTS * PER_OBJECT;
    wait_for(300, "the queue empty", || aws.messages_left() == 0);
    // The queue is empty once every sink accepted every event: stop cleanly.
    let pid = last.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while last.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut plain_counts = BTreeMap::new();
    ids_in(
        &std::fs::read_to_string(&plain).unwrap(),
        "plain sink",
        &mut plain_counts,
    );
    tally("plain file sink", &plain_counts);

    let data = std::fs::read(dir.path().join("gz.ndjson.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&data[..])
        .read_to_string(&mut text)
        .expect("the gzip file decompresses to its end");
    if Command::new("gzip").arg("--version").output().is_ok() {
        let ok = Command::new("gzip")
            .arg("-t")
            .arg(dir.path().join("gz.ndjson.gz"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "gzip -t refuses the gzip sink's file");
    }
    let mut gz_counts = BTreeMap::new();
    ids_in(&text, "gzip sink", &mut gz_counts);
    tally("gzip file sink", &gz_counts);

    let mut http_counts = BTreeMap::new();
    for body in bodies.lock().unwrap().iter() {
        ids_in(
            std::str::from_utf8(body).unwrap(),
            "http sink",
            &mut http_counts,
        );
    }
    tally("http sink", &http_counts);
    assert!(
        !Path::new(&dir.path().join("rejects.ndjson")).exists()
            || std::fs::read_to_string(dir.path().join("rejects.ndjson"))
                .unwrap()
                .is_empty(),
        "nothing was refused"
    );
    assert_eq!(plain_counts.len() as u64, expected);
}
