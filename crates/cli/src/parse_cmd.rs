//! `intake parse`: raw events from files or stdin → NDJSON ECS events.
//!
//! The pipeline's one reader cuts the input into batches of whole lines; the
//! pipeline's normalize workers (the same as `intake run`'s) normalize them, and the
//! writer takes the results in input order. Channels are bounded, so memory stays
//! flat whatever the input size.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use intake_engine::{Format, Timestamp};
use intake_pipeline::event::Closed;
use intake_pipeline::normalize::{Formatter, Framing, Normalizer};
use intake_pipeline::pool::{Done, Pending, Pool};
use intake_pipeline::sources::{StreamError, StreamOptions, read_batches};
use tokio_util::sync::CancellationToken;

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
}

/// Where results go, and the running totals.
struct Sink {
    events: Box<dyn Write + Send>,
    dead: Option<BufWriter<File>>,
    read: u64,
    written: u64,
    dead_count: u64,
    fell_back: u64,
    /// The first reasons seen, with their counts.
    reasons: Vec<(String, u64)>,
}

impl Sink {
    fn accept(&mut self, done: &Done) -> io::Result<()> {
        let n = &done.normalized;
        self.events.write_all(&n.events.ndjson)?;
        self.read += n.read;
        self.written += n.events.count as u64;
        self.fell_back += n.fell_back;
        self.dead_count += n.dead.len() as u64;
        let mut dead_json = Vec::new();
        for d in &n.dead {
            if let Some((_, c)) = self.reasons.iter_mut().find(|(r, _)| *r == d.reason) {
                *c += 1;
            } else if self.reasons.len() < 16 {
                self.reasons.push((d.reason.clone(), 1));
            }
            if self.dead.is_some() {
                d.write_json("parse", &mut dead_json);
            }
        }
        if let Some(f) = self.dead.as_mut() {
            f.write_all(&dead_json)?;
        }
        Ok(())
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

/// Counts the raw (compressed) bytes read, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` (`-` for stdin).
fn open(path: &str, raw_bytes: Arc<AtomicU64>) -> io::Result<(String, Box<dyn Read + Send>)> {
    let (name, raw): (String, Box<dyn Read + Send>) = if path == "-" {
        ("<stdin>".into(), Box::new(io::stdin()))
    } else {
        let file =
            File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
        (path.to_string(), Box::new(file))
    };
    Ok((
        name,
        Box::new(Counting {
            inner: raw,
            count: raw_bytes,
        }),
    ))
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut format = load_format(&args.format, args.lenient)?;
    if args.interpret {
        format = format.interpreted_only();
    }
    let normalizer = Arc::new(Normalizer {
        format: Formatter::Engine(Arc::new(format)),
        framing: match args.input {
            InputKind::Lines => Framing::Lines,
            InputKind::Json => Framing::Json,
        },
        max_event_bytes: args.max_event_bytes,
        now: Some(parse_now(args.now.as_deref())?),
    });
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
        fell_back: 0,
        reasons: Vec::new(),
    };

    let raw_bytes = Arc::new(AtomicU64::new(0));
    let total: u64 = files
        .iter()
        .filter(|f| *f != "-")
        .filter_map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| progress_bar(total));
    let started = Instant::now();
    let mut input_errors = Vec::new();
    // The same workers and normalize stage as `intake run`.
    let pool = Pool::new(threads);

    std::thread::scope(|scope| -> anyhow::Result<()> {
        // The writer takes the results in the order the batches were read.
        let (order_tx, order_rx) = mpsc::sync_channel::<Pending>(threads * 2);
        let sink = &mut sink;
        let progress_ref = progress.as_ref();
        let raw = raw_bytes.clone();
        let writer = scope.spawn(move || -> io::Result<()> {
            for pending in order_rx {
                let Some(done) = pending.wait() else {
                    return Err(io::Error::other("a normalize worker stopped"));
                };
                sink.accept(&done)?;
                if let Some(p) = progress_ref {
                    p.set_position(raw.load(Ordering::Relaxed));
                    p.set_message(format!("{} events", sink.written));
                }
            }
            Ok(())
        });

        // The reader, on this thread: the one reader of every byte-stream source.
        let never = CancellationToken::new();
        'files: for file in &files {
            let (name, reader) = match open(file, raw_bytes.clone()) {
                Ok(i) => i,
                Err(e) => {
                    input_errors.push(e.to_string());
                    continue;
                }
            };
            let options = StreamOptions {
                max_event_bytes: args.max_event_bytes,
                plain: false,
                context: None,
                rewriter: None,
                abort: &never,
            };
            let result = read_batches(reader, name.as_str().into(), options, &mut |batch| {
                let pending = pool.submit_blocking(batch, &normalizer)?;
                order_tx.send(pending).map_err(|_| Closed)
            });
            match result {
                Ok(_) => {}
                Err(StreamError::Stopped) => break 'files,
                Err(e) => input_errors.push(e.to_string()),
            }
        }
        drop(order_tx);
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
    if sink.fell_back > 0 {
        eprintln!(
            "intake:   {} events ran on the interpreter (the flat executor does not model them)",
            sink.fell_back
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
