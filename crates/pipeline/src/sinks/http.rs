//! The `http` sink: each batch POSTed as JSON (an array, or NDJSON), optionally
//! gzipped, with configured headers. 2xx accepts the batch; 408, 429, 5xx and
//! network errors are retried with exponential backoff; any other 4xx will never
//! succeed, so the batch goes to the dead letter with the status and response.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::ack::AckRef;
use crate::config::{Compression, HttpEncoding, HttpSinkConfig};
use crate::dead_letter::{DeadRecord, truncate};
use crate::event::Delivery;
use crate::metrics;
use crate::shutdown::Signal;

/// What to do after one attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Retry(String),
    Refused(String),
}

/// Classifies an HTTP status.
pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 => Verdict::Retry(format!("HTTP {status}")),
        400..=499 => Verdict::Refused(format!("HTTP {status}")),
        _ => Verdict::Retry(format!("HTTP {status}")),
    }
}

/// Exponential backoff: `initial * 2^attempt`, capped.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u64 << attempt.min(20);
    let d = initial.saturating_mul(factor as u32);
    d.min(max)
}

pub struct HttpSink {
    name: Arc<str>,
    client: reqwest::Client,
    uri: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    encoding: HttpEncoding,
    compression: Compression,
    max_retries: Option<u32>,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl HttpSink {
    pub fn new(name: Arc<str>, c: &HttpSinkConfig) -> anyhow::Result<HttpSink> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &c.headers {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                reqwest::header::HeaderValue::from_str(v)?,
            );
        }
        let content_type = match c.encoding {
            HttpEncoding::JsonArray => "application/json",
            HttpEncoding::Ndjson => "application/x-ndjson",
        };
        headers
            .entry(reqwest::header::CONTENT_TYPE)
            .or_insert(reqwest::header::HeaderValue::from_static(content_type));
        if c.compression == Compression::Gzip {
            headers.insert(
                reqwest::header::CONTENT_ENCODING,
                reqwest::header::HeaderValue::from_static("gzip"),
            );
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs.max(1)))
            .user_agent(concat!("intake/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpSink {
            name,
            client,
            uri: reqwest::Url::parse(&c.uri)?,
            headers,
            encoding: c.encoding,
            compression: c.compression,
            max_retries: c.max_retries,
            initial_backoff: Duration::from_millis(c.retry_initial_backoff_ms.max(1)),
            max_backoff: Duration::from_secs(c.retry_max_backoff_secs.max(1)),
        })
    }

    fn body(&self, d: &Delivery) -> std::io::Result<Vec<u8>> {
        let raw = match self.encoding {
            HttpEncoding::JsonArray => d.batch.to_json_array(),
            HttpEncoding::Ndjson => d.batch.ndjson.clone(),
        };
        match self.compression {
            Compression::None => Ok(raw),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw.len() / 4),
                    flate2::Compression::fast(),
                );
                enc.write_all(&raw)?;
                enc.finish()
            }
        }
    }

    async fn attempt(&self, body: &[u8]) -> Verdict {
        let result = self
            .client
            .post(self.uri.clone())
            .headers(self.headers.clone())
            .body(body.to_vec())
            .send()
            .await;
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match classify(status) {
                    Verdict::Delivered => Verdict::Delivered,
                    Verdict::Retry(r) => Verdict::Retry(r),
                    Verdict::Refused(r) => {
                        let text = resp.text().await.unwrap_or_default();
                        Verdict::Refused(format!("{r}: {}", truncate(text.trim(), 500)))
                    }
                }
            }
            Err(e) => Verdict::Retry(format!("{e}")),
        }
    }

    pub async fn run(self, mut rx: mpsc::Receiver<Delivery>, abort: Signal) {
        let out_total = metrics::counter("intake_events_out_total", &[("sink", &self.name)]);
        let retries = metrics::counter("intake_sink_retries_total", &[("sink", &self.name)]);
        let errors = metrics::counter("intake_sink_errors_total", &[("sink", &self.name)]);
        while let Some(d) = rx.recv().await {
            let body = match self.body(&d) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(sink = %self.name, "cannot encode batch: {e}");
                    continue;
                }
            };
            let mut attempt = 0u32;
            loop {
                if d.ack.is_failed() {
                    // Another sink already failed this unit: it will be redelivered.
                    break;
                }
                match self.attempt(&body).await {
                    Verdict::Delivered => {
                        metrics::add(&out_total, d.batch.count as u64);
                        d.ack.accept();
                        break;
                    }
                    Verdict::Refused(reason) => {
                        metrics::add(&errors, 1);
                        tracing::error!(sink = %self.name, events = d.batch.count, "refused for good: {reason}; sending the batch to the dead letter");
                        self.dead_letter(d, &reason).await;
                        break;
                    }
                    Verdict::Retry(reason) => {
                        if self.max_retries.is_some_and(|m| attempt >= m) {
                            metrics::add(&errors, 1);
                            tracing::error!(sink = %self.name, events = d.batch.count, "giving up after {attempt} retries: {reason}; not acknowledged");
                            break;
                        }
                        let wait = backoff(self.initial_backoff, self.max_backoff, attempt);
                        attempt += 1;
                        metrics::add(&retries, 1);
                        tracing::warn!(sink = %self.name, attempt, "delivery failed: {reason}; retrying in {wait:?}");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = abort.fired() => {
                                tracing::warn!(sink = %self.name, "shutting down: batch abandoned, not acknowledged");
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    async fn dead_letter(&self, d: Delivery, reason: &str) {
        let Delivery {
            batch,
            ack,
            dead_letter,
        } = d;
        let records: Vec<DeadRecord> = batch
            .lines()
            .map(|l| DeadRecord {
                reason: format!("sink {}: {reason}", self.name),
                message: Some(String::from_utf8_lossy(l).into_owned()),
                ..DeadRecord::default()
            })
            .collect();
        match dead_letter {
            Some(dl) => {
                if dl.send(&records, &ack).await.is_ok() {
                    ack.accept();
                }
            }
            None => {
                tracing::error!(sink = %self.name, events = records.len(), "dead letter of a dead letter: dropped after logging: {reason}");
                AckRef::accept(ack);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(200), Verdict::Delivered);
        assert_eq!(classify(204), Verdict::Delivered);
        assert!(matches!(classify(503), Verdict::Retry(_)));
        assert!(matches!(classify(500), Verdict::Retry(_)));
        assert!(matches!(classify(429), Verdict::Retry(_)));
        assert!(matches!(classify(408), Verdict::Retry(_)));
        assert!(matches!(classify(400), Verdict::Refused(_)));
        assert!(matches!(classify(401), Verdict::Refused(_)));
        assert!(matches!(classify(413), Verdict::Refused(_)));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_millis(100);
        let m = Duration::from_secs(1);
        assert_eq!(backoff(i, m, 0), Duration::from_millis(100));
        assert_eq!(backoff(i, m, 1), Duration::from_millis(200));
        assert_eq!(backoff(i, m, 3), Duration::from_millis(800));
        assert_eq!(backoff(i, m, 4), m);
        assert_eq!(backoff(i, m, 60), m);
    }
}
