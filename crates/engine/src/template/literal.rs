//! Python `ast.literal_eval`: strings, numbers, `True/False/None`, lists, tuples
//! (as lists) and dicts, with unary signs and trailing commas. Sets, names and
//! any other expression are rejected.

use super::lexer::{Tok, Token, lex_expr};
use super::val::key_of;
use crate::value::{Map, Value};

const MAX_DEPTH: usize = 128;

struct Lit {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl Lit {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn skip(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Items up to `close`, with an optional trailing comma; `seen_comma` tells
    /// whether a comma appeared (for `(1,)` vs `(1)`).
    fn seq(&mut self, close: &str) -> Option<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        let mut comma = false;
        while !self.skip(close) {
            items.push(self.value()?);
            if self.skip(",") {
                comma = true;
            } else if self.skip(close) {
                break;
            } else {
                return None;
            }
        }
        Some((items, comma))
    }

    fn value(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = match self.bump() {
            Tok::Str(mut s) => {
                while let Tok::Str(more) = self.peek() {
                    s.push_str(more);
                    self.i += 1;
                }
                Value::from(s)
            }
            Tok::Int(i) => Value::Int(i),
            Tok::Float(f) => Value::Float(f),
            Tok::Name(n) => match n.as_str() {
                "True" => Value::Bool(true),
                "False" => Value::Bool(false),
                "None" => Value::Null,
                _ => return None,
            },
            Tok::Op(sign @ ("-" | "+")) => match self.value()? {
                Value::Int(i) if sign == "-" => Value::Int(i.checked_neg()?),
                Value::Float(f) if sign == "-" => Value::Float(-f),
                v @ (Value::Int(_) | Value::Float(_)) => v,
                _ => return None,
            },
            Tok::Op("[") => Value::List(self.seq("]")?.0),
            Tok::Op("(") => {
                let (items, comma) = self.seq(")")?;
                if items.len() == 1 && !comma {
                    items.into_iter().next()?
                } else {
                    Value::List(items)
                }
            }
            Tok::Op("{") => {
                let mut m = Map::new();
                while !self.skip("}") {
                    let k = self.value()?;
                    if matches!(k, Value::List(_) | Value::Map(_)) || !self.skip(":") {
                        // Unhashable key, or a set literal.
                        return None;
                    }
                    let v = self.value()?;
                    m.insert(key_of(&k), v);
                    if !self.skip(",") {
                        if !self.skip("}") {
                            return None;
                        }
                        break;
                    }
                }
                Value::Map(m)
            }
            _ => return None,
        };
        self.depth -= 1;
        Some(v)
    }
}

/// Python's `ast.literal_eval` on text (leading spaces and tabs ignored).
pub(crate) fn literal_eval(text: &str) -> Option<Value> {
    let t = text.trim_start_matches([' ', '\t']);
    let toks = lex_expr(t, true).ok()?;
    let mut p = Lit {
        toks,
        i: 0,
        depth: 0,
    };
    let first = p.value()?;
    let v = if p.skip(",") {
        let mut items = vec![first];
        while !matches!(p.peek(), Tok::Eof) {
            items.push(p.value()?);
            if !p.skip(",") {
                break;
            }
        }
        Value::List(items)
    } else {
        first
    };
    matches!(p.peek(), Tok::Eof).then_some(v)
}

/// SPEC §4.3: a string result becomes a list/dict when it is one as a Python literal.
/// Whether `b` has a comma: a plain loop for the short values that dominate (a
/// `memchr` call costs more there).
#[inline]
fn has_comma(b: &[u8]) -> bool {
    if b.len() < 32 {
        b.contains(&b',')
    } else {
        memchr::memchr(b',', b).is_some()
    }
}

/// Whether `s` may be a list, tuple or dict literal; `false` is certain. A container
/// literal starts with a bracket, or is a bare tuple (`1, 2`) and then has a comma;
/// `comma` false says that `s` has none.
pub(crate) fn may_be_container(s: &str, comma: bool) -> bool {
    // Most text starts with a visible ASCII character: no trimming to do.
    let t = match s.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => s,
        _ => s.trim_start(),
    };
    let Some(&first) = t.as_bytes().first() else {
        return false;
    };
    matches!(first, b'[' | b'(' | b'{')
        || (comma
            && matches!(
                first,
                b'\'' | b'"' | b'-' | b'+' | b'.' | b'0'..=b'9' | b'T' | b'F' | b'N'
            )
            && has_comma(t.as_bytes()))
}

/// Whether a bare tuple (no quote, no bracket) certainly is no Python literal,
/// found without parsing it: a character no literal has outside quotes and
/// brackets, or an item of digits and dots with two dots or more (an IPv4 address in
/// comma-separated values, the common case). `false` means "maybe".
fn surely_not_a_bare_tuple(t: &str) -> bool {
    let b = t.as_bytes();
    if b.iter()
        .any(|c| matches!(c, b'\'' | b'"' | b'(' | b')' | b'[' | b']' | b'{' | b'}'))
    {
        return false;
    }
    if b.iter().any(|c| {
        matches!(
            c,
            b':' | b'/'
                | b'\\'
                | b'@'
                | b'$'
                | b'?'
                | b'!'
                | b'&'
                | b'|'
                | b'^'
                | b'~'
                | b'`'
                | b';'
                | b'='
                | b'<'
                | b'>'
        )
    }) {
        return true;
    }
    t.split(',').any(|item| {
        let item = item.trim_matches(|c: char| c.is_ascii_whitespace() || c == '+' || c == '-');
        item.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            && item.bytes().filter(|&c| c == b'.').count() >= 2
    })
}

pub(crate) fn container_literal(s: &str) -> Option<Value> {
    if !may_be_container(s, true) {
        return None;
    }
    let t = s.trim_start();
    if !matches!(t.as_bytes().first(), Some(b'[' | b'(' | b'{')) && surely_not_a_bare_tuple(t) {
        return None;
    }
    match literal_eval(s)? {
        v @ (Value::List(_) | Value::Map(_)) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_rejection_only_rejects_what_the_parser_rejects() {
        let texts = [
            "1,2",
            "1, 2,",
            "1,10.0.0.1,2",
            "1663146003,10.0.0.1,10.0.0.2,443,80,T,I,A",
            "1.5,2",
            "-1, +2",
            "- 1.0, 2.",
            "1,,2",
            "1,a:b",
            "1,2;3",
            "1, True, None",
            "1,'10.0.0.1'",
            "1,(2,3)",
            "1.2.3",
            "1,..",
            "1,.5",
            "1,5.",
            "1,1e5,2",
            "1,0x1f",
            "1,2 # c",
            "1,2=3",
            "1, ~2",
        ];
        for t in texts {
            if surely_not_a_bare_tuple(t) {
                assert!(
                    !matches!(literal_eval(t), Some(Value::List(_) | Value::Map(_))),
                    "{t:?} was rejected but is a container literal"
                );
            }
        }
        assert!(surely_not_a_bare_tuple(
            "1663146003,10.0.0.1,10.0.0.2,443,80,T,I,A"
        ));
        assert!(!surely_not_a_bare_tuple("1,2"));
    }

    #[test]
    fn literals() {
        assert_eq!(
            literal_eval("[1, 'a', None, True]").unwrap(),
            Value::List(vec![
                Value::Int(1),
                Value::from("a"),
                Value::Null,
                Value::Bool(true)
            ])
        );
        assert_eq!(
            literal_eval("  (1,)").unwrap(),
            Value::List(vec![Value::Int(1)])
        );
        assert_eq!(literal_eval("(1)").unwrap(), Value::Int(1));
        assert_eq!(literal_eval("-5").unwrap(), Value::Int(-5));
        assert_eq!(
            literal_eval("1, 2,").unwrap(),
            Value::List(vec![Value::Int(1), Value::Int(2)])
        );
        let d = literal_eval("{\"k\": 'v', 'n': -1.5,}").unwrap();
        assert_eq!(d.as_map().unwrap().get("n"), Some(&Value::Float(-1.5)));
        assert!(literal_eval("[true]").is_none());
        assert!(literal_eval("{1, 2}").is_none());
        assert!(literal_eval("abc").is_none());
        assert!(literal_eval("[1] + [2]").is_none());
        assert_eq!(literal_eval("'a' 'b'").unwrap(), Value::from("ab"));
        assert!(literal_eval(&"[".repeat(10000)).is_none());
    }

    #[test]
    fn containers_only() {
        assert!(container_literal("457215664").is_none());
        assert!(container_literal("'abc'").is_none());
        assert!(container_literal("0x0").is_none());
        assert!(container_literal("[\"network\"]").is_some());
        assert_eq!(
            container_literal("80, 443").unwrap(),
            Value::List(vec![Value::Int(80), Value::Int(443)])
        );
    }
}
