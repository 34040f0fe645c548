//! `intake parse` and `intake formats` as a user runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use intake_engine::Value;
use intake_engine::json::{parse_json, to_json_string};

const NOW: &str = "2026-11-23T12:00:00Z";

fn intake() -> Command {
    Command::new(env!("CARGO_BIN_EXE_intake"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("intake starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts that the command succeeded, showing its stderr when it did not.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| parse_json(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Fed the golden inputs with `--input json`, `intake parse` reproduces every
/// expected event, in order.
#[test]
fn parse_reproduces_every_builtin_case() {
    let mut checked = 0;
    for info in intake_formats::list() {
        let folder = intake_formats::builtin_folder(&info.slug).unwrap();
        let mut input = Vec::new();
        for case in &folder.tests {
            input.extend_from_slice(to_json_string(&Value::Map(case.input.clone())).as_bytes());
            input.push(b'\n');
        }
        let mut cmd = intake();
        cmd.args([
            "parse", "--format", &info.slug, "--input", "json", "--now", NOW,
        ]);
        let out = run_with_stdin(cmd, &input);
        assert_success(&out);
        let events = lines(&out.stdout);
        assert_eq!(
            events.len(),
            folder.tests.len(),
            "{}: one event per case",
            info.slug
        );
        for (case, event) in folder.tests.iter().zip(&events) {
            let diffs = intake_formats::compare(&case.expected, event);
            assert!(diffs.is_empty(), "{}: {:?}", case.name, diffs);
            checked += 1;
        }
    }
    assert!(checked >= 23);
}

#[test]
fn unreadable_events_go_to_the_dead_letter_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.ndjson");
    let mut input = Vec::new();
    input.extend_from_slice(
        b"2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 40 1431280876 1431280934 ACCEPT OK\n",
    );
    input.extend_from_slice(b"this is not a flow log\n");
    input.extend_from_slice(b"\xff\xfe not utf-8\n");
    input.extend_from_slice(b"{\"truncated\": \n");
    let mut cmd = intake();
    cmd.args(["parse", "--format", "aws-vpc-flow-logs", "--dead-letter"])
        .arg(&dead);
    let out = run_with_stdin(cmd, &input);
    assert_success(&out);
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 1, "only the flow record is an event");
    let dead = lines(&std::fs::read(&dead).unwrap());
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].pointer(&["intake", "line"]), Some(&Value::Int(2)));
    assert_eq!(
        dead[0].pointer(&["message"]),
        Some(&Value::from("this is not a flow log"))
    );
    assert_eq!(
        dead[0].pointer(&["intake", "origin"]),
        Some(&Value::from("<stdin>"))
    );
    assert!(
        dead[0]
            .pointer(&["intake", "reason"])
            .unwrap()
            .as_str()
            .unwrap()
            .contains("no parsing step")
    );
    assert!(
        dead[1].pointer(&["intake", "raw_base64"]).is_some(),
        "non-UTF-8 kept as base64"
    );
    assert!(
        dead[1]
            .pointer(&["intake", "reason"])
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("not valid UTF-8")
    );
    assert!(
        dead[2]
            .pointer(&["intake", "reason"])
            .unwrap()
            .as_str()
            .unwrap()
            .contains("json")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 events read, 1 written, 3 dead-lettered"),
        "{stderr}"
    );
}

#[test]
fn without_a_dead_letter_file_rejections_are_counted_not_printed() {
    let mut cmd = intake();
    cmd.args(["parse", "--format", "pulse-connect-secure"]);
    let out = run_with_stdin(cmd, b"garbage without pairs\n");
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "a rejected event is never written as normal"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 dead-lettered"), "{stderr}");
    assert!(stderr.contains("--dead-letter"), "{stderr}");
}

#[test]
fn json_input_lines_that_are_not_objects_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.ndjson");
    let mut cmd = intake();
    cmd.args([
        "parse",
        "--format",
        "aws-vpc-flow-logs",
        "--input",
        "json",
        "--dead-letter",
    ])
    .arg(&dead);
    let out = run_with_stdin(cmd, b"[1,2]\nnot json\n");
    assert!(out.status.success());
    let dead = lines(&std::fs::read(&dead).unwrap());
    assert_eq!(dead.len(), 2);
    let reason = |v: &Value| {
        v.pointer(&["intake", "reason"])
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    assert!(reason(&dead[0]).contains("not an object"), "{:?}", dead[0]);
    assert!(reason(&dead[1]).contains("invalid JSON"), "{:?}", dead[1]);
}

#[test]
fn oversize_lines_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.ndjson");
    let long = "9".repeat(5000);
    let mut cmd = intake();
    cmd.args([
        "parse",
        "--format",
        "aws-vpc-flow-logs",
        "--max-event-bytes",
        "1000",
        "--dead-letter",
    ])
    .arg(&dead);
    let out = run_with_stdin(cmd, format!("{long}\n").as_bytes());
    assert!(out.status.success());
    let dead = lines(&std::fs::read(&dead).unwrap());
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .pointer(&["intake", "reason"])
            .unwrap()
            .as_str()
            .unwrap()
            .contains("max_event_bytes")
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn flow_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "2 123456789010 eni-{i:017x} 10.0.{}.{} 172.16.0.{} {} 443 6 {} {} 1599665193 1599665488 {} OK\n",
                i % 250,
                i % 200 + 1,
                i % 100 + 1,
                1024 + i % 60000,
                i % 50 + 1,
                (i % 50 + 1) * 60,
                if i % 7 == 0 { "REJECT" } else { "ACCEPT" }
            )
        })
        .collect()
}

#[test]
fn gzip_files_are_detected_and_order_is_kept_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let text = flow_lines(30_000);
    let gz = dir.path().join("flows.log.gz");
    std::fs::write(&gz, gzip(text.as_bytes())).unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out_file = dir.path().join(format!("out-{threads}.ndjson"));
        let out = intake()
            .args([
                "parse",
                "--format",
                "aws-vpc-flow-logs",
                "--threads",
                threads,
                "--output",
            ])
            .arg(&out_file)
            .arg(&gz)
            .output()
            .unwrap();
        assert_success(&out);
        outputs.push(std::fs::read(&out_file).unwrap());
    }
    assert_eq!(
        outputs[0], outputs[1],
        "same output, same order, whatever the threads"
    );
    let events = lines(&outputs[0]);
    assert_eq!(events.len(), 30_000);
    for (i, (event, raw)) in events.iter().zip(text.lines()).enumerate().step_by(997) {
        assert_eq!(
            event.pointer(&["message"]),
            Some(&Value::from(raw)),
            "event {i} in order"
        );
    }
}

#[test]
fn the_interpreter_gives_the_events_of_the_flat_executor() {
    // The bundled VPC sample runs on the flat executor by default.
    let sample = repo().join("samples/aws-vpc-flow-logs.log.gz");
    let mut outputs = Vec::new();
    for extra in [&[][..], &["--interpret"][..]] {
        let out = intake()
            .args(["parse", "--format", "aws-vpc-flow-logs", "--quiet"])
            .args(extra)
            .arg(&sample)
            .output()
            .unwrap();
        assert_success(&out);
        // Key order may differ between executors; the events may not.
        let events: Vec<String> = lines(&out.stdout)
            .iter()
            .map(intake_engine::json::to_json_string_sorted)
            .collect();
        outputs.push(events);
    }
    assert!(outputs[0].len() > 500, "{} events", outputs[0].len());
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn a_truncated_gzip_keeps_what_was_read_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzip(flow_lines(20_000).as_bytes());
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let dead = dir.path().join("dead.ndjson");
    let out = intake()
        .args(["parse", "--format", "aws-vpc-flow-logs", "--dead-letter"])
        .arg(&dead)
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.log.gz"), "names the file: {stderr}");
    assert!(stderr.contains(" lines)"), "says how far it got: {stderr}");
    let events = lines(&out.stdout);
    assert!(
        events.len() > 1000 && events.len() < 20_000,
        "{} events kept",
        events.len()
    );
    // Every whole line a standard reader gets out of the cut file is kept, and the
    // partial one is dead-lettered.
    let mut readable = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&gz[..gz.len() / 2]),
        &mut readable,
    );
    let whole = readable.iter().filter(|b| **b == b'\n').count();
    assert_eq!(events.len(), whole);
    let dead = lines(&std::fs::read(&dead).unwrap());
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].pointer(&["intake", "line"]),
        Some(&Value::Int(whole as i64 + 1))
    );
}

#[test]
fn formats_test_passes_on_the_builtin_formats() {
    let out = intake()
        .args(["formats", "test", "--now", NOW])
        .arg(repo().join("formats"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.trim_end().ends_with("passed, 0 failed"), "{stdout}");
}

fn write_format(dir: &Path, parser: &str, case: &str) {
    std::fs::create_dir_all(dir.join("ingest")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("ingest/parser.yml"), parser).unwrap();
    std::fs::write(dir.join("tests/case.json"), case).unwrap();
}

const KV_PARSER: &str = "name: t\npipeline:\n  - name: kv\n    external:\n      name: kv.parse-kv\n  - name: map\nstages:\n  map:\n    actions:\n      - set:\n          user.name: \"{{ kv.message.user }}\"\n";

#[test]
fn formats_test_shows_the_first_differing_fields_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    write_format(
        dir.path(),
        KV_PARSER,
        r#"{"input":{"message":"user=bob"},"expected":{"message":"user=bob","user":{"name":"alice"},"related":{"user":["bob"]}}}"#,
    );
    let out = intake()
        .args(["formats", "test"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("user.name: expected \"alice\", got \"bob\""),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("0 passed, 1 failed"),
        "{stdout}"
    );
}

/// Writes `parser` as a format folder in `dir` and runs `intake parse` with it.
fn parse_with_format(dir: &Path, parser: &str) -> Output {
    write_format(dir, parser, r#"{"input":{"message":"x"},"expected":{}}"#);
    intake()
        .args(["parse", "--format"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_broken_format_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let broken = KV_PARSER.replace("\"{{ kv.message.user }}\"", "\"{{ kv.message.user | }}\"");
    let out = parse_with_format(dir.path(), &broken);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("parser.yml:11"),
        "names file and line: {stderr}"
    );
    assert!(stderr.contains("template"), "{stderr}");

    let unknown = KV_PARSER.replace("kv.parse-kv", "kv.parse-kvv");
    let out = parse_with_format(dir.path(), &unknown);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("parser.yml:") && stderr.contains("kv.parse-kvv"),
        "{stderr}"
    );
}

#[test]
fn formats_list_names_the_builtins() {
    let out = intake().args(["formats", "list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for slug in [
        "aws-vpc-flow-logs",
        "aws-vpcflow-elastic",
        "azure-nsg-flow-logs",
        "pulse-connect-secure",
    ] {
        assert!(stdout.contains(slug), "{stdout}");
    }
}

#[test]
fn the_bundled_samples_parse_without_rejections() {
    for (format, sample) in [
        ("aws-vpc-flow-logs", "aws-vpc-flow-logs.log.gz"),
        ("aws-vpcflow-elastic", "aws-vpc-flow-logs.log.gz"),
        ("azure-nsg-flow-logs", "azure-nsg-flow-logs.log.gz"),
        ("pulse-connect-secure", "pulse-connect-secure.log.gz"),
    ] {
        let out = intake()
            .args(["parse", "--format", format])
            .arg(repo().join("samples").join(sample))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(" 0 dead-lettered"), "{format}: {stderr}");
        assert!(!lines(&out.stdout).is_empty());
    }
}
