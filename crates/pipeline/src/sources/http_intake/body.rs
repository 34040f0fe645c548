//! Request bodies into events: `/plain` lines, `/jsons` NDJSON or a JSON array.
//! A record that cannot be an event is set aside with its reason (dead-lettered by the
//! caller); a body that is not what the path expects at all is refused whole.

use std::io::Read;

use serde_json::{Map, Value};

use crate::sources::deliver::{Incoming, first_bytes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Jsons,
}

#[derive(Debug, PartialEq)]
pub struct Rejected {
    pub reason: String,
    pub raw: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Split {
    pub events: Vec<Incoming>,
    pub rejected: Vec<Rejected>,
}

/// How much of a rejected record is kept.
const KEEP: usize = 4096;

#[derive(Debug)]
pub enum GunzipError {
    TooLarge,
    Invalid(std::io::Error),
}

/// Decompresses a gzip body (all members), refusing more than `max` bytes of output.
pub fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity((data.len() * 4).min(max));
    flate2::read::MultiGzDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(GunzipError::Invalid)?;
    if out.len() > max {
        return Err(GunzipError::TooLarge);
    }
    Ok(out)
}

/// Lines without their line ending, numbered from 1, blank ones skipped.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
}

pub fn split(kind: Kind, body: &[u8]) -> Result<Split, String> {
    match kind {
        Kind::Plain => Ok(plain(body)),
        Kind::Jsons => jsons(body),
    }
}

fn plain(body: &[u8]) -> Split {
    let mut out = Split::default();
    for (n, line) in lines(body) {
        match std::str::from_utf8(line) {
            Ok(text) => out.events.push(Incoming::plain(text.to_string())),
            Err(e) => out.rejected.push(Rejected {
                reason: format!("line {n} is not UTF-8 ({e})"),
                raw: first_bytes(line, KEEP),
            }),
        }
    }
    out
}

/// One `{"message": "…", …}` object into an event; the other keys become input fields.
fn event(mut object: Map<String, Value>) -> Result<Incoming, String> {
    match object.remove("message") {
        Some(Value::String(message)) => Ok(Incoming {
            message,
            fields: (!object.is_empty()).then_some(object),
            defaults: None,
        }),
        Some(_) => Err("\"message\" is not a string".into()),
        None => Err("no \"message\" key".into()),
    }
}

fn jsons(body: &[u8]) -> Result<Split, String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| body[i] == b'[') {
        return array(body);
    }
    let mut out = Split::default();
    let mut first_error = None;
    for (n, line) in lines(body) {
        let parsed = serde_json::from_slice::<Map<String, Value>>(line)
            .map_err(|e| format!("line {n} is not a JSON object: {e}"))
            .and_then(|o| event(o).map_err(|e| format!("line {n}: {e}")));
        match parsed {
            Ok(ev) => out.events.push(ev),
            Err(reason) => {
                first_error.get_or_insert_with(|| reason.clone());
                out.rejected.push(Rejected {
                    reason,
                    raw: first_bytes(line, KEEP),
                });
            }
        }
    }
    // Not one object in the whole body: the client sent something else than NDJSON.
    if out.events.is_empty()
        && let Some(reason) = first_error
    {
        return Err(format!(
            "body is not NDJSON or a JSON array of objects: {reason}"
        ));
    }
    Ok(out)
}

fn array(body: &[u8]) -> Result<Split, String> {
    let items: Vec<Value> =
        serde_json::from_slice(body).map_err(|e| format!("body is not a valid JSON array: {e}"))?;
    let mut out = Split::default();
    for (i, item) in items.into_iter().enumerate() {
        let usable = item.get("message").is_some_and(Value::is_string);
        match item {
            Value::Object(o) if usable => out.events.extend(event(o).ok()),
            other => {
                let reason = match &other {
                    Value::Object(o) if o.contains_key("message") => "\"message\" is not a string",
                    Value::Object(_) => "no \"message\" key",
                    _ => "not a JSON object",
                };
                let raw = serde_json::to_vec(&other).unwrap_or_default();
                out.rejected.push(Rejected {
                    reason: format!("array element {i}: {reason}"),
                    raw: first_bytes(&raw, KEEP),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_lines() {
        let s = split(Kind::Plain, b"one\r\n\n  \ntwo\n\xffbad\nthree").unwrap();
        let m: Vec<_> = s.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(m, ["one", "two", "three"]);
        assert_eq!(s.rejected.len(), 1);
        assert!(s.rejected[0].reason.starts_with("line 5 is not UTF-8"));
        assert_eq!(s.rejected[0].raw, b"\xffbad");
    }

    #[test]
    fn ndjson_with_fields_and_a_bad_line() {
        let body =
            b"{\"message\":\"a\",\"region\":\"eu\"}\n{broken\n{\"message\":\"b\"}\n{\"msg\":1}\n";
        let s = split(Kind::Jsons, body).unwrap();
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.events[0].message, "a");
        assert_eq!(
            Value::Object(s.events[0].fields.clone().unwrap()),
            json!({"region": "eu"})
        );
        assert_eq!(s.events[1].fields, None);
        assert_eq!(s.rejected.len(), 2);
        assert!(
            s.rejected[0]
                .reason
                .starts_with("line 2 is not a JSON object")
        );
        assert_eq!(s.rejected[0].raw, b"{broken");
        assert_eq!(s.rejected[1].reason, "line 4: no \"message\" key");
    }

    #[test]
    fn json_array() {
        let s = split(
            Kind::Jsons,
            b" [{\"message\":\"x\",\"k\":2}, 3, {\"message\":{}}]",
        )
        .unwrap();
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.rejected.len(), 2);
        assert_eq!(s.rejected[0].reason, "array element 1: not a JSON object");
        assert_eq!(
            s.rejected[1].reason,
            "array element 2: \"message\" is not a string"
        );
        assert_eq!(s.rejected[0].raw, b"3");
        assert_eq!(s.rejected[1].raw, b"{\"message\":{}}");
    }

    #[test]
    fn bodies_that_are_not_jsons() {
        assert!(
            split(Kind::Jsons, b"[{\"message\":\"x\"}")
                .unwrap_err()
                .contains("JSON array")
        );
        assert!(
            split(Kind::Jsons, b"plain text\nmore text")
                .unwrap_err()
                .contains("line 1")
        );
        assert_eq!(split(Kind::Jsons, b"").unwrap().events.len(), 0);
    }

    #[test]
    fn gunzip_limits_output() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&vec![b'a'; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz, 10_000).unwrap().len(), 10_000);
        assert!(matches!(gunzip(&gz, 9_999), Err(GunzipError::TooLarge)));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(GunzipError::Invalid(_))
        ));
    }
}
