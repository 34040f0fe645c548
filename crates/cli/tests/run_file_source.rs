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

/// Runs `intake run` on a configuration until it ends by itself (read-once sources).
fn run_to_end(config: &std::path::Path) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The deadline only guards against a hang.
    let guard = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(guard);
    out
}

#[test]
fn a_catalog_style_format_folder_runs_and_bad_lines_are_dead_lettered_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let format = dir.path().join("Acme").join("acme-gateway");
    std::fs::create_dir_all(format.join("ingest")).unwrap();
    std::fs::create_dir_all(format.join("_meta")).unwrap();
    std::fs::write(
        format.join("ingest/parser.yml"),
        r#"name: acme-gateway
pipeline:
  - name: pairs
    external:
      name: kv.parse-kv
      properties:
        item_sep: '\s'
        value_sep: "="
  - name: set_fields
stages:
  set_fields:
    actions:
      - set:
          source.ip: "{{ pairs.message.src }}"
          event.action: "{{ pairs.message.act | lower }}"
"#,
    )
    .unwrap();
    std::fs::write(
        format.join("_meta/manifest.yml"),
        "name: Acme gateway\nslug: acme-gateway\ndescription: test\n",
    )
    .unwrap();
    let input = dir.path().join("in.log");
    let mut data = Vec::new();
    data.extend_from_slice(b"src=192.0.2.10 act=ALLOW\n");
    data.extend_from_slice(b"src=192.0.2.11 act=\xff\xfeDENY\n");
    data.extend_from_slice(format!("src=192.0.2.12 act={}\n", "x".repeat(3000)).as_bytes());
    data.extend_from_slice(b"src=192.0.2.13 act=DROP\r\n");
    std::fs::write(&input, &data).unwrap();
    let out = dir.path().join("events.ndjson");
    let dead = dir.path().join("rejects.ndjson");
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources.gw]
type = "file"
paths = ["{input}"]
format = "{format}"
max_event_bytes = 1000
dead_letter = "rejects"

[sinks.out]
type = "file"
inputs = ["gw"]
path = "{out}"

[sinks.rejects]
type = "file"
path = "{dead}"
"#,
            input = input.display(),
            format = format.display(),
            out = out.display(),
            dead = dead.display()
        ),
    )
    .unwrap();
    let result = run_to_end(&config);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let events = lines(&out);
    let actions: Vec<&str> = events
        .iter()
        .filter_map(|e| e.pointer(&["event", "action"])?.as_str())
        .collect();
    assert_eq!(actions, ["allow", "drop"], "the folder's format ran");
    let rejects = lines(&dead);
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    let reason = |r: &Value| {
        r.pointer(&["intake", "reason"])
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    assert!(reason(&rejects[0]).contains("UTF-8"), "{rejects:?}");
    assert!(
        rejects[0].pointer(&["intake", "raw_base64"]).is_some(),
        "the bytes are kept, not replaced"
    );
    assert_eq!(
        rejects[0].pointer(&["intake", "line"]),
        Some(&Value::Int(2))
    );
    assert!(
        reason(&rejects[1]).contains("max_event_bytes"),
        "{rejects:?}"
    );
    assert_eq!(
        rejects[1].pointer(&["intake", "line"]),
        Some(&Value::Int(3))
    );
}

#[test]
fn run_writes_what_parse_writes_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/aws-vpc-flow-logs.log.gz")
        .canonicalize()
        .unwrap();
    let parsed = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args([
            "parse",
            "--format",
            "aws-vpc-flow-logs",
            "--threads",
            "2",
            "--quiet",
        ])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(parsed.status.success());
    let out = dir.path().join("events.ndjson");
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            "threads = 2\n[sources.f]\ntype = \"file\"\npaths = [\"{}\"]\nformat = \"aws-vpc-flow-logs\"\n[sinks.out]\ntype = \"file\"\ninputs = [\"f\"]\npath = \"{}\"\n",
            sample.display(),
            out.display()
        ),
    )
    .unwrap();
    let result = run_to_end(&config);
    assert!(result.status.success());
    let ran = std::fs::read(&out).unwrap();
    assert!(ran.len() > 10_000);
    assert_eq!(
        String::from_utf8(ran).unwrap(),
        String::from_utf8(parsed.stdout).unwrap()
    );
}

#[test]
fn unknown_kinds_and_keys_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("intake.toml");
    let base = "[sources.f]\ntype = \"file\"\npaths = [\"x\"]\nformat = \"raw\"\n[sinks.out]\ntype = \"file\"\ninputs = [\"f\"]\npath = \"o\"\n";
    for (text, wanted) in [
        (
            base.replace("type = \"file\"\ninputs", "type = \"kafka\"\ninputs"),
            "sinks.out.type",
        ),
        (
            base.replace("paths =", "pathz = [\"y\"]\npaths ="),
            "sources.f.pathz: unknown field `pathz`",
        ),
        (
            base.replace("path = \"o\"", "path = \"o\"\n[sinks.out.batch]\nmax = 1"),
            "sinks.out",
        ),
    ] {
        std::fs::write(&config, &text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_intake"))
            .args(["validate", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(wanted), "{wanted:?} not in {stderr}");
    }
}
