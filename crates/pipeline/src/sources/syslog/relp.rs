//! RELP (rsyslog's reliable event logging protocol), the server side: frames
//! `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, and the session rules (`open` first, then
//! `syslog` frames each answered with `rsp` once handled, `close`). Pure.

use bytes::{Buf, Bytes, BytesMut};

/// Limits from the RELP specification: TXNR and DATALEN have at most 9 digits,
/// a command at most 32 letters.
const MAX_DIGITS: usize = 9;
const MAX_COMMAND: usize = 32;

#[derive(Debug, PartialEq)]
pub struct RelpFrame {
    pub txnr: u64,
    pub command: String,
    pub data: Bytes,
}

#[derive(Debug, PartialEq)]
pub enum Decoded {
    Frame(RelpFrame),
    /// A `syslog` frame whose data is over the limit: its first bytes (the rest skipped).
    TooLong {
        txnr: u64,
        first: Bytes,
    },
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("RELP protocol error: {0}")]
pub struct ProtocolError(pub String);

/// Decodes frames from one connection's bytes.
#[derive(Debug)]
pub struct Decoder {
    max_data: usize,
    /// Bytes of an over-long frame (data and trailer) still to drop.
    skip: usize,
}

impl Decoder {
    pub fn new(max_data: usize) -> Decoder {
        Decoder { max_data, skip: 0 }
    }

    /// The next complete frame, consumed from `buf`; `Ok(None)` until more bytes come.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        if self.skip > 0 {
            let n = self.skip.min(buf.len());
            buf.advance(n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        // Tolerate stray newlines between frames.
        let start = buf.iter().position(|b| *b != b'\n').unwrap_or(buf.len());
        buf.advance(start);
        let mut pos = 0;
        let Some(txnr) = number(buf, &mut pos, "TXNR")? else {
            return Ok(None);
        };
        let Some(command) = word(buf, &mut pos)? else {
            return Ok(None);
        };
        // DATALEN ends with a space (data follows) or with the trailer (no data).
        let len_start = pos;
        while pos < buf.len() && buf[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == buf.len() {
            return if pos - len_start > MAX_DIGITS {
                Err(ProtocolError("DATALEN has too many digits".into()))
            } else {
                Ok(None)
            };
        }
        let digits = &buf[len_start..pos];
        if digits.is_empty() || digits.len() > MAX_DIGITS {
            return Err(ProtocolError(format!(
                "bad DATALEN in {command} frame {txnr}"
            )));
        }
        let len: usize = parse_digits(digits);
        let data_start = match (buf[pos], len) {
            (b'\n', 0) => pos,
            (b' ', _) => pos + 1,
            _ => {
                return Err(ProtocolError(format!(
                    "bad separator after DATALEN in {command} frame {txnr}"
                )));
            }
        };
        if len > self.max_data {
            let shown = len.min(super::framing::PREVIEW_BYTES);
            if buf.len() < data_start + shown {
                return Ok(None);
            }
            buf.advance(data_start);
            let first = buf.split_to(shown).freeze();
            self.skip = len - shown + 1; // and the trailer
            return if command == "syslog" {
                Ok(Some(Decoded::TooLong { txnr, first }))
            } else {
                Err(ProtocolError(format!(
                    "{command} frame {txnr} over the size limit"
                )))
            };
        }
        let end = data_start + len;
        if buf.len() <= end {
            return Ok(None);
        }
        if buf[end] != b'\n' {
            return Err(ProtocolError(format!(
                "frame {txnr} does not end with a newline"
            )));
        }
        buf.advance(data_start);
        let data = buf.split_to(len).freeze();
        buf.advance(1);
        Ok(Some(Decoded::Frame(RelpFrame {
            txnr,
            command,
            data,
        })))
    }
}

fn parse_digits(d: &[u8]) -> usize {
    d.iter().fold(0usize, |n, b| n * 10 + (b - b'0') as usize)
}

/// Digits followed by a space; `Ok(None)` while incomplete.
fn number(buf: &[u8], pos: &mut usize, what: &str) -> Result<Option<u64>, ProtocolError> {
    let start = *pos;
    let mut i = start;
    while i < buf.len() && buf[i].is_ascii_digit() {
        i += 1;
    }
    if i - start > MAX_DIGITS {
        return Err(ProtocolError(format!("{what} has too many digits")));
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == start || buf[i] != b' ' {
        return Err(ProtocolError(format!("expected {what} and a space")));
    }
    *pos = i + 1;
    Ok(Some(parse_digits(&buf[start..i]) as u64))
}

/// A command (letters) followed by a space.
fn word(buf: &[u8], pos: &mut usize) -> Result<Option<String>, ProtocolError> {
    let start = *pos;
    let mut i = start;
    while i < buf.len() && buf[i].is_ascii_alphabetic() {
        i += 1;
    }
    if i - start > MAX_COMMAND {
        return Err(ProtocolError("command too long".into()));
    }
    if i == buf.len() {
        return Ok(None);
    }
    if i == start || buf[i] != b' ' {
        return Err(ProtocolError("expected a command and a space".into()));
    }
    *pos = i + 1;
    Ok(Some(String::from_utf8_lossy(&buf[start..i]).into_owned()))
}

/// A response frame: `TXNR rsp LEN CODE SP TEXT[LF extra]`.
pub fn response(txnr: u64, code: u16, text: &str, extra: &str) -> Vec<u8> {
    let mut data = format!("{code} {text}");
    if !extra.is_empty() {
        data.push('\n');
        data.push_str(extra);
    }
    format!("{txnr} rsp {} {data}\n", data.len()).into_bytes()
}

/// What the server tells the client when it stops the session on its own.
pub fn serverclose() -> Vec<u8> {
    b"0 serverclose 0\n".to_vec()
}

/// What a session must do with a decoded frame.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Answer now (open, close, unknown command).
    Reply(Vec<u8>),
    /// A syslog record: answer `200 OK` with this TXNR once its event is accepted.
    Event { txnr: u64, record: Bytes },
    /// Answer, then end the session.
    ReplyAndClose(Vec<u8>),
}

/// The session rules: `open` must come first and offer `syslog`.
#[derive(Debug, Default)]
pub struct Session {
    open: bool,
}

impl Session {
    pub fn handle(&mut self, frame: RelpFrame) -> Result<Action, ProtocolError> {
        match (self.open, frame.command.as_str()) {
            (false, "open") => {
                let offer = String::from_utf8_lossy(&frame.data);
                let commands = offer
                    .lines()
                    .find_map(|l| l.strip_prefix("commands="))
                    .unwrap_or("");
                if !commands.split(',').any(|c| c.trim() == "syslog") {
                    return Ok(Action::ReplyAndClose(response(
                        frame.txnr,
                        500,
                        "the syslog command is required",
                        "",
                    )));
                }
                self.open = true;
                Ok(Action::Reply(response(
                    frame.txnr,
                    200,
                    "OK",
                    "relp_version=0\nrelp_software=intake\ncommands=syslog",
                )))
            }
            (false, other) => Err(ProtocolError(format!(
                "{other} frame {} before open",
                frame.txnr
            ))),
            (true, "syslog") => Ok(Action::Event {
                txnr: frame.txnr,
                record: frame.data,
            }),
            (true, "close") => Ok(Action::ReplyAndClose(response(frame.txnr, 200, "OK", ""))),
            (true, "open") => Err(ProtocolError("second open in one session".into())),
            (true, other) => Ok(Action::Reply(response(
                frame.txnr,
                500,
                &format!("command {other} not supported"),
                "",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(d: &mut Decoder, chunks: &[&[u8]]) -> Vec<Decoded> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(f) = d.next(&mut buf).unwrap() {
                out.push(f);
            }
        }
        out
    }

    fn frame(txnr: u64, command: &str, data: &str) -> Decoded {
        Decoded::Frame(RelpFrame {
            txnr,
            command: command.into(),
            data: Bytes::copy_from_slice(data.as_bytes()),
        })
    }

    #[test]
    fn frames_split_anywhere() {
        let mut d = Decoder::new(100);
        let out = decode_all(
            &mut d,
            &[
                b"1 open 23 relp_version=0\ncom",
                b"mands\n2 syslog 8 <13>a\nbc\n3 cl",
                b"ose 0\n",
            ],
        );
        assert_eq!(
            out,
            vec![
                frame(1, "open", "relp_version=0\ncommands"),
                frame(2, "syslog", "<13>a\nbc"),
                frame(3, "close", "")
            ]
        );
    }

    #[test]
    fn overlong_syslog_frame_is_reported_and_skipped() {
        let mut d = Decoder::new(4);
        let out = decode_all(&mut d, &[b"7 syslog 10 0123", b"456789\n8 syslog 2 ok\n"]);
        assert_eq!(
            out,
            vec![
                Decoded::TooLong {
                    txnr: 7,
                    first: Bytes::from_static(b"0123456789")
                },
                frame(8, "syslog", "ok")
            ]
        );
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for bad in [
            &b"x syslog 1 a\n"[..],
            b"1 syslog 2 ab!",
            b"1 syslog a\n",
            b"1 sys-log 1 a\n",
        ] {
            let mut d = Decoder::new(100);
            let mut buf = BytesMut::from(bad);
            assert!(
                d.next(&mut buf).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn session_requires_open_with_syslog() {
        let mut s = Session::default();
        let early = RelpFrame {
            txnr: 1,
            command: "syslog".into(),
            data: Bytes::from_static(b"x"),
        };
        assert!(s.handle(early).is_err());
        let open = RelpFrame {
            txnr: 1,
            command: "open".into(),
            data: Bytes::from_static(b"relp_version=0\nrelp_software=t\ncommands=syslog"),
        };
        match s.handle(open).unwrap() {
            Action::Reply(r) => {
                let r = String::from_utf8(r).unwrap();
                assert!(r.starts_with("1 rsp "), "{r}");
                assert!(
                    r.contains("200 OK\n") && r.ends_with("commands=syslog\n"),
                    "{r}"
                );
                // The length counts the data exactly.
                let data = r.splitn(4, ' ').nth(3).unwrap();
                let len: usize = r.split(' ').nth(2).unwrap().parse().unwrap();
                assert_eq!(data.len() - 1, len);
            }
            other => panic!("{other:?}"),
        }
        let ev = RelpFrame {
            txnr: 2,
            command: "syslog".into(),
            data: Bytes::from_static(b"<13>m"),
        };
        assert_eq!(
            s.handle(ev).unwrap(),
            Action::Event {
                txnr: 2,
                record: Bytes::from_static(b"<13>m")
            }
        );
        let close = RelpFrame {
            txnr: 3,
            command: "close".into(),
            data: Bytes::new(),
        };
        assert_eq!(
            s.handle(close).unwrap(),
            Action::ReplyAndClose(b"3 rsp 6 200 OK\n".to_vec())
        );
    }

    #[test]
    fn open_without_syslog_is_refused() {
        let mut s = Session::default();
        let open = RelpFrame {
            txnr: 1,
            command: "open".into(),
            data: Bytes::from_static(b"relp_version=0\ncommands=other"),
        };
        assert!(matches!(s.handle(open).unwrap(), Action::ReplyAndClose(_)));
    }
}
