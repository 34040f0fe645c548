//! Shared bodies of the fuzz targets (each `fuzz_targets/*.rs` calls one), so that
//! they can also be driven from a stable harness (`tests/replay.rs`) on inputs kept
//! in `corpus/` or `artifacts/`.
//!
//! Oracles: no panic, no abort, no hang; whatever the engine produces must
//! serialize to JSON that reads back; and the flat executor must write exactly what
//! the interpreter writes (`differential`).

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::TimeZone;
use intake_engine::datetime::{self, Timestamp, Zone};
use intake_engine::externals::{self, grok::Grok};
use intake_engine::json::{parse_json, to_json_string_sorted, write_json};
use intake_engine::template::{self, Env, Scope, Template};
use intake_engine::{Format, Map, Value};

pub fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 2, 20, 12, 0, 0).unwrap()
}

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Splits `data` on its first NUL: (before, after); no NUL → both halves are `data`.
fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    }
}

/// The serialized value must be JSON that parses back.
fn check_json(v: &Value) {
    let mut out = Vec::new();
    write_json(v, &mut out);
    let s = std::str::from_utf8(&out).expect("write_json wrote invalid UTF-8");
    if let Err(e) = parse_json(s) {
        panic!("write_json wrote invalid JSON ({e}): {s}");
    }
}

/// Layers `original` (slot 0) and `flow` (slot 1).
pub struct TestScope;

impl Scope for TestScope {
    fn slot(&self, name: &str) -> Option<usize> {
        match name {
            "original" => Some(0),
            "flow" => Some(1),
            _ => None,
        }
    }
}

fn test_slots() -> [Option<Value>; 2] {
    let mut original = Map::new();
    original.insert("message", Value::from("2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 5555 6 1 40 1599665193 1599665200 ACCEPT OK"));
    let mut record = Map::new();
    record.insert("srcaddr", Value::from("10.0.0.1"));
    record.insert("srcport", Value::Int(443));
    record.insert("bytes", Value::Float(40.0));
    record.insert("tags", Value::List(vec![Value::from("a"), Value::Null, Value::Bool(true)]));
    let mut flow = Map::new();
    flow.insert("record", Value::Map(record));
    [Some(Value::Map(original)), Some(Value::Map(flow))]
}

/// `Template::compile` on the input, then `eval` and `test`; also `literal_eval`.
pub fn template(data: &[u8]) {
    let src = text(data);
    let _ = template::literal_eval(&src);
    let Ok(t) = Template::compile(&src, &TestScope) else { return };
    let slots = test_slots();
    let env = Env::new(&slots, now());
    if let Ok(Some(v)) = t.eval(&env) {
        check_json(&v);
    }
    let _ = t.test(&env);
}

fn run_external(name: &str, props: &Map, input: &str) {
    let mut warnings = Vec::new();
    let Ok(p) = externals::compile(name, props, &TestScope, &mut warnings) else { return };
    let slots = test_slots();
    let env = Env::new(&slots, now());
    if let Ok(v) = p.parse(&Value::from(input), &env) {
        check_json(&v);
    }
}

/// `kv.parse-kv`: `item_sep NUL value_sep NUL text`, or a first byte choosing common
/// separators followed by the text.
pub fn kv(data: &[u8]) {
    const ITEMS: &[&str] = &[r"\s", " ", ",", ";", r"\s+", r",\s*", "|", "&"];
    const VALUES: &[&str] = &["=", ":", r"\s*=\s*", "=>", ": "];
    let (item, value, body) = {
        let mut parts = data.splitn(3, |&b| b == 0);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(i), Some(v), Some(t)) => (text(i).into_owned(), text(v).into_owned(), t),
            _ => {
                let Some((&sel, rest)) = data.split_first() else { return };
                (
                    ITEMS[(sel & 7) as usize].to_string(),
                    VALUES[(sel >> 3) as usize % VALUES.len()].to_string(),
                    rest,
                )
            }
        }
    };
    let mut props = Map::new();
    props.insert("item_sep", Value::from(item));
    props.insert("value_sep", Value::from(value));
    run_external("kv.parse-kv", &props, &text(body));
}

/// Grok: `pattern NUL input` (no NUL: the input is its own pattern).
pub fn grok(data: &[u8]) {
    let (pattern, input) = split2(data);
    let custom = [("HOST_ADDRESS".to_string(), "%{IP:host_ip}|%{HOSTNAME:host_name}".to_string())];
    let Ok(g) = Grok::compile(&text(pattern), &custom) else { return };
    if let Some(m) = g.matches(&text(input)) {
        check_json(&Value::Map(m));
    }
}

/// `dsv.parse-dsv`: first byte = delimiter, second = how many columns, then the record.
pub fn dsv(data: &[u8]) {
    const DELIMS: &[&str] = &[",", " ", ";", "\t", "|", "é", "\"", "\n"];
    let [sel, ncols, rest @ ..] = data else { return };
    let delim = match sel {
        0..=7 => DELIMS[*sel as usize].to_string(),
        b => (*b as char).to_string(),
    };
    let n = (*ncols % 40) as usize;
    // Duplicate names on purpose (a later column of the same name wins).
    let cols: Vec<Value> = (0..n).map(|i| Value::from(format!("c{}", i % 17))).collect();
    let mut props = Map::new();
    props.insert("delimiter", Value::from(delim));
    props.insert("columnnames", Value::List(cols));
    run_external("dsv.parse-dsv", &props, &text(rest));
}

/// Dates: autodetection (text, integer, float), epochs, zones, and strptime with a
/// format: `format NUL text`. The result must print in both output forms.
pub fn date(data: &[u8]) {
    let [sel, rest @ ..] = data else { return };
    let show = |t: Option<Timestamp>| {
        if let Some(t) = t {
            let _ = datetime::format_ecs(t);
            let _ = datetime::format_micros(t);
        }
    };
    match sel % 6 {
        0 => show(datetime::parse_auto(&Value::from(text(rest).as_ref()), now())),
        1 => {
            let mut b = [0u8; 8];
            let n = rest.len().min(8);
            b[..n].copy_from_slice(&rest[..n]);
            let i = i64::from_le_bytes(b);
            show(datetime::parse_auto(&Value::Int(i), now()));
            show(datetime::parse_auto(&Value::Float(f64::from_bits(i as u64)), now()));
            show(datetime::parse_epoch(&Value::Int(i)));
        }
        2 => show(datetime::parse_epoch(&Value::from(text(rest).as_ref()))),
        3 => {
            let (zone, value) = split2(rest);
            if let Some(z) = Zone::parse(&text(zone)) {
                show(datetime::parse_auto_in(&Value::from(text(value).as_ref()), z, now()));
            }
        }
        _ => {
            let (format, value) = split2(rest);
            let format = text(format);
            let _ = datetime::is_valid_format(&format);
            show(datetime::parse_with_format(&text(value), &format, Zone::Utc, now()));
        }
    }
}

/// The whole `Format::parse` path of a built-in format, then `write_json`.
pub fn format_parse(slug: &str, data: &[u8]) {
    static FORMAT: OnceLock<(String, Format)> = OnceLock::new();
    let (loaded, format) = FORMAT.get_or_init(|| {
        let f = intake_formats::builtin(slug).unwrap_or_else(|e| panic!("cannot load {slug}: {e}"));
        (slug.to_string(), f)
    });
    assert_eq!(loaded, slug, "one format per process");
    let mut input = Map::with_capacity(1);
    input.insert("message", Value::from(text(data).as_ref()));
    if let Ok(v) = format.parse(input, now()) {
        check_json(&v);
    }
}

/// Every built-in format the flat executor takes, twice: as loaded (planned) and
/// `interpreted_only`.
fn format_pairs() -> &'static [(String, Format, Format)] {
    static PAIRS: OnceLock<Vec<(String, Format, Format)>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let pairs: Vec<_> = intake_formats::list()
            .into_iter()
            .map(|info| {
                let load = || {
                    intake_formats::builtin(&info.slug)
                        .unwrap_or_else(|e| panic!("cannot load {}: {e}", info.slug))
                };
                (info.slug.clone(), load(), load().interpreted_only())
            })
            // An unplanned format runs the interpreter both ways: nothing to compare.
            .filter(|(_, planned, _)| planned.is_planned())
            .collect();
        assert!(!pairs.is_empty(), "no built-in format is planned");
        pairs
    })
}

/// The input line through both executors of every planned built-in format: the
/// rejection, or the event written, must be the same.
///
/// Events are compared as JSON values, keys in any order: the plan writes an
/// object's keys in the order the format first names them, the interpreter in the
/// order this event first wrote them, and the two differ when a format's first write
/// to an object writes nothing (e.g. its source field is missing). Set
/// `DIFFERENTIAL_BYTES=1` to require the same bytes as well.
pub fn differential(data: &[u8]) {
    static BYTES: OnceLock<bool> = OnceLock::new();
    let bytes = *BYTES.get_or_init(|| std::env::var_os("DIFFERENTIAL_BYTES").is_some());
    let message = text(data);
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    for (slug, planned, interpreted) in format_pairs() {
        fast.clear();
        slow.clear();
        let a = planned.parse_message_json(&message, now(), &mut fast);
        let b = interpreted.parse_message_json(&message, now(), &mut slow);
        let same = a == b
            && (fast == slow || (!bytes && a.is_ok() && canonical(&fast) == canonical(&slow)));
        if !same {
            panic!(
                "{slug}: the executors differ on {message:?}\n  plan:        {a:?} {}\n  interpreter: {b:?} {}",
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
            );
        }
    }
}

/// An event's JSON with every object's keys sorted; the text itself when it is not
/// JSON (then only the same bytes compare equal).
fn canonical(json: &[u8]) -> String {
    let text = String::from_utf8_lossy(json);
    match parse_json(&text) {
        Ok(v) => to_json_string_sorted(&v),
        Err(_) => format!("not JSON: {text}"),
    }
}
