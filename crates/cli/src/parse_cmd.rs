//! `intake parse`: raw events from files or stdin → NDJSON ECS events.
//!
//! The reader cuts the input into batches of whole lines; workers normalize the
//! batches (one thread each) and the writer puts the results back in input order.
//! Channels are bounded, so memory stays flat whatever the input size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine as _;
use intake_engine::json::{parse_json, write_json, write_json_str};
use intake_engine::{Format, Timestamp, Value};
use intake_pipeline::decode::cloudwatch;
use intake_pipeline::decode::vpc_layout::{self, Decoded, Layout, LayoutTracker};

use crate::input::{self, Batch, LineKind, LineSplitter};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum InputKind {
    /// One raw event per line.
    Lines,
    /// One JSON object per line: `message` is the raw event, other keys are passed along.
    Json,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  intake parse --format aws-vpc-flow-logs flows.log.gz > events.ndjson
  intake parse --format formats/my-format --dead-letter rejected.ndjson app.log
  intake parse --format pulse-connect-secure --input json cases.ndjson")]
pub struct ParseArgs {
    /// A built-in format's slug (see `intake formats list`) or a format folder.
    #[arg(long, short)]
    pub format: String,
    /// Input files, plain, gzip or zstd (detected by magic bytes); stdin when none or `-`.
    pub files: Vec<String>,
    /// How the input lines are read.
    #[arg(long, value_enum, default_value = "lines")]
    pub input: InputKind,
    /// Write events to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Write events that could not be normalized (with their reason) to this file, as NDJSON.
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
    /// Longer lines are not parsed; they go to the dead letter.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_event_bytes: usize,
    /// Worker threads (default: the number of cores). Output keeps the input order.
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// The current time, for dates without a year (RFC 3339; default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// Load a format folder in lenient mode (third-party catalogs): unknown keys and
    /// broken templates become warnings.
    #[arg(long)]
    pub lenient: bool,
    /// Never show a progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run every event on the format interpreter, not on the format's flat executor
    /// (both give the same events; this is for diagnosis and comparison).
    #[arg(long)]
    pub interpret: bool,
    /// Field names of headerless flow-log lines, in order, space- or comma-separated
    /// (the flow log's format, `${…}` allowed). A header line in the input still wins.
    #[arg(long)]
    pub fields: Option<String>,
}

/// What one batch produced: serialized events and dead-letter records.
#[derive(Default)]
struct Output {
    seq: u64,
    events: Vec<u8>,
    dead: Vec<u8>,
    read: u64,
    written: u64,
    dead_count: u64,
    /// The first reason seen of each kind, with its count.
    reasons: Vec<(String, u64)>,
    /// Flow-log header lines and CloudWatch Logs control messages: not events.
    skipped: u64,
}

/// What the reader thread sends to the workers: a batch, and for flow-log input
/// the layout of each of its lines (headers apply in order, so the reader finds them).
struct Job {
    batch: Batch,
    layouts: Option<BatchLayouts>,
}

/// The layout of each line of a batch.
struct BatchLayouts {
    /// `(index of the first line, its layout)`, ascending from 0.
    runs: Vec<(usize, Layout)>,
    /// Indexes of header lines, ascending.
    headers: Vec<usize>,
}

impl BatchLayouts {
    /// Finds the header lines of `batch` (they start with a lowercase letter) in order.
    fn scan(tracker: &mut LayoutTracker, batch: &Batch) -> BatchLayouts {
        let mut runs = vec![(0, tracker.current().clone())];
        let mut headers = Vec::new();
        for (i, line) in batch.lines.iter().enumerate() {
            let bytes = &batch.data[line.start..line.end];
            if line.kind == LineKind::Whole
                && bytes.first().is_some_and(u8::is_ascii_lowercase)
                && let Ok(text) = std::str::from_utf8(bytes)
                && tracker.take_header(text.trim_end_matches('\r'))
            {
                headers.push(i);
                runs.push((i + 1, tracker.current().clone()));
            }
        }
        BatchLayouts { runs, headers }
    }
}

struct Worker<'a> {
    format: &'a Format,
    kind: InputKind,
    now: Timestamp,
    max: usize,
}

impl Worker<'_> {
    /// Normalizes `batch` into `events`, an empty buffer (a recycled one keeps its
    /// capacity, which saves growing it again).
    fn run(&self, batch: &Batch, layouts: Option<&BatchLayouts>, mut events: Vec<u8>) -> Output {
        events.clear();
        events.reserve(batch.data.len() * 4);
        let mut out = Output {
            seq: batch.seq,
            events,
            ..Output::default()
        };
        let (mut run, mut header) = (0usize, 0usize);
        for (index, line) in batch.lines.iter().enumerate() {
            let mut bytes = &batch.data[line.start..line.end];
            if let [rest @ .., b'\r'] = bytes {
                bytes = rest;
            }
            if bytes.is_empty() && line.kind == LineKind::Whole {
                continue;
            }
            let layout = match layouts {
                Some(l) if l.headers.get(header) == Some(&index) => {
                    header += 1;
                    out.skipped += 1;
                    continue;
                }
                Some(l) => {
                    while l
                        .runs
                        .get(run + 1)
                        .is_some_and(|(first, _)| *first <= index)
                    {
                        run += 1;
                    }
                    Some(&l.runs[run].1)
                }
                None => None,
            };
            out.read += 1;
            match line.kind {
                LineKind::Whole => {}
                LineKind::Oversize => {
                    let why = format!(
                        "event longer than --max-event-bytes ({} bytes); its first bytes are kept",
                        self.max
                    );
                    dead_letter(&mut out, &batch.input, line.number, bytes, &why);
                    continue;
                }
                LineKind::Truncated => {
                    let why = "truncated input: the stream ended inside this event";
                    dead_letter(&mut out, &batch.input, line.number, bytes, why);
                    continue;
                }
            }
            // Most lines are ASCII: the SIMD check takes them in 16 or 32 bytes a step.
            let Ok(text) = simdutf8::basic::from_utf8(bytes) else {
                dead_letter(
                    &mut out,
                    &batch.input,
                    line.number,
                    bytes,
                    "not valid UTF-8",
                );
                continue;
            };
            let event = match self.kind {
                InputKind::Lines if let Some(layout) = layout => {
                    if cloudwatch::is_payload(bytes) {
                        out.read -= 1;
                        self.payloads(text, layout, &batch.input, line.number, &mut out);
                    } else {
                        self.decoded(
                            layout.decode(text),
                            &batch.input,
                            line.number,
                            bytes,
                            &mut out,
                        );
                    }
                    continue;
                }
                InputKind::Lines => {
                    // Raw lines take the format's direct path to JSON.
                    match self
                        .format
                        .parse_message_json(text, self.now, &mut out.events)
                    {
                        Ok(()) => {
                            out.events.push(b'\n');
                            out.written += 1;
                        }
                        Err(r) => {
                            dead_letter(&mut out, &batch.input, line.number, bytes, &r.reason)
                        }
                    }
                    continue;
                }
                InputKind::Json => match parse_json(text) {
                    Ok(Value::Map(m)) => m,
                    Ok(other) => {
                        let why = format!(
                            "input line is JSON but not an object ({})",
                            other.type_name()
                        );
                        dead_letter(&mut out, &batch.input, line.number, bytes, &why);
                        continue;
                    }
                    Err(e) => {
                        dead_letter(
                            &mut out,
                            &batch.input,
                            line.number,
                            bytes,
                            &format!("invalid JSON input: {e}"),
                        );
                        continue;
                    }
                },
            };
            match self.format.parse(event, self.now) {
                Ok(v) => {
                    write_json(&v, &mut out.events);
                    out.events.push(b'\n');
                    out.written += 1;
                }
                Err(r) => dead_letter(&mut out, &batch.input, line.number, bytes, &r.reason),
            }
        }
        out
    }

    /// Normalizes a decoded flow-log line (`raw`: the line as read, for the dead letter).
    fn decoded(&self, d: Decoded<'_>, input: &str, number: u64, raw: &[u8], out: &mut Output) {
        match d {
            Decoded::Message(message) => {
                match self
                    .format
                    .parse_message_json(&message, self.now, &mut out.events)
                {
                    Ok(()) => {
                        out.events.push(b'\n');
                        out.written += 1;
                    }
                    Err(r) => dead_letter(out, input, number, raw, &r.reason),
                }
            }
            Decoded::Header => {
                out.read -= 1;
                out.skipped += 1;
            }
            Decoded::Reject(reason) => dead_letter(out, input, number, raw, &reason),
        }
    }

    /// CloudWatch Logs subscription payloads on one line: each log event is a line
    /// of `layout`; control messages are counted as skipped.
    fn payloads(&self, text: &str, layout: &Layout, input: &str, number: u64, out: &mut Output) {
        match cloudwatch::parse_payloads(text) {
            Ok(payloads) => {
                for payload in payloads {
                    let cloudwatch::Payload::Data(messages) = payload else {
                        out.skipped += 1;
                        continue;
                    };
                    for message in &messages {
                        out.read += 1;
                        let d = layout.decode(message);
                        self.decoded(d, input, number, message.as_bytes(), out);
                    }
                }
            }
            Err(reason) => {
                out.read += 1;
                dead_letter(out, input, number, text.as_bytes(), &reason);
            }
        }
    }
}

/// Appends a dead-letter record: where the event came from, the raw event (base64
/// when it is not UTF-8) and the reason.
fn dead_letter(out: &mut Output, input: &str, number: u64, raw: &[u8], reason: &str) {
    out.dead_count += 1;
    if let Some((_, n)) = out.reasons.iter_mut().find(|(r, _)| r == reason) {
        *n += 1;
    } else if out.reasons.len() < 16 {
        out.reasons.push((reason.to_string(), 1));
    }
    let d = &mut out.dead;
    d.extend_from_slice(b"{\"reason\":");
    write_json_str(reason, d);
    d.extend_from_slice(b",\"input\":");
    write_json_str(input, d);
    d.extend_from_slice(b",\"line\":");
    d.extend_from_slice(number.to_string().as_bytes());
    match std::str::from_utf8(raw) {
        Ok(text) => {
            d.extend_from_slice(b",\"raw\":");
            write_json_str(text, d);
        }
        Err(_) => {
            d.extend_from_slice(b",\"raw_base64\":");
            write_json_str(&base64::engine::general_purpose::STANDARD.encode(raw), d);
        }
    }
    d.extend_from_slice(b"}\n");
}

/// Where results go, and the running totals.
struct Sink {
    events: Box<dyn Write + Send>,
    dead: Option<BufWriter<File>>,
    read: u64,
    written: u64,
    dead_count: u64,
    reasons: Vec<(String, u64)>,
    skipped: u64,
}

impl Sink {
    /// Writes a batch's results; gives back its event buffer for reuse.
    fn accept(&mut self, out: Output) -> io::Result<Vec<u8>> {
        self.events.write_all(&out.events)?;
        if let Some(d) = self.dead.as_mut() {
            d.write_all(&out.dead)?;
        }
        self.read += out.read;
        self.written += out.written;
        self.dead_count += out.dead_count;
        self.skipped += out.skipped;
        for (reason, n) in out.reasons {
            match self.reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, m)) => *m += n,
                None => self.reasons.push((reason, n)),
            }
        }
        Ok(out.events)
    }
}

pub fn load_format(spec: &str, lenient: bool) -> anyhow::Result<Format> {
    let path = std::path::Path::new(spec);
    if path.is_dir() {
        let folder = intake_formats::load_folder(path).map_err(anyhow::Error::msg)?;
        let format = folder
            .compile(&intake_engine::LoadOptions { lenient })
            .map_err(anyhow::Error::msg)?;
        for w in format.warnings() {
            eprintln!("intake: warning: {w}");
        }
        Ok(format)
    } else {
        intake_formats::builtin(spec).map_err(anyhow::Error::msg)
    }
}

pub fn parse_now(now: Option<&str>) -> anyhow::Result<Timestamp> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(s) => Ok(chrono::DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--now {s:?} is not an RFC 3339 time"))?
            .to_utc()),
    }
}

/// Input per batch: large enough that handing a batch between threads is cheap,
/// small enough that the batches and event buffers in flight stay a few MiB.
const BATCH_BYTES: usize = 256 * 1024;

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut format = load_format(&args.format, args.lenient)?;
    if args.interpret {
        format = format.interpreted_only();
    }
    let now = parse_now(args.now.as_deref())?;
    let configured = match &args.fields {
        Some(names) => {
            Some(Layout::parse_names(names).map_err(|e| anyhow::anyhow!("--fields: {e}"))?)
        }
        None => None,
    };
    // Flow-log text goes through the layout reader: headers, `--fields`, shapes.
    let mut layouts = (args.input == InputKind::Lines
        && (configured.is_some() || vpc_layout::is_flow_log_format(format.slug())))
    .then(|| LayoutTracker::new(configured, true));
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let files = if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files.clone()
    };

    let events: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let dead = match &args.dead_letter {
        Some(p) => Some(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let mut sink = Sink {
        events,
        dead,
        read: 0,
        written: 0,
        dead_count: 0,
        reasons: Vec::new(),
        skipped: 0,
    };

    let raw_bytes = Arc::new(AtomicU64::new(0));
    let total: u64 = files
        .iter()
        .filter(|f| *f != "-")
        .filter_map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| progress_bar(total));

    let worker = Worker {
        format: &format,
        kind: args.input,
        now,
        max: args.max_event_bytes,
    };
    let started = Instant::now();
    let mut input_errors = Vec::new();

    std::thread::scope(|scope| -> anyhow::Result<()> {
        // The writer: puts results back in input order.
        let (result_tx, result_rx) = mpsc::sync_channel::<Output>(threads * 2);
        let sink = &mut sink;
        let progress_ref = progress.as_ref();
        let raw = raw_bytes.clone();
        // Written event buffers go back to the workers: the same few buffers serve
        // the whole run, so memory stays flat (fresh large buffers per batch let the
        // allocator's per-thread arenas grow).
        let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
        let recycle_rx = Arc::new(std::sync::Mutex::new(recycle_rx));
        let writer = scope.spawn(move || -> io::Result<()> {
            let mut pending = BTreeMap::new();
            let mut next = 0u64;
            for out in result_rx {
                pending.insert(out.seq, out);
                while let Some(out) = pending.remove(&next) {
                    let events = sink.accept(out)?;
                    // The workers may all have stopped: then it is simply dropped.
                    let _ = recycle_tx.send(events);
                    next += 1;
                }
                if let Some(p) = progress_ref {
                    p.set_position(raw.load(Ordering::Relaxed));
                    p.set_message(format!("{} events", sink.written));
                }
            }
            Ok(())
        });

        // Workers: one channel of batches shared by all. Spent batches go back to
        // the reader, whose buffers they become again.
        let (batch_tx, batch_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let (spent_tx, spent_rx) = mpsc::channel::<Batch>();
        let batch_rx = Arc::new(std::sync::Mutex::new(batch_rx));
        let worker = &worker;
        for _ in 0..threads {
            let rx = batch_rx.clone();
            let tx = result_tx.clone();
            let recycled = recycle_rx.clone();
            let spent = spent_tx.clone();
            scope.spawn(move || {
                loop {
                    let batch = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = batch else { return };
                    let events = recycled
                        .lock()
                        .ok()
                        .and_then(|r| r.try_recv().ok())
                        .unwrap_or_default();
                    if tx
                        .send(worker.run(&job.batch, job.layouts.as_ref(), events))
                        .is_err()
                    {
                        return;
                    }
                    // The reader may be done: then it is simply dropped.
                    let _ = spent.send(job.batch);
                }
            });
        }
        drop(result_tx);

        // The reader, on this thread.
        let mut seq = 0u64;
        'files: for file in &files {
            let input = match input::open(file, raw_bytes.clone()) {
                Ok(i) => i,
                Err(e) => {
                    input_errors.push(e.to_string());
                    continue;
                }
            };
            let mut splitter = LineSplitter::new(input, args.max_event_bytes, BATCH_BYTES);
            // Each file has its own header.
            if let Some(t) = layouts.as_mut() {
                t.reset();
            }
            let mut job = |batch: Batch| Job {
                layouts: layouts.as_mut().map(|t| BatchLayouts::scan(t, &batch)),
                batch,
            };
            loop {
                match splitter.next_batch(seq, spent_rx.try_recv().ok()) {
                    Ok(Some(batch)) => {
                        seq += 1;
                        if batch_tx.send(job(batch)).is_err() {
                            break 'files;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        input_errors.push(format!(
                            "{}: {e} after {} bytes ({} complete lines); the events read before are kept",
                            splitter.name(),
                            splitter.bytes_read,
                            splitter.lines_read(),
                        ));
                        // The unterminated tail goes to the dead letter, in order.
                        if let Some(partial) = splitter.take_partial(seq) {
                            seq += 1;
                            if batch_tx.send(job(partial)).is_err() {
                                break 'files;
                            }
                        }
                        break;
                    }
                }
            }
        }
        drop(batch_tx);
        match writer.join() {
            Err(_) => anyhow::bail!("the writer thread failed"),
            // A reader that stops early (`| head`) is not an error.
            Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Ok(result) => result.context("cannot write events"),
        }
    })?;

    match sink.events.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            return Err(anyhow::Error::new(e).context("cannot write events"));
        }
        _ => {}
    }
    if let Some(d) = sink.dead.as_mut() {
        d.flush().context("cannot write the dead letter")?;
    }
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    summary(&sink, started.elapsed(), args.dead_letter.is_some());
    for e in &input_errors {
        eprintln!("intake: error: {e}");
    }
    Ok(if input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = if total > 0 {
        indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn summary(sink: &Sink, elapsed: Duration, dead_file: bool) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = sink.read as f64 / secs;
    eprintln!(
        "intake: {} events read, {} written, {} dead-lettered in {:.2}s ({:.0} events/s)",
        sink.read, sink.written, sink.dead_count, secs, rate
    );
    if sink.skipped > 0 {
        eprintln!(
            "intake:   {} not events: flow-log header lines, CloudWatch Logs control messages",
            sink.skipped
        );
    }
    if sink.dead_count > 0 {
        for (reason, n) in sink.reasons.iter().take(5) {
            eprintln!("intake:   {n} × {reason}");
        }
        if !dead_file {
            eprintln!("intake:   (use --dead-letter FILE to keep them)");
        }
    }
}
