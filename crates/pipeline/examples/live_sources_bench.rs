//! Throughput and memory of the live sources, with each event normalized by its format
//! and written to a file (standing for the file sink until the pipeline core lands).
//!
//! ```sh
//! cargo run --release -p intake-pipeline --example live_sources_bench -- syslog-tcp LINES_FILE
//! cargo run --release -p intake-pipeline --example live_sources_bench -- http-jsons VPC_LINES_FILE
//! cargo run --release -p intake-pipeline --example live_sources_bench -- memory LINES_FILE SECONDS
//! cargo run --release -p intake-pipeline --example live_sources_bench -- parse LINES_FILE [FORMAT]
//! ```
//! `syslog-tcp` sends every line of the file (Pulse lines) with an RFC 3164 header over one TCP
//! connection; `http-jsons` posts the file's lines as NDJSON `{"message": …}` batches of 1,000 over
//! 4 connections; `memory` keeps 4 TCP senders and 4 HTTP clients sending while the "sink"
//! does not answer for SECONDS, printing the resident memory, then lets it answer and checks
//! that every event arrived.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use intake_pipeline::event::{LineKind, RawBatch};
use intake_pipeline::normalize::{Normalized, Normalizer, load_format};
use intake_pipeline::sources::deliver::{Deliver, Incoming};
use intake_pipeline::sources::{http_intake, syslog};
use tokio_util::sync::CancellationToken;

/// Normalizes events and appends them to a file; can be held (a sink that does not answer).
struct NormalizeToFile {
    normalizer: Normalizer,
    out: Mutex<BufWriter<std::fs::File>>,
    events: AtomicU64,
    dead: AtomicU64,
    held: AtomicBool,
}

impl NormalizeToFile {
    fn new(format: &str, path: &str) -> Arc<NormalizeToFile> {
        Arc::new(NormalizeToFile {
            normalizer: normalizer(format),
            out: Mutex::new(BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(path).unwrap(),
            )),
            events: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            held: AtomicBool::new(false),
        })
    }
}

#[async_trait::async_trait]
impl Deliver for NormalizeToFile {
    async fn deliver(&self, _origin: &str, events: Vec<Incoming>) -> bool {
        while self.held.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let n = events.len() as u64;
        let raw = raw_batch(events.iter().map(|e| e.message.as_str()));
        let mut normalized = Normalized::default();
        // Normalization is CPU work: off the reactor threads.
        tokio::task::block_in_place(|| self.normalizer.normalize(&raw, &mut normalized));
        {
            let mut out = self.out.lock().unwrap();
            if out.write_all(&normalized.events.ndjson).is_err() {
                return false;
            }
        }
        self.dead
            .fetch_add(normalized.dead.len() as u64, Ordering::Relaxed);
        self.events.fetch_add(n, Ordering::Relaxed);
        true
    }
    async fn dead_letter(&self, _origin: &str, _reason: String, _raw: Vec<u8>) -> bool {
        self.dead.fetch_add(1, Ordering::Relaxed);
        true
    }
}

fn normalizer(format: &str) -> Normalizer {
    Normalizer::new(load_format(format, false).unwrap().0)
}

/// Events as the normalizer takes them (their message only).
fn raw_batch<'a>(messages: impl Iterator<Item = &'a str>) -> RawBatch {
    let mut batch = RawBatch::new("bench".into());
    for m in messages {
        batch.push(m.as_bytes(), 0, LineKind::Whole);
    }
    batch
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn start_syslog(sink: Arc<NormalizeToFile>, cancel: CancellationToken) -> u16 {
    let config: syslog::SyslogSourceConfig = toml::from_str(
        "format = \"pulse-connect-secure\"\ntransport = \"tcp\"\naddress = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let listener = syslog::Listener::bind("bench", config).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(listener.serve(sink, cancel));
    port
}

async fn start_http(sink: Arc<NormalizeToFile>, format: &str, cancel: CancellationToken) -> u16 {
    let dir = std::env::temp_dir().join(format!("intake-bench-key-{}", std::process::id()));
    std::fs::write(&dir, "bench-key-0123456789").unwrap();
    let config: http_intake::HttpIntakeSourceConfig = toml::from_str(&format!(
        "format = \"{format}\"\naddress = \"127.0.0.1:0\"\n[[keys]]\nkey_file = \"{}\"\n",
        dir.display()
    ))
    .unwrap();
    let mut deliver: HashMap<String, Arc<dyn Deliver>> = HashMap::new();
    deliver.insert(format.to_string(), sink);
    let listener = http_intake::Listener::bind("bench", config, deliver, cancel)
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(listener.serve());
    port
}

/// Sends lines with a syslog header over one TCP connection (a blocking thread).
fn tcp_sender(port: u16, lines: Arc<Vec<String>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut w = BufWriter::with_capacity(1 << 16, s);
        for l in lines.iter() {
            writeln!(w, "<134>Mar  5 08:12:44 ics-node2 PulseSecure: {l}").unwrap();
        }
        w.flush().unwrap();
    })
}

/// The lines as NDJSON bodies of 1,000 `{"message": …}` objects, for `parts` clients.
fn bodies(lines: &[String], parts: usize) -> Vec<Vec<(bytes::Bytes, u64)>> {
    (0..parts)
        .map(|part| {
            let mine: Vec<&String> = lines.iter().skip(part).step_by(parts).collect();
            mine.chunks(1000)
                .map(|chunk| {
                    let mut body = Vec::with_capacity(chunk.len() * 200);
                    for l in chunk {
                        serde_json::to_writer(&mut body, &serde_json::json!({ "message": l }))
                            .unwrap();
                        body.push(b'\n');
                    }
                    (bytes::Bytes::from(body), chunk.len() as u64)
                })
                .collect()
        })
        .collect()
}

/// Posts prepared bodies over one keep-alive connection, retrying until each gets 200.
async fn http_client(port: u16, bodies: Vec<(bytes::Bytes, u64)>) -> u64 {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/jsons");
    let mut sent = 0u64;
    for (body, n) in bodies {
        loop {
            let r = client
                .post(&url)
                .header("X-Intake-Key", "bench-key-0123456789")
                .body(body.clone())
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => break,
                // 503 (saturated) or a dropped connection: retry, as a real client does.
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        sent += n;
    }
    sent
}

async fn wait_for(sink: &NormalizeToFile, n: u64) {
    while sink.events.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let path = args.get(2).expect("a lines file");
    let data = Arc::new(lines(path));
    let n = data.len() as u64;
    let out = std::env::temp_dir().join("intake-bench-out.ndjson");
    let out = out.to_str().unwrap();
    let cancel = CancellationToken::new();
    match mode {
        "syslog-tcp" => {
            let sink = NormalizeToFile::new("pulse-connect-secure", out);
            let port = start_syslog(sink.clone(), cancel.clone()).await;
            let t = Instant::now();
            let sender = tcp_sender(port, data.clone());
            wait_for(&sink, n).await;
            let secs = t.elapsed().as_secs_f64();
            sender.join().unwrap();
            println!(
                "syslog tcp: {n} events in {secs:.2}s = {:.0} events/s (dead {}), RSS {:.0} MiB",
                n as f64 / secs,
                sink.dead.load(Ordering::Relaxed),
                rss_mib()
            );
        }
        "http-jsons" => {
            let sink = NormalizeToFile::new("aws-vpc-flow-logs", out);
            let port = start_http(sink.clone(), "aws-vpc-flow-logs", cancel.clone()).await;
            let prepared = bodies(&data, 4);
            let t = Instant::now();
            let clients: Vec<_> = prepared
                .into_iter()
                .map(|b| tokio::spawn(http_client(port, b)))
                .collect();
            let mut sent = 0;
            for c in clients {
                sent += c.await.unwrap();
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "http_intake /jsons: {sent} events in {secs:.2}s = {:.0} events/s (dead {}), RSS {:.0} MiB",
                sent as f64 / secs,
                sink.dead.load(Ordering::Relaxed),
                rss_mib()
            );
        }
        "memory" => {
            let hold: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
            let syslog_sink = NormalizeToFile::new("pulse-connect-secure", out);
            let http_out = format!("{out}.http");
            let http_sink = NormalizeToFile::new("pulse-connect-secure", &http_out);
            syslog_sink.held.store(true, Ordering::SeqCst);
            http_sink.held.store(true, Ordering::SeqCst);
            let sport = start_syslog(syslog_sink.clone(), cancel.clone()).await;
            let hport = start_http(http_sink.clone(), "pulse-connect-secure", cancel.clone()).await;
            let senders: Vec<_> = (0..4).map(|_| tcp_sender(sport, data.clone())).collect();
            let clients: Vec<_> = bodies(&data, 4)
                .into_iter()
                .map(|b| tokio::spawn(http_client(hport, b)))
                .collect();
            let mut peak = 0f64;
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(hold) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let r = rss_mib();
                peak = peak.max(r);
                println!("held {:>3.0}s: RSS {r:.0} MiB", t.elapsed().as_secs_f64());
            }
            syslog_sink.held.store(false, Ordering::SeqCst);
            http_sink.held.store(false, Ordering::SeqCst);
            wait_for(&syslog_sink, 4 * n).await;
            for s in senders {
                s.join().unwrap();
            }
            let mut sent = 0;
            for c in clients {
                sent += c.await.unwrap();
            }
            wait_for(&http_sink, sent).await;
            println!(
                "memory: peak RSS {peak:.0} MiB while held {hold}s; after release syslog {} of {} events, http {} of {} events",
                syslog_sink.events.load(Ordering::Relaxed),
                4 * n,
                http_sink.events.load(Ordering::Relaxed),
                n
            );
        }
        "parse" => {
            // The reference: the same lines normalized on one thread in chunks of 500 and
            // written to a file, as `intake parse --threads 1` does, without a network.
            let format = args
                .get(3)
                .map(String::as_str)
                .unwrap_or("pulse-connect-secure");
            let normalizer = normalizer(format);
            let mut normalized = Normalized::default();
            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out).unwrap());
            let t = Instant::now();
            for chunk in data.chunks(500) {
                let raw = raw_batch(chunk.iter().map(String::as_str));
                normalizer.normalize(&raw, &mut normalized);
                w.write_all(&normalized.events.ndjson).unwrap();
            }
            w.flush().unwrap();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "parse {format}: {n} events in {secs:.2}s = {:.0} events/s",
                n as f64 / secs
            );
        }
        _ => eprintln!(
            "modes: syslog-tcp FILE | http-jsons FILE | memory FILE SECONDS | parse FILE [FORMAT]"
        ),
    }
    cancel.cancel();
}
