//! The normalize stage: a batch of raw events through a source's format into
//! serialized ECS events, or into dead-letter records with their reason and origin.
//!
//! `intake parse` and every source of `intake run` normalize through
//! [`Normalizer::normalize`], which calls the engine's one entry point
//! ([`Format::normalize`]: the flat executor, falling back to the interpreter per
//! event), so a figure measured on one holds for the other.

use std::sync::Arc;

use intake_engine::json::{parse_json, write_json};
use intake_engine::{Format, Input, Map, Route, Timestamp, Value};

use crate::dead_letter::DeadRecord;
use crate::event::{EncodedBatch, LineKind, RawBatch};

/// The pseudo-format that passes raw events on as `{"message": …}`.
pub const RAW_FORMAT: &str = "raw";

/// How a line of text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// The line is the raw event.
    #[default]
    Lines,
    /// The line is a JSON object: `message` is the raw event, the other keys are
    /// input fields for the format.
    Json,
}

/// A source's format, or `raw`.
#[derive(Clone)]
pub enum Formatter {
    Engine(Arc<Format>),
    Raw,
}

impl Formatter {
    pub fn slug(&self) -> &str {
        match self {
            Formatter::Engine(f) => f.slug(),
            Formatter::Raw => RAW_FORMAT,
        }
    }
}

/// Loads a format by name: `raw`, a built-in slug or a format folder (a catalog's
/// `Vendor/slug` folder included). Warnings of a folder format are returned.
pub fn load_format(spec: &str, lenient: bool) -> Result<(Formatter, Vec<String>), String> {
    if spec == RAW_FORMAT {
        return Ok((Formatter::Raw, vec![]));
    }
    let path = std::path::Path::new(spec);
    if path.is_dir() {
        let folder = intake_formats::load_folder(path)?;
        let format = folder
            .compile(&intake_engine::LoadOptions { lenient })
            .map_err(|e| e.to_string())?;
        let warnings = format.warnings().iter().map(|w| w.to_string()).collect();
        return Ok((Formatter::Engine(Arc::new(format)), warnings));
    }
    intake_formats::builtin(spec)
        .map(|f| (Formatter::Engine(Arc::new(f)), vec![]))
        .map_err(|e| {
            if spec.contains('/') {
                format!("{spec}: no such format folder, and not a built-in format ({e})")
            } else {
                e
            }
        })
}

/// Everything needed to normalize a source's batches.
#[derive(Clone)]
pub struct Normalizer {
    pub format: Formatter,
    pub framing: Framing,
    /// Longest event (for the reason of an oversize one).
    pub max_event_bytes: usize,
    /// A fixed "now" for year-less dates (`intake parse --now`); else the clock.
    pub now: Option<Timestamp>,
}

/// What one batch produced.
#[derive(Debug, Default)]
pub struct Normalized {
    pub events: EncodedBatch,
    pub dead: Vec<DeadRecord>,
    /// Raw events read (normalized + dead-lettered).
    pub read: u64,
    /// Events the flat executor handed to the interpreter.
    pub fell_back: u64,
    /// Lines that are not events (headers, control messages).
    pub skipped: u64,
}

impl Normalizer {
    pub fn new(format: Formatter) -> Normalizer {
        Normalizer {
            format,
            framing: Framing::Lines,
            max_event_bytes: crate::reader::MAX_EVENT_BYTES,
            now: None,
        }
    }

    /// Normalizes `batch` into `out` (whose event buffer is reused).
    pub fn normalize(&self, batch: &RawBatch, out: &mut Normalized) {
        out.events.ndjson.clear();
        out.events.count = 0;
        out.dead.clear();
        out.read = 0;
        out.fell_back = 0;
        out.skipped = batch.skipped;
        out.events.ndjson.reserve(batch.data.len() * 4);
        let now = self.now.unwrap_or_else(chrono::Utc::now);
        for (index, line) in batch.lines.iter().enumerate() {
            let bytes = batch.bytes(line);
            out.read += 1;
            let reason = match line.kind {
                LineKind::Whole => match simdutf8::basic::from_utf8(bytes) {
                    // Most lines are ASCII: the SIMD check takes 16 or 32 bytes a step.
                    Ok(text) => match self.one(text, batch.extras(index), now, out) {
                        Ok(()) => continue,
                        Err(reason) => reason,
                    },
                    Err(_) => "not valid UTF-8 (the raw bytes are kept in base64)".to_string(),
                },
                LineKind::Oversize => format!(
                    "event longer than max_event_bytes ({} bytes); its first bytes are kept",
                    self.max_event_bytes
                ),
                LineKind::Truncated => {
                    "truncated input: the stream ended inside this event".to_string()
                }
            };
            out.dead.push(DeadRecord {
                reason,
                raw: Some(bytes.to_vec()),
                origin: Some(batch.origin.to_string()),
                line: (line.number > 0).then_some(line.number),
                sqs_message_id: batch.context.as_deref().map(str::to_string),
            });
        }
        if !batch.dead.is_empty() {
            out.read += batch.dead.len() as u64;
            out.dead.extend(batch.dead.iter().cloned());
            // Records refused while reading and while normalizing, in input order.
            out.dead.sort_by_key(|d| d.line);
        }
    }

    /// One event into `out.events`, or the reason it was refused.
    fn one(
        &self,
        text: &str,
        extras: Option<&crate::event::Extras>,
        now: Timestamp,
        out: &mut Normalized,
    ) -> Result<(), String> {
        let buf = &mut out.events.ndjson;
        let mark = buf.len();
        let input = match (self.framing, extras.and_then(|e| e.fields.clone())) {
            (Framing::Lines, None) => Input::Message(text),
            (Framing::Lines, Some(mut fields)) => {
                fields.insert("message", Value::from(text));
                Input::Fields(fields)
            }
            (Framing::Json, extra) => {
                let mut fields = match parse_json(text) {
                    Ok(Value::Map(m)) => m,
                    Ok(other) => {
                        return Err(format!(
                            "input line is JSON but not an object ({})",
                            other.type_name()
                        ));
                    }
                    Err(e) => return Err(format!("invalid JSON input: {e}")),
                };
                if let Some(extra) = extra {
                    for (k, v) in extra.into_iter() {
                        fields.insert(k, v);
                    }
                }
                Input::Fields(fields)
            }
        };
        match &self.format {
            Formatter::Raw => {
                let event = match input {
                    Input::Message(text) => {
                        let mut m = Map::with_capacity(1);
                        m.insert("message", Value::from(text));
                        Value::Map(m)
                    }
                    Input::Fields(fields) => Value::Map(fields),
                };
                write_json(&event, buf);
            }
            Formatter::Engine(format) => match format.normalize(input, now, buf) {
                Ok(Route::FellBack) => out.fell_back += 1,
                Ok(_) => {}
                Err(rejection) => return Err(rejection.reason),
            },
        }
        if let Some(defaults) = extras.and_then(|e| e.defaults.as_deref()) {
            add_defaults(buf, mark, defaults);
        }
        buf.push(b'\n');
        out.events.count += 1;
        Ok(())
    }
}

/// Adds `defaults` to the event serialized at `buf[mark..]` where it has no value.
/// Only events with defaults (pushed events with a transport header) pay for this.
fn add_defaults(buf: &mut Vec<u8>, mark: usize, defaults: &Map) {
    let Ok(text) = std::str::from_utf8(&buf[mark..]) else {
        return;
    };
    let Ok(Value::Map(mut event)) = parse_json(text) else {
        return;
    };
    merge_absent(&mut event, defaults);
    buf.truncate(mark);
    write_json(&Value::Map(event), buf);
}

fn merge_absent(into: &mut Map, from: &Map) {
    for (k, v) in from.iter() {
        match (into.get_mut(k), v) {
            (Some(Value::Map(inner)), Value::Map(sub)) => merge_absent(inner, sub),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Extras;

    fn normalizer(spec: &str) -> Normalizer {
        Normalizer::new(load_format(spec, false).unwrap().0)
    }

    fn text(n: &Normalized) -> String {
        String::from_utf8(n.events.ndjson.clone()).unwrap()
    }

    #[test]
    fn raw_passes_through() {
        let mut b = RawBatch::new("t".into());
        b.push(b"a \"b\"", 1, LineKind::Whole);
        let mut out = Normalized::default();
        normalizer(RAW_FORMAT).normalize(&b, &mut out);
        assert!(out.dead.is_empty());
        assert_eq!(out.events.count, 1);
        assert_eq!(text(&out), "{\"message\":\"a \\\"b\\\"\"}\n");
    }

    #[test]
    fn bad_lines_become_dead_records_with_origin_and_line() {
        let mut b = RawBatch::new("s3://b/k".into());
        b.context = Some("m-1".into());
        b.push(b"ok", 3, LineKind::Whole);
        b.push(b"\xff\xfe", 4, LineKind::Whole);
        b.push(b"long", 5, LineKind::Oversize);
        b.push(b"tail", 6, LineKind::Truncated);
        let mut out = Normalized::default();
        normalizer(RAW_FORMAT).normalize(&b, &mut out);
        assert_eq!(out.read, 4);
        assert_eq!(out.events.count, 1);
        let reasons: Vec<&str> = out.dead.iter().map(|d| d.reason.as_str()).collect();
        assert!(reasons[0].contains("UTF-8"), "{reasons:?}");
        assert!(reasons[1].contains("max_event_bytes"), "{reasons:?}");
        assert!(reasons[2].contains("truncated"), "{reasons:?}");
        assert_eq!(out.dead[0].raw.as_deref(), Some(&b"\xff\xfe"[..]));
        assert_eq!(out.dead[0].line, Some(4));
        assert_eq!(out.dead[0].origin.as_deref(), Some("s3://b/k"));
        assert_eq!(out.dead[0].sqs_message_id.as_deref(), Some("m-1"));
        let mut json = Vec::new();
        out.dead[0].write_json("src", &mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["intake"]["raw_base64"], "//4=");
        assert!(v.get("message").is_none());
    }

    #[test]
    fn formats_run_through_the_engine_and_defaults_fill_only_what_is_absent() {
        let n = normalizer("aws-vpc-flow-logs");
        let line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let mut b = RawBatch::new("f".into());
        let mut defaults = Map::new();
        let mut log = Map::new();
        log.insert("source", Value::from("10.0.0.9:514"));
        defaults.insert("log", Value::Map(log));
        let mut source = Map::new();
        source.insert("ip", Value::from("192.0.2.1"));
        defaults.insert("source", Value::Map(source));
        // The first line has extras, the second none.
        b.push_with(
            line,
            2,
            Extras {
                fields: None,
                defaults: Some(Arc::new(defaults)),
            },
        );
        b.push(line.as_bytes(), 1, LineKind::Whole);
        let mut out = Normalized::default();
        n.normalize(&b, &mut out);
        assert_eq!(out.events.count, 2, "{:?}", out.dead);
        let lines: Vec<serde_json::Value> = out
            .events
            .lines()
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines[0]["source"]["ip"], "172.31.16.139", "the format wins");
        assert_eq!(lines[0]["log"]["source"], "10.0.0.9:514");
        assert_eq!(lines[1]["source"]["ip"], "172.31.16.139");
        assert!(lines[1].get("log").is_none());
    }

    #[test]
    fn json_framing_passes_other_keys_to_the_format() {
        let mut n = normalizer(RAW_FORMAT);
        n.framing = Framing::Json;
        let mut b = RawBatch::new("f".into());
        b.push(br#"{"message":"m","k":1}"#, 1, LineKind::Whole);
        b.push(b"[1]", 2, LineKind::Whole);
        b.push(b"{", 3, LineKind::Whole);
        let mut out = Normalized::default();
        n.normalize(&b, &mut out);
        assert_eq!(text(&out), "{\"message\":\"m\",\"k\":1}\n");
        assert!(out.dead[0].reason.contains("not an object"));
        assert!(out.dead[1].reason.contains("invalid JSON"));
    }
}
