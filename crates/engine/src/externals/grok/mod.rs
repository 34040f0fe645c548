//! `grok.match` (SPEC §2.2): a regex with `%{NAME:field:type}` references to a
//! pattern library, run by Oniguruma and matched against the **whole** input.
//!
//! Compilation expands references recursively into one regex. Every capture (a
//! `%{NAME:field}`, a `%{CUSTOM}` self-capture, a raw `(?<name>…)`/`(?P<name>…)`)
//! becomes a named group with a generated unique name (`_g0`, `_g1`, … in order of
//! opening parenthesis), and a table maps group numbers back to field names. At
//! match time each field takes the last participating group of its name, or
//! `None` when none took part.

mod patterns;

use std::cell::RefCell;

use onig::{RegexOptions, Region};

use super::{Failure, Parser, Props, input_text};
use crate::regex::{onig_compile, onig_match_at};
use crate::template::Env;
use crate::value::{Map, Str, Value};

/// Refuse patterns whose expansion grows beyond this (nested references can
/// blow up exponentially).
const MAX_EXPANDED_LEN: usize = 1 << 20;

/// A compiled grok pattern.
pub struct Grok {
    regex: onig::Regex,
    fields: Vec<Field>,
    source: String,
}

impl std::fmt::Debug for Grok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grok")
            .field("pattern", &self.source)
            .finish()
    }
}

/// One output key and the groups that feed it, in order of opening parenthesis.
#[derive(Debug)]
struct Field {
    key: Str,
    groups: Vec<(usize, Conv)>,
}

/// The `:int` / `:float` suffix of a reference.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conv {
    Text,
    Int,
    Float,
}

impl Grok {
    /// Compiles `pattern` with `custom` patterns (which win over built-ins of the
    /// same name). Errors name the offending reference or regex.
    pub fn compile(pattern: &str, custom: &[(String, String)]) -> Result<Grok, String> {
        let mut ex = Expander {
            custom,
            out: String::with_capacity(pattern.len() * 4),
            captures: Vec::new(),
            stack: Vec::new(),
        };
        ex.expand(pattern)?;
        let full = format!("\\A(?:{})\\z", ex.out);
        let regex = onig_compile(&full, RegexOptions::REGEX_OPTION_NONE)
            .map_err(|e| format!("invalid regex in grok pattern {pattern:?}: {e}"))?;
        // Generated names are unique: each maps to exactly one group number.
        let mut numbers = vec![0usize; ex.captures.len()];
        regex.foreach_name(|name, groups| {
            if let (Some(i), Some(&g)) = (
                name.strip_prefix("_g")
                    .and_then(|n| n.parse::<usize>().ok()),
                groups.first(),
            ) && let Some(slot) = numbers.get_mut(i)
            {
                *slot = g as usize;
            }
            true
        });
        let mut fields: Vec<Field> = Vec::new();
        for ((key, conv), &group) in ex.captures.into_iter().zip(&numbers) {
            if group == 0 {
                return Err(format!(
                    "internal error: lost capture {key:?} in grok pattern {pattern:?}"
                ));
            }
            match fields.iter_mut().find(|f| f.key == key.as_str()) {
                Some(f) => f.groups.push((group, conv)),
                None => fields.push(Field {
                    key: Str::from(key),
                    groups: vec![(group, conv)],
                }),
            }
        }
        Ok(Grok {
            regex,
            fields,
            source: pattern.to_string(),
        })
    }

    /// The field dict of a full match of `text`, or `None`.
    pub fn matches(&self, text: &str) -> Option<Map> {
        // One region per thread: its group arrays are reused instead of being
        // allocated and freed for every event.
        thread_local! {
            static REGION: RefCell<Region> = RefCell::new(Region::new());
        }
        REGION.with(|cell| match cell.try_borrow_mut() {
            Ok(mut region) => self.matches_with(text, &mut region),
            Err(_) => self.matches_with(text, &mut Region::new()),
        })
    }

    fn matches_with(&self, text: &str, region: &mut Region) -> Option<Map> {
        region.clear();
        let end = onig_match_at(&self.regex, text, 0, region)?;
        if end != text.len() {
            return None;
        }
        let mut out = Map::with_capacity(self.fields.len());
        for f in &self.fields {
            let last = f.groups.iter().rev().find_map(|&(g, conv)| {
                region
                    .pos(g)
                    .and_then(|(s, e)| Some((text.get(s..e)?, conv)))
            });
            let value = match last {
                None => Value::Null,
                Some((s, Conv::Text)) => Value::Str(Str::from(s)),
                Some((s, Conv::Int)) => to_int(s),
                Some((s, Conv::Float)) => s
                    .trim()
                    .parse::<f64>()
                    .map_or_else(|_| Value::from(s), Value::Float),
            };
            out.push_unique(f.key.clone(), value);
        }
        Some(out)
    }

    /// The output keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.key.as_str())
    }
}

/// `:int`: an integer, a float's integer part, or the text unchanged.
fn to_int(s: &str) -> Value {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::Int(i);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.abs() < 9.2e18 => Value::Int(f.trunc() as i64),
        _ => Value::from(s),
    }
}

/// Expands references into one regex.
struct Expander<'a> {
    custom: &'a [(String, String)],
    out: String,
    /// Field name and conversion of each generated group `_gN`.
    captures: Vec<(String, Conv)>,
    /// Pattern names being expanded, to report cycles.
    stack: Vec<String>,
}

impl Expander<'_> {
    fn open_capture(&mut self, key: &str, conv: Conv) {
        let n = self.captures.len();
        self.captures.push((key.to_string(), conv));
        self.out.push_str("(?<_g");
        self.out.push_str(itoa::Buffer::new().format(n));
        self.out.push('>');
    }

    /// The generated group name of the last capture named `key`, for backrefs.
    fn last_group(&self, key: &str) -> Option<usize> {
        self.captures.iter().rposition(|(k, _)| k == key)
    }

    fn expand(&mut self, pat: &str) -> Result<(), String> {
        let mut i = 0;
        let b = pat.as_bytes();
        while i < b.len() {
            if self.out.len() > MAX_EXPANDED_LEN {
                return Err("grok pattern expands to more than 1 MiB".to_string());
            }
            let rest = &pat[i..];
            match b[i] {
                b'\\' => {
                    // `\k<name>` → the generated name; other escapes are copied.
                    if let Some(name) = rest
                        .strip_prefix("\\k<")
                        .and_then(|r| r.split_once('>'))
                        .map(|(n, _)| n)
                        && let Some(g) = self.last_group(name)
                    {
                        self.out.push_str(&format!("\\k<_g{g}>"));
                        i += 3 + name.len() + 1;
                        continue;
                    }
                    let len = 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
                    self.out.push_str(&rest[..len]);
                    i += len;
                }
                b'[' => {
                    let len = class_len(rest);
                    self.out.push_str(&rest[..len]);
                    i += len;
                }
                b'(' => {
                    if let Some((name, len)) = raw_group_name(rest) {
                        self.open_capture(name, Conv::Text);
                        i += len;
                    } else if let Some(name) = rest
                        .strip_prefix("(?P=")
                        .and_then(|r| r.split_once(')'))
                        .map(|(n, _)| n)
                    {
                        let g = self
                            .last_group(name)
                            .ok_or_else(|| format!("backreference to unknown group {name:?}"))?;
                        self.out.push_str(&format!("\\k<_g{g}>"));
                        i += 4 + name.len() + 1;
                    } else {
                        self.out.push('(');
                        i += 1;
                    }
                }
                b'%' if rest.starts_with("%{") => match parse_reference(rest) {
                    Some((r, len)) => {
                        self.reference(r)?;
                        i += len;
                    }
                    None => {
                        self.out.push('%');
                        i += 1;
                    }
                },
                _ => {
                    let len = rest.chars().next().map_or(1, char::len_utf8);
                    self.out.push_str(&rest[..len]);
                    i += len;
                }
            }
        }
        Ok(())
    }

    fn reference(&mut self, r: Reference) -> Result<(), String> {
        let custom = self
            .custom
            .iter()
            .rev()
            .find(|(n, _)| n == r.name)
            .map(|(_, p)| p.clone());
        let is_custom = custom.is_some();
        let body = match custom {
            Some(p) => p,
            None => patterns::builtin(r.name)
                .ok_or_else(|| format!("unknown grok pattern %{{{}}}", r.name))?
                .to_string(),
        };
        if self.stack.iter().any(|n| n == r.name) {
            let mut chain = self.stack.clone();
            chain.push(r.name.to_string());
            return Err(format!(
                "grok patterns reference each other in a cycle: {}",
                chain.join(" -> ")
            ));
        }
        let conv = match r.conv {
            None => Conv::Text,
            Some("int") => Conv::Int,
            Some("float") => Conv::Float,
            Some(other) => {
                return Err(format!(
                    "unknown grok type {other:?} in %{{{}:{}:{other}}}",
                    r.name,
                    r.field.unwrap_or("")
                ));
            }
        };
        // A named reference captures; so does a bare custom pattern, under its name.
        match (r.field, is_custom) {
            (Some(field), _) => self.open_capture(field, conv),
            (None, true) => self.open_capture(r.name, conv),
            (None, false) => self.out.push_str("(?:"),
        }
        self.stack.push(r.name.to_string());
        self.expand(&body).map_err(|e| {
            if e.starts_with("unknown grok pattern") || e.starts_with("grok patterns reference") {
                e
            } else {
                format!("{e} (in %{{{}}})", r.name)
            }
        })?;
        self.stack.pop();
        self.out.push(')');
        Ok(())
    }
}

/// A parsed `%{NAME[:field[:type]]}`.
struct Reference<'a> {
    name: &'a str,
    field: Option<&'a str>,
    conv: Option<&'a str>,
}

/// Parses a reference at the start of `s` (which starts with `%{`); returns it and
/// its length, or `None` when the text is not a well-formed reference.
fn parse_reference(s: &str) -> Option<(Reference<'_>, usize)> {
    let close = s.find('}')?;
    let inner = &s[2..close];
    let mut parts = inner.splitn(3, ':');
    let name = parts.next()?;
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    let field = parts.next().filter(|f| !f.is_empty());
    let conv = parts.next();
    Some((Reference { name, field, conv }, close + 1))
}

/// A raw named group at the start of `s`: `(?<name>`, `(?P<name>` or `(?'name'`.
/// Lookbehinds (`(?<=`, `(?<!`) are not groups.
fn raw_group_name(s: &str) -> Option<(&str, usize)> {
    let (prefix_len, close) = if s.starts_with("(?P<") {
        (4, '>')
    } else if s.starts_with("(?<") {
        (3, '>')
    } else if s.starts_with("(?'") {
        (3, '\'')
    } else {
        return None;
    };
    let rest = &s[prefix_len..];
    let end = rest.find(close)?;
    let name = &rest[..end];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    valid.then_some((name, prefix_len + end + 1))
}

/// The length of the character class at the start of `s` (which starts with
/// `[`), nested classes and escapes included; the rest of `s` if unterminated.
fn class_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 1 + s[i + 1..].chars().next().map_or(0, char::len_utf8);
                continue;
            }
            b'[' => {
                // POSIX bracket `[:alpha:]` inside a class.
                if depth > 0
                    && s[i..].starts_with("[:")
                    && let Some(end) = s[i + 2..].find(":]")
                {
                    i += 2 + end + 2;
                    continue;
                }
                depth += 1;
                i += 1;
                // A `]` right after `[` or `[^` is literal.
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                continue;
            }
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += s[i..].chars().next().map_or(1, char::len_utf8);
    }
    s.len()
}

/// The `grok.match` external.
#[derive(Debug)]
pub(crate) struct GrokMatch {
    grok: Grok,
}

impl GrokMatch {
    pub(crate) fn compile(props: &mut Props) -> Result<GrokMatch, String> {
        let custom = props.string_map("custom_patterns")?;
        let pattern = props
            .string("pattern")?
            .ok_or_else(|| props.bad("pattern", "is required"))?;
        let grok = Grok::compile(&pattern, &custom).map_err(|e| props.bad("pattern", &e))?;
        Ok(GrokMatch { grok })
    }
}

impl Parser for GrokMatch {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        self.grok
            .matches(&text)
            .map(Value::Map)
            .ok_or(Failure::NoMatch)
    }
}

#[cfg(test)]
mod tests;
