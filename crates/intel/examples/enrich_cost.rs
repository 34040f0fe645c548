//! The cost of enrichment against the cost of normalization, on one thread: raw lines
//! are normalized by a built-in format in chunks, and each chunk is then enriched; both
//! are timed separately (this thread's CPU time). With `--load-only`, loads the feeds and exits (for measuring
//! load time and peak RSS with `/usr/bin/time -v`).
//!
//!     cargo run --release -p intake-intel --example enrich_cost -- \
//!         --format aws-vpc-flow-logs --lines vpc.log \
//!         --list ips.txt:tor --list cidrs.txt --list domains.txt [--stix bundle.json] \
//!         [--geoip-city City.mmdb --geoip-asn ASN.mmdb]

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// This thread's CPU time: the machine is shared, so wall time would count other work.
fn cpu_now() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

use intake_intel::geoip::{GeoIp, GeoIpConfig};
use intake_intel::{
    AlertAggregator, FeedFormat, FeedSpec, MatchOutcome, ThreatMatchConfig, ThreatMatcher, unix_now,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut format, mut lines, mut feeds, mut load_only) = (None, None, Vec::new(), false);
    let mut geo = GeoIpConfig::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--format" => format = Some(value()),
            "--lines" => lines = Some(PathBuf::from(value())),
            "--stix" => feeds.push(FeedSpec {
                path: value().into(),
                format: FeedFormat::Stix2,
                tags: vec![],
                name: None,
            }),
            "--list" => {
                let v = value();
                let (path, tags) = v
                    .split_once(':')
                    .map_or((v.as_str(), None), |(p, t)| (p, Some(t)));
                feeds.push(FeedSpec {
                    path: path.into(),
                    format: FeedFormat::List,
                    tags: tags.map(|t| vec![t.to_string()]).unwrap_or_default(),
                    name: None,
                });
            }
            "--geoip-city" => geo.city = Some(value().into()),
            "--geoip-asn" => geo.asn = Some(value().into()),
            "--load-only" => load_only = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let now = unix_now();
    let matcher = (!feeds.is_empty()).then(|| {
        let config: ThreatMatchConfig =
            toml::from_str("feeds = []\n[[rules]]\nname = \"all\"\ntags = [\"*\"]").unwrap();
        let config = ThreatMatchConfig { feeds, ..config };
        let start = Instant::now();
        let matcher = ThreatMatcher::load(&config, now).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "loaded in {:.2}s: {:?}",
            start.elapsed().as_secs_f64(),
            matcher.metrics().feeds
        );
        matcher
    });
    let geoip = (geo.city.is_some() || geo.asn.is_some())
        .then(|| GeoIp::open(&geo).unwrap_or_else(|e| panic!("{e}")));
    if load_only {
        return;
    }
    let format = intake_formats::builtin(&format.expect("--format")).unwrap();
    let text = std::fs::read_to_string(lines.expect("--lines")).unwrap();
    let aggregator = AlertAggregator::new(3600);
    let (mut normalize, mut enrich, mut scan) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    // INTAKE_SCAN_ONLY=1 also times the bare scan of the threat fields (no lookup).
    let scan_only = std::env::var_os("INTAKE_SCAN_ONLY");
    let scan_paths = intake_intel::json_scan::PathSet::new(&[
        "source.ip",
        "destination.ip",
        "client.ip",
        "server.ip",
        "source.domain",
        "destination.domain",
        "url.domain",
        "dns.question.name",
        "url.full",
        "file.hash.md5",
        "file.hash.sha1",
        "file.hash.sha256",
        "file.hash.sha384",
        "file.hash.sha512",
        "related.ip",
        "related.hosts",
        "related.hash",
        "threat",
        "threat.enrichments",
    ]);
    let (mut events, mut matched, mut geo_enriched, mut alerts) = (0u64, 0u64, 0u64, Vec::new());
    let mut chunk: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::with_capacity(4096);
    let mut out2 = Vec::with_capacity(4096);
    let stamp = chrono::Utc::now();
    let all: Vec<&str> = text.lines().collect();
    for lines in all.chunks(10_000) {
        let start = cpu_now();
        chunk.clear();
        for line in lines {
            let mut event = Vec::with_capacity(800);
            if format.parse_message_json(line, stamp, &mut event).is_ok() {
                chunk.push(event);
            }
        }
        normalize += cpu_now() - start;
        let start = cpu_now();
        for event in &chunk {
            let mut current: &[u8] = event;
            if let Some(m) = &matcher
                && let Ok(MatchOutcome::Enriched { hits, .. }) = m.enrich(current, now, &mut out)
            {
                matched += 1;
                aggregator.observe(&hits, &out, now, &mut alerts);
                current = &out;
            }
            if let Some(g) = &geoip
                && let Ok(true) = g.enrich(current, &mut out2)
            {
                geo_enriched += 1;
            }
        }
        enrich += cpu_now() - start;
        if scan_only.is_some() {
            let start = cpu_now();
            let mut n = 0usize;
            for event in &chunk {
                let _ = scan_paths.scan(event, &mut |_, v| n += v.end);
            }
            scan += cpu_now() - start;
            std::hint::black_box(n);
        }
        events += chunk.len() as u64;
    }
    aggregator.flush_all(&mut alerts);
    let per = |d: Duration| d.as_nanos() as f64 / events as f64;
    if scan_only.is_some() {
        println!("bare scan {:.0} ns/event", per(scan));
    }
    println!(
        "{events} events: normalize {:.0} ns/event, enrich {:.0} ns/event ({:.1}% of normalize); {matched} matched, {} alert documents, {geo_enriched} with geo",
        per(normalize),
        per(enrich),
        100.0 * enrich.as_secs_f64() / normalize.as_secs_f64(),
        alerts.len()
    );
}
