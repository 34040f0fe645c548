//! Single-thread engine throughput on a file of raw lines, without the CLI's I/O
//! pipeline: a quick tool for profiling (`perf record`, `valgrind --tool=callgrind`).
//!
//!     cargo run --release -p intake-formats --example throughput -- aws-vpc-flow-logs lines.log

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(slug), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: throughput FORMAT FILE");
        std::process::exit(2);
    };
    let mut format = intake_formats::builtin(slug).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    if std::env::var_os("INTAKE_INTERPRET").is_some() {
        format = format.interpreted_only();
    }
    let text = std::fs::read_to_string(path).expect("readable UTF-8 file");
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(1 << 20);
    let (mut ok, mut rejected, mut bytes) = (0u64, 0u64, 0usize);
    let start = Instant::now();
    eprintln!(
        "{slug}: {}",
        match format.plan_refusal() {
            None => "planned".to_string(),
            Some(why) => format!("interpreted ({why})"),
        }
    );
    for line in text.lines() {
        match format.parse_message_json(line, now, &mut out) {
            Ok(()) => {
                out.push(b'\n');
                ok += 1;
            }
            Err(_) => rejected += 1,
        }
        if out.len() > 1 << 20 {
            bytes += out.len();
            out.clear();
        }
    }
    bytes += out.len();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{slug}: {ok} events ({rejected} rejected) in {secs:.3}s: {:.0} events/s, {:.1} MB/s in, {:.1} MB/s out",
        (ok + rejected) as f64 / secs,
        text.len() as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}
