//! Syslog over a byte stream: newline framing or RFC 6587 octet counting
//! (`LEN SP MSG`), chosen by the connection's first byte, with a size limit.
//! Pure: it is fed bytes and gives back frames.

use bytes::{Buf, Bytes, BytesMut};

/// How many leading bytes of a rejected frame are kept for the dead letter.
pub const PREVIEW_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Newline,
    OctetCounting,
}

#[derive(Debug, PartialEq)]
pub enum Frame {
    /// One record, without its trailing newline.
    Record(Bytes),
    /// A frame over the limit: its first bytes; the rest is skipped.
    TooLong { first: Bytes, limit: usize },
    /// The stream is not framed as its first frame said; the connection cannot go on.
    Malformed { reason: String, first: Bytes },
}

/// Splits one connection's bytes into frames.
#[derive(Debug)]
pub struct Framer {
    mode: Option<Mode>,
    max: usize,
    /// Bytes of an over-long frame still to be dropped (octet counting).
    skip: usize,
    /// Dropping an over-long newline frame up to its newline.
    skip_line: bool,
    broken: bool,
}

impl Framer {
    pub fn new(max_event_bytes: usize) -> Framer {
        Framer {
            mode: None,
            max: max_event_bytes,
            skip: 0,
            skip_line: false,
            broken: false,
        }
    }

    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// The next complete frame in `buf` (consumed from it), or `None` until more bytes come.
    pub fn next(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            if self.broken {
                buf.clear();
                return None;
            }
            if !self.drop_skipped(buf) {
                return None;
            }
            let mode = match self.mode {
                Some(m) => m,
                None => {
                    // Leading blank lines tell nothing about the framing.
                    let start = buf.iter().position(|b| !b.is_ascii_whitespace())?;
                    buf.advance(start);
                    let m = if buf[0].is_ascii_digit() {
                        Mode::OctetCounting
                    } else {
                        Mode::Newline
                    };
                    self.mode = Some(m);
                    m
                }
            };
            let frame = match mode {
                Mode::Newline => self.newline_frame(buf),
                Mode::OctetCounting => self.octet_frame(buf),
            }?;
            // Blank lines between records are not events.
            if let Frame::Record(r) = &frame
                && r.iter().all(u8::is_ascii_whitespace)
            {
                continue;
            }
            return Some(frame);
        }
    }

    /// What is left when the peer closed: a last unterminated line is a record; a cut
    /// octet-counted frame is malformed.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        if self.broken || self.skip_line || self.skip > 0 {
            buf.clear();
            return None;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            buf.clear();
            return None;
        }
        let rest = buf.split().freeze();
        match self.mode {
            Some(Mode::OctetCounting) => Some(Frame::Malformed {
                reason: "connection closed inside an octet-counted frame".into(),
                first: preview(&rest),
            }),
            _ if rest.len() > self.max => Some(Frame::TooLong {
                first: preview(&rest),
                limit: self.max,
            }),
            _ => Some(Frame::Record(trim_eol(rest))),
        }
    }

    /// Drops the rest of an over-long frame; `false` while more of it is to come.
    fn drop_skipped(&mut self, buf: &mut BytesMut) -> bool {
        if self.skip > 0 {
            let n = self.skip.min(buf.len());
            buf.advance(n);
            self.skip -= n;
            if self.skip > 0 {
                return false;
            }
        }
        if self.skip_line {
            match memchr(b'\n', buf) {
                Some(i) => {
                    buf.advance(i + 1);
                    self.skip_line = false;
                }
                None => {
                    buf.clear();
                    return false;
                }
            }
        }
        true
    }

    fn newline_frame(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        match memchr(b'\n', buf) {
            Some(i) if i <= self.max => {
                let line = buf.split_to(i + 1).freeze();
                Some(Frame::Record(trim_eol(line)))
            }
            Some(i) => {
                let first = preview(&buf[..i]);
                buf.advance(i + 1);
                Some(Frame::TooLong {
                    first,
                    limit: self.max,
                })
            }
            // No newline yet, and already over the limit: reject now, skip to the newline.
            None if buf.len() > self.max => {
                let first = preview(buf);
                buf.clear();
                self.skip_line = true;
                Some(Frame::TooLong {
                    first,
                    limit: self.max,
                })
            }
            None => None,
        }
    }

    fn octet_frame(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        // Some senders put a newline after each octet-counted frame.
        let start = buf.iter().position(|b| !matches!(b, b'\n' | b'\r'))?;
        buf.advance(start);
        let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == buf.len() && digits <= 10 {
            return None; // the length is still arriving
        }
        if digits == 0 || digits > 10 || buf[digits] != b' ' {
            self.broken = true;
            return Some(Frame::Malformed {
                reason: "octet-counted stream: expected a frame length followed by a space".into(),
                first: preview(buf),
            });
        }
        let len: usize = std::str::from_utf8(&buf[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(usize::MAX);
        let header = digits + 1;
        if len > self.max {
            // Wait for enough of it to show, then skip the rest as it comes.
            let shown = len.min(PREVIEW_BYTES);
            if buf.len() < header + shown {
                return None;
            }
            buf.advance(header);
            let first = buf.split_to(shown).freeze();
            self.skip = len - shown;
            return Some(Frame::TooLong {
                first,
                limit: self.max,
            });
        }
        if buf.len() < header + len {
            return None;
        }
        buf.advance(header);
        Some(Frame::Record(trim_eol(buf.split_to(len).freeze())))
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

fn preview(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(&b[..b.len().min(PREVIEW_BYTES)])
}

fn trim_eol(mut b: Bytes) -> Bytes {
    while matches!(b.last(), Some(b'\n' | b'\r')) {
        b.truncate(b.len() - 1);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut Framer, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(f) = framer.next(&mut buf) {
                out.push(f);
            }
        }
        out.extend(framer.finish(&mut buf));
        out
    }

    fn rec(s: &str) -> Frame {
        Frame::Record(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn newline_frames_split_anywhere() {
        let mut f = Framer::new(100);
        let out = frames(&mut f, &[b"<13>one\r\n<13>tw", b"o\n\n<13>three"]);
        assert_eq!(f.mode(), Some(Mode::Newline));
        assert_eq!(out, vec![rec("<13>one"), rec("<13>two"), rec("<13>three")]);
    }

    #[test]
    fn octet_counting_detected_and_split_anywhere() {
        let mut f = Framer::new(100);
        let out = frames(
            &mut f,
            &[b"9 <13>alpha1", b"1 <13>beta\nb", b"c\n8 <13>gam", b"m"],
        );
        assert_eq!(f.mode(), Some(Mode::OctetCounting));
        // The second frame's payload contains a newline: octet counting keeps it.
        assert_eq!(
            out,
            vec![rec("<13>alpha"), rec("<13>beta\nbc"), rec("<13>gamm")]
        );
    }

    #[test]
    fn overlong_newline_frame_is_reported_and_the_stream_goes_on() {
        let mut f = Framer::new(10);
        let long = "x".repeat(40);
        let out = frames(
            &mut f,
            &[
                b"<1>ok\n",
                &long.as_bytes()[..20],
                &long.as_bytes()[20..],
                b"\n<1>after\n",
            ],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], rec("<1>ok"));
        match &out[1] {
            Frame::TooLong { first, limit } => {
                assert_eq!(*limit, 10);
                assert!(first.starts_with(b"xxxxxxxxxx"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(out[2], rec("<1>after"));
    }

    #[test]
    fn overlong_octet_frame_is_skipped_by_its_length() {
        let mut f = Framer::new(10);
        let body = "y".repeat(300);
        let frame = format!("300 {body}");
        let (a, b) = frame.as_bytes().split_at(100);
        let out = frames(&mut f, &[a, b, b"5 <1>ok"]);
        assert_eq!(out.len(), 2);
        match &out[0] {
            Frame::TooLong { first, .. } => assert_eq!(first.len(), PREVIEW_BYTES),
            other => panic!("{other:?}"),
        }
        assert_eq!(out[1], rec("<1>ok"));
    }

    #[test]
    fn broken_octet_stream_is_malformed_once() {
        let mut f = Framer::new(100);
        let out = frames(&mut f, &[b"5 <1>ab", b"<13>not counted\n", b"more\n"]);
        assert_eq!(out[0], rec("<1>ab"));
        assert!(matches!(&out[1], Frame::Malformed { first, .. } if first.starts_with(b"<13>")));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn cut_octet_frame_at_close_is_malformed() {
        let mut f = Framer::new(100);
        let out = frames(&mut f, &[b"20 <1>short"]);
        assert!(matches!(&out[0], Frame::Malformed { .. }));
    }

    #[test]
    fn record_exactly_at_the_limit_passes() {
        let mut f = Framer::new(5);
        let out = frames(&mut f, &[b"<1>ab\n<1>abc\n"]);
        assert_eq!(out[0], rec("<1>ab"));
        assert!(matches!(out[1], Frame::TooLong { .. }));
    }
}
