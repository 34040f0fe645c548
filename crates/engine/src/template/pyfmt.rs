//! Python `str()` / `repr()` of values, including Python's float formatting.

use std::fmt::Write;

use crate::value::Value;

/// Python `repr(float)`: shortest round-trip digits, scientific outside 1e-4..1e16.
pub(crate) fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // `{:e}` gives the shortest round-trip mantissa, e.g. `1.5e-5`.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

pub(crate) fn float_str(f: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, f);
    s
}

/// Python `str(v)`.
pub(crate) fn write_str(out: &mut String, v: &Value) {
    match v {
        Value::Str(s) => out.push_str(s),
        other => write_repr(out, other),
    }
}

/// Python `repr(v)`.
pub(crate) fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str_repr(out, s),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, x);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, x);
            }
            out.push('}');
        }
    }
}

/// Python's string repr: single quotes unless the text has `'` and no `"`.
pub(crate) fn write_str_repr(out: &mut String, s: &str) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

pub(crate) fn str_of(v: &Value) -> String {
    let mut s = String::new();
    write_str(&mut s, v);
    s
}

pub(crate) fn repr_of(v: &Value) -> String {
    let mut s = String::new();
    write_repr(&mut s, v);
    s
}

/// How [`write_py_json`] writes.
#[derive(Clone, Copy)]
pub(crate) struct JsonStyle {
    pub sort_keys: bool,
    /// Separators `,` and `:` instead of Python's default `, ` and `: `.
    pub compact: bool,
}

/// Python's `json.dumps` (ASCII only).
pub(crate) fn write_py_json(out: &mut String, v: &Value, style: JsonStyle) {
    let (item_sep, key_sep) = if style.compact {
        (",", ":")
    } else {
        (", ", ": ")
    };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f) => {
            if f.is_nan() {
                out.push_str("NaN")
            } else if f.is_infinite() {
                out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                write_float(out, *f)
            }
        }
        Value::Str(s) => write_json_ascii(out, s),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_py_json(out, x, style);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_json_ascii(out, k);
                out.push_str(key_sep);
                write_py_json(out, x, style);
            }
            out.push('}');
        }
    }
}

fn write_json_ascii(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", u);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(float_str(6.0), "6.0");
        assert_eq!(float_str(1e16), "1e+16");
        assert_eq!(float_str(1e-5), "1e-05");
        assert_eq!(float_str(0.0001), "0.0001");
        assert_eq!(float_str(123.456), "123.456");
        assert_eq!(float_str(-2.5e20), "-2.5e+20");
        assert_eq!(float_str(1234567890123456.0), "1234567890123456.0");
        assert_eq!(float_str(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn reprs() {
        let v = Value::List(vec![
            Value::from("a"),
            Value::Int(1),
            Value::Null,
            Value::Bool(true),
            Value::from("it's"),
        ]);
        assert_eq!(repr_of(&v), "['a', 1, None, True, \"it's\"]");
        let m: crate::value::Map = [("k", Value::from("v"))].into_iter().collect();
        assert_eq!(str_of(&Value::Map(m)), "{'k': 'v'}");
        assert_eq!(repr_of(&Value::from("a\\b\n")), "'a\\\\b\\n'");
    }
}
