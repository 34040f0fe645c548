//! End-of-event enrichments (SPEC §5.4–5.5), applied to every normalized event:
//! `related.*` from the final field values, `*.address`, `event.outcome` from
//! `action.outcome`, `host.name` from `host.hostname`, `file.name`/`file.directory`
//! from `file.path`. Enrichments only fill fields that are absent.

use crate::json::to_json_string;
use crate::value::{Map, Str, Value};

/// The top-level objects the enrichments read. The event's top-level keys are
/// looked at once per event ([`Tops`]); paths then start from the resolved object.
#[derive(Clone, Copy)]
enum Top {
    Source,
    Destination,
    Host,
    Client,
    Server,
    Observer,
    Dns,
    User,
    File,
    Url,
    Process,
    Dll,
    Tls,
    Action,
    Event,
}

const TOPS: usize = 15;

impl Top {
    fn of(key: &str) -> Option<Top> {
        Some(match key {
            "source" => Top::Source,
            "destination" => Top::Destination,
            "host" => Top::Host,
            "client" => Top::Client,
            "server" => Top::Server,
            "observer" => Top::Observer,
            "dns" => Top::Dns,
            "user" => Top::User,
            "file" => Top::File,
            "url" => Top::Url,
            "process" => Top::Process,
            "dll" => Top::Dll,
            "tls" => Top::Tls,
            "action" => Top::Action,
            "event" => Top::Event,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Top::Source => "source",
            Top::Destination => "destination",
            Top::Host => "host",
            Top::Client => "client",
            Top::Server => "server",
            Top::Observer => "observer",
            Top::Dns => "dns",
            Top::User => "user",
            Top::File => "file",
            Top::Url => "url",
            Top::Process => "process",
            Top::Dll => "dll",
            Top::Tls => "tls",
            Top::Action => "action",
            Top::Event => "event",
        }
    }
}

/// A path below a top-level object.
type Path = (Top, &'static [&'static str]);

const RELATED_IP: &[Path] = &[
    (Top::Source, &["ip"]),
    (Top::Destination, &["ip"]),
    (Top::Host, &["ip"]),
    (Top::Source, &["nat", "ip"]),
    (Top::Destination, &["nat", "ip"]),
    (Top::Client, &["ip"]),
    (Top::Server, &["ip"]),
    (Top::Observer, &["ip"]),
    (Top::Dns, &["resolved_ip"]),
    (Top::Client, &["nat", "ip"]),
    (Top::Server, &["nat", "ip"]),
];

const RELATED_USER: &[Path] = &[
    (Top::User, &["name"]),
    (Top::Source, &["user", "name"]),
    (Top::Destination, &["user", "name"]),
    (Top::User, &["target", "name"]),
    (Top::Client, &["user", "name"]),
    (Top::Server, &["user", "name"]),
    (Top::File, &["owner"]),
];

const RELATED_HOSTS: &[Path] = &[
    (Top::Host, &["hostname"]),
    (Top::Source, &["domain"]),
    (Top::Destination, &["domain"]),
    (Top::Client, &["domain"]),
    (Top::Server, &["domain"]),
    (Top::Observer, &["hostname"]),
    (Top::Dns, &["question", "name"]),
    (Top::Url, &["domain"]),
];

const HASHED: &[Path] = &[
    (Top::File, &[]),
    (Top::Process, &[]),
    (Top::Process, &["parent"]),
    (Top::Dll, &[]),
];
const HASH_KINDS: &[&str] = &["md5", "sha1", "sha256", "sha512", "ssdeep"];
const TLS_HASH_KINDS: &[&str] = &["md5", "sha1", "sha256"];

/// Where each [`Top`] object sits in the event's top-level entries. Enrichments
/// only add keys (at the end), so positions stay valid while they run.
struct Tops([Option<u32>; TOPS]);

impl Tops {
    fn of(event: &Map) -> Tops {
        let mut t = [None; TOPS];
        for (i, k) in event.keys().enumerate() {
            if let Some(top) = Top::of(k) {
                t[top as usize] = Some(i as u32);
            }
        }
        Tops(t)
    }

    fn has(&self, top: Top) -> bool {
        self.0[top as usize].is_some()
    }

    fn get<'a>(&self, event: &'a Map, (top, rest): Path) -> Option<&'a Value> {
        let i = self.0[top as usize]?;
        let (_, mut cur) = event.get_index(i as usize)?;
        for seg in rest {
            cur = cur.as_map()?.get(seg)?;
        }
        Some(cur)
    }
}

/// The dotted source paths of each `related.*` key, in rule order, for executors
/// that resolve the rules ahead of time.
pub(crate) fn related_sources() -> Vec<(&'static str, Vec<Vec<&'static str>>)> {
    let full = |(top, rest): &Path| {
        let mut p = vec![top.name()];
        p.extend_from_slice(rest);
        p
    };
    let mut hash = Vec::new();
    for base in HASHED {
        for kind in HASH_KINDS {
            let mut p = full(base);
            p.extend(["hash", kind]);
            hash.push(p);
        }
    }
    for kind in TLS_HASH_KINDS {
        hash.push(vec!["tls", "server", "hash", kind]);
    }
    vec![
        ("ip", RELATED_IP.iter().map(full).collect()),
        ("user", RELATED_USER.iter().map(full).collect()),
        ("hosts", RELATED_HOSTS.iter().map(full).collect()),
        ("hash", hash),
    ]
}

/// The objects that get an `address` (from `domain`, else `ip`), in rule order.
pub(crate) const ADDRESS_SIDES: [&str; 3] = ["source", "destination", "client"];

/// Copies made when the destination is absent: `(from, to)`, in rule order.
pub(crate) const COPIES: [(&[&str], &[&str]); 2] = [
    (&["action", "outcome"], &["event", "outcome"]),
    (&["host", "hostname"], &["host", "name"]),
];

/// Applies every enrichment to `event` in place.
pub fn enrich(event: &mut Map) {
    let tops = Tops::of(event);
    related(event, &tops);
    addresses(event, &tops);
    outcome(event, &tops);
    host_name(event, &tops);
    file_parts(event, &tops);
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

/// Collects the string forms of the values at `paths` into `out` (deduplicated).
/// Returns whether any of the paths exists.
fn collect(event: &Map, tops: &Tops, paths: &[Path], out: &mut Vec<Str>) -> bool {
    let mut any = false;
    for &path in paths {
        if let Some(v) = tops.get(event, path) {
            any = true;
            push_value(v, out);
        }
    }
    any
}

pub(crate) fn push_value(v: &Value, out: &mut Vec<Str>) {
    match v {
        Value::List(items) => items.iter().for_each(|i| push_scalar(i, out)),
        other => push_scalar(other, out),
    }
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

fn related(event: &mut Map, tops: &Tops) {
    let mut related = Map::new();
    let mut values = Vec::new();
    for (key, paths) in [
        ("ip", RELATED_IP),
        ("user", RELATED_USER),
        ("hosts", RELATED_HOSTS),
    ] {
        values.clear();
        if collect(event, tops, paths, &mut values) {
            values.sort();
            related.insert(key, Value::List(values.drain(..).map(Value::Str).collect()));
        }
    }
    values.clear();
    let mut any_hash = false;
    for &base in HASHED.iter().filter(|(top, _)| tops.has(*top)) {
        let Some(hash) = tops
            .get(event, base)
            .and_then(Value::as_map)
            .and_then(|m| m.get("hash"))
            .and_then(Value::as_map)
        else {
            continue;
        };
        for kind in HASH_KINDS {
            if let Some(v) = hash.get(kind) {
                any_hash = true;
                push_value(v, &mut values);
            }
        }
    }
    if let Some(hash) = tops
        .get(event, (Top::Tls, &["server", "hash"]))
        .and_then(Value::as_map)
    {
        for kind in TLS_HASH_KINDS {
            if let Some(v) = hash.get(kind) {
                any_hash = true;
                push_value(v, &mut values);
            }
        }
    }
    if any_hash {
        values.sort();
        related.insert(
            "hash",
            Value::List(values.into_iter().map(Value::Str).collect()),
        );
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

fn addresses(event: &mut Map, tops: &Tops) {
    for side in [Top::Source, Top::Destination, Top::Client] {
        if !tops.has(side) || tops.get(event, (side, &["address"])).is_some() {
            continue;
        }
        let address = tops
            .get(event, (side, &["domain"]))
            .or_else(|| tops.get(event, (side, &["ip"])))
            .cloned();
        if let Some(a) = address {
            set(event, &[side.name(), "address"], a);
        }
    }
}

fn outcome(event: &mut Map, tops: &Tops) {
    if tops.get(event, (Top::Event, &["outcome"])).is_none()
        && let Some(o) = tops.get(event, (Top::Action, &["outcome"])).cloned()
    {
        set(event, &["event", "outcome"], o);
    }
}

fn host_name(event: &mut Map, tops: &Tops) {
    if tops.get(event, (Top::Host, &["name"])).is_none()
        && let Some(h) = tops.get(event, (Top::Host, &["hostname"])).cloned()
    {
        set(event, &["host", "name"], h);
    }
}

fn file_parts(event: &mut Map, tops: &Tops) {
    if !tops.has(Top::File) || tops.get(event, (Top::File, &["name"])).is_some() {
        return;
    }
    let Some(Value::Str(path)) = tops.get(event, (Top::File, &["path"])) else {
        return;
    };
    let (dir, name) = match path.rfind(['/', '\\']) {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path.as_str()),
    };
    let (dir, name) = (Value::from(dir), Value::from(name));
    let has_dir = tops.get(event, (Top::File, &["directory"])).is_some();
    set(event, &["file", "name"], name);
    if !has_dir {
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
        let out = run(
            r#"{"source":{"ip":"5.6.7.8"},"destination":{"ip":"1.2.3.4"},"observer":{"ip":["1.2.3.4"]}}"#,
        );
        assert_eq!(
            out.pointer(&["related", "ip"]).unwrap(),
            &parse_json(r#"["1.2.3.4","5.6.7.8"]"#).unwrap()
        );
        assert_eq!(
            out.pointer(&["source", "address"]).unwrap(),
            &Value::from("5.6.7.8")
        );
    }

    #[test]
    fn empty_list_still_creates_the_key() {
        let out = run(r#"{"host":{"ip":[]}}"#);
        assert_eq!(
            out.pointer(&["related", "ip"]).unwrap(),
            &Value::List(vec![])
        );
    }

    #[test]
    fn domain_is_preferred_for_address() {
        let out = run(r#"{"source":{"ip":"1.1.1.1","domain":"a.example"}}"#);
        assert_eq!(
            out.pointer(&["source", "address"]).unwrap(),
            &Value::from("a.example")
        );
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
        assert_eq!(
            out.pointer(&["event", "outcome"]).unwrap(),
            &Value::from("ok")
        );
        assert_eq!(out.pointer(&["host", "name"]).unwrap(), &Value::from("h"));
        assert_eq!(
            out.pointer(&["file", "name"]).unwrap(),
            &Value::from("a.txt")
        );
        assert_eq!(
            out.pointer(&["file", "directory"]).unwrap(),
            &Value::from("C:\\dir")
        );
    }

    #[test]
    fn nothing_added_to_an_unrelated_event() {
        let out = run(r#"{"message":"x"}"#);
        assert_eq!(out, parse_json(r#"{"message":"x"}"#).unwrap());
    }
}
