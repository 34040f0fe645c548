//! The flat executor (`plan.rs` in the engine) must give exactly the interpreter's
//! events: on every built-in format's test cases, on the benchmark samples and on
//! the bundled sample files, plus edge lines that steer it off its usual path.

use intake_engine::format::SourceFile;
use intake_engine::json::{parse_json, to_json_string_sorted};
use intake_engine::{Format, FormatFiles, LoadOptions, Value};

fn now() -> intake_engine::Timestamp {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn load(slug: &str) -> (Format, Format) {
    let planned = intake_formats::builtin(slug).unwrap();
    let interpreted = intake_formats::builtin(slug).unwrap().interpreted_only();
    (planned, interpreted)
}

/// Compares both executors on one message; returns a description of the difference.
fn differs(planned: &Format, interpreted: &Format, message: &str) -> Option<String> {
    let mut out = Vec::new();
    let fast = planned.parse_message_json(message, now(), &mut out);
    let slow = interpreted.parse_message(message, now());
    match (fast, slow) {
        (Ok(()), Ok(expected)) => {
            let text = std::str::from_utf8(&out).expect("UTF-8 output");
            let got = parse_json(text).expect("valid JSON output");
            // Key order is not part of an event: compare canonical forms.
            let (got, expected) = (
                to_json_string_sorted(&got),
                to_json_string_sorted(&expected),
            );
            (got != expected)
                .then(|| format!("{message}\n  plan:        {got}\n  interpreter: {expected}"))
        }
        (Err(a), Err(b)) if a == b => {
            // A rejected event leaves the output untouched.
            (!out.is_empty()).then(|| format!("{message}: rejected but wrote output"))
        }
        (a, b) => Some(format!(
            "{message}: plan {a:?} vs interpreter {:?}",
            b.map(|v| to_json_string_sorted(&v))
        )),
    }
}

fn lines_of(path: &str) -> Vec<String> {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("{full}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn case_messages(slug: &str) -> Vec<String> {
    let folder = intake_formats::builtin_folder(slug).unwrap();
    folder
        .tests
        .iter()
        .filter_map(|c| {
            c.input
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

fn check(slug: &str, messages: &[String]) {
    let (planned, interpreted) = load(slug);
    let failures: Vec<String> = messages
        .iter()
        .filter_map(|m| differs(&planned, &interpreted, m))
        .collect();
    assert!(
        failures.is_empty(),
        "{slug}: {} of {} events differ:\n{}",
        failures.len(),
        messages.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Lines that take the unusual branches: rejected, placeholders, JSON records,
/// quoted fields (no fast split), short and long rows; and the text the plan types
/// itself (container literals, case changes, numbers, dates, addresses, escapes).
const VPC_EDGES: &[&str] = &[
    // Container literals: a bare tuple (the message has commas), a list, a dict.
    "2 123,456 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    "2 [1] eni-1 10.0.0.1 10.0.0.2 443 (1,2) 6 10 840 1600000000 1600000060 ACCEPT OK",
    "2 {'a':1} eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 [ACCEPT] OK",
    "2 1,2 eni-1 10.0.0.1 10.0.0.2 443 49152 6,7 10 840 1600000000 1600000060 T,F N,",
    // Case changes: mixed, already lower, non-ASCII, empty after the change.
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 Accept ok",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ÄCCEPT ÖK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 NONE None",
    // Numbers: signs, spaces (empty fields), 19 digits, zeros, floats, hex.
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 +443 -1 06 1234567890123456789 1.5 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2  49152 6 10 0x10 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 99 10 840 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 None 10 840 1600000000 1600000060 ACCEPT OK",
    // Dates: nine and eleven digits, leading zeros, millisecond epochs.
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 160000000 16000000600 ACCEPT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 0000000001 1600000000000 ACCEPT OK",
    // Addresses: IPv6 canonical and not, the same address twice.
    "2 123456789012 eni-1 2001:db8::1 2001:0db8:0000:0000:0000:0000:0000:0002 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.1 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    // Text that needs escapes in JSON: a backslash, a control character.
    "2 123\\456 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-\u{1}1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    "2 123456789012 eni-1\t10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK x",
    // Filters: whitespace before a JSON record, a digit that is not ASCII.
    " \t{\"srcaddr\": \"10.0.0.1\"}",
    "٢ 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK",
    "",
    "garbage",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 - - - - - 1600000000 1600000060 - NODATA",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK extra",
    "2 123456789012 eni-1 \"10.0.0.1\" 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 REJECT OK",
    "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1600000000 1600000060 ACCEPT OK vpc-1 subnet-1 i-1 19 IPv4 10.0.0.1 10.0.0.2 eu-west-1 euw1-az1 - - - - ingress 1",
    "2 123456789012 eni-1 not-an-ip 10.0.0.2 443 x 6 10 840 bad 1600000060 ACCEPT OK",
    "5 1 2 3 4 5 6 7 8 9 10 11 12 13",
    r#"{"version": 2, "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": 443.0, "dstport": 80, "protocol": 6, "start": 1600000000, "action": "ACCEPT", "log_status": "OK"}"#,
    r#"{"srcaddr": {"nested": 1}, "dstport": [1, 2]}"#,
    r#"{"broken json"#,
    "  {\"protocol\": \"17\"}",
];

#[test]
fn the_flow_log_formats_are_planned() {
    for slug in [
        "aws-vpc-flow-logs",
        "aws-vpcflow-elastic",
        "azure-nsg-flow-logs",
        "azure-vnet-flow-logs",
    ] {
        let format = intake_formats::builtin(slug).unwrap();
        assert!(
            format.is_planned(),
            "{slug} is not planned: {:?}",
            format.plan_refusal()
        );
    }
}

#[test]
fn aws_vpc_flow_logs() {
    let mut messages = case_messages("aws-vpc-flow-logs");
    messages.extend(lines_of("benches/data/vpc-v2.log"));
    messages.extend(lines_of("benches/data/vpc-v5.log"));
    messages.extend(VPC_EDGES.iter().map(|s| s.to_string()));
    check("aws-vpc-flow-logs", &messages);
}

/// Flows for the writes Elastic's field set computes from other fields (network
/// type, Community ID, copies of counts): source, destination, ports, protocol,
/// packets and bytes of a v2 record.
const FLOW_EDGES: &[[&str; 7]] = &[
    // Addresses: IPv6 canonical or not, mixed families, not addresses at all.
    [
        "2001:db8::1",
        "2001:DB8:0::2",
        "443",
        "49152",
        "6",
        "10",
        "840",
    ],
    ["2001:db8::1", "10.0.0.2", "443", "49152", "6", "10", "840"],
    ["::ffff:10.0.0.1", "::1", "1", "2", "17", "1", "1"],
    ["fe80::1%eth0", "10.0.0.2", "1", "2", "6", "1", "1"],
    ["10.0.0.01", "10.0.0.2", "1", "2", "6", "1", "1"],
    ["1.2.3.4.5", "10.0.0.2", "1", "2", "6", "1", "1"],
    ["١٠.0.0.1", "10.0.0.2", "1", "2", "6", "1", "1"],
    ["-", "10.0.0.2", "1", "2", "6", "1", "1"],
    ["10.0.0.1", "-", "1", "2", "6", "1", "1"],
    // Ports missing, out of range, signed, padded.
    ["10.0.0.1", "10.0.0.2", "-", "-", "6", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "70000", "-1", "6", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "+443", "0080", "6", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "x", "1.0", "17", "10", "840"],
    // Protocols: missing, named, unknown, without ports, beyond a byte.
    ["10.0.0.1", "10.0.0.2", "443", "49152", "-", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "tcp", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "UDP", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "x", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "47", "10", "840"],
    ["10.0.0.2", "10.0.0.1", "49152", "443", "50", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "300", "10", "840"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "132", "10", "840"],
    // ICMP type and code: echo request and reply, a one-way message, ICMPv6.
    ["10.0.0.1", "10.0.0.2", "8", "0", "1", "1", "84"],
    ["10.0.0.2", "10.0.0.1", "0", "0", "1", "1", "84"],
    ["10.0.0.1", "10.0.0.2", "3", "1", "1", "1", "84"],
    ["2001:db8::1", "2001:db8::2", "128", "0", "58", "1", "84"],
    ["2001:db8::2", "2001:db8::1", "135", "0", "58", "1", "84"],
    // Counts copied to the network fields: missing, not numbers, zero.
    ["10.0.0.1", "10.0.0.2", "443", "49152", "6", "-", "-"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "6", "x", "1.5"],
    ["10.0.0.1", "10.0.0.2", "443", "49152", "6", "0", "00"],
];

/// JSON records for the same writes: numbers, floats, names, missing keys.
const FLOW_JSON_EDGES: &[&str] = &[
    r#"{"srcaddr": "2001:db8::1", "dstaddr": "2001:db8::2", "srcport": 443, "dstport": 80.0, "protocol": "tcp", "bytes": 10, "packets": "2"}"#,
    r#"{"srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": 8, "dstport": 0, "protocol": 1}"#,
    r#"{"srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "protocol": 6}"#,
    r#"{"srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": true, "protocol": 6.0, "bytes": 1.5}"#,
    r#"{"srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": "-", "protocol": null}"#,
    r#"{"srcaddr": 1, "dstaddr": "10.0.0.2", "protocol": "17"}"#,
];

#[test]
fn aws_vpcflow_elastic() {
    let mut messages = case_messages("aws-vpcflow-elastic");
    messages.extend(lines_of("benches/data/vpc-v2.log"));
    messages.extend(lines_of("benches/data/vpc-v5.log"));
    messages.extend(VPC_EDGES.iter().map(|s| s.to_string()));
    messages.extend(FLOW_EDGES.iter().map(|[src, dst, sp, dp, proto, packets, bytes]| {
        format!(
            "2 123456789012 eni-1 {src} {dst} {sp} {dp} {proto} {packets} {bytes} 1600000000 1600000060 ACCEPT OK"
        )
    }));
    messages.extend(FLOW_JSON_EDGES.iter().map(|s| s.to_string()));
    check("aws-vpcflow-elastic", &messages);
}

/// Pulse reads the layer of its stage `common` in a parser's templated property
/// (`pattern_key`): the plan runs it.
#[test]
fn pulse_is_planned() {
    let format = intake_formats::builtin("pulse-connect-secure").unwrap();
    assert!(
        format.is_planned(),
        "pulse is not planned: {:?}",
        format.plan_refusal()
    );
}

/// A format of the given parser text (no fields file).
fn inline(parser: &str) -> Format {
    Format::load(
        &FormatFiles {
            slug: "inline".into(),
            parser: SourceFile {
                path: "inline/ingest/parser.yml".into(),
                text: parser.into(),
            },
            fields: None,
            module_fields: None,
            manifest: None,
        },
        &LoadOptions::default(),
    )
    .unwrap()
}

/// Reads of a stage layer: the stage's own writes only (not another stage's, not
/// undone by `delete`), Undefined or an error where the interpreter's walk gives
/// them, in a parser's templated properties and in templates.
const STAGE_LAYERS: &str = r#"
pipeline:
  - name: kv
    external:
      name: kv.parse-kv
  - name: s
    filter: "{{ kv.message.skip != 'y' }}"
  - name: t
  - name: g
    external:
      name: grok.case_match
      properties:
        input_field: "{{ kv.message.m }}"
        pattern_key: "{{ s.event.code }}"
        patterns:
          A: "%{WORD:w} %{INT:n}"
          B: "%{GREEDYDATA:all}"
          "Ä": "%{WORD:w}"
  - name: d
    external:
      name: date.parse
      properties:
        input_field: "{{ kv.message.ts }}"
        timezone: "{{ s.zone }}"
  - name: u
stages:
  s:
    actions:
      - set:
          event.code: "{{ kv.message.c }}"
          event.kind: "{{ kv.message.k }}"
          zone: "{{ kv.message.tz }}"
      - filter: "{{ kv.message.del == 'y' }}"
        delete: [event.code]
      - set:
          a.mid: "{{ s.event.code }}"
  t:
    actions:
      - filter: "{{ kv.message.over == 'y' }}"
        set:
          event.code: B
          event.kind: other
  u:
    actions:
      - set:
          a.seen: "{{ s.event.code }}"
          a.final: "{{ final.event.code }}"
          a.kind: "{{ s.event.kind if s.event.kind is defined else 'none' }}"
          a.event: "{{ s.event is defined }}"
          a.other: "{{ s.other.x }}"
          a.top: "{{ s.top | default('no top') }}"
          a.t: "{{ t.event.kind | default('t wrote nothing') }}"
          a.w: "{{ g.message.w }}"
          a.n: "{{ g.message.n }}"
          a.all: "{{ g.message.all }}"
          a.date: "{{ d.message }}"
          # Fields read both as values and for presence: two registers each.
          a.c_defined: "{{ kv.message.c is defined }}"
          a.w_defined: "{{ g.message.w is defined }}"
"#;

const STAGE_LINES: &[&str] = &[
    "c=A m=\"x 12\"",
    "c=A m=\"x y\"",
    "c=B m=\"any thing\" k=kind",
    "c=Z m=\"x 12\"",
    "m=\"x 12\"",
    "c= m=\"x 12\"",
    "c=None m=\"x 12\"",
    // (`delete` keeps `event` alive here: an object it empties is another matter.)
    "c=A m=\"x 12\" del=y k=kept",
    "c=A m=\"x 12\" over=y",
    "c=A m=\"x 12\" skip=y",
    "c=A c=B m=\"x 12\"",
    "c=Ä m=\"été\"",
    "c=[1] m=\"x 12\"",
    "c=A m=\"x 12\" ts=\"2024-01-02 03:04:05\" tz=Europe/Paris",
    "c=A m=\"x 12\" ts=\"2024-01-02 03:04:05\" tz=Nowhere",
    "c=A m=\"x 12\" ts=\"2024-01-02 03:04:05\"",
    "c=A ts=bad",
    "k=only",
    "no pairs",
    "",
];

#[test]
fn stage_layers_are_planned_as_the_stage_writes_them() {
    let planned = inline(STAGE_LAYERS);
    assert!(planned.is_planned(), "{:?}", planned.plan_refusal());
    let interpreted = inline(STAGE_LAYERS).interpreted_only();
    let mut checked = 0;
    for line in STAGE_LINES {
        if let Some(d) = differs(&planned, &interpreted, line) {
            panic!("{d}");
        }
        checked += 1;
    }
    assert_eq!(checked, STAGE_LINES.len());
    // The lines reach the stage's layer: a key read from it picks the pattern.
    let event = interpreted.parse_message(STAGE_LINES[0], now()).unwrap();
    let a = event.as_map().unwrap().get("a").unwrap().as_map().unwrap();
    assert_eq!(a.get("w"), Some(&Value::from("x")));
    assert_eq!(a.get("seen"), Some(&Value::from("A")));
}

/// What the plan cannot hold is refused with a reason, and the format runs
/// interpreted: here a parser's key is a whole object of a stage layer.
#[test]
fn the_interpreted_format_says_why() {
    let parser = STAGE_LAYERS.replace(
        r#"pattern_key: "{{ s.event.code }}""#,
        r#"pattern_key: "{{ s.event }}""#,
    );
    assert_ne!(parser, STAGE_LAYERS);
    let format = inline(&parser);
    let refusal = format.plan_refusal().unwrap_or_default();
    assert!(refusal.contains("templated property"), "{refusal:?}");
    let event = format.parse_message(STAGE_LINES[0], now()).unwrap();
    assert!(event.as_map().unwrap().contains_key("a"));
}

/// Azure records off the usual path: a mapping or a number where the tuple is
/// expected, missing keys, version 1 tuples, a record that is not an object.
const AZURE_EDGES: &[&str] = &[
    "",
    "not json",
    "[1, 2]",
    r#"{"flow.0": {"nested": "map"}, "time": "2020-12-16T19:57:19Z"}"#,
    r#"{"flow.0": 17, "rule": "r"}"#,
    r#"{"flow.0": "1608148603,10.0.0.1,10.0.0.2,56072,23,T,I,A", "flow_state": "end", "version": 1}"#,
    r#"{"flow.0": "1608148603,10.0.0.1,10.0.0.2,56072,23,X,Y,Z,C,1,2,3,4", "version": "2"}"#,
    r#"{"flow.0": "1608148603,10.0.0.1,10.0.0.2,56072,23,U,O,D,E,,,,", "source_addr": "192.0.2.1"}"#,
    r#"{"flow.0": ""quoted",10.0.0.1", "operationName": "x"}"#,
    r#"{"time": "2020-12-16T19:57:19Z", "operationName": "NetworkSecurityGroupFlowEvents"}"#,
    r#"{"flow.0": "1608148603,2001:db8::1,10.0.0.2,1,2,T,I,A,B,5,6,7,8", "version": 2.0}"#,
];

#[test]
fn azure_nsg_flow_logs() {
    let mut messages = case_messages("azure-nsg-flow-logs");
    messages.extend(lines_of("benches/data/azure-nsg.log"));
    messages.extend(AZURE_EDGES.iter().map(|s| s.to_string()));
    check("azure-nsg-flow-logs", &messages);
}

/// VNet records off the usual path: an IPv6 pair, ICMP, a missing tuple, a resource id
/// without a subscription segment, a numeric version and an unknown flow state.
const AZURE_VNET_EDGES: &[&str] = &[
    r#"{"flowLogVersion": 4, "flow.0": "1772460600001,2001:db8::7,2001:db8::9,0,0,58,I,B,X,1,64,1,64", "targetResourceID": "/subscriptions/abc/resourceGroups/g"}"#,
    r#"{"flowLogVersion": 4, "flow.0": "1772460600002,10.0.0.1,10.0.0.2,0,0,1,O,Q,NX_LOCAL_DST,,,,", "targetResourceID": "nothing"}"#,
    r#"{"time": "2026-03-02T14:10:31Z", "operationName": "FlowLogFlowEvent"}"#,
    r#"{"flow.0": "1772460600003,10.0.0.1,10.0.0.2,1,2,17,O,C,NX,5,6,7,8", "flowLogVersion": 4.0, "macAddress": ""}"#,
];

#[test]
fn azure_vnet_flow_logs() {
    let mut messages = case_messages("azure-vnet-flow-logs");
    messages.extend(AZURE_VNET_EDGES.iter().map(|s| s.to_string()));
    check("azure-vnet-flow-logs", &messages);
}

/// Pulse lines off the usual path: the key of `details` (`common.event.code`)
/// missing, empty, unknown or without a pattern; values quoted, escaped, empty,
/// repeated or not ASCII; message text that is a container literal or has no code.
const PULSE_EDGES: &[&str] = &[
    // No `msg`, an empty one, one without a colon, one that is only a colon.
    r#"id=firewall time="2023-10-20 06:55:30" pri=6 fw=10.0.0.1 vpn=V user=u src=10.0.0.2"#,
    r#"id=firewall time="2023-10-20 06:55:30" fw=10.0.0.1 msg="""#,
    r#"id=firewall time="2023-10-20 06:55:30" fw=10.0.0.1 msg=noop"#,
    r#"id=firewall time="2023-10-20 06:55:30" fw=10.0.0.1 msg=":""#,
    r#"id=firewall time="2023-10-20 06:55:30" fw=10.0.0.1 msg=": no code""#,
    r#"id=firewall msg="None: the code is None""#,
    // Codes: unknown, known without a pattern, not matching their pattern.
    r#"id=firewall fw=10.0.0.1 msg="XYZ00000: unknown code""#,
    r#"id=firewall fw=10.0.0.1 user=bob msg="AUT23457: Login failed""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT24604: not the expected wording""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT20920: Connection from IP 10.1.2.3 not authenticated yet (URL=/a?b=1)""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT24803: Host Checker policy 'P 1' passed on host 'host.example.com' address 'aa-bb' for user 'u'.""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT24804: Host Checker policy 'P' failed on host '10.9.8.7' address '' for user 'u' reason 'n\'est pas installé'.""#,
    r#"id=firewall fw=10.0.0.1 msg="SYS20704: Sending Unknown SNMP trap to 10.2.2.2:162""#,
    // Message text that reads as a container literal, with commas.
    r#"id=firewall fw=10.0.0.1 msg="[1, 2]: x, y""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT1: (1, 2)""#,
    r#"id=firewall fw=10.0.0.1 msg="AUT1:[3]""#,
    r#"id=firewall fw=10.0.0.1 msg="1,2: three""#,
    // Escapes, spaces, single quotes, non-ASCII, control characters.
    r#"id=firewall fw=10.0.0.1 user="dom\\us er" realm='R 1' msg='AUT2: it\'s "quoted"'"#,
    "id=firewall fw=10.0.0.1 vpn=Été msg=\"ÄUT1: ünïcode\u{1}\"",
    "id=firewall\tfw=10.0.0.1\u{2003}vpn=V msg=\"AUT3: wide  space\"",
    // Duplicate keys (the last wins), empty and missing addresses, IPv6, roles.
    r#"id=firewall fw=10.0.0.1 fw=10.0.0.9 msg="A: 1" msg="B: 2""#,
    r#"id=firewall fw= src= dst=::1 roles="a,b, c" msg="AUT4: x""#,
    r#"id=firewall fw=not-ip src=2001:db8::0:1 dst=1.2.3 roles=r msg="AUT4: x""#,
    r#"id=firewall ivs=Default Network user=System type=mgmt proto=auth msg="AUT5: a" extra words"#,
    // Not this format: no pair, nothing at all.
    "no pairs here",
    "",
    "=",
];

#[test]
fn pulse_connect_secure() {
    let mut messages = case_messages("pulse-connect-secure");
    messages.extend(lines_of("benches/data/pulse.log"));
    messages.extend(PULSE_EDGES.iter().map(|s| s.to_string()));
    check("pulse-connect-secure", &messages);
}
