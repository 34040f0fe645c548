//! A RELP session over a stream: each `syslog` frame is answered `200 OK` only after
//! the pipeline accepted its event (or dead-lettered it); when the pipeline fails, the
//! connection is closed with those frames unanswered, so the sender sends them again.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::relp::{self, Action, Decoded, Decoder, Session};
use super::stream::{Conn, Read};
use super::{BATCH_EVENTS, incoming};
use crate::sources::deliver::Incoming;

/// Events waiting for the pipeline and the transaction numbers to answer after.
#[derive(Default)]
struct Pending {
    events: Vec<Incoming>,
    txnrs: Vec<u64>,
}

impl Pending {
    /// Delivers, then answers every pending frame. `false`: the session must end.
    async fn flush<W: AsyncWrite + Unpin>(&mut self, conn: &Conn, w: &mut W) -> bool {
        if self.txnrs.is_empty() {
            return true;
        }
        if !conn.deliver(std::mem::take(&mut self.events)).await {
            return false;
        }
        let mut answers = Vec::with_capacity(self.txnrs.len() * 16);
        for txnr in self.txnrs.drain(..) {
            answers.extend_from_slice(&relp::response(txnr, 200, "OK", ""));
        }
        write(conn, w, &answers).await
    }
}

async fn write<W: AsyncWrite + Unpin>(conn: &Conn, w: &mut W, bytes: &[u8]) -> bool {
    let r = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    match tokio::time::timeout(conn.config.idle_timeout(), r).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(source = %conn.name, peer = %conn.peer, "RELP write failed: {e}");
            false
        }
        Err(_) => {
            tracing::warn!(source = %conn.name, peer = %conn.peer, "RELP write timed out");
            false
        }
    }
}

pub(super) async fn session<S: AsyncRead + AsyncWrite + Unpin>(conn: &Conn, mut s: S) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut decoder = Decoder::new(conn.config.max_event_bytes);
    let mut session = Session::default();
    let mut pending = Pending::default();
    loop {
        loop {
            let decoded = match decoder.next(&mut buf) {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    // What was accepted before the error is still answered.
                    if pending.flush(conn, &mut s).await {
                        let _ = write(conn, &mut s, &relp::serverclose()).await;
                    }
                    tracing::warn!(source = %conn.name, peer = %conn.peer,
                        "{e}; closing the session");
                    return;
                }
            };
            let frame = match decoded {
                Decoded::Frame(f) => f,
                Decoded::TooLong { txnr, first } => {
                    if !pending.flush(conn, &mut s).await {
                        return;
                    }
                    let reason = format!(
                        "RELP syslog frame {txnr} from {} longer than max_event_bytes ({}); first {} bytes kept",
                        conn.peer,
                        conn.config.max_event_bytes,
                        first.len()
                    );
                    if !conn.dead_letter(reason, first.to_vec()).await
                        || !write(conn, &mut s, &relp::response(txnr, 200, "OK", "")).await
                    {
                        return;
                    }
                    continue;
                }
            };
            let action = match session.handle(frame) {
                Ok(a) => a,
                Err(e) => {
                    let _ = pending.flush(conn, &mut s).await;
                    let _ = write(conn, &mut s, &relp::serverclose()).await;
                    tracing::warn!(source = %conn.name, peer = %conn.peer,
                        "{e}; closing the session");
                    return;
                }
            };
            match action {
                Action::Event { txnr, record } => match incoming(&record, &conn.peer) {
                    Ok(ev) => {
                        pending.events.push(ev);
                        pending.txnrs.push(txnr);
                        if pending.txnrs.len() >= BATCH_EVENTS && !pending.flush(conn, &mut s).await
                        {
                            return;
                        }
                    }
                    Err(reason) => {
                        if !pending.flush(conn, &mut s).await
                            || !conn.dead_letter(reason, record.to_vec()).await
                            || !write(conn, &mut s, &relp::response(txnr, 200, "OK", "")).await
                        {
                            return;
                        }
                    }
                },
                Action::Reply(bytes) => {
                    if !pending.flush(conn, &mut s).await || !write(conn, &mut s, &bytes).await {
                        return;
                    }
                }
                Action::ReplyAndClose(bytes) => {
                    if pending.flush(conn, &mut s).await {
                        let _ = write(conn, &mut s, &bytes).await;
                    }
                    return;
                }
            }
        }
        if !pending.flush(conn, &mut s).await {
            return;
        }
        let how = conn.read_more(&mut s, &mut buf).await;
        match how {
            Read::Data => continue,
            Read::Cancelled => {
                let _ = write(conn, &mut s, &relp::serverclose()).await;
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
