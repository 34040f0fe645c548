//! Python methods of str, dict, list and `re.Match` objects.

use super::eval::Ctx;
use super::strfmt;
use super::val::*;
use crate::value::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Method {
    // str
    Split,
    Rsplit,
    Splitlines,
    Replace,
    Strip,
    Lstrip,
    Rstrip,
    Lower,
    Upper,
    Casefold,
    Startswith,
    Endswith,
    Isdigit,
    Isnumeric,
    Isdecimal,
    Isalpha,
    Isalnum,
    Isspace,
    Islower,
    Isupper,
    Removeprefix,
    Removesuffix,
    Find,
    Rfind,
    Index,
    Rindex,
    Join,
    Format,
    Capitalize,
    Title,
    Swapcase,
    Count,
    Zfill,
    Partition,
    Rpartition,
    // dict
    Get,
    Keys,
    Values,
    Items,
    Copy,
    Update,
    Setdefault,
    Pop,
    Clear,
    // list
    Append,
    Extend,
    Insert,
    Remove,
    Reverse,
    Sort,
    // re.Match
    Group,
    Groups,
    Groupdict,
    Start,
    End,
    Span,
}

impl Method {
    pub fn from_name(name: &str) -> Option<Method> {
        use Method::*;
        Some(match name {
            "split" => Split,
            "rsplit" => Rsplit,
            "splitlines" => Splitlines,
            "replace" => Replace,
            "strip" => Strip,
            "lstrip" => Lstrip,
            "rstrip" => Rstrip,
            "lower" => Lower,
            "upper" => Upper,
            "casefold" => Casefold,
            "startswith" => Startswith,
            "endswith" => Endswith,
            "isdigit" => Isdigit,
            "isnumeric" => Isnumeric,
            "isdecimal" => Isdecimal,
            "isalpha" => Isalpha,
            "isalnum" => Isalnum,
            "isspace" => Isspace,
            "islower" => Islower,
            "isupper" => Isupper,
            "removeprefix" => Removeprefix,
            "removesuffix" => Removesuffix,
            "find" => Find,
            "rfind" => Rfind,
            "index" => Index,
            "rindex" => Rindex,
            "join" => Join,
            "format" => Format,
            "capitalize" => Capitalize,
            "title" => Title,
            "swapcase" => Swapcase,
            "count" => Count,
            "zfill" => Zfill,
            "partition" => Partition,
            "rpartition" => Rpartition,
            "get" => Get,
            "keys" => Keys,
            "values" => Values,
            "items" => Items,
            "copy" => Copy,
            "update" => Update,
            "setdefault" => Setdefault,
            "pop" => Pop,
            "clear" => Clear,
            "append" => Append,
            "extend" => Extend,
            "insert" => Insert,
            "remove" => Remove,
            "reverse" => Reverse,
            "sort" => Sort,
            "group" => Group,
            "groups" => Groups,
            "groupdict" => Groupdict,
            "start" => Start,
            "end" => End,
            "span" => Span,
            _ => return None,
        })
    }

    pub fn mutating(self) -> bool {
        use Method::*;
        matches!(
            self,
            Update | Setdefault | Pop | Clear | Append | Extend | Insert | Remove | Reverse | Sort
        )
    }
}

type Kw<'x, 'a> = &'x [(&'a str, V<'a>)];

fn arg<'x, 'a>(pos: &'x [V<'a>], kw: Kw<'x, 'a>, i: usize, name: &str) -> Option<&'x V<'a>> {
    pos.get(i)
        .or_else(|| kw.iter().find(|(k, _)| *k == name).map(|(_, v)| v))
}

/// An optional argument where None means "absent" (Python's `sep=None`).
fn opt_str<'x>(v: Option<&'x V>) -> R<Option<&'x str>> {
    match v {
        None => Ok(None),
        Some(v) => match v.val() {
            Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            _ => fail("argument must be str or None"),
        },
    }
}

fn int_or(v: Option<&V>, default: i64) -> R<i64> {
    match v {
        None => Ok(default),
        Some(v) => match v.val().and_then(Num::of) {
            Some(Num::I(i)) => Ok(i),
            _ => fail("an integer is required"),
        },
    }
}

fn req_str<'x>(v: Option<&'x V>) -> R<&'x str> {
    v.and_then(V::as_str)
        .ok_or(EvalError("argument must be str"))
}

fn own<'a>(v: Value) -> R<V<'a>> {
    Ok(V::Own(v))
}

fn strs(items: Vec<&str>) -> Value {
    Value::List(items.into_iter().map(Value::from).collect())
}

/// Python whitespace split with an optional limit.
fn split_ws(s: &str, max: i64) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if max >= 0 && out.len() as i64 >= max {
            out.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

fn rsplit_ws(s: &str, max: i64) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_end();
    while !rest.is_empty() {
        if max >= 0 && out.len() as i64 >= max {
            out.push(rest);
            break;
        }
        match rest.rfind(char::is_whitespace) {
            Some(i) => {
                let w = rest[i..].chars().next().map_or(1, char::len_utf8);
                out.push(&rest[i + w..]);
                rest = rest[..i].trim_end();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out.reverse();
    out
}

fn char_index(s: &str, byte: usize) -> i64 {
    s.get(..byte).map_or(0, |p| p.chars().count() as i64)
}

pub(crate) fn strip_chars<'s>(s: &'s str, chars: Option<&str>, left: bool, right: bool) -> &'s str {
    let f = |c: char| match chars {
        Some(cs) => cs.contains(c),
        None => c.is_whitespace(),
    };
    let s = if left { s.trim_start_matches(f) } else { s };
    if right { s.trim_end_matches(f) } else { s }
}

fn affix_match(v: Option<&V>, test: impl Fn(&str) -> bool) -> R<bool> {
    match v.and_then(V::val) {
        Some(Value::Str(p)) => Ok(test(p)),
        Some(Value::List(l)) => {
            for p in l {
                match p {
                    Value::Str(p) if test(p) => return Ok(true),
                    Value::Str(_) => {}
                    _ => return fail("tuple for startswith must only contain str"),
                }
            }
            Ok(false)
        }
        _ => fail("startswith arg must be str or a tuple of str"),
    }
}

/// Python's `str.isdigit()` (also serving `isnumeric` and `isdecimal`).
pub(crate) fn is_digit_text(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()))
}

/// Python's `str.count(sub)`: non-overlapping occurrences.
pub(crate) fn count_text(s: &str, sub: &str) -> usize {
    if sub.is_empty() {
        s.chars().count() + 1
    } else if let &[b] = sub.as_bytes() {
        // One ASCII byte: never inside a multi-byte character.
        crate::scan::count_byte(s.as_bytes(), b)
    } else {
        s.matches(sub).count()
    }
}

fn is_all(s: &str, f: impl Fn(char) -> bool) -> Value {
    Value::Bool(!s.is_empty() && s.chars().all(f))
}

fn cased_check(s: &str, want_lower: bool) -> Value {
    let mut cased = false;
    for c in s.chars() {
        if c.is_uppercase() {
            if want_lower {
                return Value::Bool(false);
            }
            cased = true;
        } else if c.is_lowercase() {
            if !want_lower {
                return Value::Bool(false);
            }
            cased = true;
        }
    }
    Value::Bool(cased)
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    if let Some(c) = it.next() {
        out.extend(c.to_uppercase());
    }
    for c in it {
        out.extend(c.to_lowercase());
    }
    out
}

/// Python `str.title()`: a letter after a non-letter starts a word.
fn py_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

fn check_len(s: String) -> R<Value> {
    if s.len() > MAX_STR {
        fail("string too large")
    } else {
        Ok(Value::from(s))
    }
}

fn str_method<'a>(m: Method, s: &str, pos: &[V<'a>], kw: Kw<'_, 'a>) -> R<V<'a>> {
    use Method::*;
    match m {
        Split | Rsplit => {
            let sep = opt_str(arg(pos, kw, 0, "sep"))?;
            let max = int_or(arg(pos, kw, 1, "maxsplit"), -1)?;
            let parts: Vec<&str> = match sep {
                None if m == Split => split_ws(s, max),
                None => rsplit_ws(s, max),
                Some("") => return fail("empty separator"),
                Some(sep) => {
                    if max < 0 {
                        s.split(sep).collect()
                    } else {
                        let n = usize::try_from(max).unwrap_or(usize::MAX).saturating_add(1);
                        if m == Split {
                            s.splitn(n, sep).collect()
                        } else {
                            let mut v: Vec<&str> = s.rsplitn(n, sep).collect();
                            v.reverse();
                            v
                        }
                    }
                }
            };
            own(strs(parts))
        }
        Splitlines => own(strs(s.lines().collect())),
        Replace => {
            let old = req_str(arg(pos, kw, 0, "old"))?;
            let new = req_str(arg(pos, kw, 1, "new"))?;
            let count = int_or(arg(pos, kw, 2, "count"), -1)?;
            let estimate = (s.len() / old.len().max(1) + 1).saturating_mul(new.len());
            if estimate.saturating_add(s.len()) > MAX_STR {
                return fail("string too large");
            }
            let r = if count < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, usize::try_from(count).unwrap_or(0))
            };
            own(check_len(r)?)
        }
        Strip | Lstrip | Rstrip => {
            let chars = opt_str(arg(pos, kw, 0, "chars"))?;
            own(Value::from(strip_chars(s, chars, m != Rstrip, m != Lstrip)))
        }
        Lower | Casefold => own(Value::from(s.to_lowercase())),
        Upper => own(Value::from(s.to_uppercase())),
        Swapcase => own(Value::from(
            s.chars()
                .flat_map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<Vec<_>>()
                    } else {
                        c.to_uppercase().collect::<Vec<_>>()
                    }
                })
                .collect::<String>(),
        )),
        Startswith => own(Value::Bool(affix_match(arg(pos, kw, 0, "prefix"), |p| {
            s.starts_with(p)
        })?)),
        Endswith => own(Value::Bool(affix_match(arg(pos, kw, 0, "suffix"), |p| {
            s.ends_with(p)
        })?)),
        Isdigit | Isnumeric | Isdecimal => own(Value::Bool(is_digit_text(s))),
        Isalpha => own(is_all(s, char::is_alphabetic)),
        Isalnum => own(is_all(s, char::is_alphanumeric)),
        Isspace => own(is_all(s, char::is_whitespace)),
        Islower => own(cased_check(s, true)),
        Isupper => own(cased_check(s, false)),
        Removeprefix => {
            let p = req_str(arg(pos, kw, 0, "prefix"))?;
            own(Value::from(s.strip_prefix(p).unwrap_or(s)))
        }
        Removesuffix => {
            let p = req_str(arg(pos, kw, 0, "suffix"))?;
            own(Value::from(s.strip_suffix(p).unwrap_or(s)))
        }
        Find | Index | Rfind | Rindex => {
            let sub = req_str(arg(pos, kw, 0, "sub"))?;
            let found = if matches!(m, Find | Index) {
                s.find(sub)
            } else {
                s.rfind(sub)
            };
            match found {
                Some(b) => own(Value::Int(char_index(s, b))),
                None if matches!(m, Find | Rfind) => own(Value::Int(-1)),
                None => fail("substring not found"),
            }
        }
        Join => {
            let items = arg(pos, kw, 0, "iterable")
                .cloned()
                .ok_or(EvalError("join() takes one argument"))?
                .into_items()?;
            let mut out = String::new();
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(s);
                }
                match it.as_str() {
                    Some(x) => out.push_str(x),
                    None => return fail("sequence item: expected str instance"),
                }
                if out.len() > MAX_STR {
                    return fail("string too large");
                }
            }
            own(Value::from(out))
        }
        Format => {
            let p: Vec<Value> = pos.iter().map(|v| v.clone().into_stored()).collect();
            let k: Map = kw
                .iter()
                .map(|(k, v)| (*k, v.clone().into_stored()))
                .collect();
            own(Value::from(strfmt::str_format(s, &p, &k)?))
        }
        Capitalize => own(Value::from(capitalize(s))),
        Title => own(Value::from(py_title(s))),
        Count => {
            let sub = req_str(arg(pos, kw, 0, "sub"))?;
            own(Value::Int(count_text(s, sub) as i64))
        }
        Zfill => {
            let w = usize::try_from(int_or(arg(pos, kw, 0, "width"), 0)?)
                .unwrap_or(0)
                .min(MAX_LEN);
            let n = s.chars().count();
            if n >= w {
                return own(Value::from(s));
            }
            let (sign, rest) = match s.chars().next() {
                Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                _ => (String::new(), s),
            };
            own(Value::from(format!("{sign}{}{rest}", "0".repeat(w - n))))
        }
        Partition | Rpartition => {
            let sep = req_str(arg(pos, kw, 0, "sep"))?;
            if sep.is_empty() {
                return fail("empty separator");
            }
            let found = if m == Partition {
                s.split_once(sep)
            } else {
                s.rsplit_once(sep)
            };
            own(match found {
                Some((a, b)) => strs(vec![a, sep, b]),
                None if m == Partition => strs(vec![s, "", ""]),
                None => strs(vec!["", "", s]),
            })
        }
        _ => fail("str object has no such method"),
    }
}

fn map_method<'a>(m: Method, map: &Map, pos: &[V<'a>], kw: Kw<'_, 'a>) -> R<V<'a>> {
    use Method::*;
    match m {
        Get => {
            let k = arg(pos, kw, 0, "key").ok_or(EvalError("get expected at least 1 argument"))?;
            let found = match k.val() {
                Some(Value::List(_) | Value::Map(_)) => return fail("unhashable type"),
                Some(k) => map.get(&key_of(k)),
                None => None,
            };
            match found {
                Some(v) => own(v.clone()),
                None => Ok(arg(pos, kw, 1, "default").cloned().unwrap_or(NONE)),
            }
        }
        Keys => own(Value::List(
            map.keys().map(|k| Value::Str(k.clone())).collect(),
        )),
        Values => own(Value::List(map.values().cloned().collect())),
        Items => own(items_of_map(map)),
        Copy => own(Value::Map(map.clone())),
        _ => fail("dict object has no such method"),
    }
}

pub(crate) fn items_of_map(map: &Map) -> Value {
    Value::List(
        map.iter()
            .map(|(k, v)| Value::List(vec![Value::Str(k.clone()), v.clone()]))
            .collect(),
    )
}

fn list_method<'a>(m: Method, l: &[Value], pos: &[V<'a>], kw: Kw<'_, 'a>) -> R<V<'a>> {
    use Method::*;
    match m {
        Index => {
            let x = arg(pos, kw, 0, "value")
                .and_then(V::val)
                .ok_or(EvalError("index expects a value"))?;
            match l.iter().position(|y| value_eq(x, y)) {
                Some(i) => own(Value::Int(i as i64)),
                None => fail("value is not in list"),
            }
        }
        Count => {
            let x = arg(pos, kw, 0, "value")
                .and_then(V::val)
                .ok_or(EvalError("count expects a value"))?;
            own(Value::Int(
                l.iter().filter(|y| value_eq(x, y)).count() as i64
            ))
        }
        Copy => own(Value::List(l.to_vec())),
        _ => fail("list object has no such method"),
    }
}

fn match_method<'a>(m: Method, mo: &MatchObj, pos: &[V<'a>], kw: Kw<'_, 'a>) -> R<V<'a>> {
    use Method::*;
    let idx = |v: Option<&V>| -> R<usize> {
        match v.and_then(V::val) {
            None => Ok(0),
            Some(k) => mo.group_index(k).ok_or(EvalError("no such group")),
        }
    };
    match m {
        Group => {
            if pos.len() <= 1 {
                let i = idx(pos.first())?;
                own(mo.group(i).unwrap_or(Value::Null))
            } else {
                let mut out = Vec::new();
                for p in pos {
                    out.push(mo.group(idx(Some(p))?).unwrap_or(Value::Null));
                }
                own(Value::List(out))
            }
        }
        Groups | Groupdict => {
            let default =
                arg(pos, kw, 0, "default").map_or(Value::Null, |v| v.clone().into_stored());
            let g = |i: usize| match mo.spans.get(i).copied().flatten() {
                Some(_) => mo.group(i).unwrap_or(Value::Null),
                None => default.clone(),
            };
            if m == Groups {
                own(Value::List((1..mo.spans.len()).map(g).collect()))
            } else {
                let mut names = mo.names.clone();
                names.sort_by_key(|(_, i)| *i);
                own(Value::Map(
                    names.into_iter().map(|(n, i)| (n, g(i))).collect(),
                ))
            }
        }
        Start | End | Span => {
            let i = idx(pos.first())?;
            let (s, e) = match mo.spans.get(i).copied().flatten() {
                Some((s, e)) => (char_index(&mo.text, s), char_index(&mo.text, e)),
                None => (-1, -1),
            };
            own(match m {
                Start => Value::Int(s),
                End => Value::Int(e),
                _ => Value::List(vec![Value::Int(s), Value::Int(e)]),
            })
        }
        _ => fail("match object has no such method"),
    }
}

/// A non-mutating method call.
pub(crate) fn call<'a>(
    _ctx: &mut Ctx<'a>,
    m: Method,
    recv: V<'a>,
    pos: Vec<V<'a>>,
    kw: Kw<'_, 'a>,
) -> R<V<'a>> {
    // Stripping a borrowed string that has nothing to strip: the same value, still
    // borrowed (no copy).
    if let V::Ref(v @ Value::Str(s)) = recv
        && matches!(m, Method::Strip | Method::Lstrip | Method::Rstrip)
        && pos.len() <= 1
        && kw.is_empty()
    {
        let chars = opt_str(pos.first())?;
        let kept = strip_chars(s, chars, m != Method::Rstrip, m != Method::Lstrip);
        if kept.len() == s.len() {
            return Ok(V::Ref(v));
        }
    }
    match &recv {
        V::Undef => fail("method of undefined value"),
        V::Match(mo) => match_method(m, mo, &pos, kw),
        V::Ref(v) => value_method(m, v, &pos, kw),
        V::Own(v) => value_method(m, v, &pos, kw),
        _ => fail("object has no such method"),
    }
}

fn value_method<'a>(m: Method, v: &Value, pos: &[V<'a>], kw: Kw<'_, 'a>) -> R<V<'a>> {
    match v {
        Value::Str(s) => str_method(m, s, pos, kw),
        Value::Map(map) => map_method(m, map, pos, kw),
        Value::List(l) => list_method(m, l, pos, kw),
        _ => fail("object has no such method"),
    }
}

/// A method that may mutate its receiver in place; returns the method's result.
pub(crate) fn call_mut(m: Method, recv: &mut Value, pos: Vec<V>, kw: Kw) -> R<Value> {
    use Method::*;
    if !m.mutating() {
        return value_method(m, recv, &pos, kw).map(|v| v.into_stored());
    }
    match recv {
        Value::List(l) => match m {
            Append => {
                if l.len() >= MAX_LEN {
                    return fail("list too large");
                }
                let x = pos
                    .into_iter()
                    .next()
                    .ok_or(EvalError("append takes one argument"))?;
                l.push(x.into_stored());
                Ok(Value::Null)
            }
            Extend => {
                let x = pos
                    .into_iter()
                    .next()
                    .ok_or(EvalError("extend takes one argument"))?;
                let items = x.into_items()?;
                if l.len() + items.len() > MAX_LEN {
                    return fail("list too large");
                }
                l.extend(items.into_iter().map(V::into_stored));
                Ok(Value::Null)
            }
            Insert => {
                if l.len() >= MAX_LEN {
                    return fail("list too large");
                }
                let i = int_or(pos.first(), 0)?;
                let x = pos
                    .get(1)
                    .cloned()
                    .ok_or(EvalError("insert takes two arguments"))?;
                let n = l.len() as i64;
                let at = if i < 0 { (i + n).max(0) } else { i.min(n) };
                l.insert(at as usize, x.into_stored());
                Ok(Value::Null)
            }
            Pop => {
                let i = int_or(pos.first(), -1)?;
                match norm_index(i, l.len()) {
                    Some(j) => Ok(l.remove(j)),
                    None => fail("pop index out of range"),
                }
            }
            Remove => {
                let x = pos
                    .first()
                    .and_then(V::val)
                    .ok_or(EvalError("remove takes one argument"))?;
                match l.iter().position(|y| value_eq(x, y)) {
                    Some(j) => {
                        l.remove(j);
                        Ok(Value::Null)
                    }
                    None => fail("value not in list"),
                }
            }
            Reverse => {
                l.reverse();
                Ok(Value::Null)
            }
            Sort => {
                let reverse = arg(&pos, kw, usize::MAX, "reverse").is_some_and(V::truthy);
                let mut err = None;
                l.sort_by(|a, b| {
                    value_cmp(a, b).unwrap_or_else(|e| {
                        err = Some(e);
                        std::cmp::Ordering::Equal
                    })
                });
                if let Some(e) = err {
                    return Err(e);
                }
                if reverse {
                    l.reverse();
                }
                Ok(Value::Null)
            }
            Clear => {
                l.clear();
                Ok(Value::Null)
            }
            _ => fail("list object has no such method"),
        },
        Value::Map(map) => match m {
            Update => {
                if let Some(src) = pos.first() {
                    match src.val() {
                        Some(Value::Map(o)) => {
                            for (k, v) in o.iter() {
                                map.insert(k.clone(), v.clone());
                            }
                        }
                        Some(Value::List(pairs)) => {
                            for p in pairs {
                                match p {
                                    Value::List(kv) if kv.len() == 2 => {
                                        map.insert(key_of(&kv[0]), kv[1].clone());
                                    }
                                    _ => {
                                        return fail(
                                            "dictionary update sequence element has wrong length",
                                        );
                                    }
                                }
                            }
                        }
                        _ => return fail("update expects a mapping"),
                    }
                }
                for (k, v) in kw {
                    map.insert(*k, v.clone().into_stored());
                }
                Ok(Value::Null)
            }
            Setdefault => {
                let k = pos
                    .first()
                    .and_then(V::val)
                    .map(key_of)
                    .ok_or(EvalError("setdefault expects a key"))?;
                if let Some(v) = map.get(&k) {
                    return Ok(v.clone());
                }
                let d = pos.get(1).cloned().map_or(Value::Null, V::into_stored);
                map.insert(k, d.clone());
                Ok(d)
            }
            Pop => {
                let k = pos
                    .first()
                    .and_then(V::val)
                    .map(key_of)
                    .ok_or(EvalError("pop expects a key"))?;
                match map.remove(&k) {
                    Some(v) => Ok(v),
                    None => match pos.get(1) {
                        Some(d) => Ok(d.clone().into_stored()),
                        None => fail("key not found"),
                    },
                }
            }
            Clear => {
                map.clear();
                Ok(Value::Null)
            }
            _ => fail("dict object has no such method"),
        },
        _ => fail("object has no such method"),
    }
}
