//! End-of-event enrichments (SPEC §5.4–5.6), applied to every normalized event:
//! `related.*` from the final field values, `*.address`, `event.outcome` from
//! `action.outcome` (always), `host.name` from `host.hostname`, `file.name`/`file.directory`
//! from `file.path`, then the `url.*` parts of `url.original` (or `url.full`) and the
//! registered domain, top-level domain and subdomain of the domain names. These
//! only fill fields that are absent. Each looks at the event's top-level keys
//! first, so events without the objects it reads cost one lookup.

mod domain;
mod url_parts;
mod user_agent;

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
    UserAgent,
}

const TOPS: usize = 16;

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
            "user_agent" => Top::UserAgent,
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
            Top::UserAgent => "user_agent",
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
pub(crate) const COPIES: [(&[&str], &[&str]); 1] = [(&["host", "hostname"], &["host", "name"])];

/// The fields whose enrichments (URL parts, domain parts, user agent) only
/// [`enrich`] runs. An executor that resolves the other rules ahead of time hands
/// the events that carry any of them to the interpreter, so that this code is the
/// only copy of those rules; formats that write none of them pay nothing.
pub(crate) const SHARED_ONLY_SOURCES: [&[&str]; 8] = [
    &["url", "original"],
    &["url", "full"],
    &["url", "domain"],
    &["source", "domain"],
    &["destination", "domain"],
    &["client", "domain"],
    &["dns", "question", "name"],
    &["user_agent", "original"],
];

/// Copies made whenever the source exists: `(from, to)`.
pub(crate) const OVERWRITES: [(&[&str], &[&str]); 1] =
    [(&["action", "outcome"], &["event", "outcome"])];

/// Applies every enrichment to `event` in place.
pub fn enrich(event: &mut Map) {
    let tops = Tops::of(event);
    related(event, &tops);
    addresses(event, &tops);
    outcome(event, &tops);
    host_name(event, &tops);
    file_parts(event, &tops);
    url(event, &tops);
    dns_question(event, &tops);
    user_agent(event, &tops);
}

fn get_mut<'a>(event: &'a mut Map, path: &[&str]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = event.get_mut(first)?;
    for seg in rest {
        cur = cur.as_map_mut()?.get_mut(seg)?;
    }
    Some(cur)
}

/// Sets `path` to `value` unless a value is already there.
fn fill(event: &mut Map, path: &[&str], value: Value) {
    if get_mut(event, path).is_none() {
        set(event, path, value);
    }
}

/// `url.*` from `url.full`, else `url.original`; without either, the domain parts of
/// a written `url.domain`.
fn url(event: &mut Map, tops: &Tops) {
    if !tops.has(Top::Url) {
        return;
    }
    let source = [&["full"][..], &["original"]].into_iter().find_map(|key| {
        match tops.get(event, (Top::Url, key)) {
            Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    });
    let Some(text) = source else {
        if let Some(Value::Str(d)) = tops.get(event, (Top::Url, &["domain"])) {
            let d = d.clone();
            domain_parts(event, &["url"], &d);
        }
        return;
    };
    let parts = url_parts::split(&text);
    if parts.is_web {
        fill(event, &["url", "full"], Value::Str(text.clone()));
    }
    if let Some(scheme) = parts.scheme {
        fill(event, &["url", "scheme"], Value::from(scheme.as_str()));
    }
    if let Some(port) = parts.port {
        fill(event, &["url", "port"], Value::Int(port));
    }
    if let Some(path) = parts.path {
        fill(event, &["url", "path"], Value::from(path));
    }
    if let Some(query) = parts.query {
        fill(event, &["url", "query"], Value::from(query));
    }
    if let Some(domain) = parts.domain {
        domain_parts(event, &["url"], &domain);
        fill(event, &["url", "domain"], Value::from(domain.as_str()));
    }
}

/// `dns.question.registered_domain` and the other parts of `dns.question.name`.
fn dns_question(event: &mut Map, tops: &Tops) {
    if let Some(Value::Str(name)) = tops.get(event, (Top::Dns, &["question", "name"])) {
        let name = name.clone();
        domain_parts(event, &["dns", "question"], &name);
    }
}

/// `user_agent.{name,version,os.name,os.version,device.name}` from
/// `user_agent.original`. Unlike the other enrichments these replace what a parser
/// wrote, as the reference engine does; a version the rules do not give is removed.
fn user_agent(event: &mut Map, tops: &Tops) {
    let Some(Value::Str(original)) = tops.get(event, (Top::UserAgent, &["original"])) else {
        return;
    };
    let parts = user_agent::parse(original);
    let Some(Value::Map(ua)) = get_mut(event, &["user_agent"]) else {
        return;
    };
    ua.insert("name", Value::from(parts.name.as_str()));
    match parts.version {
        Some(v) => ua.insert("version", Value::from(v.as_str())),
        None => ua.remove("version"),
    };
    for (key, name, version) in [
        ("os", Some(parts.os_name), Some(parts.os_version)),
        ("device", Some(parts.device_name), None),
    ] {
        let slot = ua.entry(key);
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Map::new());
        }
        let Value::Map(m) = slot else { continue };
        if let Some(name) = name {
            m.insert("name", Value::from(name.as_str()));
        }
        match version.flatten() {
            Some(v) => m.insert("version", Value::from(v.as_str())),
            None => m.remove("version"),
        };
    }
}

/// Fills `registered_domain`, `top_level_domain` and `subdomain` under `object`.
fn domain_parts(event: &mut Map, object: &[&str], name: &str) {
    let parts = domain::split(name);
    for (key, part) in [
        ("registered_domain", parts.registered_domain),
        ("top_level_domain", parts.top_level_domain),
        ("subdomain", parts.subdomain),
    ] {
        if let Some(part) = part {
            let mut path = object.to_vec();
            path.push(key);
            fill(event, &path, Value::from(part));
        }
    }
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

/// `X.address` from `X.domain`, else `X.ip`. An address taken from the domain also
/// gets the domain's parts: the reference engine splits no domain whose address a
/// parser wrote (`destination.domain` from a TLS SNI beside an IP address).
fn addresses(event: &mut Map, tops: &Tops) {
    for side in [Top::Source, Top::Destination, Top::Client] {
        if !tops.has(side) || tops.get(event, (side, &["address"])).is_some() {
            continue;
        }
        if let Some(domain) = tops.get(event, (side, &["domain"])).cloned() {
            if let Value::Str(name) = &domain {
                domain_parts(event, &[side.name()], name);
            }
            set(event, &[side.name(), "address"], domain);
        } else if let Some(ip) = tops.get(event, (side, &["ip"])).cloned() {
            set(event, &[side.name(), "address"], ip);
        }
    }
}

/// `event.outcome` is `action.outcome` whenever that exists, even over a value
/// the parser wrote (the reference engine gives `event.outcome` the action's
/// outcome in every case that has one).
fn outcome(event: &mut Map, tops: &Tops) {
    if let Some(o) = tops.get(event, (Top::Action, &["outcome"])).cloned() {
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
        // The action's outcome replaces one the parser wrote.
        let replaced = run(r#"{"action":{"outcome":"denied"},"event":{"outcome":"failure"}}"#);
        assert_eq!(
            replaced.pointer(&["event", "outcome"]).unwrap(),
            &Value::from("denied")
        );
    }

    #[test]
    fn nothing_added_to_an_unrelated_event() {
        let out = run(r#"{"message":"x"}"#);
        assert_eq!(out, parse_json(r#"{"message":"x"}"#).unwrap());
    }

    #[test]
    fn url_parts_from_the_full_url_else_the_original() {
        let out = run(
            r#"{"url":{"original":"/api/v2/items?page=3","full":"https://api.shop.example.co.uk/api/v2/items?page=3"}}"#,
        );
        assert_eq!(
            out.pointer(&["url"]).unwrap(),
            &parse_json(
                r#"{"original":"/api/v2/items?page=3","full":"https://api.shop.example.co.uk/api/v2/items?page=3",
                    "scheme":"https","port":443,"path":"/api/v2/items","query":"page=3",
                    "registered_domain":"example.co.uk","top_level_domain":"co.uk","subdomain":"api.shop",
                    "domain":"api.shop.example.co.uk"}"#
            )
            .unwrap()
        );
        // Text without a scheme is a path; a written domain is kept and not split,
        // and the derived parts do not reach related.hosts.
        let out = run(
            r#"{"url":{"original":"cdn.example.net/img/logo.png","domain":"cdn.example.net"}}"#,
        );
        assert_eq!(
            out.pointer(&["url"]).unwrap(),
            &parse_json(
                r#"{"original":"cdn.example.net/img/logo.png","domain":"cdn.example.net","path":"cdn.example.net/img/logo.png"}"#
            )
            .unwrap()
        );
        assert_eq!(
            out.pointer(&["related", "hosts"]),
            Some(&parse_json(r#"["cdn.example.net"]"#).unwrap())
        );
    }

    #[test]
    fn a_written_url_domain_is_split_when_there_is_no_url() {
        let out = run(r#"{"url":{"domain":"mail.example.org"}}"#);
        assert_eq!(
            out.pointer(&["url", "registered_domain"]),
            Some(&Value::from("example.org"))
        );
        assert_eq!(
            out.pointer(&["url", "subdomain"]),
            Some(&Value::from("mail"))
        );
    }

    #[test]
    fn domains_are_split_only_when_they_give_the_address() {
        let out = run(
            r#"{"source":{"domain":"relay.mx.example.com","ip":"192.0.2.7"},
                "destination":{"domain":"www.example.org","ip":"198.51.100.9","address":"198.51.100.9"},
                "dns":{"question":{"name":"time.example.net"}}}"#,
        );
        assert_eq!(
            out.pointer(&["source"]).unwrap(),
            &parse_json(
                r#"{"domain":"relay.mx.example.com","ip":"192.0.2.7","registered_domain":"example.com",
                    "top_level_domain":"com","subdomain":"relay.mx","address":"relay.mx.example.com"}"#
            )
            .unwrap()
        );
        assert_eq!(out.pointer(&["destination", "registered_domain"]), None);
        assert_eq!(
            out.pointer(&["dns", "question", "registered_domain"]),
            Some(&Value::from("example.net"))
        );
    }
}
