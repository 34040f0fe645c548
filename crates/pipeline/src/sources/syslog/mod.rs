//! The `syslog` source: UDP, TCP (newline or octet-counted framing), TLS and RELP
//! listeners. Each record's header becomes `log.syslog.*` defaults, its message part
//! is what the format reads.

pub mod framing;
pub mod header;
pub mod relp;
mod relp_server;
mod stream;
pub mod tls;
mod udp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::deliver::{Deliver, Incoming};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Relp,
}

/// TLS for `tcp` or `relp`: the server's certificate, and optionally the CAs whose
/// client certificates are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSourceConfig {
    pub format: String,
    pub dead_letter: Option<String>,
    pub transport: Transport,
    /// `host:port` to listen on.
    pub address: String,
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    /// UDP datagrams waiting for the pipeline; more are counted and dropped.
    #[serde(default = "default_udp_queue")]
    pub udp_queue: usize,
    pub tls: Option<TlsConfig>,
}

fn default_max_event_bytes() -> usize {
    64 * 1024
}
fn default_max_connections() -> usize {
    512
}
fn default_idle_timeout_secs() -> u64 {
    600
}
fn default_udp_queue() -> usize {
    8192
}

/// Events handed to the pipeline at once by one connection.
pub(crate) const BATCH_EVENTS: usize = 1000;

impl SyslogSourceConfig {
    /// Offline checks: the address parses, limits are sane, TLS files load.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.format.is_empty(), "syslog source: `format` is empty");
        self.socket_addr()?;
        anyhow::ensure!(
            self.max_event_bytes > 0,
            "syslog source: max_event_bytes must be positive"
        );
        anyhow::ensure!(
            self.max_connections > 0,
            "syslog source: max_connections must be positive"
        );
        anyhow::ensure!(
            self.idle_timeout_secs > 0,
            "syslog source: idle_timeout_secs must be positive"
        );
        anyhow::ensure!(
            self.udp_queue > 0,
            "syslog source: udp_queue must be positive"
        );
        match (&self.tls, self.transport) {
            (Some(_), Transport::Udp) => {
                anyhow::bail!("syslog source: TLS is not available over UDP")
            }
            (Some(t), _) => {
                tls::server_config(t)?;
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// Online check: the address can be bound now (released at once).
    pub async fn healthcheck(&self) -> anyhow::Result<String> {
        self.validate()?;
        let addr = self.socket_addr()?;
        match self.transport {
            Transport::Udp => {
                tokio::net::UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("syslog source: cannot bind UDP {addr}"))?;
            }
            _ => {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("syslog source: cannot listen on TCP {addr}"))?;
            }
        }
        Ok(format!(
            "syslog {} listener can bind {addr}{}",
            self.transport_name(),
            if self.tls.is_some() {
                " (TLS certificate loaded)"
            } else {
                ""
            }
        ))
    }

    fn socket_addr(&self) -> anyhow::Result<SocketAddr> {
        self.address
            .parse()
            .with_context(|| format!("syslog source: address {:?} is not host:port", self.address))
    }

    fn transport_name(&self) -> &'static str {
        match (self.transport, self.tls.is_some()) {
            (Transport::Udp, _) => "udp",
            (Transport::Tcp, false) => "tcp",
            (Transport::Tcp, true) => "tls",
            (Transport::Relp, false) => "relp",
            (Transport::Relp, true) => "relp+tls",
        }
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
}

/// A bound listener, ready to serve (binding first lets callers learn the port).
pub struct Listener {
    config: Arc<SyslogSourceConfig>,
    name: String,
    inner: Bound,
}

enum Bound {
    Udp(tokio::net::UdpSocket),
    Stream(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>),
}

impl Listener {
    /// Binds the configured address. `name` labels the source's metrics and logs.
    pub async fn bind(name: &str, config: SyslogSourceConfig) -> anyhow::Result<Listener> {
        config.validate()?;
        let addr = config.socket_addr()?;
        let inner = match config.transport {
            Transport::Udp => Bound::Udp(
                tokio::net::UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("syslog source {name}: cannot bind UDP {addr}"))?,
            ),
            _ => {
                let acceptor = match &config.tls {
                    Some(t) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                        tls::server_config(t)?,
                    ))),
                    None => None,
                };
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("syslog source {name}: cannot listen on TCP {addr}")
                })?;
                Bound::Stream(listener, acceptor)
            }
        };
        Ok(Listener {
            config: Arc::new(config),
            name: name.to_string(),
            inner,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.inner {
            Bound::Udp(s) => s.local_addr(),
            Bound::Stream(l, _) => l.local_addr(),
        }
    }

    /// Serves until `cancel` fires; returns once every connection has stopped.
    pub async fn serve(self, deliver: Arc<dyn Deliver>, cancel: CancellationToken) {
        let scheme = self.config.transport_name();
        tracing::info!(source = %self.name, address = %self.config.address, scheme, "syslog listening");
        match self.inner {
            Bound::Udp(socket) => udp::serve(self.name, self.config, socket, deliver, cancel).await,
            Bound::Stream(listener, acceptor) => {
                stream::accept_loop(self.name, self.config, listener, acceptor, deliver, cancel)
                    .await
            }
        }
    }
}

/// One record as the pipeline receives it: the header's fields as defaults, the peer,
/// and the message part; `Err` with the reason when it is not UTF-8.
pub(crate) fn incoming(record: &[u8], peer: &str) -> Result<Incoming, String> {
    let text = std::str::from_utf8(record)
        .map_err(|e| format!("syslog record from {peer} is not UTF-8 ({e})"))?;
    let parsed = header::parse(text);
    let defaults = parsed.header.ecs_defaults(Some(peer));
    Ok(Incoming {
        message: parsed.message.to_string(),
        fields: None,
        defaults: Some(defaults),
    })
}

/// A warning logged at most once per interval, with how many were held back.
pub(crate) struct RateLimitedLog {
    every: Duration,
    last: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl RateLimitedLog {
    pub fn new(every: Duration) -> RateLimitedLog {
        RateLimitedLog {
            every,
            last: std::sync::Mutex::new((None, 0)),
        }
    }

    /// Calls `log(suppressed_since_last)` when the interval has passed.
    pub fn hit(&self, log: impl FnOnce(u64)) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        match last.0 {
            Some(t) if now.duration_since(t) < self.every => last.1 += 1,
            _ => {
                let held = last.1;
                *last = (Some(now), 0);
                drop(last);
                log(held);
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// The `syslog` source in a pipeline: one listener, its records delivered through the
/// source's output.
#[async_trait::async_trait]
impl crate::component::SourceConfig for SyslogSourceConfig {
    fn validate(&self, _common: &crate::component::SourceCommon) -> anyhow::Result<()> {
        SyslogSourceConfig::validate(self)
    }

    async fn build(
        &self,
        cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Box<dyn crate::component::Source>> {
        Ok(Box::new(Listener::bind(&cx.name, self.clone()).await?))
    }

    async fn healthcheck(
        &self,
        _cx: &crate::component::SourceBuild,
    ) -> anyhow::Result<Option<String>> {
        SyslogSourceConfig::healthcheck(self).await.map(Some)
    }
}

#[async_trait::async_trait]
impl crate::component::Source for Listener {
    async fn run(self: Box<Self>, cx: crate::component::SourceContext) -> anyhow::Result<()> {
        let deliver = Arc::new(crate::sources::deliver::OutputDeliver::new(cx.output));
        (*self).serve(deliver, cx.stop).await;
        Ok(())
    }
}
