//! Jinja filters (`x | f`) and tests (`x is t`), Jinja's built-ins plus the
//! SIEM's custom ones (SPEC §4.4).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use super::ast::Call;
use super::eval::{Ctx, compare};
use super::methods::{capitalize, items_of_map};
use super::pyfmt;
use super::strfmt;
use super::val::*;
use crate::network;
use crate::regex::Pattern;
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Filter {
    Lower,
    Upper,
    Length,
    First,
    Last,
    Int,
    Float,
    String,
    Default,
    Join,
    Replace,
    Trim,
    Capitalize,
    Title,
    Format,
    Escape,
    List,
    Unique,
    Sum,
    Batch,
    Items,
    Dictsort,
    Sort,
    Reverse,
    Min,
    Max,
    Abs,
    Round,
    Map,
    Select,
    Reject,
    Selectattr,
    Rejectattr,
    Attr,
    Safe,
    Tojson,
    ToJson,
    FromJson,
    IsIpaddress,
    IsIpv4,
    IsIpv6,
    IsUrl,
    ToRfc3339,
    Basename,
    Dirname,
    ReMatch,
    ReSearch,
    ToMacAddress,
    CommunityId,
    Bool,
}

impl Filter {
    pub fn from_name(name: &str) -> Option<Filter> {
        use Filter::*;
        Some(match name {
            "lower" => Lower,
            "upper" => Upper,
            "length" | "count" => Length,
            "first" => First,
            "last" => Last,
            "int" => Int,
            "float" => Float,
            "string" => String,
            "default" | "d" => Default,
            "join" => Join,
            "replace" => Replace,
            "trim" | "strip" => Trim,
            "capitalize" => Capitalize,
            "title" => Title,
            "format" => Format,
            "e" | "escape" | "forceescape" => Escape,
            "list" => List,
            "unique" => Unique,
            "sum" => Sum,
            "batch" => Batch,
            "items" => Items,
            "dictsort" => Dictsort,
            "sort" => Sort,
            "reverse" => Reverse,
            "min" => Min,
            "max" => Max,
            "abs" => Abs,
            "round" => Round,
            "map" => Map,
            "select" => Select,
            "reject" => Reject,
            "selectattr" => Selectattr,
            "rejectattr" => Rejectattr,
            "attr" => Attr,
            "safe" => Safe,
            "tojson" => Tojson,
            "to_json" => ToJson,
            "from_json" => FromJson,
            "is_ipaddress" => IsIpaddress,
            "is_ipv4" => IsIpv4,
            "is_ipv6" => IsIpv6,
            "is_url" => IsUrl,
            "to_rfc3339" | "to_iso8601" => ToRfc3339,
            "basename" => Basename,
            "dirname" => Dirname,
            "re_match" => ReMatch,
            "re_search" => ReSearch,
            "to_mac_address" => ToMacAddress,
            "community_id" => CommunityId,
            "bool" => Bool,
            _ => return None,
        })
    }

    /// Filters whose result depends on the evaluation clock.
    pub fn is_clock(self) -> bool {
        self == Filter::ToRfc3339
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TestKind {
    Defined,
    Undefined,
    None,
    Number,
    Integer,
    Float,
    String,
    Mapping,
    Iterable,
    Sequence,
    Boolean,
    True,
    False,
    In,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Divisibleby,
    Odd,
    Even,
    Lower,
    Upper,
    Sameas,
    Callable,
    Escaped,
}

impl TestKind {
    pub fn from_name(name: &str) -> Option<TestKind> {
        use TestKind::*;
        Some(match name {
            "defined" => Defined,
            "undefined" => Undefined,
            "none" => None,
            "number" => Number,
            "integer" => Integer,
            "float" => Float,
            "string" => String,
            "mapping" => Mapping,
            "iterable" => Iterable,
            "sequence" => Sequence,
            "boolean" => Boolean,
            "true" => True,
            "false" => False,
            "in" => In,
            "eq" | "equalto" | "==" => Eq,
            "ne" | "!=" => Ne,
            "lt" | "lessthan" | "<" => Lt,
            "gt" | "greaterthan" | ">" => Gt,
            "le" | "<=" => Le,
            "ge" | ">=" => Ge,
            "divisibleby" => Divisibleby,
            "odd" => Odd,
            "even" => Even,
            "lower" => Lower,
            "upper" => Upper,
            "sameas" => Sameas,
            "callable" => Callable,
            "escaped" => Escaped,
            _ => return Option::None,
        })
    }
}

type Kw<'x, 'a> = &'x [(&'a str, V<'a>)];

fn arg<'x, 'a>(pos: &'x [V<'a>], kw: Kw<'x, 'a>, i: usize, name: &str) -> Option<&'x V<'a>> {
    pos.get(i)
        .or_else(|| kw.iter().find(|(k, _)| *k == name).map(|(_, v)| v))
}

fn own<'a>(v: Value) -> R<V<'a>> {
    Ok(V::Own(v))
}

fn s<'a>(x: impl Into<crate::value::Str>) -> R<V<'a>> {
    Ok(V::Own(Value::Str(x.into())))
}

fn b<'a>(x: bool) -> R<V<'a>> {
    Ok(V::Own(Value::Bool(x)))
}

/// Evaluates a filter node.
pub(crate) fn apply<'a>(ctx: &mut Ctx<'a>, call: &'a Call<Filter>) -> R<V<'a>> {
    let input = ctx.expr(&call.input)?;
    let (pos, kw) = ctx.args(&call.args)?;
    let regex = call.regex.as_ref();
    apply_values(ctx, call.kind, input, &pos, &kw, regex)
}

/// Evaluates a test node.
pub(crate) fn test<'a>(ctx: &mut Ctx<'a>, call: &'a Call<TestKind>) -> R<bool> {
    let input = ctx.expr(&call.input)?;
    let (pos, _) = ctx.args(&call.args)?;
    run_test(call.kind, &input, &pos)
}

/// Python `str(x)` for the text filters (Undefined is ""), borrowed when a string.
fn text<'x>(v: &'x V) -> std::borrow::Cow<'x, str> {
    match v.as_str() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(v.to_py_str()),
    }
}

fn is_string(v: &V) -> bool {
    v.as_str().is_some()
}

pub(crate) fn run_test(t: TestKind, v: &V, args: &[V]) -> R<bool> {
    use TestKind::*;
    let val = v.val();
    let a0 = || args.first().ok_or(EvalError("test expects an argument"));
    Ok(match t {
        Defined => !v.is_undef(),
        Undefined => v.is_undef(),
        None => matches!(val, Some(Value::Null)),
        Number => matches!(val, Some(Value::Int(_) | Value::Float(_) | Value::Bool(_))),
        Integer => matches!(val, Some(Value::Int(_))),
        Float => matches!(val, Some(Value::Float(_))),
        String => is_string(v),
        Mapping => matches!(val, Some(Value::Map(_))) || matches!(v, V::Ns(_)),
        Iterable | Sequence => {
            v.is_undef() || matches!(val, Some(Value::Str(_) | Value::List(_) | Value::Map(_)))
        }
        Boolean => matches!(val, Some(Value::Bool(_))),
        True => matches!(val, Some(Value::Bool(true))),
        False => matches!(val, Some(Value::Bool(false))),
        In => contains(a0()?, v)?,
        Eq => py_eq(v, a0()?),
        Ne => !py_eq(v, a0()?),
        Lt => compare(super::ast::CmpOp::Lt, v, a0()?)?,
        Gt => compare(super::ast::CmpOp::Gt, v, a0()?)?,
        Le => compare(super::ast::CmpOp::Le, v, a0()?)?,
        Ge => compare(super::ast::CmpOp::Ge, v, a0()?)?,
        Divisibleby => {
            let d = a0()?;
            match (val, d.val()) {
                (Some(x), Some(y)) => {
                    let r = arith(super::ast::BinOp::Mod, x, y)?;
                    value_eq(&r, &Value::Int(0))
                }
                _ => return fail("divisibleby on undefined"),
            }
        }
        Odd | Even => match val.and_then(Num::of) {
            Some(Num::I(i)) => (i.rem_euclid(2) == 1) == (t == Odd),
            Some(Num::F(f)) => (f.rem_euclid(2.0) == 1.0) == (t == Odd),
            Option::None => return fail("odd/even expects a number"),
        },
        Lower => {
            let s = text(v);
            s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)
        }
        Upper => {
            let s = text(v);
            s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase)
        }
        Sameas => {
            let o = a0()?;
            match (val, o.val()) {
                (Some(Value::Null), Some(Value::Null)) => true,
                (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
                _ => v.is_undef() && o.is_undef(),
            }
        }
        Callable => matches!(v, V::Global(_)),
        Escaped => false,
    })
}

/// Jinja's `int`: strings parsed with `base`, else `int(float(x))`, else the default.
fn to_int(v: &V, base: u32) -> Option<Result<i64, EvalError>> {
    match v.val() {
        Some(Value::Str(s)) => {
            if let Some(i) = parse_py_int(s, base) {
                return Some(Ok(i));
            }
            let f = parse_py_float(s)?;
            Some(float_to_int(f))
        }
        Some(Value::Bool(b)) => Some(Ok(i64::from(*b))),
        Some(Value::Int(i)) => Some(Ok(*i)),
        Some(Value::Float(f)) => Some(float_to_int(*f)),
        _ => None,
    }
}

fn float_to_int(f: f64) -> Result<i64, EvalError> {
    if f.is_nan() {
        return Err(EvalError("cannot convert float NaN to integer"));
    }
    let t = f.trunc();
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        Ok(t as i64)
    } else {
        Err(EvalError("integer overflow"))
    }
}

/// Python `int(s, base)`: surrounding whitespace, sign, underscores between digits,
/// and a matching `0x`/`0o`/`0b` prefix.
pub(crate) fn parse_py_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.get(..2).map(str::to_ascii_lowercase);
    let (base, t) = match (base, lower.as_deref()) {
        (16 | 0, Some("0x")) => (16, &t[2..]),
        (8 | 0, Some("0o")) => (8, &t[2..]),
        (2 | 0, Some("0b")) => (2, &t[2..]),
        (0, _) => (10, t),
        (b, _) => (b, t),
    };
    if !(2..=36).contains(&base)
        || t.is_empty()
        || t.starts_with('_')
        || t.ends_with('_')
        || t.contains("__")
    {
        return None;
    }
    let digits: std::string::String = t.chars().filter(|c| *c != '_').collect();
    if !digits.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let v = i64::from_str_radix(&digits, base).ok()?;
    Some(if neg { v.checked_neg()? } else { v })
}

/// Python `float(s)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        let neg = lower.starts_with('-');
        let v = if body == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if neg { -v } else { v });
    }
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    if t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let cleaned: std::string::String = t.chars().filter(|c| *c != '_').collect();
    cleaned.parse::<f64>().ok()
}

fn to_float(v: &V) -> Option<f64> {
    match v.val()? {
        Value::Str(s) => parse_py_float(s),
        other => Num::of(other).map(Num::f),
    }
}

/// `attribute='a.b.0'` lookups of map/select filters.
fn attr_path<'a>(item: V<'a>, path: &str) -> R<V<'a>> {
    let mut cur = item;
    for part in path.split('.') {
        cur = match part.parse::<i64>() {
            Ok(i) => get_item(cur, &V::Own(Value::Int(i)))?,
            Err(_) => get_item(cur, &V::Own(Value::from(part)))?,
        };
    }
    Ok(cur)
}

/// The case-folded sort key of Jinja's `sort`/`unique`/`min`/`max`.
fn sort_key(v: &Value, case_sensitive: bool) -> Value {
    match v {
        Value::Str(s) if !case_sensitive => Value::from(s.to_lowercase()),
        other => other.clone(),
    }
}

fn sort_values(items: &mut [(Value, Value)], reverse: bool) -> R<()> {
    let mut err = None;
    items.sort_by(|a, b| {
        let o = value_cmp(&a.0, &b.0).unwrap_or_else(|e| {
            err = Some(e);
            Ordering::Equal
        });
        if reverse { o.reverse() } else { o }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn ip_of(v: &V) -> Option<IpAddr> {
    v.as_str()?.parse().ok()
}

fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let mut cs = scheme.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && rest
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|h| !h.is_empty())
}

fn path_split(p: &str) -> (&str, &str) {
    match p.rfind(['/', '\\']) {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

fn dirname(p: &str) -> &str {
    let (head, _) = path_split(p);
    let trimmed = head.trim_end_matches(['/', '\\']);
    if trimmed.is_empty() || trimmed.ends_with(':') {
        head
    } else {
        trimmed
    }
}

fn mac_address(s: &str) -> Option<std::string::String> {
    let t = s.trim();
    if !t
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'))
    {
        return None;
    }
    let hex: Vec<u8> = t.bytes().filter(u8::is_ascii_hexdigit).collect();
    if hex.len() != 12 {
        return None;
    }
    // Separators must split the digits evenly (`aa:bb:…`, `aabb.ccdd.eeff`, none).
    let groups: Vec<&str> = t.split([':', '-', '.']).collect();
    if !matches!(groups.len(), 1 | 3 | 6) || groups.iter().any(|g| g.len() != 12 / groups.len()) {
        return None;
    }
    let mut out = std::string::String::with_capacity(17);
    for (i, pair) in hex.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        for c in pair {
            out.push(c.to_ascii_uppercase() as char);
        }
    }
    Some(out)
}

fn escape_html(s: &str) -> std::string::String {
    let mut out = std::string::String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Jinja `title`: words start after whitespace, `-`, or an opening bracket.
fn jinja_title(s: &str) -> std::string::String {
    let mut out = std::string::String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        let sep = c.is_whitespace() || matches!(c, '-' | '(' | '{' | '[' | '<');
        if sep {
            out.push(c);
            start = true;
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn regex_of(regex: Option<&Result<Arc<Pattern>, ()>>, pos: &[V]) -> R<Arc<Pattern>> {
    super::globals::pattern_arg(regex, pos, None)
}

fn case_sensitive(pos: &[V], kw: Kw, i: usize) -> bool {
    arg(pos, kw, i, "case_sensitive").is_some_and(V::truthy)
}

fn attribute<'x>(kw: Kw<'x, '_>) -> Option<&'x str> {
    kw.iter()
        .find(|(k, _)| *k == "attribute")
        .and_then(|(_, v)| v.as_str())
}

/// Items projected through `attribute=` when given.
fn keyed<'a>(items: Vec<V<'a>>, attr: Option<&str>) -> R<Vec<(Value, V<'a>)>> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let k = match attr {
            Some(a) => attr_path(it.clone(), a)?.into_stored(),
            None => it.clone().into_stored(),
        };
        out.push((k, it));
    }
    Ok(out)
}

pub(crate) fn apply_values<'a>(
    ctx: &mut Ctx<'a>,
    f: Filter,
    input: V<'a>,
    pos: &[V<'a>],
    kw: Kw<'_, 'a>,
    regex: Option<&Result<Arc<Pattern>, ()>>,
) -> R<V<'a>> {
    use Filter::*;
    match f {
        Lower => s(text(&input).to_lowercase()),
        Upper => s(text(&input).to_uppercase()),
        Capitalize => s(capitalize(&text(&input))),
        Title => s(jinja_title(&text(&input))),
        Trim => {
            let t = text(&input);
            match arg(pos, kw, 0, "chars").and_then(V::as_str) {
                Some(cs) => s(t.trim_matches(|c| cs.contains(c))),
                None => s(t.trim()),
            }
        }
        Escape => s(escape_html(&text(&input))),
        Safe => Ok(input),
        String => match input {
            V::Ref(Value::Str(_)) | V::Own(Value::Str(_)) => Ok(input),
            other => s(other.to_py_str()),
        },
        Replace => {
            let t = text(&input);
            let old = arg(pos, kw, 0, "old")
                .map(|v| v.to_py_str())
                .unwrap_or_default();
            let new = arg(pos, kw, 1, "new")
                .map(|v| v.to_py_str())
                .unwrap_or_default();
            let estimate = (t.len() / old.len().max(1) + 1).saturating_mul(new.len());
            if estimate.saturating_add(t.len()) > MAX_STR {
                return fail("string too large");
            }
            match arg(pos, kw, 2, "count").and_then(V::val).and_then(Num::of) {
                Some(Num::I(n)) if n >= 0 => s(t.replacen(&old, &new, n as usize)),
                _ => s(t.replace(&old, &new)),
            }
        }
        Format => {
            let fmt = text(&input);
            let args: Vec<Value> = if kw.is_empty() {
                pos.iter().map(|v| v.clone().into_stored()).collect()
            } else {
                let m: crate::value::Map = kw
                    .iter()
                    .map(|(k, v)| (*k, v.clone().into_stored()))
                    .collect();
                vec![Value::Map(m)]
            };
            s(strfmt::percent_format(&fmt, &args)?)
        }
        Default => {
            let d = arg(pos, kw, 0, "default_value")
                .cloned()
                .unwrap_or(V::Own(Value::from("")));
            let boolean = arg(pos, kw, 1, "boolean").is_some_and(V::truthy);
            if input.is_undef() || (boolean && !input.truthy()) {
                Ok(d)
            } else {
                Ok(input)
            }
        }
        Length => match &input {
            V::Undef => own(Value::Int(0)),
            V::Ns(m) => own(Value::Int(m.borrow().len() as i64)),
            v => match v.val() {
                Some(Value::Str(x)) => own(Value::Int(x.chars().count() as i64)),
                Some(Value::List(l)) => own(Value::Int(l.len() as i64)),
                Some(Value::Map(m)) => own(Value::Int(m.len() as i64)),
                _ => fail("object has no len()"),
            },
        },
        First => Ok(input.into_items()?.into_iter().next().unwrap_or(V::Undef)),
        Last => Ok(input.into_items()?.pop().unwrap_or(V::Undef)),
        List => own(Value::List(
            input
                .into_items()?
                .into_iter()
                .map(V::into_stored)
                .collect(),
        )),
        Reverse => match input.val() {
            Some(Value::Str(x)) => s(x.chars().rev().collect::<std::string::String>()),
            _ => {
                let mut items: Vec<Value> = input
                    .into_items()?
                    .into_iter()
                    .map(V::into_stored)
                    .collect();
                items.reverse();
                own(Value::List(items))
            }
        },
        // Jinja's Undefined raises on `int()` and `float()`, which these filters
        // do not catch: the template fails and its field stays unset (None, an
        // unparseable value, gives the default).
        Int | Float if input.is_undef() => fail("int or float of an undefined value"),
        Int => {
            let default = arg(pos, kw, 0, "default")
                .cloned()
                .unwrap_or(V::Own(Value::Int(0)));
            let base = match arg(pos, kw, 1, "base").and_then(V::val).and_then(Num::of) {
                Some(Num::I(b)) => u32::try_from(b).unwrap_or(10),
                _ => 10,
            };
            match to_int(&input, base) {
                Some(r) => own(Value::Int(r?)),
                None => Ok(default),
            }
        }
        Float => match to_float(&input) {
            Some(x) => own(Value::Float(x)),
            None => Ok(arg(pos, kw, 0, "default")
                .cloned()
                .unwrap_or(V::Own(Value::Float(0.0)))),
        },
        Bool => b(input.truthy()),
        Abs => match input.val().and_then(Num::of) {
            Some(Num::I(i)) => own(Value::Int(
                i.checked_abs().ok_or(EvalError("integer overflow"))?,
            )),
            Some(Num::F(x)) => own(Value::Float(x.abs())),
            None => fail("bad operand type for abs()"),
        },
        Round => {
            let n = input
                .val()
                .and_then(Num::of)
                .ok_or(EvalError("round expects a number"))?;
            let prec = match arg(pos, kw, 0, "precision")
                .and_then(V::val)
                .and_then(Num::of)
            {
                Some(Num::I(p)) => p.clamp(-20, 20),
                _ => 0,
            };
            let method = arg(pos, kw, 1, "method")
                .and_then(V::as_str)
                .unwrap_or("common");
            let x = n.f();
            let scale = 10f64.powi(prec as i32);
            let r = match method {
                "ceil" => (x * scale).ceil() / scale,
                "floor" => (x * scale).floor() / scale,
                "common" => {
                    if let Num::I(i) = n {
                        return own(Value::Int(i));
                    }
                    if prec >= 0 {
                        format!("{:.*}", prec as usize, x).parse().unwrap_or(x)
                    } else {
                        (x * scale).round_ties_even() / scale
                    }
                }
                _ => return fail("method must be common, ceil or floor"),
            };
            own(Value::Float(r))
        }
        Join => {
            let sep = arg(pos, kw, 0, "d")
                .map(|v| v.to_py_str())
                .unwrap_or_default();
            let attr = arg(pos, kw, 1, "attribute")
                .and_then(V::as_str)
                .map(str::to_owned);
            let mut out = std::string::String::new();
            for (i, it) in input.into_items()?.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                match &attr {
                    Some(a) => attr_path(it, a)?.write_str(&mut out),
                    None => it.write_str(&mut out),
                }
                if out.len() > MAX_STR {
                    return fail("string too large");
                }
            }
            s(out)
        }
        Unique => {
            let cs = case_sensitive(pos, kw, 0);
            let items = keyed(input.into_items()?, attribute(kw))?;
            let mut seen: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            for (k, it) in items {
                let k = sort_key(&k, cs);
                if !seen.iter().any(|x| value_eq(x, &k)) {
                    seen.push(k);
                    out.push(it.into_stored());
                }
            }
            own(Value::List(out))
        }
        Sort => {
            let reverse = arg(pos, kw, 0, "reverse").is_some_and(V::truthy);
            let cs = case_sensitive(pos, kw, 1);
            let attr = arg(pos, kw, 2, "attribute").and_then(V::as_str);
            let mut items: Vec<(Value, Value)> = keyed(input.into_items()?, attr)?
                .into_iter()
                .map(|(k, v)| (sort_key(&k, cs), v.into_stored()))
                .collect();
            sort_values(&mut items, reverse)?;
            own(Value::List(items.into_iter().map(|(_, v)| v).collect()))
        }
        Min | Max => {
            let cs = case_sensitive(pos, kw, 0);
            let items = keyed(input.into_items()?, attribute(kw))?;
            let mut best: Option<(Value, V)> = None;
            for (k, it) in items {
                let k = sort_key(&k, cs);
                let better = match &best {
                    None => true,
                    Some((bk, _)) => {
                        let o = value_cmp(&k, bk)?;
                        if f == Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    best = Some((k, it));
                }
            }
            Ok(best.map_or(V::Undef, |(_, v)| v))
        }
        Sum => {
            let attr = attribute(kw);
            let mut acc = arg(pos, kw, 1, "start")
                .and_then(V::val)
                .cloned()
                .unwrap_or(Value::Int(0));
            for (k, _) in keyed(input.into_items()?, attr)? {
                acc = arith(super::ast::BinOp::Add, &acc, &k)?;
            }
            own(acc)
        }
        Batch => {
            let n = match arg(pos, kw, 0, "linecount")
                .and_then(V::val)
                .and_then(Num::of)
            {
                Some(Num::I(n)) if n > 0 => n as usize,
                _ => return fail("batch expects a positive count"),
            };
            let fill =
                arg(pos, kw, 1, "fill_with").filter(|v| !matches!(v.val(), Some(Value::Null)));
            let items: Vec<Value> = input
                .into_items()?
                .into_iter()
                .map(V::into_stored)
                .collect();
            let mut out: Vec<Value> = Vec::new();
            for chunk in items.chunks(n) {
                let mut c = chunk.to_vec();
                if let Some(fv) = fill {
                    while c.len() < n {
                        c.push(fv.clone().into_stored());
                    }
                }
                out.push(Value::List(c));
            }
            own(Value::List(out))
        }
        Items => match input.val() {
            _ if input.is_undef() => own(Value::List(Vec::new())),
            Some(Value::Map(m)) => own(items_of_map(m)),
            _ => fail("items expects a mapping"),
        },
        Dictsort => {
            let Some(Value::Map(m)) = input.val() else {
                return fail("dictsort expects a mapping");
            };
            let cs = case_sensitive(pos, kw, 0);
            let by_value = arg(pos, kw, 1, "by").and_then(V::as_str) == Some("value");
            let reverse = arg(pos, kw, 2, "reverse").is_some_and(V::truthy);
            let mut items: Vec<(Value, Value)> = m
                .iter()
                .map(|(k, v)| {
                    let key = if by_value {
                        v.clone()
                    } else {
                        Value::Str(k.clone())
                    };
                    (
                        sort_key(&key, cs),
                        Value::List(vec![Value::Str(k.clone()), v.clone()]),
                    )
                })
                .collect();
            sort_values(&mut items, reverse)?;
            own(Value::List(items.into_iter().map(|(_, v)| v).collect()))
        }
        Map => {
            let items = input.into_items()?;
            let mut out = Vec::with_capacity(items.len());
            if let Some(a) = attribute(kw) {
                let default = kw
                    .iter()
                    .find(|(k, _)| *k == "default")
                    .map(|(_, v)| v.clone());
                for it in items {
                    let v = attr_path(it, a)?;
                    out.push(match (&v, &default) {
                        (V::Undef, Some(d)) => d.clone().into_stored(),
                        _ => v.into_stored(),
                    });
                }
            } else {
                let name = pos
                    .first()
                    .and_then(V::as_str)
                    .ok_or(EvalError("map expects a filter name"))?;
                let sub = Filter::from_name(name).ok_or(EvalError("no such filter"))?;
                for it in items {
                    ctx.tick()?;
                    out.push(apply_values(ctx, sub, it, &pos[1..], &[], None)?.into_stored());
                }
            }
            own(Value::List(out))
        }
        Select | Reject | Selectattr | Rejectattr => {
            let by_attr = matches!(f, Selectattr | Rejectattr);
            let want = matches!(f, Select | Selectattr);
            let (attr, rest) = if by_attr {
                let a = pos
                    .first()
                    .and_then(V::as_str)
                    .ok_or(EvalError("selectattr expects an attribute"))?;
                (Some(a), &pos[1..])
            } else {
                (None, pos)
            };
            let test = match rest.first() {
                Some(t) => Some(
                    t.as_str()
                        .and_then(TestKind::from_name)
                        .ok_or(EvalError("no such test"))?,
                ),
                None => None,
            };
            let targs = rest.get(1..).unwrap_or(&[]);
            let mut out = Vec::new();
            for it in input.into_items()? {
                ctx.tick()?;
                let x = match attr {
                    Some(a) => attr_path(it.clone(), a)?,
                    None => it.clone(),
                };
                let ok = match test {
                    Some(t) => run_test(t, &x, targs)?,
                    None => x.truthy(),
                };
                if ok == want {
                    out.push(it.into_stored());
                }
            }
            own(Value::List(out))
        }
        Attr => {
            let name = pos
                .first()
                .and_then(V::as_str)
                .ok_or(EvalError("attr expects a name"))?;
            get_attr(input, name)
        }
        Tojson | ToJson => {
            let Some(v) = input.val() else {
                return fail("value is not JSON serializable");
            };
            let mut out = std::string::String::new();
            // Jinja's `tojson` sorts keys with the default separators; the
            // reference's `to_json` keeps key order and writes compact JSON.
            let style = pyfmt::JsonStyle {
                sort_keys: f == Tojson,
                compact: f == ToJson,
            };
            pyfmt::write_py_json(&mut out, v, style);
            if f == Tojson {
                // Jinja's htmlsafe_json_dumps.
                out = out
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026")
                    .replace('\'', "\\u0027");
            }
            s(out)
        }
        FromJson => match input.as_str().map(|t| crate::json::parse_json(t.trim())) {
            Some(Ok(v)) => own(v),
            _ => own(Value::Null),
        },
        IsIpaddress => b(ip_of(&input).is_some()),
        IsIpv4 => b(matches!(ip_of(&input), Some(IpAddr::V4(_)))),
        IsIpv6 => b(matches!(ip_of(&input), Some(IpAddr::V6(_)))),
        IsUrl => b(input.as_str().is_some_and(is_url)),
        ToRfc3339 => {
            let Some(v) = input.val() else {
                return Ok(V::Undef);
            };
            let t = match (arg(pos, kw, 0, "format").and_then(V::as_str), v) {
                (Some(fmt), Value::Str(x)) => {
                    crate::datetime::parse_with_format(x, fmt, crate::datetime::Zone::Utc, ctx.now)
                }
                (Some(_), _) => None,
                (None, v) => crate::datetime::parse_auto(v, ctx.now),
            };
            match t {
                Some(t) => s(crate::datetime::format_micros(t)),
                None => Ok(V::Undef),
            }
        }
        Basename | Dirname => match input.as_str() {
            Some(p) if f == Basename => s(path_split(p).1),
            Some(p) => s(dirname(p)),
            None => Ok(V::Undef),
        },
        ReMatch | ReSearch => {
            let p = regex_of(regex, pos)?;
            match input.as_str() {
                Some(t) if f == ReMatch => b(p.is_full_match(t)),
                Some(t) => b(p.find(t).is_some()),
                None => b(false),
            }
        }
        ToMacAddress => match input.as_str().and_then(mac_address) {
            Some(m) => s(m),
            None => Ok(V::Undef),
        },
        CommunityId => {
            let ids = (
                ip_of(&input),
                pos.first().and_then(ip_of),
                pos.get(1).and_then(V::val).and_then(network::port_of),
                pos.get(2).and_then(V::val).and_then(network::port_of),
                pos.get(3).and_then(V::val).and_then(network::protocol_of),
            );
            let (Some(src), Some(dst), Some(sp), Some(dp), Some(proto)) = ids else {
                return Ok(V::Undef);
            };
            match network::community_id(src, dst, sp, dp, proto, 0) {
                Some(id) => s(id.as_str()),
                None => Ok(V::Undef),
            }
        }
    }
}
