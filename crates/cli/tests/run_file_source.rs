//! `intake run` with a `file` source read once: every line of every matching file
//! (plain or gzip) becomes an event in the sink or a dead-letter record, and the run
//! ends by itself.

use std::process::Command;
use std::time::{Duration, Instant};

use intake_engine::Value;
use intake_engine::json::parse_json;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| parse_json(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn file_source_reads_every_matching_file_once_and_dead_letters_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let flow = |i: u32| {
        format!(
            "2 123456789010 eni-{i:08x} 10.0.0.{} 10.1.0.1 443 5{i:04} 6 1 40 1599665193 1599665488 ACCEPT OK\n",
            i % 250 + 1
        )
    };
    let a: String = (0..300).map(flow).collect();
    let b: String = (300..500).map(flow).collect::<String>() + "not a flow record\n";
    std::fs::write(logs.join("a.log"), a).unwrap();
    std::fs::write(logs.join("b.log"), b).unwrap();
    let c: String = (500..600).map(flow).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, c.as_bytes()).unwrap();
    std::fs::write(logs.join("c.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(logs.join("ignored.txt"), "2 x\n").unwrap();

    let out = dir.path().join("events.ndjson");
    let dead = dir.path().join("rejects.ndjson");
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources.files]
type = "file"
paths = ["{logs}/*.log", "{logs}/*.log.gz"]
format = "aws-vpc-flow-logs"
dead_letter = "rejects"

[sinks.out]
type = "file"
inputs = ["files"]
path = "{out}"

[sinks.rejects]
type = "file"
path = "{dead}"
"#,
            logs = logs.display(),
            out = out.display(),
            dead = dead.display()
        ),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["run", "--config"])
        .arg(&config)
        .spawn()
        .unwrap();
    // Read-once sources end the run; the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("intake run did not finish after reading its files");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());

    let events = lines(&out);
    assert_eq!(
        events.len(),
        600,
        "every flow record of every file, gzip included"
    );
    let mut interfaces: Vec<&str> = events
        .iter()
        .filter_map(|e| {
            e.pointer(&["observer", "ingress", "interface", "name"])?
                .as_str()
        })
        .collect();
    interfaces.sort();
    interfaces.dedup();
    assert_eq!(interfaces.len(), 600, "each record exactly once");

    let rejects = lines(&dead);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let text = intake_engine::json::to_json_string(&rejects[0]);
    assert!(text.contains("not a flow record"), "{text}");
    assert!(text.contains("b.log"), "names the file: {text}");
}

/// Runs `intake run` on `config` until it ends by itself.
fn run_to_end(config: &std::path::Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["run", "--config"])
        .arg(config)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("intake run did not finish after reading its files");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
}

/// The file source reads flow-log layouts as `intake parse` does: a header sets
/// the layout of its file, `fields` gives the layout of headerless files, and a
/// line in no known layout is dead-lettered with the reason.
#[test]
fn file_source_reads_headers_and_configured_fields() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // Headerless, in the configured layout (instance first, as NAT gateway logs).
    std::fs::write(
        logs.join("custom.log"),
        "i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK\n\
         i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 45 1765000000 1765000001 ACCEPT\n",
    )
    .unwrap();
    // Its own header: the default layout.
    std::fs::write(
        logs.join("v2.log"),
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
         2 310987654321 eni-07aa11bb22cc33dd4 198.51.100.20 10.8.0.5 443 50422 6 12 46 1765000000 1765000060 ACCEPT OK\n",
    )
    .unwrap();
    let out = dir.path().join("events.ndjson");
    let dead = dir.path().join("rejects.ndjson");
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources.files]
type = "file"
paths = ["{logs}/*.log"]
format = "aws-vpc-flow-logs"
dead_letter = "rejects"
fields = ["instance-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end", "action", "log-status"]

[sinks.out]
type = "file"
inputs = ["files"]
path = "{out}"

[sinks.rejects]
type = "file"
path = "{dead}"
"#,
            logs = logs.display(),
            out = out.display(),
            dead = dead.display()
        ),
    )
    .unwrap();
    run_to_end(&config);

    let events = lines(&out);
    let mut bytes: Vec<i64> = events
        .iter()
        .filter_map(|e| match e.pointer(&["source", "bytes"]) {
            Some(Value::Int(b)) => Some(*b),
            _ => None,
        })
        .collect();
    bytes.sort();
    assert_eq!(bytes, vec![44, 46], "{events:?}");
    let custom = events
        .iter()
        .find(|e| e.pointer(&["source", "bytes"]) == Some(&Value::Int(44)))
        .unwrap();
    assert_eq!(
        custom.pointer(&["cloud", "instance", "id"]),
        Some(&Value::from("i-0a1b2c3d"))
    );
    let rejects = lines(&dead);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let text = intake_engine::json::to_json_string(&rejects[0]);
    assert!(text.contains("expected 12 fields"), "{text}");
    assert!(text.contains("custom.log"), "names the file: {text}");
}
