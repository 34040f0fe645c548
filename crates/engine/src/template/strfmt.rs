//! Python string formatting: `"%s" % args` (the `format` filter) and `str.format`.

use super::pyfmt;
use super::val::{EvalError, Num, R, fail};
use crate::value::{Map, Value};

#[derive(Default)]
struct Spec {
    fill: char,
    align: Option<char>,
    sign: Option<char>,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    ty: Option<char>,
}

const MAX_WIDTH: usize = 4096;

fn pad(body: String, spec: &Spec, default_right: bool) -> String {
    let len = body.chars().count();
    if len >= spec.width {
        return body;
    }
    let n = spec.width - len;
    let fill = if spec.fill == '\0' { ' ' } else { spec.fill };
    let align = spec.align.unwrap_or(if spec.zero {
        '='
    } else if default_right {
        '>'
    } else {
        '<'
    });
    let rep = |k: usize, c: char| std::iter::repeat_n(c, k).collect::<String>();
    match align {
        '<' => body + &rep(n, fill),
        '^' => rep(n / 2, fill) + &body + &rep(n - n / 2, fill),
        '=' => {
            let fill = if spec.zero && spec.fill == '\0' {
                '0'
            } else {
                fill
            };
            let (sign, rest) = match body.chars().next() {
                Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
                _ => (String::new(), body),
            };
            sign + &rep(n, fill) + &rest
        }
        _ => rep(n, fill) + &body,
    }
}

fn format_number(v: &Value, spec: &Spec, ty: char) -> R<String> {
    let n = Num::of(v).ok_or(EvalError("a number is required"))?;
    let mut s = match ty {
        'd' | 'i' | 'u' => match n {
            Num::I(i) => i.to_string(),
            Num::F(f) if f.is_finite() => format!("{}", f.trunc() as i64),
            Num::F(_) => return fail("cannot convert float to integer"),
        },
        'x' | 'X' | 'o' | 'b' => {
            let Num::I(i) = n else {
                return fail("integer required");
            };
            let (neg, a) = (i < 0, i.unsigned_abs());
            let d = match ty {
                'x' => format!("{a:x}"),
                'X' => format!("{a:X}"),
                'o' => format!("{a:o}"),
                _ => format!("{a:b}"),
            };
            if neg { format!("-{d}") } else { d }
        }
        'e' | 'E' => {
            let p = spec.precision.unwrap_or(6).min(100);
            let s = format!("{:.*e}", p, n.f());
            // Rust writes `1.5e3`; Python writes `1.5e+03`.
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            if ty == 'E' { s.to_uppercase() } else { s }
        }
        'g' | 'G' => {
            if spec.precision.is_none() {
                pyfmt::float_str(n.f())
            } else {
                format!("{}", n.f())
            }
        }
        '%' => format!(
            "{:.*}%",
            spec.precision.unwrap_or(6).min(100),
            n.f() * 100.0
        ),
        _ => format!("{:.*}", spec.precision.unwrap_or(6).min(100), n.f()),
    };
    if let Some(sign @ ('+' | ' ')) = spec.sign
        && !s.starts_with('-')
    {
        s.insert(0, sign);
    }
    Ok(s)
}

fn format_one(v: &Value, spec: &Spec, repr: bool) -> R<String> {
    match spec.ty {
        Some(
            t @ ('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 'b' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%'),
        ) => Ok(pad(format_number(v, spec, t)?, spec, true)),
        Some('c') => match v {
            Value::Int(i) => Ok(char::from_u32(u32::try_from(*i).unwrap_or(0xfffd))
                .unwrap_or('\u{fffd}')
                .to_string()),
            Value::Str(s) => Ok(s.to_string()),
            _ => fail("%c requires int or char"),
        },
        _ => {
            let mut s = if repr {
                pyfmt::repr_of(v)
            } else {
                pyfmt::str_of(v)
            };
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            let numeric =
                matches!(v, Value::Int(_) | Value::Float(_)) && !repr && spec.ty.is_none();
            Ok(pad(s, spec, numeric))
        }
    }
}

/// `fmt % args` with `%s %r %d %i %f %x %o %e %g %c %%`, flags, width, precision,
/// and `%(name)s` against a single dict argument.
pub(crate) fn percent_format(fmt: &str, args: &[Value]) -> R<String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if it.peek() == Some(&'(') {
            it.next();
            let mut k = String::new();
            for c in it.by_ref() {
                if c == ')' {
                    break;
                }
                k.push(c);
            }
            key = Some(k);
        }
        let mut spec = Spec::default();
        while let Some(&f) = it.peek() {
            match f {
                '-' => spec.align = Some('<'),
                '0' => spec.zero = true,
                '+' | ' ' => spec.sign = Some(f),
                '#' => {}
                _ => break,
            }
            it.next();
        }
        while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
            spec.width = (spec.width * 10 + d as usize).min(MAX_WIDTH);
            it.next();
        }
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = 0usize;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                p = (p * 10 + d as usize).min(MAX_WIDTH);
                it.next();
            }
            spec.precision = Some(p);
        }
        let Some(conv) = it.next() else {
            return fail("incomplete format");
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match &key {
            Some(k) => match args.first() {
                Some(Value::Map(m)) => m.get(k).ok_or(EvalError("format key not found"))?,
                _ => return fail("format requires a mapping"),
            },
            None => {
                let a = args
                    .get(next)
                    .ok_or(EvalError("not enough arguments for format string"))?;
                next += 1;
                a
            }
        };
        spec.ty = match conv {
            's' | 'r' | 'a' => None,
            'F' => Some('f'),
            c => Some(c),
        };
        if !matches!(
            conv,
            's' | 'r'
                | 'a'
                | 'd'
                | 'i'
                | 'u'
                | 'x'
                | 'X'
                | 'o'
                | 'e'
                | 'E'
                | 'f'
                | 'F'
                | 'g'
                | 'G'
                | 'c'
        ) {
            return fail("unsupported format character");
        }
        out.push_str(&format_one(arg, &spec, conv == 'r' || conv == 'a')?);
        if out.len() > super::val::MAX_STR {
            return fail("string too large");
        }
    }
    Ok(out)
}

fn parse_spec(s: &str) -> Spec {
    let mut spec = Spec::default();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        spec.fill = chars[0];
        spec.align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && is_align(chars[0]) {
        spec.align = Some(chars[0]);
        i = 1;
    }
    if let Some(&c @ ('+' | '-' | ' ')) = chars.get(i) {
        spec.sign = Some(c);
        i += 1;
    }
    if chars.get(i) == Some(&'0') {
        spec.zero = true;
        i += 1;
    }
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        spec.width = (spec.width * 10 + d as usize).min(MAX_WIDTH);
        i += 1;
    }
    if chars.get(i) == Some(&',') || chars.get(i) == Some(&'_') {
        i += 1;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        let mut p = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            p = (p * 10 + d as usize).min(MAX_WIDTH);
            i += 1;
        }
        spec.precision = Some(p);
    }
    spec.ty = chars.get(i).copied().filter(|c| *c != 's');
    spec
}

/// Python `str.format` with `{}`, `{0}`, `{name}`, `{x.attr}`/`{x[key]}`, `!r`, and
/// common format specs.
pub(crate) fn str_format(fmt: &str, pos: &[Value], kw: &Map) -> R<String> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut auto = 0;
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
                out.push('{');
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
                out.push('}');
            }
            '}' => return fail("single '}' in format string"),
            '{' => {
                let mut field = String::new();
                let mut closed = false;
                for c in it.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    field.push(c);
                }
                if !closed {
                    return fail("single '{' in format string");
                }
                let (field, spec) = field.split_once(':').unwrap_or((&field, ""));
                let (field, conv) = field.split_once('!').unwrap_or((field, ""));
                let split = field.find(['.', '[']).unwrap_or(field.len());
                let (name, rest) = field.split_at(split);
                let mut v = if name.is_empty() {
                    let v = pos
                        .get(auto)
                        .ok_or(EvalError("format index out of range"))?;
                    auto += 1;
                    v
                } else if let Ok(i) = name.parse::<usize>() {
                    pos.get(i).ok_or(EvalError("format index out of range"))?
                } else {
                    kw.get(name).ok_or(EvalError("format key not found"))?
                };
                for part in rest.split(['.', '[']).filter(|p| !p.is_empty()) {
                    let key = part.trim_end_matches(']');
                    v = match v {
                        Value::Map(m) => m.get(key).ok_or(EvalError("format key not found"))?,
                        Value::List(l) => key
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| l.get(i))
                            .ok_or(EvalError("format index out of range"))?,
                        _ => return fail("format field not found"),
                    };
                }
                out.push_str(&format_one(v, &parse_spec(spec), conv == "r")?);
                if out.len() > super::val::MAX_STR {
                    return fail("string too large");
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent() {
        let r = percent_format(
            "%s-%d-%05.1f-%x-%%",
            &[
                Value::from("a"),
                Value::Int(7),
                Value::Float(2.25),
                Value::Int(255),
            ],
        );
        assert_eq!(r.unwrap(), "a-7-002.2-ff-%");
        assert!(percent_format("%s %s", &[Value::Int(1)]).is_err());
    }

    #[test]
    fn format_method() {
        let r = str_format(
            "{}:{0}:{x}:{:>4}:{{}}",
            &[Value::from("a"), Value::Int(5)],
            &[("x", Value::Bool(true))].into_iter().collect(),
        );
        assert_eq!(r.unwrap(), "a:a:True:   5:{}");
    }
}
