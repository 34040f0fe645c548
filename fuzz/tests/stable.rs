//! Stable-toolchain driver of the fuzz targets' bodies (no libFuzzer, no coverage).
//!
//! - `cargo test --release -- --nocapture replay`: runs every file under
//!   `corpus/<target>/` and `artifacts/<target>/` (e.g. a crash found by cargo-fuzz)
//!   through its target, so a reproducer can be checked on stable.
//! - `STABLE_FUZZ_ITERS=200000 cargo test --release -- --nocapture random`: a seeded,
//!   mutation-based random run of every target from the seed inputs (a fallback where
//!   cargo-fuzz cannot run). `STABLE_FUZZ_SEED` picks the seed (default 1).
//!   A panicking input is saved as `artifacts/<target>/stable-crash-<n>`; the input
//!   being run is kept in `artifacts/<target>/stable-last-input` until the run ends
//!   (so an abort leaves it behind).

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("template", intake_fuzz::template),
    ("kv", intake_fuzz::kv),
    ("grok", intake_fuzz::grok),
    ("dsv", intake_fuzz::dsv),
    ("date", intake_fuzz::date),
    ("differential", intake_fuzz::differential),
];

fn format_target(slug: &str) -> Target {
    match slug {
        "aws-vpc-flow-logs" => |d| intake_fuzz::format_parse("aws-vpc-flow-logs", d),
        "aws-vpcflow-elastic" => |d| intake_fuzz::format_parse("aws-vpcflow-elastic", d),
        "azure-nsg-flow-logs" => |d| intake_fuzz::format_parse("azure-nsg-flow-logs", d),
        _ => |d| intake_fuzz::format_parse("pulse-connect-secure", d),
    }
}

fn paths(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    paths
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    paths(dir).iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn replay() {
    // Only one format per process (the format is loaded once), so formats are not
    // replayed here: use `cargo fuzz run format_… FILE` or the `random` test with
    // STABLE_FUZZ_FORMAT.
    // REPLAY_VERBOSE=1 names each file before running it (to find an input that aborts).
    let verbose = std::env::var_os("REPLAY_VERBOSE").is_some();
    let mut n = 0;
    for (name, target) in TARGETS {
        for sub in ["corpus", "artifacts"] {
            for path in paths(&root().join(sub).join(name)) {
                if verbose {
                    eprintln!("replay {}", path.display());
                }
                let Ok(data) = std::fs::read(&path) else { continue };
                target(&data);
                n += 1;
            }
        }
    }
    eprintln!("replayed {n} inputs");
}

/// xorshift64*: small, seeded, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const DICT: &[&[u8]] = &[
    b"{{", b"}}", b"{%", b"%}", b"%{", b"}", b"|", b"=", b"\"", b"'", b"\\", b"\0", b" ", b",", b":", b".", b"(",
    b")", b"[", b"]", b"-", b"1599665193", b"2021-01-28 13:46:08", b"T", b"Z", b"+02:00", b"%Y", b"%d", b"%b",
    b"%H:%M:%S", b"IP", b"DATA", b"GREEDYDATA", b"WORD", b"%{IP:src}", b"flow.record.", b"original.message",
    b"| int", b"| lower", b"if", b"else", b"for", b"endfor", b"range(", b"*", b"**", b"NODATA", b"\xc3\xa9",
    b"\xff", b"msg=\"", b"flow.0", b"{\"", b"\":\"", b"99999999999999999999", b"-9223372036854775808",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(d.len() + 1);
        match rng.below(6) {
            0 if !d.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(d.len());
                d.drain(at.min(end)..end);
            }
            1 => {
                let w = DICT[rng.below(DICT.len())];
                d.splice(at..at, w.iter().copied());
            }
            2 if at < d.len() => d[at] = rng.next() as u8,
            3 if !d.is_empty() => {
                // duplicate a slice (grows inputs, finds quadratic paths)
                let s = rng.below(d.len());
                let e = (s + 1 + rng.below(32)).min(d.len());
                let chunk = d[s..e].to_vec();
                d.splice(at..at, chunk);
            }
            4 => d.insert(at, b"0123456789 -:.T"[rng.below(15)]),
            _ => d.truncate(at),
        }
    }
    d
}

fn seeds_for(name: &str) -> Vec<Vec<u8>> {
    let mut s = files(&root().join("corpus").join(name));
    s.extend(files(&root().join("seeds").join(name)));
    if s.is_empty() {
        s.push(Vec::new());
    }
    s
}

fn drive(name: &str, target: Target, iters: u64, rng: &mut Rng) {
    let seeds = seeds_for(name);
    let dir = root().join("artifacts").join(name);
    let _ = std::fs::create_dir_all(&dir);
    // Written before each call: an abort (stack overflow, out of memory) leaves the
    // input that caused it behind; removed when the run completes.
    let last = dir.join("stable-last-input");
    let started = std::time::Instant::now();
    for i in 0..iters {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(rng, base);
        let _ = std::fs::write(&last, &input);
        if let Err(e) = std::panic::catch_unwind(|| target(&input)) {
            let path = dir.join(format!("stable-crash-{i}"));
            let _ = std::fs::write(&path, &input);
            eprintln!("{name}: crash, input saved to {}", path.display());
            std::panic::resume_unwind(e);
        }
    }
    let _ = std::fs::remove_file(&last);
    eprintln!("{name}: {iters} inputs in {:.1}s", started.elapsed().as_secs_f64());
}

#[test]
fn random() {
    let iters: u64 = std::env::var("STABLE_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let seed: u64 = std::env::var("STABLE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    match std::env::var("STABLE_FUZZ_FORMAT") {
        Ok(slug) => drive(&format!("format_{}", slug.replace('-', "_")), format_target(&slug), iters, &mut rng),
        Err(_) => {
            for (name, target) in TARGETS {
                drive(name, *target, iters, &mut rng);
            }
        }
    }
}
