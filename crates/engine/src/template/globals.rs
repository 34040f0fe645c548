//! Global functions: `len`, `range`, `dict`, `namespace`, and Python's `re` module.

use std::rc::Rc;
use std::sync::Arc;

use super::ast::Call;
use super::eval::Ctx;
use super::parser::compile_regex;
use super::val::*;
use crate::regex::Pattern;
use crate::value::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Global {
    Len,
    Range,
    Dict,
    Namespace,
    Re,
    ReSearch,
    ReMatch,
    ReFullmatch,
    ReFindall,
    ReSub,
    ReSplit,
}

impl Global {
    pub fn from_name(name: &str) -> Option<Global> {
        Some(match name {
            "len" => Global::Len,
            "range" => Global::Range,
            "dict" => Global::Dict,
            "namespace" => Global::Namespace,
            "re" => Global::Re,
            _ => return None,
        })
    }

    /// `re.<name>`.
    pub fn attr(self, name: &str) -> Option<Global> {
        if self != Global::Re {
            return None;
        }
        Some(match name {
            "search" => Global::ReSearch,
            "match" => Global::ReMatch,
            "fullmatch" => Global::ReFullmatch,
            "findall" => Global::ReFindall,
            "sub" => Global::ReSub,
            "split" => Global::ReSplit,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Global::Len => "len",
            Global::Range => "range",
            Global::Dict => "dict",
            Global::Namespace => "namespace",
            Global::Re => "re",
            Global::ReSearch => "search",
            Global::ReMatch => "match",
            Global::ReFullmatch => "fullmatch",
            Global::ReFindall => "findall",
            Global::ReSub => "sub",
            Global::ReSplit => "split",
        }
    }

    pub fn is_clock(self) -> bool {
        false
    }

    /// Namespaces are fresh mutable objects per evaluation: never folded.
    pub fn foldable(self) -> bool {
        !matches!(self, Global::Namespace | Global::Re)
    }

    /// The prefix that anchors the pattern for this function.
    pub fn regex_anchor(self) -> Option<&'static str> {
        match self {
            Global::ReMatch | Global::ReFullmatch => Some(r"\A"),
            _ => None,
        }
    }
}

fn kw_get<'x, 'a>(kw: &'x [(&str, V<'a>)], name: &str) -> Option<&'x V<'a>> {
    kw.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn int_arg(v: &V) -> R<i64> {
    match v.val().and_then(Num::of) {
        Some(Num::I(i)) => Ok(i),
        _ => fail("an integer is required"),
    }
}

/// The pattern for a `re` call: precompiled when constant, else compiled now.
fn pattern(call: &Call<Global>, pos: &[V], anchor: Option<&str>) -> R<Arc<Pattern>> {
    pattern_arg(call.regex.as_ref(), pos, anchor)
}

/// A regex argument: the pattern precompiled at template compile time when it was a
/// constant, else the first positional argument compiled now.
pub(super) fn pattern_arg(
    precompiled: Option<&Result<Arc<Pattern>, ()>>,
    pos: &[V],
    anchor: Option<&str>,
) -> R<Arc<Pattern>> {
    if let Some(r) = precompiled {
        return r
            .clone()
            .map_err(|_| EvalError("invalid regular expression"));
    }
    let p = pos
        .first()
        .and_then(V::as_str)
        .ok_or(EvalError("pattern must be a string"))?;
    compile_regex(p, anchor)
        .map(Arc::new)
        .map_err(|_| EvalError("invalid regular expression"))
}

fn subject<'x>(pos: &'x [V], i: usize) -> R<&'x str> {
    pos.get(i)
        .and_then(V::as_str)
        .ok_or(EvalError("expected string or bytes-like object"))
}

fn match_obj<'a>(
    p: &Pattern,
    text: &str,
    base: usize,
    spans: Vec<Option<(usize, usize)>>,
) -> V<'a> {
    let spans = spans
        .into_iter()
        .map(|s| s.map(|(a, b)| (a + base, b + base)))
        .collect();
    V::Match(Rc::new(MatchObj {
        text: text.into(),
        spans,
        names: p.group_names(),
    }))
}

pub(crate) fn call<'a>(ctx: &mut Ctx<'a>, call: &'a Call<Global>) -> R<V<'a>> {
    let (pos, kw) = ctx.args(&call.args)?;
    match call.kind {
        Global::Len => match pos.first() {
            Some(V::Undef) => Ok(V::Own(Value::Int(0))),
            Some(v) => match v.val() {
                Some(Value::Str(s)) => Ok(V::Own(Value::Int(s.chars().count() as i64))),
                Some(Value::List(l)) => Ok(V::Own(Value::Int(l.len() as i64))),
                Some(Value::Map(m)) => Ok(V::Own(Value::Int(m.len() as i64))),
                _ => fail("object has no len()"),
            },
            None => fail("len() takes exactly one argument"),
        },
        Global::Range => {
            let (start, stop, step) = match pos.len() {
                1 => (0, int_arg(&pos[0])?, 1),
                2 => (int_arg(&pos[0])?, int_arg(&pos[1])?, 1),
                3 => (int_arg(&pos[0])?, int_arg(&pos[1])?, int_arg(&pos[2])?),
                _ => return fail("range expects 1 to 3 arguments"),
            };
            if step == 0 {
                return fail("range() arg 3 must not be zero");
            }
            let n = if step > 0 {
                (stop as i128 - start as i128 + step as i128 - 1) / step as i128
            } else {
                (start as i128 - stop as i128 - step as i128 - 1) / (-(step as i128))
            };
            let n = n.max(0);
            if n > MAX_LEN as i128 {
                return fail("range too large");
            }
            let mut out = Vec::with_capacity(n as usize);
            let mut x = start as i128;
            for _ in 0..n {
                out.push(Value::Int(x as i64));
                x += step as i128;
            }
            Ok(V::Own(Value::List(out)))
        }
        Global::Dict | Global::Namespace => {
            let mut m = Map::new();
            if let Some(first) = pos.first() {
                match first.val() {
                    Some(Value::Map(src)) => {
                        for (k, v) in src.iter() {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                    Some(Value::List(pairs)) => {
                        for p in pairs {
                            match p {
                                Value::List(kv) if kv.len() == 2 => {
                                    m.insert(key_of(&kv[0]), kv[1].clone());
                                }
                                _ => {
                                    return fail(
                                        "dictionary update sequence element has wrong length",
                                    );
                                }
                            }
                        }
                    }
                    _ => return fail("dict() argument is not a mapping"),
                }
            }
            for (k, v) in kw {
                m.insert(k, v.into_stored());
            }
            if call.kind == Global::Namespace {
                Ok(ctx.new_namespace(m))
            } else {
                Ok(V::Own(Value::Map(m)))
            }
        }
        Global::Re => fail("module is not callable"),
        Global::ReSearch | Global::ReMatch => {
            let p = pattern(call, &pos, call.kind.regex_anchor())?;
            let text = subject(&pos, 1)?;
            Ok(match p.captures(text) {
                Some(spans) => match_obj(&p, text, 0, spans),
                None => V::Own(Value::Null),
            })
        }
        Global::ReFullmatch => {
            let p = pattern(call, &pos, call.kind.regex_anchor())?;
            let text = subject(&pos, 1)?;
            Ok(match p.captures(text) {
                Some(spans)
                    if spans
                        .first()
                        .copied()
                        .flatten()
                        .is_some_and(|(_, e)| e == text.len()) =>
                {
                    match_obj(&p, text, 0, spans)
                }
                _ => V::Own(Value::Null),
            })
        }
        Global::ReFindall => {
            let p = pattern(call, &pos, None)?;
            let text = subject(&pos, 1)?;
            let mut out = Vec::new();
            for spans in all_matches(ctx, &p, text)? {
                let g = |s: Option<(usize, usize)>| {
                    Value::from(s.and_then(|(a, b)| text.get(a..b)).unwrap_or(""))
                };
                out.push(match spans.len() {
                    0 | 1 => g(spans.first().copied().flatten()),
                    2 => g(spans[1]),
                    _ => Value::List(spans[1..].iter().map(|s| g(*s)).collect()),
                });
            }
            Ok(V::Own(Value::List(out)))
        }
        Global::ReSub => {
            let p = pattern(call, &pos, None)?;
            let repl = subject(&pos, 1)?;
            let text = subject(&pos, 2)?;
            let count = match pos.get(3).or_else(|| kw_get(&kw, "count")) {
                Some(v) => int_arg(v)?,
                None => 0,
            };
            let mut out = String::new();
            let mut last = 0;
            for (n, spans) in all_matches(ctx, &p, text)?.into_iter().enumerate() {
                if count > 0 && n as i64 >= count {
                    break;
                }
                let Some((s, e)) = spans.first().copied().flatten() else {
                    continue;
                };
                out.push_str(text.get(last..s).unwrap_or(""));
                expand(&mut out, repl, text, &spans, &p);
                last = e;
                if out.len() > MAX_STR {
                    return fail("string too large");
                }
            }
            out.push_str(text.get(last..).unwrap_or(""));
            Ok(V::Own(Value::from(out)))
        }
        Global::ReSplit => {
            let p = pattern(call, &pos, None)?;
            let text = subject(&pos, 1)?;
            let max = match pos.get(2).or_else(|| kw_get(&kw, "maxsplit")) {
                Some(v) => int_arg(v)?,
                None => 0,
            };
            let mut out = Vec::new();
            let mut last = 0;
            for (n, spans) in all_matches(ctx, &p, text)?.into_iter().enumerate() {
                if max > 0 && n as i64 >= max {
                    break;
                }
                let Some((s, e)) = spans.first().copied().flatten() else {
                    continue;
                };
                out.push(Value::from(text.get(last..s).unwrap_or("")));
                for g in spans.iter().skip(1) {
                    out.push(
                        g.and_then(|(a, b)| text.get(a..b))
                            .map_or(Value::Null, Value::from),
                    );
                }
                last = e;
            }
            out.push(Value::from(text.get(last..).unwrap_or("")));
            Ok(V::Own(Value::List(out)))
        }
    }
}

/// Every non-overlapping match, as absolute group spans.
/// Group spans of one match (`None` for a group that did not take part).
type Spans = Vec<Option<(usize, usize)>>;

fn all_matches(ctx: &mut Ctx, p: &Pattern, text: &str) -> R<Vec<Spans>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        ctx.tick()?;
        let Some(rest) = text.get(pos..) else { break };
        let Some(spans) = p.captures(rest) else { break };
        let Some((s, e)) = spans.first().copied().flatten() else {
            break;
        };
        let abs: Vec<_> = spans
            .iter()
            .map(|g| g.map(|(a, b)| (a + pos, b + pos)))
            .collect();
        out.push(abs);
        // An empty match advances by one character.
        pos += if e > s {
            e
        } else {
            e + rest
                .get(e..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8)
        };
    }
    Ok(out)
}

/// Expands `\1`, `\g<1>`, `\g<name>` and escapes in a `re.sub` replacement.
fn expand(out: &mut String, repl: &str, text: &str, spans: &[Option<(usize, usize)>], p: &Pattern) {
    let group = |out: &mut String, i: usize| {
        if let Some(Some((a, b))) = spans.get(i) {
            out.push_str(text.get(*a..*b).unwrap_or(""));
        }
    };
    let mut it = repl.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(d) if d.is_ascii_digit() => {
                let mut n = d.to_digit(10).unwrap_or(0) as usize;
                if let Some(d2) = it.peek().and_then(|c| c.to_digit(10)) {
                    n = n * 10 + d2 as usize;
                    it.next();
                }
                group(out, n);
            }
            Some('g') if it.peek() == Some(&'<') => {
                it.next();
                let name: String = it.by_ref().take_while(|c| *c != '>').collect();
                let idx = name.parse::<usize>().ok().or_else(|| {
                    p.group_names()
                        .into_iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, i)| i)
                });
                if let Some(i) = idx {
                    group(out, i);
                }
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
}
