//! `dict.parse` (SPEC §2.9): a Python literal, as `repr()` prints a dict
//! (`{'file.pdf': {'AMP': {'Verdict': 'LOWRISK'}}, 'n': 9.2, 'ok': True}`), into
//! native values. Cisco ESA logs its attachment and URL details this way.
//!
//! Written by hand: this is Python's `ast.literal_eval` restricted to literals,
//! a few dozen lines, and no maintained crate reads Python literals. Accepted:
//! dicts, lists, tuples (as lists), strings in single or double quotes with
//! backslash escapes (adjacent strings join), ints, floats, `True`, `False` and
//! `None`. The input is trimmed; the top-level value must be a dict. Anything
//! else, or text after the value, is rejected with its position.

use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Value};

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug)]
pub(crate) struct Dict;

impl Dict {
    pub(crate) fn compile(_props: &mut Props) -> Result<Dict, String> {
        Ok(Dict)
    }
}

impl Parser for Dict {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        if let Value::Map(_) = input {
            return Ok(input.clone());
        }
        let text = input_text(input)?;
        let mut reader = Literal {
            text: text.trim(),
            at: 0,
        };
        let value = reader.value(0).map_err(Failure::Invalid)?;
        reader.skip_space();
        if reader.at < reader.text.len() {
            return Err(Failure::Invalid(reader.error("text after the literal")));
        }
        match value {
            Value::Map(_) => Ok(value),
            other => Err(Failure::Invalid(format!(
                "a Python dict literal was expected, not a {}",
                other.type_name()
            ))),
        }
    }
}

struct Literal<'a> {
    text: &'a str,
    at: usize,
}

impl Literal<'_> {
    fn error(&self, what: &str) -> String {
        format!("invalid Python literal at byte {}: {what}", self.at)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_space();
        match self.peek() {
            Some('{') => self.dict(depth),
            Some('[') => self.sequence(']', depth),
            Some('(') => self.sequence(')', depth),
            Some('\'' | '"') => self.strings().map(Value::from),
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Ok(Value::Map(map));
            }
            let key = match self.value(depth + 1)? {
                Value::Str(s) => s,
                key @ (Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null) => {
                    crate::template::py_str(&key).into()
                }
                _ => return Err(self.error("a dict key must be a string or a number")),
            };
            if !self.eat(':') {
                return Err(self.error("`:` expected after a dict key"));
            }
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            if !self.eat(',') && !matches!(self.peek_after_space(), Some('}')) {
                return Err(self.error("`,` or `}` expected"));
            }
        }
    }

    fn peek_after_space(&mut self) -> Option<char> {
        self.skip_space();
        self.peek()
    }

    fn sequence(&mut self, close: char, depth: usize) -> Result<Value, String> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(Value::List(items));
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') && self.peek_after_space() != Some(close) {
                return Err(self.error(&format!("`,` or `{close}` expected")));
            }
        }
    }

    /// One or more adjacent string literals, joined.
    fn strings(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(quote @ ('\'' | '"')) = self.peek_after_space() {
            self.at += 1;
            self.string_body(quote, &mut out)?;
        }
        Ok(out)
    }

    fn string_body(&mut self, quote: char, out: &mut String) -> Result<(), String> {
        let mut chars = self.text[self.at..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.at += i + 1;
                    return Ok(());
                }
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(e),
                        '\n' => {}
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = chars.by_ref().take(len).map(|(_, h)| h).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == len)
                                .and_then(char::from_u32);
                            match code {
                                Some(c) => out.push(c),
                                None => {
                                    self.at += i;
                                    return Err(self.error("bad escape in a string"));
                                }
                            }
                        }
                        // Python keeps unknown escapes as they are.
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error("unterminated string"))
    }

    fn number(&mut self) -> Result<Value, String> {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')))
            .unwrap_or(rest.len());
        // The token is checked whole, so `1-2` (an expression) is refused.
        let token = &rest[..len];
        let clean = token.replace('_', "");
        let value = if let Ok(i) = clean.parse::<i64>() {
            Value::Int(i)
        } else if let Some(f) = clean
            .parse::<f64>()
            .ok()
            .filter(|_| !clean.eq_ignore_ascii_case("inf") && !clean.contains("nan"))
        {
            Value::Float(f)
        } else {
            return Err(self.error(&format!("bad number {token:?}")));
        };
        self.at += len;
        Ok(value)
    }

    fn word(&mut self) -> Result<Value, String> {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let value = match &rest[..len] {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::Null,
            other => return Err(self.error(&format!("{other:?} is not a literal"))),
        };
        self.at += len;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;

    fn parse(input: &str) -> Result<String, Failure> {
        let (p, w) = build("dict.parse", &[]).unwrap();
        assert!(w.is_empty());
        run(&*p, input).map(|v| crate::json::to_json_string(&v))
    }

    #[test]
    fn nested_python_dict() {
        let out = parse(
            "  {'report.odt': {'Scan': {'Verdict': 'CLEAN', 'hashes': ['ab12', \"cd34\"]}, \
             'Body': {}}, 'score': 4.5000000000000001, 'n': -3, 'ok': True, 'no': None, \
             'pair': (1, 2,), \"it's\": 'a\\'b\\\\c', }\n",
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"report.odt":{"Scan":{"Verdict":"CLEAN","hashes":["ab12","cd34"]},"Body":{}},"score":4.5,"n":-3,"ok":true,"no":null,"pair":[1,2],"it's":"a'b\\c"}"#
        );
        assert_eq!(parse("{}").unwrap(), "{}");
    }

    #[test]
    fn broken_literals_are_rejected() {
        for (bad, reason) in [
            ("{'a.png': {'Scan':\n", "unexpected end"),
            ("{'a': 'open}", "unterminated"),
            ("{'a' 1}", "`:` expected"),
            ("{'a': 1} extra", "after the literal"),
            ("{'a': os.system}", "not a literal"),
            ("['a', 'b']", "not a list"),
            ("{'a': 1-2}", "bad number"),
            ("", "unexpected end"),
        ] {
            match parse(bad) {
                Err(Failure::Invalid(why)) => assert!(why.contains(reason), "{bad:?}: {why}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let deep = "[".repeat(200);
        let Err(Failure::Invalid(why)) = parse(&format!("{{'a': {deep}")) else {
            panic!("accepted a deep literal");
        };
        assert!(why.contains("deeply"), "{why}");
    }
}
