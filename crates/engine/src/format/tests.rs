//! The executor's semantics (SPEC §1–§3, §8) on small formats written inline.

use super::*;
use crate::json::parse_json;

fn now() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

fn load(parser: &str) -> Result<Format, LoadError> {
    load_with(parser, None)
}

fn load_with(parser: &str, fields: Option<&str>) -> Result<Format, LoadError> {
    Format::load(
        &FormatFiles {
            slug: "t".into(),
            parser: SourceFile {
                path: "t/ingest/parser.yml".into(),
                text: parser.into(),
            },
            fields: fields.map(|f| SourceFile {
                path: "t/_meta/fields.yml".into(),
                text: f.into(),
            }),
            module_fields: None,
            manifest: None,
        },
        &LoadOptions::default(),
    )
}

fn run(format: &Format, message: &str) -> Value {
    format.parse_message(message, now()).unwrap()
}

fn get<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    v.pointer(&dotted.split('.').collect::<Vec<_>>())
}

const KV: &str = "
  - name: kv
    external:
      name: kv.parse-kv
";

#[test]
fn writes_are_typed_and_visible_to_the_next_key() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          source.port: '{{{{ kv.message.port }}}}'
          destination.port: '{{{{ final.source.port + 1 }}}}'
          network.iana_number: '{{{{ 6 }}}}'
          '@timestamp': '{{{{ kv.message.ts }}}}'
"
    ))
    .unwrap();
    let out = run(&f, "port=123 ts=1599665193");
    assert_eq!(get(&out, "source.port"), Some(&Value::Int(123)));
    assert_eq!(get(&out, "destination.port"), Some(&Value::Int(124)));
    assert_eq!(get(&out, "network.iana_number"), Some(&Value::from("6")));
    assert_eq!(
        get(&out, "@timestamp"),
        Some(&Value::from("2020-09-09T15:26:33Z"))
    );
}

#[test]
fn empty_none_and_ignored_values_are_not_written() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          a.empty: '{{{{ kv.message.e }}}}'
          a.none: 'None'
          a.dash: '{{{{ kv.message.d }}}}'
          a.zero: '{{{{ 0 }}}}'
          a.undefined: '{{{{ kv.message.nope }}}}'
          a.error: '{{{{ kv.message.nope.deeper }}}}'
          a.list: ['{{{{ kv.message.e }}}}', x]
ignored_values: ['-']
"
    ))
    .unwrap();
    let out = run(&f, "e= d=- z=1");
    let a = get(&out, "a").unwrap();
    assert_eq!(a, &parse_json(r#"{"zero":0,"list":["x"]}"#).unwrap());
}

#[test]
fn filters_that_fail_or_are_false_skip_and_layers_track_writes() {
    let f = load(&format!(
        "pipeline:{KV}  - name: first
    filter: '{{{{ kv.message.kind == \"a\" }}}}'
  - name: second
stages:
  first:
    actions:
      - set:
          event.kind: alert
  second:
    actions:
      - filter: '{{{{ undefined_layer.x.y }}}}'
        set:
          event.action: never
      - set:
          event.code: '{{{{ first.event.kind if first is defined else \"none\" }}}}'
          event.reason: '{{{{ second.event.code }}}}'
"
    ))
    .unwrap();
    let a = run(&f, "kind=a");
    assert_eq!(get(&a, "event.code"), Some(&Value::from("alert")));
    assert_eq!(
        get(&a, "event.reason"),
        Some(&Value::from("alert")),
        "own layer"
    );
    assert_eq!(get(&a, "event.action"), None);
    let b = run(&f, "kind=b");
    assert_eq!(
        get(&b, "event.code"),
        Some(&Value::from("none")),
        "filtered step has no layer"
    );
}

#[test]
fn translate_reads_final_by_default_and_falls_back() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          network.iana_number: '{{{{ kv.message.p }}}}'
      - translate:
        dictionary:
          6: tcp
          17: udp
        mapping:
          network.iana_number: network.transport
      - translate:
        dictionary:
          x: 'yes'
        fallback: ['other']
        mapping:
          kv.message.missing: event.type
"
    ))
    .unwrap();
    let out = run(&f, "p=17");
    assert_eq!(get(&out, "network.transport"), Some(&Value::from("udp")));
    assert_eq!(
        get(&out, "event.type"),
        Some(&parse_json(r#"["other"]"#).unwrap())
    );
    let out = run(&f, "p=99");
    assert_eq!(get(&out, "network.transport"), None);
}

#[test]
fn delete_keeps_parents_and_enrichments_run_last() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          source.ip: '{{{{ kv.message.src }}}}'
          user.name: '{{{{ kv.message.user }}}}'
          action.outcome: ok
          custom.tmp: x
      - delete:
          - custom.tmp
"
    ))
    .unwrap();
    let out = run(&f, "src=1.2.3.4 user=bob");
    assert_eq!(get(&out, "custom"), Some(&Value::Map(Map::new())));
    assert_eq!(get(&out, "source.address"), Some(&Value::from("1.2.3.4")));
    assert_eq!(
        get(&out, "related.ip"),
        Some(&parse_json(r#"["1.2.3.4"]"#).unwrap())
    );
    assert_eq!(
        get(&out, "related.user"),
        Some(&parse_json(r#"["bob"]"#).unwrap())
    );
    assert_eq!(get(&out, "event.outcome"), Some(&Value::from("ok")));
}

#[test]
fn non_matching_grok_leaves_an_empty_layer_other_failures_none() {
    let f = load(
        "pipeline:
  - name: g
    external:
      name: grok.match
      properties:
        pattern: '%{INT:n} apples'
  - name: j
    external:
      name: json.parse-json
  - name: s
stages:
  s:
    actions:
      - set:
          event.code: '{{ \"g-defined\" if g is defined else \"g-undefined\" }}'
          event.reason: '{{ \"j-defined\" if j is defined else \"j-undefined\" }}'
",
    )
    .unwrap();
    // Neither parser reads "pears": the event is rejected with both reasons.
    let r = f.parse_message("pears", now()).unwrap_err();
    assert!(
        r.reason.contains("g (grok.match): no match"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("j (json.parse-json)"), "{}", r.reason);
    let out = run(&f, "3 apples");
    assert_eq!(get(&out, "event.code"), Some(&Value::from("g-defined")));
    assert_eq!(get(&out, "event.reason"), Some(&Value::from("j-undefined")));
}

#[test]
fn fields_yml_types_override_and_filter_dicts() {
    let f = load_with(
        &format!(
            "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          vendor.count: '{{{{ kv.message.n }}}}'
          vendor.tags: '{{{{ kv.message.t }}}}'
          vendor.blob: '{{{{ {{\"kept\": kv.message.n, \"dropped\": 1}} }}}}'
"
        ),
        Some(
            "vendor.count: {name: vendor.count, type: long}
vendor.tags: {name: vendor.tags, type: array}
vendor.blob.kept: {name: vendor.blob.kept, type: keyword}
",
        ),
    )
    .unwrap();
    let out = run(&f, "n=42 t=a");
    assert_eq!(get(&out, "vendor.count"), Some(&Value::Int(42)));
    assert_eq!(
        get(&out, "vendor.tags"),
        Some(&parse_json(r#"["a"]"#).unwrap())
    );
    assert_eq!(
        get(&out, "vendor.blob"),
        Some(&parse_json(r#"{"kept":"42"}"#).unwrap())
    );
}

fn load_error(parser: &str) -> String {
    match load(parser) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn load_errors_name_file_line_and_offending_text() {
    let e = load_error("pipeline:\n  - name: a\n    external:\n      name: nope.parse\n");
    assert!(e.starts_with("t/ingest/parser.yml:"), "{e}");
    assert!(e.contains("nope.parse"), "{e}");

    let e = load_error("pipeline:\n  - name: missing_stage\nstages: {}\n");
    assert!(e.contains(":2:") && e.contains("missing_stage"), "{e}");

    let e = load_error(
        "pipeline:\n  - name: s\nstages:\n  s:\n    actions:\n      - set:\n          a: '{{ x ) }}'\n",
    );
    assert!(e.contains(":7:") && e.contains("template error"), "{e}");

    let e = load_error("pipeline: [\n");
    assert!(e.contains("invalid YAML"), "{e}");

    let e = load_error(
        "pipeline:\n  - name: s\nstages:\n  s:\n    actions:\n      - sett:\n          a: b\n",
    );
    assert!(e.contains(":6:") && e.contains("sett"), "{e}");

    let e = load_error(
        "pipeline:\n  - name: j\n    external:\n      name: json.parse-json\n      properties:\n        input_field: nolayer.message\n",
    );
    assert!(e.contains("nolayer"), "{e}");
}

#[test]
fn lenient_mode_turns_broken_templates_into_warnings() {
    let parser = "pipeline:\n  - name: s\nstages:\n  s:\n    actions:\n      - set:\n          a: '{{ x ) }}'\n          b: ok\n    bogus: 1\n";
    let f = Format::load(
        &FormatFiles {
            slug: "t".into(),
            parser: SourceFile {
                path: "p.yml".into(),
                text: parser.into(),
            },
            fields: None,
            module_fields: None,
            manifest: None,
        },
        &LoadOptions { lenient: true },
    )
    .unwrap();
    assert_eq!(f.warnings().len(), 2, "{:?}", f.warnings());
    let out = f.parse_message("m", now()).unwrap();
    assert_eq!(get(&out, "b"), Some(&Value::from("ok")));
    assert_eq!(get(&out, "a"), None);
}

#[test]
fn the_input_event_is_copied_into_final() {
    let f = load("pipeline:\n  - name: s\nstages:\n  s:\n    actions:\n      - set:\n          event.code: x\n").unwrap();
    let mut input = Map::new();
    input.insert("message", Value::from("m"));
    input.insert("log", parse_json(r#"{"hostname":"h1"}"#).unwrap());
    let out = f.parse(input, now()).unwrap();
    assert_eq!(get(&out, "log.hostname"), Some(&Value::from("h1")));
    assert_eq!(get(&out, "message"), Some(&Value::from("m")));
}

/// Asserts that `f` runs on the flat executor and gives the interpreter's event
/// (or rejection) for each of `messages`.
fn assert_planned_as_interpreted(f: &Format, messages: &[&str]) {
    assert!(f.is_planned(), "{:?}", f.plan_refusal());
    for message in messages {
        let mut out = Vec::new();
        let planned = f
            .parse_message_json(message, now(), &mut out)
            .map(|()| parse_json(std::str::from_utf8(&out).unwrap()).unwrap());
        assert_eq!(planned, f.parse_message(message, now()), "{message:?}");
    }
}

/// Fields that only constants write are part of the flat executor's skeletons; one
/// also written with another constant, from a template or by a translation is not.
/// Either way, each event is the interpreter's.
#[test]
fn constant_fields_are_written_as_the_interpreter_writes_them() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          a.fixed: one
          a.same: one
          a.twice: one
          a.mixed: one
          a.translated: one
      - filter: '{{{{ kv.message.x == \"1\" }}}}'
        set:
          a.same: one
          a.twice: two
          a.mixed: '{{{{ kv.message.y }}}}'
      - translate:
        dictionary:
          t: three
        mapping:
          a.mixed: a.translated
      - filter: '{{{{ kv.message.x == \"2\" }}}}'
        delete:
          - a.fixed
          - a.same
"
    ))
    .unwrap();
    assert_planned_as_interpreted(
        &f,
        &["x=0 y=t", "x=1 y=t", "x=1 y=u", "x=2 y=t", "x=1", "x=2"],
    );
    // The planned text itself, for one event (keys in layout order).
    let mut out = Vec::new();
    f.parse_message_json("x=1 y=t", now(), &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"message":"x=1 y=t","a":{"fixed":"one","same":"one","twice":"two","mixed":"t","translated":"three"}}"#
    );
}

/// A split column read both as a value and with `is defined` has a register for
/// each reading; the split fills both.
#[test]
fn a_column_read_two_ways_is_found_both_ways() {
    let f = load(
        "pipeline:
  - name: d
    external:
      name: dsv.parse-dsv
      properties:
        delimiter: ' '
        output_field: record
        columnnames: [a, b]
  - name: s
stages:
  s:
    actions:
      - filter: '{{ d.record.a is defined }}'
        set:
          x.a: '{{ d.record.a }}'
          x.b: '{{ d.record.b is defined }}'
",
    )
    .unwrap();
    assert_planned_as_interpreted(&f, &["1 2", "1", ""]);
    assert_eq!(get(&run(&f, "1 2"), "x.a"), Some(&Value::from("1")));
}

/// A delete that leaves an object empty keeps it, as `{}`, in both executors.
#[test]
fn an_object_emptied_by_a_delete_stays_in_the_event() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          custom.tmp: '{{{{ kv.message.t }}}}'
          custom.deep.tmp: '{{{{ kv.message.d }}}}'
          user.name: '{{{{ kv.message.user }}}}'
      - delete:
          - custom.tmp
          - custom.deep.tmp
"
    ))
    .unwrap();
    assert_planned_as_interpreted(
        &f,
        &["t=1 d=2 user=bob", "t=1 user=bob", "d=2", "user=bob", ""],
    );
    assert_eq!(
        get(&run(&f, "d=2"), "custom"),
        Some(&parse_json(r#"{"deep":{}}"#).unwrap())
    );
}

/// The plan's direct writes (copies of final fields, choices between constants,
/// Community IDs) into fields of several types, from text split into registers and
/// from a JSON record, must give the interpreter's events on every line.
#[test]
fn direct_writes_match_the_interpreter() {
    let parser = r#"pipeline:
  - name: rec
    filter: "{{ original.message.startswith('{') }}"
    external:
      name: json.parse-json
      properties:
        output_field: r
  - name: rec
    filter: "{{ not original.message.startswith('{') }}"
    external:
      name: dsv.parse-dsv
      properties:
        delimiter: " "
        output_field: r
        columnnames: [src, dst, sp, dp, proto, n]
  - name: s
  - name: t
stages:
  # Reads stage `s`'s layer: the direct writes show there too.
  t:
    actions:
      - set:
          w.n_long: "{{ s.v.n_long }}"
          w.family: "{{ s.v.family }}"
          w.cid: "{{ s.v.cid }}"
  s:
    actions:
      - set:
          v.src: "{{ rec.r.src }}"
          v.dst: "{{ rec.r.dst }}"
          v.sp: "{{ rec.r.sp | int if rec.r.sp is number else rec.r.sp }}"
          v.dp: "{{ rec.r.dp }}"
          v.proto: "{{ rec.r.proto }}"
          v.n: "{{ rec.r.n }}"
          v.n_long: "{{ final.v.n }}"
          v.n_kw: "{{ final.v.n }}"
          v.n_float: "{{ final.v.n }}"
          v.n_date: "{{ final.v.n }}"
          v.src_kw: "{{ final.v.src }}"
          v.src_long: "{{ final.v.src }}"
          v.sp_shaped: "{{ final.v.sp | int if final.v.sp is number else final.v.sp }}"
          v.none: "{{ final.v.nothing_written }}"
      - filter: "{{ final.v.src | is_ipaddress or ':' not in final.v.dst }}"
        set:
          v.family: "{{ 'ipv6' if ':' in final.v.src else 'ipv4' }}"
          v.family_long: "{{ '7' if final.v.src | is_ipv4 else '-' }}"
          v.family_list: "{{ '[1, 2]' if rec.r.n.isdigit() else 'None' }}"
      - filter: "{{ final.v.src is defined and final.v.dst is defined }}"
        set:
          v.cid: "{{ final.v.src | community_id(final.v.dst, final.v.sp | default(0), final.v.dp | default('0'), final.v.proto) }}"
          v.cid_layer: "{{ rec.r.src | community_id(rec.r.dst, rec.r.sp, rec.r.dp, rec.r.proto) }}"
          v.cid_long: "{{ rec.r.src | community_id(rec.r.dst, rec.r.sp | default(1), rec.r.dp | default(2), rec.r.proto | default(6)) }}"
ignored_values: ["-", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="]
"#;
    let fields = "v.src: {name: v.src, type: ip}
v.dst: {name: v.dst, type: ip}
v.sp: {name: v.sp, type: long}
v.dp: {name: v.dp, type: long}
v.proto: {name: v.proto, type: keyword}
v.n: {name: v.n, type: long}
v.n_long: {name: v.n_long, type: long}
v.n_kw: {name: v.n_kw, type: keyword}
v.n_float: {name: v.n_float, type: float}
v.n_date: {name: v.n_date, type: date}
v.src_kw: {name: v.src_kw, type: keyword}
v.src_long: {name: v.src_long, type: long}
v.sp_shaped: {name: v.sp_shaped, type: long}
v.family: {name: v.family, type: keyword}
v.family_long: {name: v.family_long, type: long}
v.family_list: {name: v.family_list, type: keyword}
v.cid: {name: v.cid, type: keyword}
v.cid_layer: {name: v.cid_layer, type: keyword}
v.cid_long: {name: v.cid_long, type: long}
w.n_long: {name: w.n_long, type: keyword}
w.family: {name: w.family, type: keyword}
w.cid: {name: w.cid, type: keyword}
";
    let planned = load_with(parser, Some(fields)).unwrap();
    assert!(planned.is_planned(), "{:?}", planned.plan_refusal());
    let interpreted = load_with(parser, Some(fields)).unwrap().interpreted_only();
    let lines = [
        "10.0.0.1 10.0.0.2 443 49152 6 840",
        "10.0.0.2 10.0.0.1 49152 443 tcp 0",
        // The ignored Community ID (TCP 128.232.110.120:34855 → 66.35.250.204:80).
        "128.232.110.120 66.35.250.204 34855 80 6 1",
        "2001:db8::1 2001:DB8:0:0:0:0:0:2 1 2 17 5",
        "2001:db8::1 10.0.0.1 1 2 17 5",
        "10.0.0.1 10.0.0.2 - - - -",
        "10.0.0.1 10.0.0.2 8 0 1 1.5",
        "10.0.0.1 10.0.0.2 3 1 ICMP x",
        "::1 ::2 128 0 58 007",
        "10.0.0.1 10.0.0.2 70000 -1 300 1600000000",
        "10.0.0.1 10.0.0.2 1 2 47 [3]",
        "10.0.0.1 10.0.0.2 +1 02 Udp None",
        "fe80::1%eth0 10.0.0.2 1 2 6 1",
        "not-an-ip 10.0.0.2 1 2 6 1",
        "10.0.0.01 10.0.0.2 1 2 6 1",
        "١٠.0.0.1 10.0.0.2 1 2 6 1",
        "[1,2] (3,) 1 2 6 1",
        "10.0.0.1",
        "10.0.0.1 10.0.0.2",
        "- - - - - -",
        "",
        r#"{"src": "10.0.0.1", "dst": "10.0.0.2", "sp": 443, "dp": 80.0, "proto": 6, "n": 5}"#,
        r#"{"src": "::1", "dst": "::2", "sp": "443", "dp": null, "proto": "udp", "n": 5.5}"#,
        r#"{"src": "10.0.0.1", "dst": "10.0.0.2", "sp": true, "dp": [1], "proto": 6.0}"#,
        r#"{"src": "10.0.0.1", "dst": "10.0.0.2", "proto": 17}"#,
        r#"{"src": 1, "dst": {"a": 1}, "sp": -5, "dp": 80.5, "proto": 1}"#,
        r#"{"dst": "10.0.0.2", "proto": "icmpv6"}"#,
    ];
    let mut planned_lines = 0;
    for line in lines {
        let mut out = Vec::new();
        let fast = planned.parse_message_json(line, now(), &mut out);
        let slow = interpreted.parse_message(line, now());
        match (fast, slow) {
            (Ok(()), Ok(expected)) => {
                let got = parse_json(std::str::from_utf8(&out).unwrap()).unwrap();
                assert_eq!(
                    crate::json::to_json_string_sorted(&got),
                    crate::json::to_json_string_sorted(&expected),
                    "{line}"
                );
                planned_lines += 1;
            }
            (a, b) => assert_eq!(a.is_err(), b.is_err(), "{line}"),
        }
    }
    assert!(planned_lines > 20, "{planned_lines}");
}

/// Two steps of one name can both produce the layer in one event: the second's
/// fields replace the first's, also for a template that read the first's value.
#[test]
fn a_layer_produced_twice_is_read_fresh() {
    let f = load(
        "pipeline:
  - name: d
    external:
      name: dsv.parse-dsv
      properties:
        delimiter: ' '
        output_field: r
        columnnames: [x, y]
  - name: d
    filter: '{{ d.r.x | int > 0 }}'
    external:
      name: dsv.parse-dsv
      properties:
        delimiter: ','
        output_field: r
        columnnames: [x, y]
  - name: s
stages:
  s:
    actions:
      - set:
          v.x: '{{ d.r.x ~ ''!'' }}'
          v.y: '{{ d.r.y }}'
",
    )
    .unwrap();
    // The second split is on commas: `x` is `1 a`, no longer `1`.
    assert_planned_as_interpreted(&f, &["1 a,b", "0 a,b", "1 c", "x y"]);
}

#[test]
fn a_plain_path_template_gives_an_external_its_input_unparsed() {
    // The JSON text escapes its slashes: read as a Python literal it would keep
    // the backslashes; `json.parse-json` must decode it.
    let f = load(
        "pipeline:
  - name: doc
    external:
      name: json.parse-json
      properties:
        input_field: '{{ original.message }}'
        output_field: message
  - name: s
stages:
  s:
    actions:
      - set:
          http.request.referrer: '{{ doc.message.from }}'
",
    )
    .unwrap();
    let out = run(&f, r#"{"from":"https:\/\/portal.example\/start"}"#);
    assert_eq!(
        get(&out, "http.request.referrer"),
        Some(&Value::from("https://portal.example/start"))
    );
}

#[test]
fn the_vendor_fields_type_writes_and_the_format_fields_win() {
    let parser = "pipeline:\n  - name: s\nstages:\n  s:\n    actions:\n      - set:\n          acme.count: '12'\n          acme.tag: '7'\n";
    let file = |path: &str, text: &str| SourceFile {
        path: path.into(),
        text: text.into(),
    };
    let f = Format::load(
        &FormatFiles {
            slug: "t".into(),
            parser: file("t/ingest/parser.yml", parser),
            fields: Some(file(
                "t/_meta/fields.yml",
                "acme.tag:\n  name: acme.tag\n  type: keyword\n",
            )),
            module_fields: Some(file(
                "_meta/fields.yml",
                "acme.count:\n  name: acme.count\n  type: long\nacme.tag:\n  name: acme.tag\n  type: long\n",
            )),
            manifest: None,
        },
        &LoadOptions::default(),
    )
    .unwrap();
    let out = f.parse_message("m", now()).unwrap();
    assert_eq!(get(&out, "acme.count"), Some(&Value::Int(12)));
    assert_eq!(get(&out, "acme.tag"), Some(&Value::from("7")));
}

#[test]
fn the_flat_executor_hands_url_domain_and_user_agent_events_to_the_shared_enrichment() {
    let f = load(&format!(
        "pipeline:{KV}  - name: s
stages:
  s:
    actions:
      - set:
          url.original: '{{{{ kv.message.url }}}}'
          destination.domain: '{{{{ kv.message.host }}}}'
          user_agent.original: '{{{{ kv.message.ua }}}}'
          action.outcome: '{{{{ kv.message.result }}}}'
          event.outcome: '{{{{ kv.message.outcome }}}}'
          event.code: '{{{{ kv.message.code }}}}'
"
    ))
    .unwrap();
    let lines = [
        "url=https://files.example.org/a?b=1 code=7",
        "host=mail.example.co.uk code=7",
        "ua=curl/8.5.0 code=7",
        // None of the sources: the flat executor writes it, action over event outcome.
        "result=denied outcome=failure code=7",
        "code=7",
    ];
    assert_planned_as_interpreted(&f, &lines);
    let out = run(&f, lines[0]);
    assert_eq!(
        get(&out, "url.registered_domain"),
        Some(&Value::from("example.org"))
    );
    assert_eq!(get(&out, "url.port"), Some(&Value::Int(443)));
    let out = run(&f, lines[1]);
    assert_eq!(
        get(&out, "destination.subdomain"),
        Some(&Value::from("mail"))
    );
    let out = run(&f, lines[2]);
    assert_eq!(get(&out, "user_agent.name"), Some(&Value::from("curl")));
    let out = run(&f, lines[3]);
    assert_eq!(get(&out, "event.outcome"), Some(&Value::from("denied")));
}
