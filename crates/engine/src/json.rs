//! JSON in and out of [`Value`], without an intermediate `serde_json::Value`.
//!
//! Reading goes through serde (a visitor that builds `Value` directly). Writing is
//! hand-rolled: it is on the per-event hot path, and a direct byte writer with
//! `itoa`/`ryu` avoids serde's generic machinery.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::append::{append, append_quoted};
use crate::value::{Map, Str, Value};

/// Parses one JSON document. Integers beyond `i64` become floats.
pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

/// Serializes `value` as compact JSON, keys in insertion order.
pub fn to_json_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_json(value, &mut out);
    // The writer only emits valid UTF-8: keys and strings come from `str`.
    String::from_utf8(out).expect("JSON writer emits UTF-8")
}

/// Appends `value` as compact JSON to `out`, keys in insertion order.
pub fn write_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => append(out, itoa::Buffer::new().format(*i).as_bytes()),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_json_str(s, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
        Value::Map(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(k, out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Compact JSON with map keys sorted, recursively: the canonical form used when a
/// container is written into a keyword field.
pub fn to_json_string_sorted(value: &Value) -> String {
    let mut out = Vec::with_capacity(64);
    write_json_sorted(value, &mut out);
    String::from_utf8(out).expect("JSON writer emits UTF-8")
}

fn write_json_sorted(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_sorted(item, out);
            }
            out.push(b']');
        }
        Value::Map(map) => {
            let mut entries: Vec<(&Str, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(k, out);
                out.push(b':');
                write_json_sorted(v, out);
            }
            out.push(b'}');
        }
        other => write_json(other, out),
    }
}

fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() {
        // ryu keeps a fraction on whole numbers (`8080.0`), which keeps the type visible.
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Bytes that need an escape inside a JSON string: controls, `"` and `\\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether any of the 8 bytes of `w` needs an escape (SWAR: a byte below 0x20,
/// equal to `"` or equal to `\\`).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    // Bytes >= 0x80 are never escaped; mask them out of the "below 0x20" test.
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below | has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64))) != 0
}

/// The position of the first byte at or after `from` that needs an escape.
#[inline]
fn find_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        if word_needs_escape(w) {
            break;
        }
        i += 8;
    }
    let rest = &bytes[i..];
    // The last 0..8 bytes (when no word above needed an escape): one more word
    // test, padded with a byte that needs none, before looking byte by byte.
    if rest.len() < 8 {
        let mut word = [b' '; 8];
        word[..rest.len()].copy_from_slice(rest);
        if !word_needs_escape(u64::from_le_bytes(word)) {
            return None;
        }
    }
    rest.iter()
        .position(|&b| NEEDS_ESCAPE[b as usize])
        .map(|p| i + p)
}

/// Whether a JSON string of `s` needs any escape. Two words per step, tested
/// together: one branch per 16 bytes of clean text.
pub fn needs_escape(s: &str) -> bool {
    let mut chunks = s.as_bytes().chunks_exact(16);
    for chunk in &mut chunks {
        let (a, b) = chunk.split_at(8);
        let a = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
        let b = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        if word_needs_escape(a) | word_needs_escape(b) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| NEEDS_ESCAPE[b as usize])
}

/// Writes `s` as a JSON string literal when [`needs_escape`] is known to be false
/// for it (for example, `s` is part of a text that needs none).
#[inline]
pub fn write_json_plain_str(s: &str, out: &mut Vec<u8>) {
    debug_assert!(!needs_escape(s));
    append_quoted(out, s.as_bytes());
}

/// Writes a JSON string literal. Bytes that need no escape are copied in runs;
/// clean stretches are skipped 8 bytes at a time.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);

    out.push(b'"');
    let mut start = 0;
    while let Some(i) = find_escape(bytes, start) {
        append(out, &bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    append(out, &bytes[start..]);
    out.push(b'"');
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map.iter() {
                    m.serialize_entry(k.as_str(), v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(Str::from(s)))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(Str::from(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0));
        while let Some((k, v)) = access.next_entry::<Str, Value>()? {
            // Duplicate keys: the last one wins, as in Python's json module.
            map.insert(k, v);
        }
        Ok(Value::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_types_kept() {
        let text = r#"{"a":1,"b":8080.0,"c":"x\"y\n","d":[true,null],"e":{"f":-2}}"#;
        let v = parse_json(text).unwrap();
        assert_eq!(to_json_string(&v), text);
    }

    #[test]
    fn large_unsigned_becomes_float() {
        let v = parse_json("18446744073709551615").unwrap();
        assert!(matches!(v, Value::Float(_)));
    }

    #[test]
    fn escapes_anywhere_in_long_strings() {
        for pad in 0..20 {
            let p = "x".repeat(pad);
            let s = format!("{p}\"{p}\\{p}\u{1f}{p}é\n{p}");
            let expected = serde_json::to_string(&s).unwrap();
            assert_eq!(to_json_string(&Value::from(s.as_str())), expected);
        }
    }

    #[test]
    fn every_ascii_byte_at_every_position_of_short_strings() {
        // Each byte in each lane of the word-at-a-time check and of the tail.
        for len in 1..=17 {
            for pos in 0..len {
                for b in 0u8..0x80 {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = b;
                    let s = String::from_utf8(bytes).unwrap();
                    let mut out = Vec::new();
                    write_json_str(&s, &mut out);
                    let back: String = serde_json::from_slice(&out).unwrap();
                    assert_eq!(back, s);
                    if !(b < 0x20 || b == b'"' || b == b'\\') {
                        assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn needs_escape_finds_every_escape_at_every_position() {
        for len in 0..40 {
            for pos in 0..len {
                for b in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = b;
                    assert!(
                        needs_escape(std::str::from_utf8(&bytes).unwrap()),
                        "{bytes:?}"
                    );
                }
            }
            assert!(!needs_escape(&"é ~".repeat(len)));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(to_json_string(&Value::from("\u{1}")), "\"\\u0001\"");
    }

    #[test]
    fn sorted_writer_sorts_nested_keys() {
        let v = parse_json(r#"{"b":{"d":1,"c":2},"a":[{"z":1,"y":2}]}"#).unwrap();
        assert_eq!(
            to_json_string_sorted(&v),
            r#"{"a":[{"y":2,"z":1}],"b":{"c":2,"d":1}}"#
        );
    }
}
