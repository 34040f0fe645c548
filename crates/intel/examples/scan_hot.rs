//! The bare scan of one event repeated (hot caches): the scanner's compute cost alone.
//!
//!     cargo run --release -p intake-intel --example scan_hot -- events.ndjson

/// This thread's CPU time: the machine is shared.
fn cpu_now() -> std::time::Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn main() {
    let path = std::env::args().nth(1).expect("an NDJSON file of events");
    let text = std::fs::read_to_string(path).unwrap();
    let paths = intake_intel::json_scan::PathSet::new(&[
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
    for line in text.lines().take(3) {
        let event = line.as_bytes();
        let start = cpu_now();
        let mut n = 0usize;
        for _ in 0..1_000_000 {
            paths
                .scan(std::hint::black_box(event), &mut |_, v| n += v.end)
                .unwrap();
        }
        println!(
            "{} bytes: {:.0} ns/scan ({n})",
            event.len(),
            (cpu_now() - start).as_nanos() as f64 / 1e6
        );
    }
}
