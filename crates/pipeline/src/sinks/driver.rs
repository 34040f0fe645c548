//! The shared driver of request-based sinks: batching by events, bytes and time,
//! a bounded number of requests in flight, retries with exponential backoff and
//! jitter (a `Retry-After` is honoured), and the dead letter for what the
//! destination refuses for good. A sink only says how to send one request.
//!
//! A delivery's claim is accepted once every request that carried its events
//! succeeded (or its refused events were accepted by the dead letter).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::BackoffBuilder;
use tokio::task::JoinSet;

use crate::ack::AckRef;
use crate::component::SinkInput;
use crate::dead_letter::{DeadLetter, DeadRecord, truncate};
use crate::event::Delivery;
use crate::internal_events::{SinkDelivered, SinkFailed, SinkRejected, SinkRetry};

/// What one request came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth trying again, after at least `after` when the destination said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will never succeed (a 4xx other than 408/429): the events go to the dead letter.
    Rejected(String),
}

/// A destination that takes requests of serialized events.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// Sends one request made of `events` (NDJSON lines, each ending with `\n`).
    async fn send(&self, events: &[u8], count: usize) -> Outcome;
}

/// `batch.*`: when a request is sent.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
}

fn default_max_events() -> usize {
    1000
}
fn default_max_bytes() -> usize {
    4 << 20
}
fn default_timeout_secs() -> f64 {
    1.0
}

impl Default for BatchSettings {
    fn default() -> BatchSettings {
        BatchSettings {
            max_events: default_max_events(),
            max_bytes: default_max_bytes(),
            timeout_secs: default_timeout_secs(),
        }
    }
}

/// Retries and concurrency.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    pub batch: BatchSettings,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries of a request; `None`: until delivered (or shutdown).
    pub max_retries: Option<u32>,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

/// The events of one request, and whose they are.
#[derive(Default)]
struct Request {
    body: Vec<u8>,
    count: usize,
    parts: Vec<Part>,
}

/// The events of one delivery within a request: `body[start..end]`.
struct Part {
    start: usize,
    end: usize,
    ack: AckRef,
    origin: Arc<str>,
    context: Option<Arc<str>>,
    dead_letter: Option<DeadLetter>,
}

/// Runs the sink until its input closes and every request is settled (or abort).
pub async fn run<S: Service>(service: Arc<S>, input: SinkInput, settings: DriverSettings) {
    let SinkInput {
        name,
        mut rx,
        abort,
    } = input;
    let settings = Arc::new(settings);
    let concurrency = settings.concurrency.max(1);
    let linger = Duration::from_secs_f64(settings.batch.timeout_secs.max(0.0));
    let mut in_flight = JoinSet::new();
    // Full requests waiting for a free slot; no more is taken from the queue while
    // `concurrency` of them wait, so memory stays bounded.
    let mut ready: VecDeque<Request> = VecDeque::new();
    let mut open = Request::default();
    let mut opened_at = Instant::now();
    let mut closed = false;
    loop {
        while in_flight.len() < concurrency
            && let Some(request) = ready.pop_front()
        {
            in_flight.spawn(send(
                service.clone(),
                name.clone(),
                request,
                settings.clone(),
                abort.clone(),
            ));
        }
        if closed && open.count == 0 && ready.is_empty() {
            break;
        }
        let deadline = tokio::time::Instant::from_std(opened_at + linger);
        tokio::select! {
            d = rx.recv(), if !closed && ready.len() < concurrency => match d {
                Some(d) => {
                    if open.count == 0 {
                        opened_at = Instant::now();
                    }
                    ready.extend(add(&mut open, d, &settings.batch));
                }
                None => closed = true,
            },
            _ = tokio::time::sleep_until(deadline), if open.count > 0 => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
        let due = open.count > 0
            && (closed
                || open.count >= settings.batch.max_events
                || open.body.len() >= settings.batch.max_bytes
                || opened_at.elapsed() >= linger);
        if due {
            ready.push_back(std::mem::take(&mut open));
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Adds a delivery's events to the open request; returns the requests it filled.
fn add(open: &mut Request, d: Delivery, batch: &BatchSettings) -> Vec<Request> {
    let mut full = Vec::new();
    let mut start = open.body.len();
    for line in d.batch.lines() {
        if open.count > 0
            && (open.count >= batch.max_events
                || open.body.len() + line.len() + 1 > batch.max_bytes)
        {
            close_part(open, &d, start);
            full.push(std::mem::take(open));
            start = 0;
        }
        open.body.extend_from_slice(line);
        open.body.push(b'\n');
        open.count += 1;
    }
    close_part(open, &d, start);
    // The delivery's own claim: its parts hold clones.
    d.ack.accept();
    full
}

fn close_part(open: &mut Request, d: &Delivery, start: usize) {
    if open.body.len() > start {
        open.parts.push(Part {
            start,
            end: open.body.len(),
            ack: d.ack.clone(),
            origin: d.origin.clone(),
            context: d.context.clone(),
            dead_letter: d.dead_letter.clone(),
        });
    }
}

async fn send<S: Service>(
    service: Arc<S>,
    sink: Arc<str>,
    request: Request,
    settings: Arc<DriverSettings>,
    abort: tokio_util::sync::CancellationToken,
) {
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(settings.initial_backoff)
        .with_max_delay(settings.max_backoff)
        .with_jitter()
        .without_max_times()
        .build();
    let mut attempt = 0u32;
    loop {
        if request.parts.iter().all(|p| p.ack.is_failed()) {
            // Every unit already failed elsewhere: it will be redelivered anyway.
            return;
        }
        let started = Instant::now();
        match service.send(&request.body, request.count).await {
            Outcome::Delivered => {
                SinkDelivered {
                    sink: &sink,
                    events: request.count,
                    bytes: request.body.len(),
                    seconds: started.elapsed().as_secs_f64(),
                }
                .emit();
                for p in request.parts {
                    p.ack.accept();
                }
                return;
            }
            Outcome::Rejected(reason) => {
                SinkRejected {
                    sink: &sink,
                    events: request.count,
                    reason: &reason,
                }
                .emit();
                dead_letter(&sink, request, &reason).await;
                return;
            }
            Outcome::Retry { reason, after } => {
                if settings.max_retries.is_some_and(|m| attempt >= m) {
                    let why = format!("giving up after {attempt} retries: {reason}");
                    SinkFailed {
                        sink: &sink,
                        events: request.count,
                        reason: &why,
                    }
                    .emit();
                    for p in request.parts {
                        p.ack.reject();
                    }
                    return;
                }
                let step = backoff.next().unwrap_or(settings.max_backoff);
                // A Retry-After longer than our backoff wins (capped at ten minutes).
                let wait = after
                    .map_or(step, |a| a.max(step))
                    .min(Duration::from_secs(600));
                attempt += 1;
                SinkRetry {
                    sink: &sink,
                    attempt,
                    reason: &reason,
                    wait,
                }
                .emit();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = abort.cancelled() => {
                        SinkFailed { sink: &sink, events: request.count, reason: "shutting down" }.emit();
                        for p in request.parts {
                            p.ack.reject();
                        }
                        return;
                    }
                }
            }
        }
    }
}

/// Hands a refused request's events to the dead letter of the source each came
/// from; a part whose source has none stays unacknowledged (configuration checks
/// refuse that setup, so this is a last resort, never a silent drop).
async fn dead_letter(sink: &str, request: Request, reason: &str) {
    let Request { body, parts, .. } = request;
    for p in parts {
        let records: Vec<DeadRecord> = body[p.start..p.end]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| DeadRecord {
                reason: format!("sink {sink}: {}", truncate(reason, 1000)),
                raw: Some(l.to_vec()),
                origin: Some(p.origin.to_string()),
                line: None,
                sqs_message_id: p.context.as_deref().map(str::to_string),
            })
            .collect();
        match &p.dead_letter {
            Some(dl) if dl.sink.is_some() => {
                if dl.send(&records, &p.ack).await.is_ok() {
                    p.ack.accept();
                } else {
                    p.ack.reject();
                }
            }
            _ => {
                tracing::error!(
                    sink,
                    events = records.len(),
                    origin = %p.origin,
                    "refused events have no dead letter: left unacknowledged so that they are not lost"
                );
                p.ack.reject();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EncodedBatch;
    use std::sync::Mutex;
    use tokio::sync::mpsc;

    /// Answers from a script, then delivers; records what it was sent.
    struct Scripted {
        script: Mutex<Vec<Outcome>>,
        sent: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl Service for Scripted {
        async fn send(&self, _events: &[u8], count: usize) -> Outcome {
            self.sent.lock().unwrap().push(count);
            let mut s = self.script.lock().unwrap();
            if s.is_empty() {
                Outcome::Delivered
            } else {
                s.remove(0)
            }
        }
    }

    fn delivery(n: usize, ack: &AckRef, dl: Option<DeadLetter>) -> Delivery {
        let mut b = EncodedBatch::default();
        for i in 0..n {
            b.ndjson
                .extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
        }
        b.count = n;
        Delivery {
            batch: Arc::new(b),
            ack: ack.clone(),
            origin: "o".into(),
            context: None,
            dead_letter: dl,
        }
    }

    fn settings(max_events: usize) -> DriverSettings {
        DriverSettings {
            batch: BatchSettings {
                max_events,
                max_bytes: 1 << 20,
                timeout_secs: 0.05,
            },
            concurrency: 2,
            max_retries: None,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        }
    }

    async fn drive(service: Arc<Scripted>, deliveries: Vec<Delivery>, s: DriverSettings) {
        let (tx, rx) = mpsc::channel(16);
        let input = SinkInput {
            name: "t".into(),
            rx,
            abort: Default::default(),
        };
        let h = tokio::spawn(run(service, input, s));
        for d in deliveries {
            tx.send(d).await.unwrap();
        }
        drop(tx);
        h.await.unwrap();
    }

    #[tokio::test]
    async fn splits_by_events_retries_and_accepts_once_all_parts_are_sent() {
        let svc = Arc::new(Scripted {
            script: Mutex::new(vec![Outcome::Retry {
                reason: "HTTP 503".into(),
                after: None,
            }]),
            sent: Mutex::new(vec![]),
        });
        let (root, waiter) = AckRef::new();
        drive(svc.clone(), vec![delivery(25, &root, None)], settings(10)).await;
        root.accept();
        assert!(waiter.wait().await);
        let sent = svc.sent.lock().unwrap().clone();
        // 10 + 10 + 5, one of them sent twice.
        assert_eq!(sent.iter().sum::<usize>() - sent[0], 25, "{sent:?}");
        assert_eq!(sent.len(), 4);
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let svc = Arc::new(Scripted {
            script: Mutex::new(vec![Outcome::Retry {
                reason: "HTTP 429".into(),
                after: Some(Duration::from_millis(300)),
            }]),
            sent: Mutex::new(vec![]),
        });
        let (root, waiter) = AckRef::new();
        let t = Instant::now();
        drive(svc, vec![delivery(3, &root, None)], settings(10)).await;
        root.accept();
        assert!(waiter.wait().await);
        assert!(t.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn refused_events_go_to_the_dead_letter_with_their_origin() {
        let svc = Arc::new(Scripted {
            script: Mutex::new(vec![Outcome::Rejected("HTTP 400: bad field".into())]),
            sent: Mutex::new(vec![]),
        });
        let (dtx, mut drx) = mpsc::channel(4);
        let dl = DeadLetter {
            source: "src".into(),
            sink: Some(dtx),
        };
        let (root, waiter) = AckRef::new();
        drive(svc, vec![delivery(2, &root, Some(dl))], settings(10)).await;
        root.accept();
        let dead = drx.recv().await.unwrap();
        assert_eq!(dead.batch.count, 2);
        let first: serde_json::Value =
            serde_json::from_slice(dead.batch.lines().next().unwrap()).unwrap();
        assert_eq!(first["intake"]["origin"], "o");
        assert!(
            first["intake"]["reason"]
                .as_str()
                .unwrap()
                .contains("bad field")
        );
        dead.ack.accept();
        assert!(waiter.wait().await);
    }

    #[tokio::test]
    async fn refused_without_dead_letter_is_not_acknowledged() {
        let svc = Arc::new(Scripted {
            script: Mutex::new(vec![Outcome::Rejected("HTTP 401".into())]),
            sent: Mutex::new(vec![]),
        });
        let (root, waiter) = AckRef::new();
        drive(svc, vec![delivery(2, &root, None)], settings(10)).await;
        root.accept();
        assert!(!waiter.wait().await);
    }
}
