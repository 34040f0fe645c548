//! TCP and TLS listeners: accepting within `max_connections`, and one task per
//! connection that reads only while the pipeline keeps up (back-pressure reaches the
//! sender through TCP's window).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::framing::{Frame, Framer};
use super::{BATCH_EVENTS, RateLimitedLog, SyslogSourceConfig, Transport, incoming};
use crate::sources::deliver::{Deliver, Incoming};

/// What one connection task knows.
pub(super) struct Conn {
    pub name: String,
    pub peer: String,
    pub origin: String,
    pub config: Arc<SyslogSourceConfig>,
    pub deliver: Arc<dyn Deliver>,
    pub cancel: CancellationToken,
}

pub(super) enum Read {
    Data,
    Eof,
    Idle,
    Cancelled,
    Failed(std::io::Error),
}

const READ_CHUNK: usize = 64 * 1024;

impl Conn {
    /// Reads more bytes into `buf`, giving up when idle too long or shutting down.
    pub async fn read_more<S: AsyncRead + Unpin>(&self, s: &mut S, buf: &mut BytesMut) -> Read {
        buf.reserve(READ_CHUNK);
        tokio::select! {
            _ = self.cancel.cancelled() => Read::Cancelled,
            r = tokio::time::timeout(self.config.idle_timeout(), s.read_buf(buf)) => match r {
                Err(_) => Read::Idle,
                Ok(Ok(0)) => Read::Eof,
                Ok(Ok(_)) => Read::Data,
                Ok(Err(e)) => Read::Failed(e),
            },
        }
    }

    /// Hands a batch on; `false` (logged) when the pipeline did not take it.
    pub async fn deliver(&self, batch: Vec<Incoming>) -> bool {
        if batch.is_empty() {
            return true;
        }
        let n = batch.len();
        let ok = self.deliver.deliver(&self.origin, batch).await;
        if !ok {
            tracing::error!(source = %self.name, peer = %self.peer, events = n,
                "the pipeline did not accept the events; closing the connection unacknowledged");
        }
        ok
    }

    pub async fn dead_letter(&self, reason: String, raw: Vec<u8>) -> bool {
        tracing::warn!(source = %self.name, peer = %self.peer, "{reason}");
        let ok = self.deliver.dead_letter(&self.origin, reason, raw).await;
        if !ok {
            tracing::error!(source = %self.name, peer = %self.peer,
                "the dead letter did not accept a record; closing the connection");
        }
        ok
    }

    pub fn log_end(&self, how: &Read) {
        match how {
            Read::Idle => tracing::info!(source = %self.name, peer = %self.peer,
                "closing an idle connection"),
            Read::Failed(e) => tracing::warn!(source = %self.name, peer = %self.peer,
                "connection failed: {e}"),
            _ => tracing::debug!(source = %self.name, peer = %self.peer, "connection closed"),
        }
    }
}

pub(super) async fn accept_loop(
    name: String,
    config: Arc<SyslogSourceConfig>,
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    deliver: Arc<dyn Deliver>,
    cancel: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let refused =
        ::metrics::counter!("intake_syslog_connections_refused_total", "source" => name.clone());
    let refused_log = RateLimitedLog::new(Duration::from_secs(10));
    let scheme = config_scheme(&config, acceptor.is_some());
    let mut tasks = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(source = %name, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused.increment(1);
            refused_log.hit(|held| {
                tracing::warn!(source = %name, %peer, held_back = held,
                    max_connections = config.max_connections,
                    "connection refused: max_connections reached")
            });
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = Conn {
            name: name.clone(),
            peer: peer.to_string(),
            origin: format!("{scheme}://{peer}"),
            config: config.clone(),
            deliver: deliver.clone(),
            cancel: cancel.clone(),
        };
        let acceptor = acceptor.clone();
        tasks.spawn(async move {
            let _permit = permit;
            connection(conn, tcp, acceptor).await;
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

fn config_scheme(config: &SyslogSourceConfig, tls: bool) -> &'static str {
    match (config.transport, tls) {
        (Transport::Relp, true) => "syslog+relp+tls",
        (Transport::Relp, false) => "syslog+relp",
        (_, true) => "syslog+tls",
        (_, false) => "syslog+tcp",
    }
}

async fn connection(conn: Conn, tcp: TcpStream, acceptor: Option<tokio_rustls::TlsAcceptor>) {
    match acceptor {
        None => serve(conn, tcp).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(conn.config.idle_timeout(), acceptor.accept(tcp));
            match handshake.await {
                Ok(Ok(tls)) => serve(conn, tls).await,
                Ok(Err(e)) => tracing::warn!(source = %conn.name, peer = %conn.peer,
                    "TLS handshake failed: {e}"),
                Err(_) => tracing::warn!(source = %conn.name, peer = %conn.peer,
                    "TLS handshake timed out"),
            }
        }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(conn: Conn, s: S) {
    match conn.config.transport {
        Transport::Relp => super::relp_server::session(&conn, s).await,
        _ => plain(&conn, s).await,
    }
}

/// Plain syslog over a stream: frames → events, delivered before reading further.
async fn plain<S: AsyncRead + Unpin>(conn: &Conn, mut s: S) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut framer = Framer::new(conn.config.max_event_bytes);
    let mut batch = Vec::new();
    loop {
        let mut broken = false;
        while let Some(frame) = framer.next(&mut buf) {
            if !take_frame(conn, frame, &mut batch, &mut broken).await {
                return;
            }
            if batch.len() >= BATCH_EVENTS && !conn.deliver(std::mem::take(&mut batch)).await {
                return;
            }
        }
        if !conn.deliver(std::mem::take(&mut batch)).await || broken {
            return;
        }
        let how = conn.read_more(&mut s, &mut buf).await;
        match how {
            Read::Data => continue,
            Read::Eof => {
                if let Some(frame) = framer.finish(&mut buf)
                    && take_frame(conn, frame, &mut batch, &mut broken).await
                {
                    conn.deliver(batch).await;
                }
                conn.log_end(&how);
                return;
            }
            _ => {
                conn.log_end(&how);
                return;
            }
        }
    }
}

/// Adds a record to the batch, or dead-letters what is not one. `false` when the dead
/// letter refused it (the connection must end).
async fn take_frame(
    conn: &Conn,
    frame: Frame,
    batch: &mut Vec<Incoming>,
    broken: &mut bool,
) -> bool {
    match frame {
        Frame::Record(record) => match incoming(&record, &conn.peer) {
            Ok(ev) => {
                batch.push(ev);
                true
            }
            Err(reason) => conn.dead_letter(reason, record.to_vec()).await,
        },
        Frame::TooLong { first, limit } => {
            let reason = format!(
                "syslog frame from {} longer than max_event_bytes ({limit}); first {} bytes kept",
                conn.peer,
                first.len()
            );
            conn.dead_letter(reason, first.to_vec()).await
        }
        Frame::Malformed { reason, first } => {
            *broken = true;
            let reason = format!("{reason} (from {}); closing the connection", conn.peer);
            conn.dead_letter(reason, first.to_vec()).await
        }
    }
}
