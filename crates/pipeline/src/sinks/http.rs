//! The `http` sink: batches POSTed as JSON (an array, or NDJSON), optionally
//! gzipped, with configured headers, on the shared sink driver. 2xx accepts the
//! batch; 408, 429, 5xx and network errors are retried (a `Retry-After` is
//! honoured); any other 4xx will never succeed, so the events go to the dead letter
//! with the status and the response's reason.
//!
//! Headers often carry credentials (an intake key), so redirects are followed only
//! to the same origin (scheme, host and port); `follow_redirects = "any"` lifts that.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::driver::{self, BatchSettings, DriverSettings, Outcome, Service};
use crate::component::{Sink, SinkConfig, SinkInput};
use crate::dead_letter::truncate;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HttpEncoding {
    #[default]
    JsonArray,
    Ndjson,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Redirects {
    /// Redirects to the same scheme, host and port only.
    #[default]
    SameOrigin,
    /// Any redirect (headers then reach the other host).
    Any,
    Never,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    pub uri: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub encoding: HttpEncoding,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Retries of a request after a 408/429/5xx or a network error; unset: retry
    /// until delivered (or shutdown).
    pub max_retries: Option<u32>,
    #[serde(default = "default_initial_backoff")]
    pub retry_initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff")]
    pub retry_max_backoff_secs: u64,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub batch: BatchSettings,
    #[serde(default)]
    pub follow_redirects: Redirects,
}

/// Header values often carry credentials: only their names are shown.
impl std::fmt::Debug for HttpSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSinkConfig")
            .field("uri", &self.uri)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("encoding", &self.encoding)
            .field("compression", &self.compression)
            .field("concurrency", &self.concurrency)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

fn default_timeout() -> u64 {
    30
}
fn default_initial_backoff() -> u64 {
    500
}
fn default_max_backoff() -> u64 {
    30
}
fn default_concurrency() -> usize {
    4
}

#[async_trait]
impl SinkConfig for HttpSinkConfig {
    fn validate(&self) -> anyhow::Result<()> {
        use anyhow::bail;
        let url = reqwest::Url::parse(&self.uri).map_err(|e| anyhow::anyhow!("uri: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("uri: scheme must be http or https");
        }
        for (k, v) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(v).is_err()
            {
                // The value may be a secret: only the name is shown.
                bail!("headers: invalid header {k:?}");
            }
        }
        if self.concurrency == 0 {
            bail!("concurrency: must be at least 1");
        }
        if self.batch.max_events == 0 || self.batch.max_bytes == 0 {
            bail!("batch: max_events and max_bytes must be at least 1");
        }
        Ok(())
    }

    fn can_reject(&self) -> bool {
        true
    }

    async fn build(&self, name: Arc<str>) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(HttpSink {
            service: Arc::new(HttpService::new(name, self)?),
            settings: DriverSettings {
                batch: self.batch.clone(),
                concurrency: self.concurrency,
                max_retries: self.max_retries,
                initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms.max(1)),
                max_backoff: Duration::from_secs(self.retry_max_backoff_secs.max(1)),
            },
        }))
    }
}

struct HttpSink {
    service: Arc<HttpService>,
    settings: DriverSettings,
}

#[async_trait]
impl Sink for HttpSink {
    async fn run(self: Box<Self>, input: SinkInput) -> anyhow::Result<()> {
        driver::run(self.service, input, self.settings).await;
        Ok(())
    }
}

/// Classifies an HTTP status.
pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 => Outcome::Retry {
            reason: format!("HTTP {status}"),
            after: None,
        },
        400..=499 => Outcome::Rejected(format!("HTTP {status}")),
        _ => Outcome::Retry {
            reason: format!("HTTP {status}"),
            after: None,
        },
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

struct HttpService {
    client: reqwest::Client,
    uri: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    encoding: HttpEncoding,
    compression: Compression,
}

impl HttpService {
    fn new(_name: Arc<str>, c: &HttpSinkConfig) -> anyhow::Result<HttpService> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &c.headers {
            let mut value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| anyhow::anyhow!("headers: invalid value for {k:?}"))?;
            value.set_sensitive(true);
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                value,
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
        let redirect = match c.follow_redirects {
            Redirects::Any => reqwest::redirect::Policy::limited(5),
            Redirects::Never => reqwest::redirect::Policy::none(),
            Redirects::SameOrigin => reqwest::redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if !same {
                    attempt.stop()
                } else if attempt.previous().len() > 5 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs.max(1)))
            .user_agent(concat!("intake/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect)
            .build()?;
        Ok(HttpService {
            client,
            uri: reqwest::Url::parse(&c.uri)?,
            headers,
            encoding: c.encoding,
            compression: c.compression,
        })
    }

    fn body(&self, events: &[u8]) -> std::io::Result<Vec<u8>> {
        let raw = match self.encoding {
            HttpEncoding::Ndjson => events.to_vec(),
            HttpEncoding::JsonArray => {
                let mut out = Vec::with_capacity(events.len() + 2);
                out.push(b'[');
                for (i, line) in events
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .enumerate()
                {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(line);
                }
                out.push(b']');
                out
            }
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
}

#[async_trait]
impl Service for HttpService {
    async fn send(&self, events: &[u8], _count: usize) -> Outcome {
        let body = match self.body(events) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Retry {
                    reason: format!("cannot encode the request: {e}"),
                    after: None,
                };
            }
        };
        let result = self
            .client
            .post(self.uri.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let resp = match result {
            Ok(r) => r,
            // reqwest's errors name the URL, never the headers.
            Err(e) => {
                return Outcome::Retry {
                    reason: format!("{e}"),
                    after: None,
                };
            }
        };
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?")
                .to_string();
            return Outcome::Rejected(format!(
                "HTTP {status}: redirect to {to} not followed (another origin would receive the headers; set follow_redirects = \"any\" to allow it)"
            ));
        }
        match classify(status) {
            Outcome::Retry { reason, .. } => Outcome::Retry {
                reason,
                after: resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after),
            },
            Outcome::Rejected(r) => {
                let text = resp.text().await.unwrap_or_default();
                Outcome::Rejected(format!("{r}: {}", truncate(text.trim(), 500)))
            }
            Outcome::Delivered => Outcome::Delivered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(200), Outcome::Delivered);
        assert_eq!(classify(204), Outcome::Delivered);
        for s in [408, 429, 500, 503] {
            assert!(matches!(classify(s), Outcome::Retry { .. }), "{s}");
        }
        for s in [400, 401, 403, 413] {
            assert!(matches!(classify(s), Outcome::Rejected(_)), "{s}");
        }
    }

    #[test]
    fn debug_output_shows_header_names_only() {
        let c: HttpSinkConfig = toml::from_str(
            "uri = \"https://x/\"\nheaders = { \"X-Intake-Key\" = \"k-123secret\" }",
        )
        .unwrap();
        let text = format!("{c:?}");
        assert!(
            text.contains("X-Intake-Key") && !text.contains("k-123secret"),
            "{text}"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(100)).to_rfc2822();
        let d = retry_after(&later).unwrap();
        assert!(
            d >= Duration::from_secs(98) && d <= Duration::from_secs(100),
            "{d:?}"
        );
        assert_eq!(retry_after("soon"), None);
    }
}
