//! Threat matching end to end through the crate's API: events normalized by the real
//! `aws-vpc-flow-logs` format, a generated STIX bundle and a list, planted matches.

use std::collections::BTreeSet;
use std::path::Path;

use intake_intel::{
    AlertAggregator, MatchOutcome, ReloadOutcome, ThreatMatchConfig, ThreatMatcher,
};
use serde_json::{Value, json};

/// 2026-12-05T00:00:00Z, the time the tests match at.
const NOW: i64 = 1_796_428_800;

fn vpc_events(lines: &[String]) -> Vec<Vec<u8>> {
    let format = intake_formats::builtin("aws-vpc-flow-logs").expect("built-in format");
    let now = chrono::Utc::now();
    lines
        .iter()
        .map(|line| {
            let mut out = Vec::new();
            format
                .parse_message_json(line, now, &mut out)
                .expect("a valid VPC line");
            out
        })
        .collect()
}

fn flow(src: &str, dst: &str, n: u32) -> String {
    format!(
        "2 123456789010 eni-0a1b2c3d4e5f60718 {src} {dst} {} 443 6 10 {} 1764892800 1764892860 ACCEPT OK",
        40000 + n % 20000,
        500 + n
    )
}

/// Background traffic that avoids the documentation ranges the indicators use.
fn background(count: u32) -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..count)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let public = format!(
                "{}.{}.{}.{}",
                11 + (state >> 8) % 180,
                (state >> 16) % 256,
                (state >> 24) % 256,
                1 + (state >> 32) % 254
            );
            let private = format!(
                "10.{}.{}.{}",
                (state >> 40) % 256,
                (state >> 48) % 256,
                1 + (state >> 56) % 254
            );
            if n % 2 == 0 {
                flow(&private, &public, n)
            } else {
                flow(&public, &private, n)
            }
        })
        .collect()
}

fn indicator(id: &str, pattern: &str, extra: Value) -> Value {
    let mut object = json!({
        "type": "indicator", "spec_version": "2.1", "id": id, "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "indicator_types": ["malicious-activity"], "confidence": 80,
    });
    object
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    object
}

fn bundle(objects: Vec<Value>) -> String {
    json!({"type": "bundle", "id": "bundle--5d0f7a9e-0000-4000-8000-000000000001", "objects": objects}).to_string()
}

fn planted_bundle() -> String {
    bundle(vec![
        json!({"type": "identity", "id": "identity--1", "name": "our CERT", "identity_class": "organization"}),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000001",
            "[ipv4-addr:value = '198.51.100.7']",
            json!({"name": "C2 server"}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000002",
            "[ipv4-addr:value ISSUBSET '203.0.113.0/24' OR ipv6-addr:value = '2001:DB8:BEEF:0::5']",
            json!({"labels": ["scanner"]}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000003",
            "[domain-name:value = 'Evil.Example']",
            json!({}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000004",
            "[ipv4-addr:value = '192.0.2.10']",
            json!({"valid_until": "2026-06-01T00:00:00Z"}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000005",
            "[ipv4-addr:value = '192.0.2.20']",
            json!({"revoked": true}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000006",
            "[ipv4-addr:value = '192.0.2.30']",
            json!({"valid_from": "2027-01-01T00:00:00Z"}),
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000007",
            "[process:name = 'x.exe']",
            json!({}),
        ),
    ])
}

fn config(dir: &Path, bundle: &str, list: &str) -> ThreatMatchConfig {
    std::fs::write(dir.join("bundle.json"), bundle).unwrap();
    std::fs::write(dir.join("tor-exits.txt"), list).unwrap();
    let text = format!(
        r#"
feeds = [
  {{ path = "{0}/bundle.json", format = "stix2" }},
  {{ path = "{0}/tor-exits.txt", format = "list", tags = ["tor"] }},
]
reload_interval_secs = 300
[[rules]]
name = "TOR usage"
tags = ["tor"]
severity = "medium"
[[rules]]
name = "Intelligence feed"
tags = ["*"]
severity = "high"
"#,
        dir.display()
    );
    toml::from_str(&text).expect("the documented configuration")
}

const TOR_LIST: &str = "# TOR exit nodes\n198.51.100.99\n100.64.7.0/28 # a small block\n";

struct Run {
    enriched: Vec<(usize, Value)>,
    alerts: Vec<Value>,
}

fn run(matcher: &ThreatMatcher, events: &[Vec<u8>], now: i64) -> Run {
    let aggregator = AlertAggregator::new(3600);
    let mut run = Run {
        enriched: Vec::new(),
        alerts: Vec::new(),
    };
    let mut out = Vec::new();
    let mut alerts = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match matcher
            .enrich(event, now, &mut out)
            .expect("well-formed event")
        {
            MatchOutcome::NoMatch => {}
            MatchOutcome::Enriched { hits, .. } => {
                run.enriched.push((
                    i,
                    serde_json::from_slice(&out).expect("enriched event is JSON"),
                ));
                aggregator.observe(&hits, &out, now, &mut alerts);
            }
        }
    }
    aggregator.flush_all(&mut alerts);
    run.alerts = alerts
        .iter()
        .map(|a| serde_json::from_slice(a).expect("alert is JSON"))
        .collect();
    run
}

fn matched(event: &Value) -> Vec<(String, String, String)> {
    event["threat"]["enrichments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["matched"]["field"].as_str().unwrap().to_string(),
                e["matched"]["atomic"].as_str().unwrap().to_string(),
                e["indicator"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn exactly_the_planted_events_are_enriched_and_alerted() {
    let dir = tempfile::tempdir().unwrap();
    let matcher =
        ThreatMatcher::load(&config(dir.path(), &planted_bundle(), TOR_LIST), NOW).unwrap();

    let mut lines = background(5000);
    let planted = [
        (100, flow("10.0.1.5", "198.51.100.7", 1)),
        (700, flow("203.0.113.45", "10.0.9.9", 2)),
        (1200, flow("2001:db8:beef::5", "2001:db8:1::1", 3)),
        (2000, flow("10.0.1.6", "198.51.100.99", 4)),
        (2500, flow("100.64.7.14", "10.0.1.7", 5)),
        // Expired, revoked and not yet valid indicators: these must not match.
        (3000, flow("10.0.1.8", "192.0.2.10", 6)),
        (3001, flow("10.0.1.8", "192.0.2.20", 7)),
        (3002, flow("10.0.1.8", "192.0.2.30", 8)),
        // Just outside the planted ranges.
        (3003, flow("100.64.7.16", "203.0.114.1", 9)),
    ];
    for (at, line) in &planted {
        lines.insert(*at, line.clone());
    }
    let mut events = vpc_events(&lines);
    // A resolver's event carrying a domain: the VPC format has none, so it is written
    // here in the shape a DNS format produces.
    events.push(
        br#"{"@timestamp":"2026-12-04T10:00:00Z","event":{"dataset":"dns"},"source":{"ip":"10.0.3.3"},"dns":{"question":{"name":"A.B.Evil.Example."}},"related":{"hosts":["a.b.evil.example"],"ip":["10.0.3.3"]}}"#
            .to_vec(),
    );

    let got = run(&matcher, &events, NOW);
    let enriched: BTreeSet<usize> = got.enriched.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        enriched,
        BTreeSet::from([100, 700, 1200, 2000, 2500, events.len() - 1])
    );

    let by_index = |i: usize| &got.enriched.iter().find(|(at, _)| *at == i).unwrap().1;
    assert_eq!(
        matched(by_index(100)),
        [(
            "destination.ip".into(),
            "198.51.100.7".into(),
            "198.51.100.7".into()
        )]
    );
    assert_eq!(
        matched(by_index(700)),
        [(
            "source.ip".into(),
            "203.0.113.45".into(),
            "203.0.113.0/24".into()
        )]
    );
    assert_eq!(
        matched(by_index(1200)),
        [(
            "source.ip".into(),
            "2001:db8:beef::5".into(),
            "2001:db8:beef::5".into()
        )]
    );
    assert_eq!(
        matched(by_index(2500)),
        [(
            "source.ip".into(),
            "100.64.7.14".into(),
            "100.64.7.0/28".into()
        )]
    );
    assert_eq!(
        matched(by_index(events.len() - 1)),
        [(
            "dns.question.name".into(),
            "a.b.evil.example".into(),
            "evil.example".into()
        )]
    );
    // The rest of the event is kept as it was.
    let original: Value = serde_json::from_slice(&events[100]).unwrap();
    let mut stripped = by_index(100).clone();
    stripped.as_object_mut().unwrap().remove("threat");
    assert_eq!(stripped, original);
    let e = &by_index(100)["threat"]["enrichments"][0];
    assert_eq!(e["indicator"]["type"], "ipv4-addr");
    assert_eq!(e["indicator"]["ip"], "198.51.100.7");
    assert_eq!(e["indicator"]["provider"], "bundle.json");
    assert_eq!(e["indicator"]["confidence"], "High");
    assert_eq!(e["indicator"]["description"], "C2 server");
    assert_eq!(e["indicator"]["tags"], json!(["malicious-activity"]));
    assert_eq!(
        e["matched"]["id"],
        "indicator--00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(e["matched"]["type"], "indicator_match_rule");
    let tor = &by_index(2000)["threat"]["enrichments"][0];
    assert_eq!(
        (
            tor["indicator"]["provider"].as_str(),
            tor["indicator"]["tags"].clone()
        ),
        (Some("tor-exits.txt"), json!(["tor"]))
    );
    assert_eq!(
        by_index(events.len() - 1)["threat"]["enrichments"][0]["indicator"]["url"]["domain"],
        "evil.example"
    );

    // Alerts: every planted observable once for the catch-all rule, the TOR ones also for
    // the TOR rule; single events, so no closing updates.
    let mut alerts: Vec<(String, String, u64)> = got
        .alerts
        .iter()
        .map(|a| {
            (
                a["rule"]["name"].as_str().unwrap().into(),
                a["observable"]["value"].as_str().unwrap().into(),
                a["alert"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    alerts.sort();
    assert_eq!(
        alerts,
        [
            ("Intelligence feed".into(), "100.64.7.14".into(), 1),
            ("Intelligence feed".into(), "198.51.100.7".into(), 1),
            ("Intelligence feed".into(), "198.51.100.99".into(), 1),
            ("Intelligence feed".into(), "2001:db8:beef::5".into(), 1),
            ("Intelligence feed".into(), "203.0.113.45".into(), 1),
            ("Intelligence feed".into(), "a.b.evil.example".into(), 1),
            ("TOR usage".into(), "100.64.7.14".into(), 1),
            ("TOR usage".into(), "198.51.100.99".into(), 1),
        ]
    );
    let tor_alert = got
        .alerts
        .iter()
        .find(|a| a["rule"]["name"] == "TOR usage")
        .unwrap();
    assert_eq!(tor_alert["alert"]["severity"], "medium");
    assert_eq!(
        tor_alert["first_event"]["destination"]["ip"],
        "198.51.100.99"
    );
    assert_eq!(tor_alert["threat"]["indicator"]["name"], "198.51.100.99");

    let metrics = matcher.metrics();
    assert_eq!(metrics.events_matched, 6);
    assert_eq!(
        metrics.rule_matches,
        [
            ("TOR usage".to_string(), 2),
            ("Intelligence feed".to_string(), 6)
        ]
    );
    let bundle = &metrics.feeds[0];
    assert_eq!(
        bundle.loaded,
        [
            ("ip", 3),
            ("cidr", 1),
            ("domain", 1),
            ("url", 0),
            ("hash", 0)
        ]
    );
    assert_eq!((bundle.inactive, bundle.unsupported), (2, 1));
    assert!(matcher.unsupported(0)[0].contains("indicator--00000000-0000-4000-8000-000000000007"));
}

#[test]
fn a_scan_of_many_flows_to_one_exit_makes_one_alert_with_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let matcher = ThreatMatcher::load(&config(dir.path(), &bundle(vec![]), TOR_LIST), NOW).unwrap();
    let lines: Vec<String> = (0..10_000)
        .map(|n| {
            flow(
                &format!("10.0.{}.{}", n / 250, 1 + n % 250),
                "198.51.100.99",
                n,
            )
        })
        .collect();
    let got = run(&matcher, &vpc_events(&lines), NOW);
    assert_eq!(got.enriched.len(), 10_000);
    let tor: Vec<_> = got
        .alerts
        .iter()
        .filter(|a| a["rule"]["name"] == "TOR usage")
        .collect();
    assert_eq!(tor.len(), 2, "the opening alert and its closing update");
    assert_eq!(tor[0]["alert"]["id"], tor[1]["alert"]["id"]);
    assert_eq!(
        (
            tor[0]["alert"]["count"].as_u64(),
            tor[1]["alert"]["count"].as_u64()
        ),
        (Some(1), Some(10_000))
    );
}

#[test]
fn a_replaced_feed_applies_to_later_events_and_a_broken_one_keeps_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    let matcher = ThreatMatcher::load(&config(dir.path(), &bundle(vec![]), TOR_LIST), NOW).unwrap();
    let events = vpc_events(&[
        flow("10.0.0.1", "198.51.100.99", 0),
        flow("10.0.0.1", "198.18.0.1", 1),
    ]);
    let hits = |now| -> Vec<bool> {
        let mut out = Vec::new();
        events
            .iter()
            .map(|e| matcher.enrich(e, now, &mut out).unwrap() != MatchOutcome::NoMatch)
            .collect()
    };
    assert_eq!(hits(NOW), [true, false]);
    assert_eq!(
        matcher.reload_if_changed(NOW + 1),
        [ReloadOutcome::Unchanged, ReloadOutcome::Unchanged]
    );

    std::fs::write(dir.path().join("tor-exits.txt"), "198.18.0.1\n").unwrap();
    assert_eq!(
        matcher.reload_if_changed(NOW + 2)[1],
        ReloadOutcome::Reloaded { indicators: 1 }
    );
    assert_eq!(hits(NOW + 2), [false, true]);

    std::fs::write(
        dir.path().join("tor-exits.txt"),
        "198.18.0.1\n198.51.100.99\nnot an indicator!\n",
    )
    .unwrap();
    let ReloadOutcome::Failed { error } = &matcher.reload_if_changed(NOW + 3)[1] else {
        panic!("a broken list must fail")
    };
    assert!(
        error.contains("tor-exits.txt") && error.contains("line 3"),
        "{error}"
    );
    assert_eq!(
        hits(NOW + 3),
        [false, true],
        "the previous set stays in effect"
    );
    let metrics = matcher.metrics();
    assert_eq!(
        (metrics.feeds[1].reloads, metrics.feeds[1].reload_failures),
        (1, 1)
    );
    assert!(
        metrics.feeds[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("line 3")
    );

    // A broken bundle too; then a good one heals the feed and clears the error.
    std::fs::write(
        dir.path().join("bundle.json"),
        "{\"type\":\"bundle\",\"objects\":[{\"type\":",
    )
    .unwrap();
    assert!(matches!(
        matcher.reload_if_changed(NOW + 4)[0],
        ReloadOutcome::Failed { .. }
    ));
    std::fs::write(dir.path().join("tor-exits.txt"), "198.51.100.99\n").unwrap();
    assert_eq!(
        matcher.reload_if_changed(NOW + 5)[1],
        ReloadOutcome::Reloaded { indicators: 1 }
    );
    assert_eq!(hits(NOW + 5), [true, false]);
    assert_eq!(matcher.metrics().feeds[1].last_error, None);
}

#[test]
fn a_feed_is_reread_after_the_interval_even_when_it_looks_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let matcher = ThreatMatcher::load(&config(dir.path(), &bundle(vec![]), TOR_LIST), NOW).unwrap();
    assert_eq!(
        matcher.reload_if_changed(NOW + 299)[1],
        ReloadOutcome::Unchanged
    );
    assert_eq!(
        matcher.reload_if_changed(NOW + 300)[1],
        ReloadOutcome::Reloaded { indicators: 2 }
    );
}

#[test]
fn an_indicator_expiring_during_the_run_stops_matching() {
    let dir = tempfile::tempdir().unwrap();
    let expiring = bundle(vec![indicator(
        "indicator--00000000-0000-4000-8000-00000000000a",
        "[ipv4-addr:value = '198.51.100.50']",
        json!({"valid_until": "2026-12-05T01:00:00Z"}),
    )]);
    let matcher = ThreatMatcher::load(&config(dir.path(), &expiring, ""), NOW).unwrap();
    let event = &vpc_events(&[flow("10.0.0.1", "198.51.100.50", 0)])[0];
    let mut out = Vec::new();
    assert_ne!(
        matcher.enrich(event, NOW + 3599, &mut out).unwrap(),
        MatchOutcome::NoMatch
    );
    assert_eq!(
        matcher.enrich(event, NOW + 3600, &mut out).unwrap(),
        MatchOutcome::NoMatch
    );
}

#[test]
fn enrichments_join_an_existing_threat_object_or_array() {
    let dir = tempfile::tempdir().unwrap();
    let matcher = ThreatMatcher::load(&config(dir.path(), &bundle(vec![]), TOR_LIST), NOW).unwrap();
    let mut out = Vec::new();
    let cases = [
        (
            r#"{"source":{"ip":"198.51.100.99"},"threat":{"framework":"MITRE ATT&CK"}}"#,
            1,
            Some("MITRE ATT&CK"),
        ),
        (
            r#"{"source":{"ip":"198.51.100.99"},"threat":{"enrichments":[{"matched":{"atomic":"x"}}]}}"#,
            2,
            None,
        ),
        (
            r#"{"source":{"ip":"198.51.100.99"},"threat":{"enrichments":[]}}"#,
            1,
            None,
        ),
        (r#"{"threat":{},"source":{"ip":"198.51.100.99"}}"#, 1, None),
    ];
    for (event, count, framework) in cases {
        matcher.enrich(event.as_bytes(), NOW, &mut out).unwrap();
        let got: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{event}: {e}: {}", String::from_utf8_lossy(&out)));
        assert_eq!(
            got["threat"]["enrichments"].as_array().unwrap().len(),
            count,
            "{event}"
        );
        assert_eq!(got["threat"]["framework"].as_str(), framework);
    }
    let e = matcher
        .enrich(
            br#"{"source":{"ip":"198.51.100.99"},"threat":"x"}"#,
            NOW,
            &mut out,
        )
        .unwrap_err();
    assert!(e.to_string().contains("threat"), "{e}");
    let e = matcher
        .enrich(br#"{"source":{"ip":"198.51.100.99"}"#, NOW, &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("byte"), "{e}");
    assert_eq!(matcher.metrics().malformed_events, 1);
}

#[test]
fn rules_can_require_event_fields_and_hashes_and_urls_match() {
    let dir = tempfile::tempdir().unwrap();
    let objects = vec![
        indicator(
            "indicator--h",
            "[file:hashes.'SHA-256' = 'AA11BB22CC33DD44EE55FF6600112233445566778899AABBCCDDEEFF00112233']",
            json!({}),
        ),
        indicator(
            "indicator--u",
            "[url:value = 'http://Evil.Example/drop.bin']",
            json!({}),
        ),
    ];
    std::fs::write(dir.path().join("b.json"), bundle(objects)).unwrap();
    let config: ThreatMatchConfig = toml::from_str(&format!(
        r#"
feeds = [{{ path = "{}/b.json", format = "stix2", name = "cert" }}]
[[rules]]
name = "Known malware on endpoints"
tags = ["malicious-activity"]
severity = "critical"
fields = {{ "event.dataset" = ["edr"] }}
"#,
        dir.path().display()
    ))
    .unwrap();
    let matcher = ThreatMatcher::load(&config, NOW).unwrap();
    let mut out = Vec::new();
    let hash = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    let edr = format!(
        r#"{{"event":{{"dataset":"edr"}},"file":{{"hash":{{"sha256":"{}"}}}},"related":{{"hash":["{hash}"]}}}}"#,
        hash.to_uppercase()
    );
    let MatchOutcome::Enriched { enrichments, hits } =
        matcher.enrich(edr.as_bytes(), NOW, &mut out).unwrap()
    else {
        panic!()
    };
    assert_eq!((enrichments, hits.len()), (1, 1));
    let got: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        got["threat"]["enrichments"][0]["indicator"]["file"]["hash"]["sha256"],
        hash
    );
    assert_eq!(
        got["threat"]["enrichments"][0]["indicator"]["provider"],
        "cert"
    );
    let proxy = r#"{"event":{"dataset":"proxy"},"url":{"full":"HTTP://evil.example/drop.bin"}}"#;
    let MatchOutcome::Enriched { hits, .. } =
        matcher.enrich(proxy.as_bytes(), NOW, &mut out).unwrap()
    else {
        panic!()
    };
    assert!(hits.is_empty(), "the rule wants event.dataset = edr");
    assert_eq!(
        matcher
            .enrich(
                br#"{"url":{"full":"http://evil.example/other"}}"#,
                NOW,
                &mut out
            )
            .unwrap(),
        MatchOutcome::NoMatch
    );
}

#[test]
fn configuration_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = toml::from_str::<ThreatMatchConfig>(&format!(
        "feeds = [{{ path = \"{}/none.txt\", format = \"list\" }}]",
        dir.path().display()
    ))
    .unwrap();
    let e = ThreatMatcher::load(&missing, NOW).err().unwrap();
    assert!(e.contains("none.txt"), "{e}");
    assert!(toml::from_str::<ThreatMatchConfig>("feeds = []\nbogus = 1").is_err());
    assert!(
        toml::from_str::<ThreatMatchConfig>("feeds = [{ path = \"x\", format = \"csv\" }]")
            .is_err()
    );
    let no_tags =
        toml::from_str::<ThreatMatchConfig>("feeds = []\n[[rules]]\nname = \"r\"\ntags = []")
            .unwrap();
    assert!(
        ThreatMatcher::load(&no_tags, NOW)
            .err()
            .unwrap()
            .contains("rule \"r\"")
    );
    let not_bundle = dir.path().join("x.json");
    std::fs::write(&not_bundle, "[1,2]").unwrap();
    let config = toml::from_str::<ThreatMatchConfig>(&format!(
        "feeds = [{{ path = \"{}\", format = \"stix2\" }}]",
        not_bundle.display()
    ))
    .unwrap();
    let e = ThreatMatcher::load(&config, NOW).err().unwrap();
    assert!(
        e.contains("x.json") && e.contains("not a STIX bundle"),
        "{e}"
    );
}

#[test]
fn workers_share_the_matcher_while_a_feed_is_swapped() {
    fn shared<T: Send + Sync>() {}
    shared::<ThreatMatcher>();
    shared::<AlertAggregator>();
    shared::<intake_intel::GeoIp>();

    let dir = tempfile::tempdir().unwrap();
    let matcher = std::sync::Arc::new(ThreatMatcher::load(&config(dir.path(), &bundle(vec![]), "198.51.100.99\n"), NOW).unwrap());
    // Both addresses in one event: one enrich call sees one set, whole.
    let event = std::sync::Arc::new(vpc_events(&[flow("198.51.100.99", "198.18.0.1", 0)]).remove(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (matcher, event, stop) = (matcher.clone(), event.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let mut seen = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Each set in effect holds exactly one of the two addresses: never both, never none.
                    let MatchOutcome::Enriched { enrichments, .. } = matcher.enrich(&event, NOW, &mut out).unwrap() else {
                        panic!("no set in effect")
                    };
                    assert_eq!(enrichments, 1);
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for round in 0..20u32 {
        let list = if round % 2 == 0 { "198.18.0.1\n" } else { "198.51.100.99\n" };
        std::fs::write(dir.path().join("tor-exits.txt"), format!("# round {round}\n{list}")).unwrap();
        assert!(matches!(matcher.reload_if_changed(NOW)[1], ReloadOutcome::Reloaded { .. }));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        assert!(worker.join().expect("no worker panicked") > 0);
    }
}
