//! The UDP listener. UDP has no back-pressure: datagrams go through a bounded queue to
//! the pipeline, and those that find it full are counted and logged (at a rate limit).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{BATCH_EVENTS, RateLimitedLog, SyslogSourceConfig, incoming};
use crate::sources::deliver::{Deliver, Incoming, first_bytes};

/// What the receiving loop hands to the delivering task.
enum Item {
    Event(Incoming),
    Dead { reason: String, raw: Vec<u8> },
}

pub(super) async fn serve(
    name: String,
    config: Arc<SyslogSourceConfig>,
    socket: UdpSocket,
    deliver: Arc<dyn Deliver>,
    cancel: CancellationToken,
) {
    let (tx, rx) = mpsc::channel(config.udp_queue);
    let origin = format!(
        "syslog+udp://{}",
        socket
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    let sender = tokio::spawn(deliver_loop(name.clone(), origin, rx, deliver));
    let dropped = ::metrics::counter!("intake_syslog_udp_dropped_total", "source" => name.clone());
    let drop_log = RateLimitedLog::new(Duration::from_secs(10));
    // A datagram one byte over the limit is enough to know it is too long.
    let mut buf = vec![0u8; (config.max_event_bytes + 1).min(65_536)];
    loop {
        let (n, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(source = %name, "UDP receive failed: {e}");
                    continue;
                }
            },
        };
        let datagram = &buf[..n];
        let peer = peer.to_string();
        let item = if n > config.max_event_bytes {
            Item::Dead {
                reason: format!(
                    "syslog datagram from {peer} longer than max_event_bytes ({})",
                    config.max_event_bytes
                ),
                raw: first_bytes(datagram, super::framing::PREVIEW_BYTES),
            }
        } else {
            // A sender may end a datagram with a newline; it is not part of the record.
            let mut record = datagram;
            while let [rest @ .., b'\n' | b'\r' | 0] = record {
                record = rest;
            }
            match incoming(record, &peer) {
                Ok(ev) => Item::Event(ev),
                Err(reason) => Item::Dead {
                    reason,
                    raw: record.to_vec(),
                },
            }
        };
        if tx.try_send(item).is_err() {
            dropped.increment(1);
            drop_log.hit(|held| {
                tracing::warn!(source = %name, %peer, held_back = held,
                    "UDP datagram dropped: the pipeline queue is full (intake_syslog_udp_dropped_total)")
            });
        }
    }
    drop(tx);
    let _ = sender.await;
}

async fn deliver_loop(
    name: String,
    origin: String,
    mut rx: mpsc::Receiver<Item>,
    deliver: Arc<dyn Deliver>,
) {
    let lost = ::metrics::counter!("intake_syslog_udp_undelivered_total", "source" => name.clone());
    let mut items = Vec::with_capacity(BATCH_EVENTS);
    while rx.recv_many(&mut items, BATCH_EVENTS).await > 0 {
        let mut events = Vec::with_capacity(items.len());
        for item in items.drain(..) {
            match item {
                Item::Event(ev) => events.push(ev),
                Item::Dead { reason, raw } => {
                    tracing::warn!(source = %name, "{reason}");
                    if !deliver.dead_letter(&origin, reason, raw).await {
                        lost.increment(1);
                    }
                }
            }
        }
        let n = events.len() as u64;
        if n > 0 && !deliver.deliver(&origin, events).await {
            // UDP cannot ask the sender again: the loss is counted and said.
            lost.increment(n);
            tracing::error!(source = %name, events = n,
                "the pipeline did not accept UDP events; they are lost (intake_syslog_udp_undelivered_total)");
        }
    }
}
