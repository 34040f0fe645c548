//! The `threat_match` transform's core: every event's observable fields looked up in the
//! indicators of every feed; a matching event gains ECS `threat.enrichments[]` and the
//! rules its indicators select; an event that matches nothing is left as it is.
//!
//! Each feed has its own index behind an `ArcSwap`: a reload builds the new index aside
//! and swaps it in one step, so worker threads never wait and never see half a feed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Deserialize;

use crate::feed::{FeedSpec, read_feed};
use crate::index::{Hit, IndicatorSet};
use crate::indicator::{Family, Meta, canonical_ip, normalize_domain, normalize_url};
use crate::json_scan::{
    PathSet, ScanError, Value, ValueKind, for_each_element, member_prefix, push_json_str, splice,
    strings,
};

/// The `threat_match` transform's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatMatchConfig {
    pub feeds: Vec<FeedSpec>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// Feeds are re-read at least this often even when their file looks unchanged.
    #[serde(default = "default_reload_interval")]
    pub reload_interval_secs: u64,
    /// One alert per (rule, observable) per window.
    #[serde(default = "default_window")]
    pub aggregation_window_secs: u64,
}

fn default_reload_interval() -> u64 {
    300
}

fn default_window() -> u64 {
    3600
}

/// A rule: which indicators raise its alerts, on which events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// An indicator is selected when it carries one of these tags; `"*"` selects all.
    pub tags: Vec<String>,
    #[serde(default)]
    pub severity: Severity,
    /// Event conditions: the dotted field must hold one of the listed values
    /// (e.g. `"event.dataset" = ["aws.vpcflow"]`); all conditions must hold.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The ECS `event.severity` number, on the scale Elastic's detection rules use.
    pub fn score(self) -> u8 {
        match self {
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }
}

/// A rule as the matcher applies it.
#[derive(Debug)]
pub struct Rule {
    pub name: Arc<str>,
    pub severity: Severity,
    /// `None` selects every indicator.
    tags: Option<Vec<Arc<str>>>,
    /// Index into the matcher's rule field paths, and the accepted values.
    fields: Vec<(usize, Vec<String>)>,
    matches: AtomicU64,
}

impl Rule {
    fn selects(&self, meta: &Meta) -> bool {
        self.tags
            .as_ref()
            .is_none_or(|tags| meta.tags.iter().any(|t| tags.contains(t)))
    }
}

/// What one event's enrichment found.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum MatchOutcome {
    /// Nothing matched: the event passes unchanged and `out` was not written.
    #[default]
    NoMatch,
    /// `out` holds the enriched event; `hits` the rules it raises, one per (rule, observable).
    Enriched {
        enrichments: usize,
        hits: Vec<RuleHit>,
    },
}

/// A rule raised by an event's observable; the alert aggregator's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    pub rule: usize,
    pub rule_name: Arc<str>,
    pub severity: Severity,
    /// The event's field and its value (normalized) that matched.
    pub field: &'static str,
    pub observable: String,
    /// The first matching indicator, as the ECS `indicator` object of the enrichment.
    pub indicator_json: String,
}

/// The observable fields read from every event, with how their values are looked up.
/// Specific fields come first so that a value also listed in `related.*` is reported
/// under its specific field.
const FIELDS: &[(&str, Family)] = &[
    ("source.ip", Family::Ip),
    ("destination.ip", Family::Ip),
    ("client.ip", Family::Ip),
    ("server.ip", Family::Ip),
    ("source.domain", Family::Domain),
    ("destination.domain", Family::Domain),
    ("url.domain", Family::Domain),
    ("dns.question.name", Family::Domain),
    ("url.full", Family::Url),
    ("file.hash.md5", Family::Hash),
    ("file.hash.sha1", Family::Hash),
    ("file.hash.sha256", Family::Hash),
    ("file.hash.sha384", Family::Hash),
    ("file.hash.sha512", Family::Hash),
    ("related.ip", Family::Ip),
    ("related.hosts", Family::Domain),
    ("related.hash", Family::Hash),
];
const THREAT: usize = FIELDS.len();
const THREAT_ENRICHMENTS: usize = FIELDS.len() + 1;

/// The per-feed numbers exposed to the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    pub name: String,
    /// Loaded indicators per family (`ip`, `cidr`, `domain`, `url`, `hash`).
    pub loaded: Vec<(&'static str, u64)>,
    pub inactive: u64,
    pub unsupported: u64,
    pub reloads: u64,
    pub reload_failures: u64,
    pub last_error: Option<String>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatMetrics {
    pub feeds: Vec<FeedStatus>,
    pub events_matched: u64,
    pub enrichments: u64,
    pub malformed_events: u64,
    /// Matches per rule, in configuration order.
    pub rule_matches: Vec<(String, u64)>,
}

/// What a reload did to one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Unchanged,
    Reloaded {
        indicators: usize,
    },
    /// The feed keeps its previous indicators.
    Failed {
        error: String,
    },
}

struct Feed {
    spec: FeedSpec,
    state: Mutex<FeedState>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

struct FeedState {
    /// The file's modification time and length when last read (successfully or not).
    stamp: Option<(SystemTime, u64)>,
    read_at: i64,
    inactive: u64,
    unsupported: Vec<String>,
    last_error: Option<String>,
}

pub struct ThreatMatcher {
    feeds: Vec<Feed>,
    /// Every feed's index, in feed order, swapped as a whole: one atomic load per event.
    sets: ArcSwap<Vec<Arc<IndicatorSet>>>,
    rules: Vec<Rule>,
    rule_paths: PathSet,
    paths: PathSet,
    reload_interval: i64,
    events_matched: AtomicU64,
    enrichments: AtomicU64,
    malformed: AtomicU64,
}

fn file_stamp(spec: &FeedSpec) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(&spec.path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl ThreatMatcher {
    /// Loads every feed; any feed that cannot be read fails the load (there is no previous
    /// set to keep). STIX indicators outside the supported subset are listed in the
    /// feed's status, not fatal. `now` (Unix seconds) drops already expired indicators.
    pub fn load(config: &ThreatMatchConfig, now: i64) -> Result<ThreatMatcher, String> {
        let mut rule_field_names: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        for spec in &config.rules {
            if spec.tags.is_empty() {
                return Err(format!(
                    "rule {:?}: no tags (use [\"*\"] for every indicator)",
                    spec.name
                ));
            }
            let tags = (!spec.tags.iter().any(|t| t == "*"))
                .then(|| spec.tags.iter().map(|t| Arc::from(t.as_str())).collect());
            let fields = spec
                .fields
                .iter()
                .map(|(path, values)| {
                    let at = rule_field_names
                        .iter()
                        .position(|p| p == path)
                        .unwrap_or_else(|| {
                            rule_field_names.push(path.clone());
                            rule_field_names.len() - 1
                        });
                    (at, values.clone())
                })
                .collect();
            rules.push(Rule {
                name: spec.name.as_str().into(),
                severity: spec.severity,
                tags,
                fields,
                matches: AtomicU64::new(0),
            });
        }
        let mut feeds = Vec::new();
        let mut sets = Vec::new();
        for spec in &config.feeds {
            let stamp = file_stamp(spec);
            let content = read_feed(spec, now)?;
            sets.push(Arc::new(content.set));
            feeds.push(Feed {
                spec: spec.clone(),
                state: Mutex::new(FeedState {
                    stamp,
                    read_at: now,
                    inactive: content.inactive,
                    unsupported: content.unsupported,
                    last_error: None,
                }),
                reloads: AtomicU64::new(0),
                reload_failures: AtomicU64::new(0),
            });
        }
        let mut paths: Vec<&str> = FIELDS.iter().map(|(p, _)| *p).collect();
        paths.extend(["threat", "threat.enrichments"]);
        Ok(ThreatMatcher {
            feeds,
            sets: ArcSwap::from_pointee(sets),
            rules,
            rule_paths: PathSet::new(&rule_field_names),
            paths: PathSet::new(&paths),
            reload_interval: config.reload_interval_secs.max(1) as i64,
            events_matched: AtomicU64::new(0),
            enrichments: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Re-reads each feed whose file changed (modification time or length) or that was
    /// last read `reload_interval_secs` ago. A feed that fails keeps its indicators; the
    /// failure is counted and kept as the feed's `last_error` until a read succeeds.
    /// Cheap when nothing changed (one `stat` per feed): call it every few seconds.
    pub fn reload_if_changed(&self, now: i64) -> Vec<ReloadOutcome> {
        self.feeds
            .iter()
            .enumerate()
            .map(|(at, feed)| self.reload_feed(at, feed, now))
            .collect()
    }

    fn reload_feed(&self, at: usize, feed: &Feed, now: i64) -> ReloadOutcome {
        let mut state = feed.state.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = file_stamp(&feed.spec);
        if stamp.is_some() && stamp == state.stamp && now - state.read_at < self.reload_interval {
            return ReloadOutcome::Unchanged;
        }
        state.stamp = stamp;
        state.read_at = now;
        match read_feed(&feed.spec, now) {
            Ok(content) => {
                let indicators = content.set.len();
                let set = Arc::new(content.set);
                // Feeds reload one at a time (this feed's lock is held): the other
                // entries are the current ones.
                self.sets.rcu(|sets| {
                    let mut sets = Vec::clone(sets);
                    sets[at] = set.clone();
                    sets
                });
                state.inactive = content.inactive;
                state.unsupported = content.unsupported;
                state.last_error = None;
                feed.reloads.fetch_add(1, Relaxed);
                ReloadOutcome::Reloaded { indicators }
            }
            Err(error) => {
                feed.reload_failures.fetch_add(1, Relaxed);
                state.last_error = Some(error.clone());
                ReloadOutcome::Failed { error }
            }
        }
    }

    pub fn metrics(&self) -> ThreatMetrics {
        ThreatMetrics {
            feeds: self
                .feeds
                .iter()
                .zip(self.sets.load().iter())
                .map(|(feed, index)| {
                    let state = feed.state.lock().unwrap_or_else(|e| e.into_inner());
                    FeedStatus {
                        name: feed.spec.display_name(),
                        loaded: Family::ALL
                            .iter()
                            .map(|f| (f.name(), index.count(*f)))
                            .collect(),
                        inactive: state.inactive,
                        unsupported: state.unsupported.len() as u64,
                        reloads: feed.reloads.load(Relaxed),
                        reload_failures: feed.reload_failures.load(Relaxed),
                        last_error: state.last_error.clone(),
                    }
                })
                .collect(),
            events_matched: self.events_matched.load(Relaxed),
            enrichments: self.enrichments.load(Relaxed),
            malformed_events: self.malformed.load(Relaxed),
            rule_matches: self
                .rules
                .iter()
                .map(|r| (r.name.to_string(), r.matches.load(Relaxed)))
                .collect(),
        }
    }

    /// The STIX indicators of a feed left out because their pattern is not supported,
    /// each naming the indicator and why.
    pub fn unsupported(&self, feed: usize) -> Vec<String> {
        self.feeds.get(feed).map_or_else(Vec::new, |f| {
            f.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unsupported
                .clone()
        })
    }

    /// Looks up `event`'s observables at time `now` (Unix seconds). On a match the enriched
    /// event is written to `out` (cleared first); otherwise `out` is left untouched and
    /// the caller passes `event` on. A malformed event is an error, the caller passes it
    /// on unchanged and reports it.
    pub fn enrich(
        &self,
        event: &[u8],
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<MatchOutcome, ScanError> {
        let indexes = self.sets.load();
        let mut found: Vec<Found> = Vec::new();
        let mut threat: Option<Value> = None;
        let mut threat_enrichments: Option<Value> = None;
        let mut looked_up = SeenIps::default();
        let scanned = self.paths.scan(event, &mut |path, value| {
            match path {
                THREAT => threat = Some(value),
                THREAT_ENRICHMENTS => threat_enrichments = Some(value),
                _ => lookup(
                    &indexes,
                    path,
                    event,
                    value,
                    now,
                    &mut looked_up,
                    &mut found,
                ),
            };
        });
        if let Err(e) = scanned {
            self.malformed.fetch_add(1, Relaxed);
            return Err(e);
        }
        if found.is_empty() {
            return Ok(MatchOutcome::NoMatch);
        }
        // The same value under a specific field and under `related.*` is one match.
        let mut seen: Vec<(usize, u32, String)> = Vec::new();
        found.retain(|f| {
            let key = (f.feed, f.indicator, f.atomic.clone());
            let new = !seen.contains(&key);
            if new {
                seen.push(key);
            }
            new
        });

        let occurred = rfc3339(now);
        let mut elements = Vec::with_capacity(256 * found.len());
        let mut hits: Vec<RuleHit> = Vec::new();
        let rule_values = self.rule_field_values(event);
        for f in &found {
            let meta = &indexes[f.feed]
                .chain(f.indicator)
                .next()
                .expect("a found indicator exists")
                .1;
            let indicator = indicator_json(&f.value, meta);
            if !elements.is_empty() {
                elements.push(b',');
            }
            elements.extend_from_slice(b"{\"indicator\":");
            elements.extend_from_slice(indicator.as_bytes());
            elements.extend_from_slice(b",\"matched\":{\"atomic\":");
            push_json_str(&mut elements, &f.atomic);
            elements.extend_from_slice(b",\"field\":");
            push_json_str(&mut elements, FIELDS[f.path].0);
            if let Some(id) = &meta.id {
                elements.extend_from_slice(b",\"id\":");
                push_json_str(&mut elements, &id.to_string());
            }
            elements.extend_from_slice(b",\"index\":");
            push_json_str(&mut elements, &meta.feed);
            elements.extend_from_slice(b",\"occurred\":");
            push_json_str(&mut elements, &occurred);
            elements.extend_from_slice(b",\"type\":\"indicator_match_rule\"}}");
            for (r, rule) in self.rules.iter().enumerate() {
                if !rule.selects(meta) || !rule_conditions_hold(rule, &rule_values) {
                    continue;
                }
                if hits.iter().any(|h| h.rule == r && h.observable == f.atomic) {
                    continue;
                }
                rule.matches.fetch_add(1, Relaxed);
                hits.push(RuleHit {
                    rule: r,
                    rule_name: rule.name.clone(),
                    severity: rule.severity,
                    field: FIELDS[f.path].0,
                    observable: f.atomic.clone(),
                    indicator_json: indicator.clone(),
                });
            }
        }

        // Splice the elements where they belong: into an existing `threat.enrichments`
        // array, into an existing `threat` object, or as a new top-level `threat`.
        let mut insert = Vec::with_capacity(elements.len() + 40);
        let at = match (threat_enrichments, threat) {
            (Some(array), _) if array.kind == ValueKind::Array => {
                let close = array.end - 1;
                if member_prefix(event, close) == b","
                    && event[..close]
                        .iter()
                        .rev()
                        .find(|c| !c.is_ascii_whitespace())
                        != Some(&b'[')
                {
                    insert.push(b',');
                }
                insert.extend_from_slice(&elements);
                close
            }
            (None, Some(object)) if object.kind == ValueKind::Object => {
                let close = object.end - 1;
                insert.extend_from_slice(member_prefix(event, close));
                insert.extend_from_slice(b"\"enrichments\":[");
                insert.extend_from_slice(&elements);
                insert.push(b']');
                close
            }
            (None, None) => {
                let close = event
                    .iter()
                    .rposition(|c| *c == b'}')
                    .expect("a scanned object ends with '}'");
                insert.extend_from_slice(member_prefix(event, close));
                insert.extend_from_slice(b"\"threat\":{\"enrichments\":[");
                insert.extend_from_slice(&elements);
                insert.extend_from_slice(b"]}");
                close
            }
            // `threat` or `threat.enrichments` of another JSON type: an event of another
            // schema, which the enrichment must not overwrite.
            _ => {
                return Err(ScanError {
                    offset: threat_enrichments.or(threat).map_or(0, |v| v.start),
                    what: "threat or threat.enrichments is not an object/array",
                });
            }
        };
        splice(event, &[(at, &insert)], out);
        self.events_matched.fetch_add(1, Relaxed);
        self.enrichments.fetch_add(found.len() as u64, Relaxed);
        Ok(MatchOutcome::Enriched {
            enrichments: found.len(),
            hits,
        })
    }

    /// The values of the fields the rules test, read only from matching events.
    fn rule_field_values(&self, event: &[u8]) -> Vec<Vec<String>> {
        let mut values = vec![Vec::new(); self.rule_paths.len()];
        if self.rule_paths.is_empty() {
            return values;
        }
        let _ = self.rule_paths.scan(event, &mut |path, value| {
            values[path] = match value.kind {
                ValueKind::Scalar => {
                    vec![String::from_utf8_lossy(&event[value.start..value.end]).into_owned()]
                }
                _ => strings(event, value)
                    .into_iter()
                    .map(|s| s.into_owned())
                    .collect(),
            };
        });
        values
    }
}

fn rule_conditions_hold(rule: &Rule, values: &[Vec<String>]) -> bool {
    rule.fields
        .iter()
        .all(|(path, accepted)| values[*path].iter().any(|v| accepted.contains(v)))
}

/// One match before deduplication.
struct Found {
    path: usize,
    feed: usize,
    indicator: u32,
    atomic: String,
    value: IndicatorValue,
}

/// The indicator's own value (for a range or a parent domain, not the event's).
#[derive(Debug, Clone)]
enum IndicatorValue {
    Ip(IpAddr),
    Cidr(ipnet::IpNet),
    Domain(String),
    Url(String),
    Hash(&'static str, String),
}

/// The addresses already looked up in this event: `related.ip` repeats `source.ip` and
/// `destination.ip`, and a repeated lookup would only find what deduplication drops.
#[derive(Default)]
struct SeenIps {
    ips: [Option<IpAddr>; 8],
    len: usize,
}

impl SeenIps {
    /// Records `ip`; false when it was already there.
    fn first_time(&mut self, ip: IpAddr) -> bool {
        if self.ips[..self.len].contains(&Some(ip)) {
            return false;
        }
        if self.len < self.ips.len() {
            self.ips[self.len] = Some(ip);
            self.len += 1;
        }
        true
    }
}

fn lookup(
    indexes: &[Arc<IndicatorSet>],
    path: usize,
    event: &[u8],
    value: Value,
    now: i64,
    looked_up: &mut SeenIps,
    found: &mut Vec<Found>,
) {
    let family = FIELDS[path].1;
    if family == Family::Ip {
        // The usual shapes: a dotted IPv4 address, or an array of them, read without copies.
        let mut all_v4 = true;
        let mut one = |element: Value| {
            match element.kind {
                ValueKind::String { escaped: false } => {
                    match parse_v4(&event[element.start + 1..element.end - 1]) {
                        Some(v4) => lookup_one_ip(
                            indexes,
                            path,
                            IpAddr::V4(v4.into()),
                            now,
                            looked_up,
                            found,
                        ),
                        None => all_v4 = false,
                    }
                }
                _ => all_v4 = false,
            };
        };
        match value.kind {
            ValueKind::Array => for_each_element(event, value, &mut one),
            _ => one(value),
        }
        if all_v4 {
            return;
        }
    }
    // Fast path: a single unescaped string, the usual shape of these fields.
    let single;
    let many;
    let texts: &[std::borrow::Cow<str>] = match value.kind {
        ValueKind::String { escaped: false } => {
            single = [std::borrow::Cow::Borrowed(
                std::str::from_utf8(&event[value.start + 1..value.end - 1]).unwrap_or(""),
            )];
            &single
        }
        _ => {
            many = strings(event, value);
            &many
        }
    };
    for text in texts {
        let mut record =
            |feed: usize, set: &IndicatorSet, hit: Hit<'_>, first: u32, atomic: &str| {
                for (id, meta) in set.chain(first) {
                    if !meta.valid_at(now) {
                        continue;
                    }
                    let value = match hit {
                        Hit::Ip(ip) => IndicatorValue::Ip(ip),
                        Hit::Cidr(net) => IndicatorValue::Cidr(net),
                        Hit::Domain(d) => IndicatorValue::Domain(d.to_string()),
                        Hit::Url(u) => IndicatorValue::Url(u.to_string()),
                        Hit::Hash { algorithm, value } => {
                            IndicatorValue::Hash(algorithm, value.to_string())
                        }
                    };
                    found.push(Found {
                        path,
                        feed,
                        indicator: id,
                        atomic: atomic.to_string(),
                        value,
                    });
                }
            };
        match family {
            Family::Ip | Family::Cidr => {
                if let Some(ip) = parse_ip(text) {
                    lookup_one_ip(indexes, path, ip, now, looked_up, found);
                }
            }
            Family::Domain => {
                if !indexes.iter().any(|s| s.has(Family::Domain)) {
                    continue;
                }
                let Some(name) = normalize_event_domain(text) else {
                    continue;
                };
                for (feed, set) in indexes.iter().enumerate() {
                    set.lookup_domain(&name, &mut |hit, first| {
                        record(feed, set, hit, first, &name)
                    });
                }
            }
            Family::Url => {
                if !indexes.iter().any(|s| s.has(Family::Url)) {
                    continue;
                }
                let Some(url) = normalize_url(text) else {
                    continue;
                };
                for (feed, set) in indexes.iter().enumerate() {
                    set.lookup_url(&url, &mut |hit, first| record(feed, set, hit, first, &url));
                }
            }
            Family::Hash => {
                if !indexes.iter().any(|s| s.has(Family::Hash)) {
                    continue;
                }
                let hex = text.trim().to_ascii_lowercase();
                for (feed, set) in indexes.iter().enumerate() {
                    set.lookup_hash(&hex, &mut |hit, first| record(feed, set, hit, first, &hex));
                }
            }
        }
    }
}

fn lookup_one_ip(
    indexes: &[Arc<IndicatorSet>],
    path: usize,
    ip: IpAddr,
    now: i64,
    looked_up: &mut SeenIps,
    found: &mut Vec<Found>,
) {
    if !looked_up.first_time(ip) {
        return;
    }
    let atomic = std::cell::OnceCell::new();
    for (feed, set) in indexes.iter().enumerate() {
        set.lookup_ip(ip, &mut |hit, first| {
            for (id, meta) in set.chain(first) {
                if !meta.valid_at(now) {
                    continue;
                }
                let value = match hit {
                    Hit::Cidr(net) => IndicatorValue::Cidr(net),
                    _ => IndicatorValue::Ip(ip),
                };
                let atomic = atomic.get_or_init(|| ip.to_string()).clone();
                found.push(Found {
                    path,
                    feed,
                    indicator: id,
                    atomic,
                    value,
                });
            }
        });
    }
}

/// An event's domain, normalized like indicators; borrowed when already normal.
fn normalize_event_domain(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    let plain = !text.is_empty()
        && !text.ends_with('.')
        && text.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.' || c == b'_'
        });
    if plain {
        Some(std::borrow::Cow::Borrowed(text))
    } else {
        normalize_domain(text).map(|d| std::borrow::Cow::Owned(d.into_string()))
    }
}

/// Parses an event's address; dotted IPv4 by hand, the common case, IPv6 by the standard
/// library. IPv4-mapped IPv6 is its IPv4 address, as for indicators.
fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_v4(text.as_bytes()) {
        return Some(IpAddr::V4(v4.into()));
    }
    text.parse::<IpAddr>().ok().map(canonical_ip)
}

#[inline]
pub(crate) fn parse_v4(text: &[u8]) -> Option<u32> {
    let mut out = 0u32;
    let mut octets = 0;
    let mut value = 0u32;
    let mut digits = 0;
    for &c in text {
        match c {
            b'0'..=b'9' => {
                // No leading zeros, as the standard library's parser.
                if digits == 1 && value == 0 {
                    return None;
                }
                value = value * 10 + (c - b'0') as u32;
                digits += 1;
                if value > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && octets < 3 => {
                out = out << 8 | value;
                octets += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    (octets == 3 && digits > 0).then_some(out << 8 | value)
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The ECS `indicator` object of an enrichment. The tags have no ECS field and are given
/// as `indicator.tags`.
fn indicator_json(value: &IndicatorValue, meta: &Meta) -> String {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"{\"type\":");
    let kind = match value {
        IndicatorValue::Ip(_) | IndicatorValue::Cidr(_) if ip_v6(value) => "ipv6-addr",
        IndicatorValue::Ip(_) | IndicatorValue::Cidr(_) => "ipv4-addr",
        IndicatorValue::Domain(_) => "domain-name",
        IndicatorValue::Url(_) => "url",
        IndicatorValue::Hash(..) => "file",
    };
    let name = value_text(value);
    push_json_str(&mut out, kind);
    out.extend_from_slice(b",\"name\":");
    push_json_str(&mut out, &name);
    match value {
        IndicatorValue::Ip(ip) => {
            out.extend_from_slice(b",\"ip\":");
            push_json_str(&mut out, &ip.to_string());
        }
        IndicatorValue::Cidr(_) => {}
        IndicatorValue::Domain(d) => {
            out.extend_from_slice(b",\"url\":{\"domain\":");
            push_json_str(&mut out, d);
            out.push(b'}');
        }
        IndicatorValue::Url(u) => {
            out.extend_from_slice(b",\"url\":{\"full\":");
            push_json_str(&mut out, u);
            out.push(b'}');
        }
        IndicatorValue::Hash(algorithm, hex) => {
            out.extend_from_slice(b",\"file\":{\"hash\":{");
            push_json_str(&mut out, algorithm);
            out.push(b':');
            push_json_str(&mut out, hex);
            out.extend_from_slice(b"}}");
        }
    }
    out.extend_from_slice(b",\"provider\":");
    push_json_str(&mut out, &meta.feed);
    if let Some(word) = meta.confidence_word() {
        out.extend_from_slice(b",\"confidence\":");
        push_json_str(&mut out, word);
    }
    if let Some(description) = &meta.name {
        out.extend_from_slice(b",\"description\":");
        push_json_str(&mut out, description);
    }
    if !meta.tags.is_empty() {
        out.extend_from_slice(b",\"tags\":[");
        for (i, tag) in meta.tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(&mut out, tag);
        }
        out.push(b']');
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON written from strings")
}

fn ip_v6(value: &IndicatorValue) -> bool {
    matches!(
        value,
        IndicatorValue::Ip(IpAddr::V6(_)) | IndicatorValue::Cidr(ipnet::IpNet::V6(_))
    )
}

fn value_text(value: &IndicatorValue) -> String {
    match value {
        IndicatorValue::Ip(ip) => ip.to_string(),
        IndicatorValue::Cidr(net) => net.to_string(),
        IndicatorValue::Domain(s) | IndicatorValue::Url(s) | IndicatorValue::Hash(_, s) => {
            s.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quads_parse_like_the_standard_library() {
        for text in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "",
            "a.b.c.d",
            "1.2.3.4 ",
        ] {
            assert_eq!(
                parse_v4(text.as_bytes()).map(std::net::Ipv4Addr::from),
                text.parse().ok(),
                "{text:?}"
            );
        }
    }
}
