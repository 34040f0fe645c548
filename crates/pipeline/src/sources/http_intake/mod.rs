//! The `http_intake` source: the shape of a SaaS SIEM's intake endpoint.
//! `POST /plain` (one event per line) and `POST /jsons` (NDJSON or a JSON array of
//! `{"message": …}` objects), authenticated by an intake key that selects the format.
//! The answer waits until the pipeline accepted every event of the request, so a client
//! that retries after a 5xx loses nothing.

mod body;
mod keys;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as HyperBody;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::deliver::Deliver;
pub use keys::KeyStore;

/// One accepted intake key: where its value is read from, and the format it selects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeKeyConfig {
    /// A file holding the key (surrounding whitespace ignored).
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the key.
    pub key_env: Option<String>,
    /// The format of events sent with this key (default: the source's `format`).
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpIntakeSourceConfig {
    /// The format of keys that do not name their own.
    pub format: String,
    pub dead_letter: Option<String>,
    /// `host:port` to listen on.
    pub address: String,
    pub keys: Vec<IntakeKeyConfig>,
    /// Largest request body, after gzip decompression too.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Requests waiting for the pipeline at once; more are answered 503 at once.
    #[serde(default = "default_max_pending_requests")]
    pub max_pending_requests: usize,
    /// A connection that sends no complete request header for this long is closed.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
}

// Memory held by waiting requests is bounded by about
// max_pending_requests × max_body_bytes (and their parsed events).
fn default_max_body_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_max_pending_requests() -> usize {
    16
}
fn default_header_timeout_secs() -> u64 {
    30
}

/// Seconds a client is told to wait after a 503.
const RETRY_AFTER_SECS: &str = "5";

impl HttpIntakeSourceConfig {
    /// Offline checks: the address parses, limits are sane, every key can be read.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.format.is_empty(),
            "http_intake source: `format` is empty"
        );
        self.socket_addr()?;
        anyhow::ensure!(
            self.max_body_bytes > 0,
            "http_intake source: max_body_bytes must be positive"
        );
        anyhow::ensure!(
            self.max_pending_requests > 0,
            "http_intake source: max_pending_requests must be positive"
        );
        anyhow::ensure!(
            self.header_timeout_secs > 0,
            "http_intake source: header_timeout_secs must be positive"
        );
        KeyStore::load(self)?;
        Ok(())
    }

    /// Online check: the keys load and the address can be bound now.
    pub async fn healthcheck(&self) -> anyhow::Result<String> {
        self.validate()?;
        let addr = self.socket_addr()?;
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("http_intake source: cannot listen on {addr}"))?;
        Ok(format!(
            "http_intake can listen on {addr} with {} intake key(s)",
            self.keys.len()
        ))
    }

    /// Every format some key selects (the pipeline needs a `Deliver` for each).
    pub fn formats(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .keys
            .iter()
            .map(|k| k.format.clone().unwrap_or_else(|| self.format.clone()))
            .collect();
        f.sort();
        f.dedup();
        f
    }

    fn socket_addr(&self) -> anyhow::Result<SocketAddr> {
        self.address.parse().with_context(|| {
            format!(
                "http_intake source: address {:?} is not host:port",
                self.address
            )
        })
    }
}

/// What every request handler shares.
struct State {
    name: String,
    config: HttpIntakeSourceConfig,
    keys: KeyStore,
    /// One pipeline entry per format, chosen by the request's key.
    deliver: HashMap<String, Arc<dyn Deliver>>,
    pending: Semaphore,
    cancel: CancellationToken,
}

pub struct Listener {
    state: Arc<State>,
    listener: TcpListener,
}

impl Listener {
    /// Loads the keys and binds. `deliver` maps each format of [`HttpIntakeSourceConfig::formats`]
    /// to its pipeline.
    pub async fn bind(
        name: &str,
        config: HttpIntakeSourceConfig,
        deliver: HashMap<String, Arc<dyn Deliver>>,
        cancel: CancellationToken,
    ) -> anyhow::Result<Listener> {
        config.validate()?;
        for f in config.formats() {
            anyhow::ensure!(
                deliver.contains_key(&f),
                "http_intake source {name}: no pipeline for format {f:?}"
            );
        }
        let keys = KeyStore::load(&config)?;
        let addr = config.socket_addr()?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("http_intake source {name}: cannot listen on {addr}"))?;
        let state = State {
            name: name.to_string(),
            pending: Semaphore::new(config.max_pending_requests),
            config,
            keys,
            deliver,
            cancel,
        };
        Ok(Listener {
            state: Arc::new(state),
            listener,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the token given to `bind` fires; connections then finish the request
    /// they are in and close.
    pub async fn serve(self) {
        let state = self.state;
        tracing::info!(source = %state.name, address = %state.config.address, "http_intake listening");
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let (tcp, peer) = tokio::select! {
                _ = state.cancel.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(source = %state.name, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            while tasks.try_join_next().is_some() {}
            let _ = tcp.set_nodelay(true);
            tasks.spawn(connection(state.clone(), tcp, peer));
        }
        drop(self.listener);
        while tasks.join_next().await.is_some() {}
    }
}

async fn connection(state: Arc<State>, tcp: tokio::net::TcpStream, peer: SocketAddr) {
    let io = hyper_util::rt::TokioIo::new(tcp);
    let svc_state = state.clone();
    let svc = hyper::service::service_fn(move |req| {
        let state = svc_state.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&state, peer, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(state.config.header_timeout_secs));
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = state.cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(source = %state.name, %peer, "connection ended: {e}");
    }
}

type Answer = Response<Full<Bytes>>;

fn json_answer(status: StatusCode, body: serde_json::Value) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    r
}

fn error(status: StatusCode, reason: impl Into<String>) -> Answer {
    json_answer(status, serde_json::json!({ "error": reason.into() }))
}

async fn handle(state: &State, peer: SocketAddr, req: Request<HyperBody>) -> Answer {
    let path = req.uri().path().to_string();
    let kind = match (req.method(), path.as_str()) {
        (&Method::GET, "/health") => {
            return if state.cancel.is_cancelled() {
                error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            } else {
                json_answer(StatusCode::OK, serde_json::json!({ "status": "ok" }))
            };
        }
        (&Method::POST, "/plain") => body::Kind::Plain,
        (&Method::POST, "/jsons") => body::Kind::Jsons,
        (_, "/plain" | "/jsons") => return error(StatusCode::METHOD_NOT_ALLOWED, "use POST"),
        (_, "/health") => return error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "the paths are /plain, /jsons and /health",
            );
        }
    };
    let Some(format) = state.keys.authenticate(req.headers()) else {
        tracing::warn!(source = %state.name, %peer, path, "request without a valid intake key");
        return error(StatusCode::UNAUTHORIZED, "missing or unknown intake key");
    };
    if state.cancel.is_cancelled() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    // Requests beyond what the pipeline can hold are turned away, not queued unbounded.
    let Ok(_permit) = state.pending.try_acquire() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the pipeline is saturated");
    };
    let max = state.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body over max_body_bytes ({max})"),
        );
    }
    let gzip = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.as_bytes())
    {
        None => false,
        Some(b"gzip" | b"x-gzip") => true,
        Some(b"identity") => false,
        Some(other) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Encoding {:?} is not supported (gzip is)",
                    String::from_utf8_lossy(other)
                ),
            );
        }
    };
    let raw = match Limited::new(req.into_body(), max).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over max_body_bytes ({max})"),
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            );
        }
    };
    let raw = if gzip {
        match body::gunzip(&raw, max) {
            Ok(b) => Bytes::from(b),
            Err(body::GunzipError::TooLarge) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body over max_body_bytes ({max})"),
                );
            }
            Err(body::GunzipError::Invalid(e)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("body is not valid gzip: {e}"),
                );
            }
        }
    } else {
        raw
    };
    let parsed = match body::split(kind, &raw) {
        Ok(p) => p,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let origin = format!("http_intake://{peer}{path}");
    let deliver = &state.deliver[format];
    let received = parsed.events.len();
    let rejected = parsed.rejected.len();
    let mut ok = received == 0 || deliver.deliver(&origin, parsed.events).await;
    for r in parsed.rejected {
        if !ok {
            break;
        }
        ok = deliver.dead_letter(&origin, r.reason, r.raw).await;
    }
    if !ok {
        tracing::error!(source = %state.name, %peer, received, rejected,
            "the pipeline did not accept the request's events; answering 503");
        let reason = if state.cancel.is_cancelled() {
            "shutting down"
        } else {
            "the pipeline did not accept the events; retry"
        };
        return error(StatusCode::SERVICE_UNAVAILABLE, reason);
    }
    json_answer(
        StatusCode::OK,
        serde_json::json!({ "received": received, "rejected": rejected }),
    )
}

#[cfg(test)]
mod tests;

/// The `http_intake` source in a pipeline: each key's format gets its own normalizer
/// on the source's output.
#[async_trait::async_trait]
impl crate::component::SourceConfig for HttpIntakeSourceConfig {
    fn validate(&self, _common: &crate::component::SourceCommon) -> anyhow::Result<()> {
        HttpIntakeSourceConfig::validate(self)
    }

    fn needs_format(&self) -> bool {
        false
    }

    async fn build(
        &self,
        _cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Box<dyn crate::component::Source>> {
        Ok(Box::new(self.clone()))
    }

    async fn healthcheck(
        &self,
        _cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Option<String>> {
        HttpIntakeSourceConfig::healthcheck(self).await.map(Some)
    }
}

#[async_trait::async_trait]
impl crate::component::Source for HttpIntakeSourceConfig {
    async fn run(self: Box<Self>, cx: crate::component::SourceContext) -> anyhow::Result<()> {
        let deliver = crate::sources::deliver::per_format(&cx.output, self.formats())?;
        Listener::bind(&cx.name, *self, deliver, cx.stop)
            .await?
            .serve()
            .await;
        Ok(())
    }
}
