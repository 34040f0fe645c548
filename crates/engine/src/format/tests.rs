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
    assert!(f.is_planned(), "{:?}", f.plan_refusal());
    for message in ["x=0 y=t", "x=1 y=t", "x=1 y=u", "x=2 y=t", "x=1", "x=2"] {
        let mut out = Vec::new();
        f.parse_message_json(message, now(), &mut out).unwrap();
        let planned = parse_json(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(planned, run(&f, message), "{message}");
    }
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
    assert!(f.is_planned(), "{:?}", f.plan_refusal());
    for message in ["1 2", "1", ""] {
        let mut out = Vec::new();
        let planned = f
            .parse_message_json(message, now(), &mut out)
            .map(|()| parse_json(std::str::from_utf8(&out).unwrap()).unwrap());
        let interpreted = f.parse_message(message, now());
        assert_eq!(planned, interpreted, "{message:?}");
    }
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
    assert!(f.is_planned(), "{:?}", f.plan_refusal());
    for message in ["t=1 d=2 user=bob", "t=1 user=bob", "d=2", "user=bob", ""] {
        let mut out = Vec::new();
        let planned = f
            .parse_message_json(message, now(), &mut out)
            .map(|()| parse_json(std::str::from_utf8(&out).unwrap()).unwrap());
        assert_eq!(planned, f.parse_message(message, now()), "{message:?}");
    }
    assert_eq!(
        get(&run(&f, "d=2"), "custom"),
        Some(&parse_json(r#"{"deep":{}}"#).unwrap())
    );
}
