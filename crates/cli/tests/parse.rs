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
            let diffs =
                intake_formats::compare(&case.expected, event, intake_formats::Rules::Strict);
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
            .contains("unknown layout: 6 fields; give the header line")
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
        .args(["formats", "test", "--strict", "--now", NOW])
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

#[test]
fn cti_enriches_exactly_the_matching_events_and_aggregates_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("tor-exits.txt");
    std::fs::write(&feed, "# exits\n198.51.100.7\n203.0.113.0/24\n").unwrap();
    let alerts = dir.path().join("alerts.ndjson");
    let line = |src: &str, dst: &str| {
        format!("2 123456789010 eni-1 {src} {dst} 1 2 6 1 40 1431280876 1431280934 ACCEPT OK\n")
    };
    let mut input = String::new();
    for _ in 0..5 {
        input.push_str(&line("10.0.0.1", "198.51.100.7"));
    }
    input.push_str(&line("203.0.113.9", "10.0.0.2"));
    input.push_str(&line("10.0.0.3", "192.0.2.1"));
    let mut cmd = intake();
    cmd.args(["parse", "--format", "aws-vpc-flow-logs", "--cti"])
        .arg(&feed)
        .arg("--alerts")
        .arg(&alerts);
    let out = run_with_stdin(cmd, input.as_bytes());
    assert_success(&out);
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 7);
    let matched: Vec<bool> = events
        .iter()
        .map(|e| e.pointer(&["threat", "enrichments"]).is_some())
        .collect();
    assert_eq!(matched, [true, true, true, true, true, true, false]);
    // An alert is written when its window opens, and written again with its final
    // count (same id) when the window closes with more than one match.
    let alerts = lines(&std::fs::read(&alerts).unwrap());
    let mut ids: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a.pointer(&["alert", "id"])?.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "one alert per observable: {alerts:?}");
    let last_count = |ip: &str| {
        alerts
            .iter()
            .rev()
            .find(|a| a.pointer(&["observable", "value"]).and_then(Value::as_str) == Some(ip))
            .and_then(|a| a.pointer(&["alert", "count"]))
            .cloned()
    };
    assert_eq!(last_count("198.51.100.7"), Some(Value::Int(5)));
    assert_eq!(last_count("203.0.113.9"), Some(Value::Int(1)));
}

/// The 36 fields of a Transit Gateway flow log, in AWS's default order.
const TGW_HEADER: &str = "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service";

fn tgw_line(bytes: u64) -> String {
    format!(
        "6 TransitGateway 310987654321 tgw-0a1b2c3d4e5f60789 tgw-attach-0f0e0d0c0b0a09080 310987654321 420987654321 vpc-0aa11bb22cc33dd44 vpc-0ee55ff66aa77bb88 subnet-0aa11bb22cc33dd44 subnet-0ee55ff66aa77bb88 eni-0aa11bb22cc33dd44 eni-0ee55ff66aa77bb88 eun1-az1 eun1-az2 tgw-attach-0a9b8c7d6e5f40312 10.20.1.7 10.30.2.9 51544 443 6 14 {bytes} 1765000000 1765000060 OK IPv4 0 3 0 0 19 eu-north-1 ingress - -"
    )
}

/// A custom layout with the v7 ECS, v8 reject-reason, v9 resource-id and v10
/// encryption-status fields.
const V10_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction reject-reason ecs-cluster-name ecs-service-name resource-id encryption-status";

fn v10_line(bytes: u64) -> String {
    format!(
        "10 310987654321 eni-05d4c3b2a1f0e9d87 10.40.3.21 203.0.113.44 38210 8443 6 4 {bytes} 1765001200 1765001260 REJECT OK egress BPA payments checkout vpce-0b1c2d3e4f5a60718 1"
    )
}

/// A custom layout with the version-11 fields (June 2026): interface type, next hop, tags.
const V11_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status interface-type next-hop-interface-id next-hop-subnet-id next-hop-az-id next-hop-vpc-id next-hop-interface-type instance-tag interface-tag";

fn v11_line(bytes: u64) -> String {
    format!(
        "11 310987654321 eni-0c1d2e3f4a5b60718 10.50.7.12 198.51.100.81 44120 443 6 9 {bytes} 1765002400 1765002460 ACCEPT OK interface eni-0d9c8b7a6f5e40312 subnet-0e1f2a3b4c5d60718 eun1-az3 vpc-0f1e2d3c4b5a69788 regional_nat_gateway checkout -"
    )
}

const V2_NAMES: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

fn v2_line(bytes: u64) -> String {
    format!(
        "2 310987654321 eni-07aa11bb22cc33dd4 198.51.100.20 10.8.0.5 443 50422 6 12 {bytes} 1765000000 1765000060 ACCEPT OK"
    )
}

fn parse_file(format: &str, path: &Path, extra: &[&str], dead: &Path) -> Output {
    let mut cmd = intake();
    cmd.args(["parse", "--format", format, "--now", NOW, "--threads", "2"])
        .args(extra)
        .arg("--dead-letter")
        .arg(dead)
        .arg(path);
    let out = cmd.output().unwrap();
    assert_success(&out);
    out
}

fn int_at(event: &Value, path: &[&str]) -> Option<i64> {
    match event.pointer(path) {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// Concatenated objects, each with its header: Transit Gateway, a v10 custom
/// layout, a v11 custom layout, then the default layout. Each line is read by the header before it,
/// in both formats, whatever the number of workers; headers are not events.
#[test]
fn each_header_sets_the_layout_of_the_lines_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{TGW_HEADER}\n");
    for b in 0..300 {
        text.push_str(&tgw_line(1000 + b));
        text.push('\n');
    }
    text.push_str(&format!(
        "{V10_HEADER}\n{}\n{}\n",
        v10_line(2000),
        v10_line(2001)
    ));
    text.push_str(&format!("{V11_HEADER}\n{}\n", v11_line(2500)));
    text.push_str(&format!("{V2_NAMES}\n{}\n", v2_line(3000)));
    let path = dir.path().join("flows.log.gz");
    std::fs::write(&path, gzip(text.as_bytes())).unwrap();
    let dead = dir.path().join("dead.ndjson");

    for format in ["aws-vpc-flow-logs", "aws-vpcflow-elastic"] {
        let out = parse_file(format, &path, &[], &dead);
        assert!(
            std::fs::read(&dead).unwrap().is_empty(),
            "{format}: nothing rejected"
        );
        let events = lines(&out.stdout);
        assert_eq!(events.len(), 304, "{format}");
        let bytes: Vec<i64> = events
            .iter()
            .map(|e| int_at(e, &["source", "bytes"]).unwrap())
            .collect();
        let mut want: Vec<i64> = (1000..1300).collect();
        want.extend([2000, 2001, 2500, 3000]);
        assert_eq!(bytes, want, "{format}: every line, in order");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("304 events read, 304 written, 0 dead-lettered"),
            "{stderr}"
        );
        assert!(stderr.contains("4 not events"), "{stderr}");

        let (tgw, v10, v11, v2) = (&events[0], &events[300], &events[302], &events[303]);
        assert_eq!(
            tgw.pointer(&["source", "ip"]),
            Some(&Value::from("10.20.1.7"))
        );
        assert_eq!(v10.pointer(&["event", "reason"]), Some(&Value::from("BPA")));
        assert_eq!(
            v10.pointer(&["orchestrator", "cluster", "name"]),
            Some(&Value::from("payments"))
        );
        assert_eq!(
            v10.pointer(&["service", "name"]),
            Some(&Value::from("checkout"))
        );
        assert_eq!(
            v2.pointer(&["destination", "port"]),
            Some(&Value::Int(50422))
        );
        if format == "aws-vpc-flow-logs" {
            assert_eq!(
                tgw.pointer(&[
                    "aws",
                    "flowlogs",
                    "transit_gateway",
                    "destination",
                    "vpc_id"
                ]),
                Some(&Value::from("vpc-0ee55ff66aa77bb88"))
            );
            assert_eq!(
                int_at(tgw, &["aws", "flowlogs", "packets_lost", "blackhole"]),
                Some(3)
            );
            assert_eq!(
                int_at(v10, &["aws", "flowlogs", "encryption_status"]),
                Some(1)
            );
            assert_eq!(
                v11.pointer(&["aws", "flowlogs", "next_hop", "interface_type"]),
                Some(&Value::from("regional_nat_gateway"))
            );
        } else {
            assert_eq!(
                tgw.pointer(&["aws", "vpcflow", "tgw_attachment_id"]),
                Some(&Value::from("tgw-attach-0f0e0d0c0b0a09080"))
            );
            assert_eq!(
                tgw.pointer(&["network", "direction"]),
                Some(&Value::from("ingress"))
            );
            assert_eq!(
                v10.pointer(&["network", "direction"]),
                Some(&Value::from("egress"))
            );
            assert_eq!(
                v10.pointer(&["aws", "vpcflow", "resource_id"]),
                Some(&Value::from("vpce-0b1c2d3e4f5a60718"))
            );
            assert_eq!(
                v11.pointer(&["aws", "vpcflow", "next_hop_vpc_id"]),
                Some(&Value::from("vpc-0f1e2d3c4b5a69788"))
            );
        }
    }
}

/// Without a header, only the default and 29-field layouts are read, and only
/// when each field has its layout's shape: every other line is dead-lettered
/// with the reason and what to do, none is mapped by position.
#[test]
fn headerless_lines_of_other_layouts_are_dead_lettered_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let v5 = "5 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK vpc-0f1e2d3c subnet-0d2c3b4a - 2 IPv4 10.8.0.5 10.8.1.9 eu-north-1 eun1-az2 - - - - ingress -";
    let mixed = [
        (v2_line(1), None),
        (tgw_line(2), Some("unknown layout: 36 fields;")),
        // 21 fields: a custom layout with the VPC and subnet first.
        (
            "vpc-0f1e2d3c subnet-0d2c3b4a 2 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK i-0a1b2c3d 2 IPv4 10.8.0.5 10.8.1.9".to_string(),
            Some("unknown layout: 21 fields;"),
        ),
        // 17 fields, starting with the version.
        (
            "4 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK vpc-0f1e2d3c subnet-0d2c3b4a i-0a1b2c3d".to_string(),
            Some("unknown layout: 17 fields;"),
        ),
        // 14 fields in another order: the VPC id where the source address goes.
        (
            "3 310987654321 eni-07aa11bb22cc33dd4 vpc-0f1e2d3c 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK".to_string(),
            Some("not the default order (field 4 is \"vpc-0f1e2d3c\""),
        ),
        // NAT gateway custom layouts: `-` or an instance id first.
        (
            "- 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK".to_string(),
            Some("not the default order (field 1 is \"-\""),
        ),
        (
            "i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK eni-07aa11bb22cc33dd4 310987654321".to_string(),
            Some("not the default order (field 1 is \"i-0a1b2c3d\""),
        ),
        (v5.to_string(), None),
    ];
    let text: String = mixed.iter().map(|(l, _)| format!("{l}\n")).collect();
    let path = dir.path().join("mixed.log");
    std::fs::write(&path, text).unwrap();
    let dead_path = dir.path().join("dead.ndjson");
    for format in ["aws-vpc-flow-logs", "aws-vpcflow-elastic"] {
        let out = parse_file(format, &path, &[], &dead_path);
        let events = lines(&out.stdout);
        assert_eq!(events.len(), 2, "{format}: the v2 and v5 lines only");
        assert_eq!(int_at(&events[0], &["source", "bytes"]), Some(1));
        assert_eq!(int_at(&events[1], &["source", "bytes"]), Some(44));
        let dead = lines(&std::fs::read(&dead_path).unwrap());
        let expected: Vec<(usize, &str)> = mixed
            .iter()
            .enumerate()
            .filter_map(|(i, (_, why))| why.map(|w| (i + 1, w)))
            .collect();
        assert_eq!(dead.len(), expected.len(), "{format}");
        for (record, (line, why)) in dead.iter().zip(expected) {
            assert_eq!(int_at(record, &["intake", "line"]), Some(line as i64));
            let reason = record
                .pointer(&["intake", "reason"])
                .unwrap()
                .as_str()
                .unwrap();
            assert!(reason.contains(why), "line {line}: {reason}");
            assert!(reason.contains("--fields"), "says what to do: {reason}");
            assert_eq!(
                record.pointer(&["message"]).unwrap().as_str().unwrap(),
                mixed[line - 1].0
            );
        }
    }
}

/// `--fields` gives the layout of headerless lines (as the flow log's format is
/// written, `${…}`); CloudWatch Logs export lines lose their leading timestamp.
#[test]
fn fields_option_reads_headerless_custom_layouts_and_export_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let fields = "${instance-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${interface-id} ${account-id} ${version} ${pkt-src-aws-service} ${traffic-path}";
    let text = "2026-12-04T23:59:58.000Z i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK eni-07aa11bb22cc33dd4 310987654321 5 S3 1\n\
                i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 45 1765000000 1765000001 ACCEPT OK eni-07aa11bb22cc33dd4 310987654321 5 - 1\n\
                i-0a1b2c3d 10.8.0.5 10.8.1.9 50188 4433 6 1 46 1765000000 1765000001 ACCEPT OK\n";
    let path = dir.path().join("custom.log");
    std::fs::write(&path, text).unwrap();
    let dead_path = dir.path().join("dead.ndjson");
    let out = parse_file(
        "aws-vpc-flow-logs",
        &path,
        &["--fields", fields],
        &dead_path,
    );
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 2);
    assert_eq!(int_at(&events[0], &["source", "bytes"]), Some(44));
    assert_eq!(
        events[0].pointer(&["cloud", "instance", "id"]),
        Some(&Value::from("i-0a1b2c3d"))
    );
    assert_eq!(
        events[0].pointer(&["aws", "flowlogs", "pkt_src_aws_service"]),
        Some(&Value::from("S3"))
    );
    assert_eq!(int_at(&events[1], &["source", "bytes"]), Some(45));
    let dead = lines(&std::fs::read(&dead_path).unwrap());
    assert_eq!(dead.len(), 1);
    let reason = dead[0]
        .pointer(&["intake", "reason"])
        .unwrap()
        .as_str()
        .unwrap();
    assert!(reason.contains("expected 17 fields"), "{reason}");

    // A name that cannot be a field name is refused before anything is read.
    let mut cmd = intake();
    cmd.args([
        "parse",
        "--format",
        "aws-vpc-flow-logs",
        "--fields",
        "version Src",
    ])
    .arg(&path);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fields: \"Src\""));
}

fn subscription_payload(messages: &[String]) -> String {
    let events: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{{\"id\":\"{i}\",\"timestamp\":1765000000000,\"message\":{}}}",
                to_json_string(&Value::from(m.as_str()))
            )
        })
        .collect();
    format!(
        "{{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"310987654321\",\"logGroup\":\"flows\",\"logStream\":\"eni-07aa11bb22cc33dd4-all\",\"subscriptionFilters\":[\"to-firehose\"],\"logEvents\":[{}]}}",
        events.join(",")
    )
}

const CONTROL_PAYLOAD: &str = "{\"messageType\":\"CONTROL_MESSAGE\",\"owner\":\"CloudwatchLogs\",\"logGroup\":\"\",\"logStream\":\"\",\"subscriptionFilters\":[],\"logEvents\":[{\"id\":\"\",\"timestamp\":1765000000000,\"message\":\"CWL CONTROL MESSAGE: Checking health of destination Firehose.\"}]}";

/// CloudWatch Logs subscription payloads as Firehose writes them (back to back,
/// gzip members): one event per log event, control messages skipped and counted,
/// the configured layout applied to the messages.
#[test]
fn cloudwatch_subscription_payloads_become_one_event_per_log_event() {
    let dir = tempfile::tempdir().unwrap();
    let first = subscription_payload(&[tgw_line(10), tgw_line(11)]);
    let second = subscription_payload(&[tgw_line(12), "not a record".to_string()]);
    let mut data = gzip(format!("{first}{CONTROL_PAYLOAD}").as_bytes());
    data.extend(gzip(second.as_bytes()));
    let path = dir.path().join("firehose.gz");
    std::fs::write(&path, data).unwrap();
    let dead_path = dir.path().join("dead.ndjson");
    let out = parse_file(
        "aws-vpcflow-elastic",
        &path,
        &["--fields", TGW_HEADER],
        &dead_path,
    );
    let events = lines(&out.stdout);
    let bytes: Vec<i64> = events
        .iter()
        .map(|e| int_at(e, &["source", "bytes"]).unwrap())
        .collect();
    assert_eq!(bytes, vec![10, 11, 12]);
    let dead = lines(&std::fs::read(&dead_path).unwrap());
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].pointer(&["message"]),
        Some(&Value::from("not a record"))
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 events read, 3 written, 1 dead-lettered"),
        "{stderr}"
    );
    assert!(stderr.contains("1 not events"), "{stderr}");
}
