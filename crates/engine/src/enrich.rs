//! End-of-event enrichments (SPEC §5.4–5.5), applied to every normalized event:
//! `related.*` from the final field values, `*.address`, `event.outcome` from
//! `action.outcome`, `host.name` from `host.hostname`, `file.name`/`file.directory`
//! from `file.path`. Enrichments only fill fields that are absent.

use crate::json::to_json_string;
use crate::value::{Map, Str, Value};

const RELATED_IP: &[&[&str]] = &[
    &["source", "ip"],
    &["destination", "ip"],
    &["host", "ip"],
    &["source", "nat", "ip"],
    &["destination", "nat", "ip"],
    &["client", "ip"],
    &["server", "ip"],
    &["observer", "ip"],
    &["dns", "resolved_ip"],
    &["client", "nat", "ip"],
    &["server", "nat", "ip"],
];

const RELATED_USER: &[&[&str]] = &[
    &["user", "name"],
    &["source", "user", "name"],
    &["destination", "user", "name"],
    &["user", "target", "name"],
    &["client", "user", "name"],
    &["server", "user", "name"],
    &["file", "owner"],
];

const RELATED_HOSTS: &[&[&str]] = &[
    &["host", "hostname"],
    &["source", "domain"],
    &["destination", "domain"],
    &["client", "domain"],
    &["server", "domain"],
    &["observer", "hostname"],
    &["dns", "question", "name"],
    &["url", "domain"],
];

const HASHED: &[&[&str]] = &[&["file"], &["process"], &["process", "parent"], &["dll"]];
const HASH_KINDS: &[&str] = &["md5", "sha1", "sha256", "sha512", "ssdeep"];
const TLS_HASH_KINDS: &[&str] = &["md5", "sha1", "sha256"];

/// Applies every enrichment to `event` in place.
pub fn enrich(event: &mut Map) {
    related(event);
    addresses(event);
    outcome(event);
    host_name(event);
    file_parts(event);
}

fn get<'a>(event: &'a Map, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = event.get(first)?;
    for seg in rest {
        cur = cur.as_map()?.get(seg)?;
    }
    Some(cur)
}

fn has(event: &Map, path: &[&str]) -> bool {
    get(event, path).is_some()
}

fn set(event: &mut Map, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = event;
    for seg in parents {
        let slot = cur.entry(seg);
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Map::new());
        }
        cur = match slot {
            Value::Map(m) => m,
            _ => return,
        };
    }
    cur.insert(*last, value);
}

/// Collects the string forms of the values at `paths`, deduplicated and sorted.
/// `None` when none of the paths exists.
fn collect(event: &Map, paths: &[&[&str]], out: &mut Vec<Str>) -> bool {
    let mut any = false;
    for path in paths {
        if let Some(v) = get(event, path) {
            any = true;
            match v {
                Value::List(items) => items.iter().for_each(|i| push_scalar(i, out)),
                other => push_scalar(other, out),
            }
        }
    }
    any
}

fn push_scalar(v: &Value, out: &mut Vec<Str>) {
    let s = match v {
        Value::Null => return,
        Value::Str(s) if s.is_empty() => return,
        Value::Str(s) => s.clone(),
        other => Str::from(to_json_string(other)),
    };
    if !out.contains(&s) {
        out.push(s);
    }
}

fn related(event: &mut Map) {
    let mut related = Map::new();
    let mut values = Vec::new();
    for (key, paths) in [("ip", RELATED_IP), ("user", RELATED_USER), ("hosts", RELATED_HOSTS)] {
        values.clear();
        if collect(event, paths, &mut values) {
            values.sort();
            related.insert(key, Value::List(values.drain(..).map(Value::Str).collect()));
        }
    }
    values.clear();
    let mut any_hash = false;
    // Hash paths are built on the fly, so look only when a hashed object is present.
    let hashed_present = HASHED.iter().any(|b| event.contains_key(b[0]));
    for base in HASHED.iter().filter(|_| hashed_present) {
        for kind in HASH_KINDS {
            let path: Vec<&str> = base.iter().copied().chain(["hash", kind]).collect();
            any_hash |= collect(event, &[&path], &mut values);
        }
    }
    for kind in TLS_HASH_KINDS.iter().filter(|_| event.contains_key("tls")) {
        any_hash |= collect(event, &[&["tls", "server", "hash", kind]], &mut values);
    }
    if any_hash {
        values.sort();
        related.insert("hash", Value::List(values.into_iter().map(Value::Str).collect()));
    }
    if !related.is_empty() {
        match event.entry("related") {
            Value::Map(existing) => {
                for (k, v) in related {
                    if !existing.contains_key(&k) {
                        existing.insert(k, v);
                    }
                }
            }
            slot => *slot = Value::Map(related),
        }
    }
}

fn addresses(event: &mut Map) {
    for side in ["source", "destination", "client"] {
        if has(event, &[side, "address"]) {
            continue;
        }
        let address = get(event, &[side, "domain"])
            .or_else(|| get(event, &[side, "ip"]))
            .cloned();
        if let Some(a) = address {
            set(event, &[side, "address"], a);
        }
    }
}

fn outcome(event: &mut Map) {
    if !has(event, &["event", "outcome"])
        && let Some(o) = get(event, &["action", "outcome"]).cloned()
    {
        set(event, &["event", "outcome"], o);
    }
}

fn host_name(event: &mut Map) {
    if !has(event, &["host", "name"])
        && let Some(h) = get(event, &["host", "hostname"]).cloned()
    {
        set(event, &["host", "name"], h);
    }
}

fn file_parts(event: &mut Map) {
    if has(event, &["file", "name"]) {
        return;
    }
    let Some(Value::Str(path)) = get(event, &["file", "path"]) else {
        return;
    };
    let (dir, name) = match path.rfind(['/', '\\']) {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path.as_str()),
    };
    let (dir, name) = (Value::from(dir), Value::from(name));
    set(event, &["file", "name"], name);
    if !has(event, &["file", "directory"]) {
        set(event, &["file", "directory"], dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_json;

    fn run(json: &str) -> Value {
        let Value::Map(mut m) = parse_json(json).unwrap() else {
            panic!("not a map")
        };
        enrich(&mut m);
        Value::Map(m)
    }

    #[test]
    fn related_ip_is_deduplicated_and_sorted() {
        let out = run(r#"{"source":{"ip":"5.6.7.8"},"destination":{"ip":"1.2.3.4"},"observer":{"ip":["1.2.3.4"]}}"#);
        assert_eq!(
            out.pointer(&["related", "ip"]).unwrap(),
            &parse_json(r#"["1.2.3.4","5.6.7.8"]"#).unwrap()
        );
        assert_eq!(out.pointer(&["source", "address"]).unwrap(), &Value::from("5.6.7.8"));
    }

    #[test]
    fn empty_list_still_creates_the_key() {
        let out = run(r#"{"host":{"ip":[]}}"#);
        assert_eq!(out.pointer(&["related", "ip"]).unwrap(), &Value::List(vec![]));
    }

    #[test]
    fn domain_is_preferred_for_address() {
        let out = run(r#"{"source":{"ip":"1.1.1.1","domain":"a.example"}}"#);
        assert_eq!(out.pointer(&["source", "address"]).unwrap(), &Value::from("a.example"));
        assert_eq!(
            out.pointer(&["related", "hosts"]).unwrap(),
            &parse_json(r#"["a.example"]"#).unwrap()
        );
    }

    #[test]
    fn outcome_host_and_file() {
        let out = run(
            r#"{"action":{"outcome":"ok"},"host":{"hostname":"h"},"file":{"path":"C:\\dir\\a.txt"}}"#,
        );
        assert_eq!(out.pointer(&["event", "outcome"]).unwrap(), &Value::from("ok"));
        assert_eq!(out.pointer(&["host", "name"]).unwrap(), &Value::from("h"));
        assert_eq!(out.pointer(&["file", "name"]).unwrap(), &Value::from("a.txt"));
        assert_eq!(out.pointer(&["file", "directory"]).unwrap(), &Value::from("C:\\dir"));
    }

    #[test]
    fn nothing_added_to_an_unrelated_event() {
        let out = run(r#"{"message":"x"}"#);
        assert_eq!(out, parse_json(r#"{"message":"x"}"#).unwrap());
    }
}
