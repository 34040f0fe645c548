//! Alerts: one per (rule, observable) per aggregation window, counting the events.
//!
//! The precise behaviour:
//! - The first hit of a (rule, observable) with no open window opens one at that time
//!   and emits the alert at once, `alert.status = "open"`, `alert.count = 1`, with the event.
//! - Further hits before `first_seen + window` only count and move `last_seen`.
//! - A window closes at the first hit at or after its end (which then opens the next
//!   window), on `flush_expired(now)` once `now` reaches its end, or on `flush_all()`.
//!   Closing emits the same alert again (same `alert.id`), `alert.status = "closed"`, with
//!   the final count and `last_seen`, but only when the count grew past 1: a single hit
//!   makes a single document.
//!
//! A sink that upserts by `alert.id` thus holds one alert per window with its final count.

use std::sync::Mutex;

use rustc_hash::FxHashMap;

use crate::json_scan::push_json_str;
use crate::matcher::RuleHit;

pub struct AlertAggregator {
    window: i64,
    open: Mutex<FxHashMap<(usize, String), Open>>,
}

struct Open {
    hit: RuleHit,
    first_seen: i64,
    last_seen: i64,
    count: u64,
    first_event: Box<[u8]>,
}

impl AlertAggregator {
    pub fn new(window_secs: u64) -> AlertAggregator {
        AlertAggregator {
            window: window_secs.max(1) as i64,
            open: Mutex::new(FxHashMap::default()),
        }
    }

    /// Counts `hits` of one `event` seen at `now` (Unix seconds); appends the alert
    /// documents to emit (one JSON object each) to `alerts`.
    pub fn observe(&self, hits: &[RuleHit], event: &[u8], now: i64, alerts: &mut Vec<Vec<u8>>) {
        if hits.is_empty() {
            return;
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for hit in hits {
            let key = (hit.rule, hit.observable.clone());
            if let Some(current) = open.get_mut(&key) {
                if now < current.first_seen + self.window {
                    current.count += 1;
                    current.last_seen = current.last_seen.max(now);
                    continue;
                }
                let closed = open.remove(&key).expect("present");
                if closed.count > 1 {
                    alerts.push(document(&closed, "closed"));
                }
            }
            let opened = Open {
                hit: hit.clone(),
                first_seen: now,
                last_seen: now,
                count: 1,
                first_event: event.into(),
            };
            alerts.push(document(&opened, "open"));
            open.insert(key, opened);
        }
    }

    /// Closes the windows that ended by `now`.
    pub fn flush_expired(&self, now: i64, alerts: &mut Vec<Vec<u8>>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.window;
        let mut ended: Vec<_> = open
            .extract_if(|_, o| now >= o.first_seen + window)
            .map(|(_, o)| o)
            .collect();
        ended.sort_by_key(|o| (o.first_seen, o.hit.rule));
        alerts.extend(
            ended
                .iter()
                .filter(|o| o.count > 1)
                .map(|o| document(o, "closed")),
        );
    }

    /// Closes every window (at shutdown, or at the end of an offline run).
    pub fn flush_all(&self, alerts: &mut Vec<Vec<u8>>) {
        self.flush_expired(i64::MAX / 2, alerts);
    }

    /// The number of open windows.
    pub fn open_windows(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A stable id for one window of one (rule, observable), so updates replace the alert.
fn alert_id(o: &Open) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    (&*o.hit.rule_name, &o.hit.observable, o.first_seen).hash(&mut h);
    format!("{:016x}-{}", h.finish(), o.first_seen)
}

fn document(o: &Open, status: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + o.first_event.len());
    out.extend_from_slice(b"{\"@timestamp\":");
    push_json_str(
        &mut out,
        &rfc3339(if status == "open" {
            o.first_seen
        } else {
            o.last_seen
        }),
    );
    out.extend_from_slice(b",\"event\":{\"kind\":\"alert\",\"severity\":");
    out.extend_from_slice(o.hit.severity.score().to_string().as_bytes());
    out.extend_from_slice(b"},\"rule\":{\"name\":");
    push_json_str(&mut out, &o.hit.rule_name);
    out.extend_from_slice(b"},\"alert\":{\"id\":");
    push_json_str(&mut out, &alert_id(o));
    out.extend_from_slice(b",\"status\":");
    push_json_str(&mut out, status);
    out.extend_from_slice(b",\"severity\":");
    push_json_str(&mut out, o.hit.severity.name());
    out.extend_from_slice(b",\"count\":");
    out.extend_from_slice(o.count.to_string().as_bytes());
    out.extend_from_slice(b",\"first_seen\":");
    push_json_str(&mut out, &rfc3339(o.first_seen));
    out.extend_from_slice(b",\"last_seen\":");
    push_json_str(&mut out, &rfc3339(o.last_seen));
    out.extend_from_slice(b"},\"observable\":{\"field\":");
    push_json_str(&mut out, o.hit.field);
    out.extend_from_slice(b",\"value\":");
    push_json_str(&mut out, &o.hit.observable);
    out.extend_from_slice(b"},\"threat\":{\"indicator\":");
    out.extend_from_slice(o.hit.indicator_json.as_bytes());
    out.extend_from_slice(b"},\"first_event\":");
    out.extend_from_slice(&o.first_event);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Severity;

    fn hit(rule: usize, observable: &str) -> RuleHit {
        RuleHit {
            rule,
            rule_name: format!("rule {rule}").into(),
            severity: Severity::High,
            field: "destination.ip",
            observable: observable.into(),
            indicator_json: "{\"type\":\"ipv4-addr\"}".into(),
        }
    }

    fn parsed(docs: &[Vec<u8>]) -> Vec<serde_json::Value> {
        docs.iter()
            .map(|d| serde_json::from_slice(d).unwrap())
            .collect()
    }

    #[test]
    fn many_hits_in_a_window_make_one_alert_with_their_count() {
        let agg = AlertAggregator::new(3600);
        let mut out = Vec::new();
        for i in 0..10_000 {
            agg.observe(
                &[hit(0, "198.51.100.7")],
                format!("{{\"n\":{i}}}").as_bytes(),
                1000 + i / 10,
                &mut out,
            );
        }
        let docs = parsed(&out);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["alert"]["status"], "open");
        assert_eq!(docs[0]["alert"]["count"], 1);
        assert_eq!(docs[0]["first_event"]["n"], 0);
        assert_eq!(docs[0]["event"]["severity"], 73);
        out.clear();
        agg.flush_all(&mut out);
        let closed = parsed(&out);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0]["alert"]["count"], 10_000);
        assert_eq!(closed[0]["alert"]["id"], docs[0]["alert"]["id"]);
        assert_eq!(closed[0]["alert"]["first_seen"], "1970-01-01T00:16:40Z");
        assert_eq!(closed[0]["alert"]["last_seen"], "1970-01-01T00:33:19Z");
        assert_eq!(agg.open_windows(), 0);
    }

    #[test]
    fn windows_rules_and_observables_are_separate() {
        let agg = AlertAggregator::new(60);
        let mut out = Vec::new();
        agg.observe(&[hit(0, "a"), hit(1, "a"), hit(0, "b")], b"{}", 0, &mut out);
        assert_eq!(out.len(), 3);
        agg.observe(&[hit(0, "a")], b"{}", 59, &mut out);
        assert_eq!(out.len(), 3);
        // At the window's end the next hit closes it (count 2) and opens a new alert.
        agg.observe(&[hit(0, "a")], b"{}", 60, &mut out);
        let docs = parsed(&out[3..]);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (
                docs[0]["alert"]["status"].as_str(),
                docs[0]["alert"]["count"].as_u64()
            ),
            (Some("closed"), Some(2))
        );
        assert_eq!(
            (
                docs[1]["alert"]["status"].as_str(),
                docs[1]["alert"]["count"].as_u64()
            ),
            (Some("open"), Some(1))
        );
        assert_ne!(docs[0]["alert"]["id"], docs[1]["alert"]["id"]);
        // Expiry closes windows without a new hit; single-hit windows close silently.
        out.clear();
        agg.flush_expired(119, &mut out);
        assert!(out.is_empty());
        assert_eq!(agg.open_windows(), 1);
        agg.flush_expired(120, &mut out);
        assert!(out.is_empty());
        assert_eq!(agg.open_windows(), 0);
    }
}
