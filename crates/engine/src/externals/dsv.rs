//! `dsv.parse-dsv` (SPEC §2.6): one delimiter-separated record mapped onto
//! `columnnames` by position. Quoting follows Python's `csv` reader (double
//! quotes, `""` inside quotes, no escape character, lenient about text after a
//! closing quote). Extra values are dropped; missing columns are absent.
//!
//! Hot path (VPC flow logs): a single-byte delimiter and no quote or newline in
//! the record is split 8 bytes at a time (`Delimiters`), with pre-built keys and no per-event
//! allocation beyond the values that do not fit inline.

use memchr::memchr3;

use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Str, Value};

#[derive(Debug)]
pub(crate) struct Dsv {
    /// The output key of each column; `None` for a column shadowed by a later
    /// column of the same name (Python's `dict(zip(...))` keeps the last).
    columns: Vec<Option<Str>>,
    /// How many keys an output map gets at most.
    width: usize,
    delimiter: char,
}

impl Dsv {
    pub(crate) fn compile(props: &mut Props, warnings: &mut Vec<String>) -> Result<Dsv, String> {
        let names: Vec<Option<String>> = match props.get("columnnames") {
            Some(Value::List(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    Value::Str(s) => Ok(Some(s.to_string())),
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                        Ok(Some(crate::template::py_str(v)))
                    }
                    other => {
                        Err(props.bad("columnnames", &format!("has a {} entry", other.type_name())))
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(Value::Str(s)) => s.split(',').map(|c| Some(c.trim().to_string())).collect(),
            Some(other) => {
                return Err(props.bad(
                    "columnnames",
                    &format!("must be a list, not a {}", other.type_name()),
                ));
            }
            None => return Err(props.bad("columnnames", "is required")),
        };
        let delimiter = match props.string("delimiter")? {
            None => ',',
            Some(d) => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c != '"' && c != '\n' && c != '\r' => c,
                    _ => {
                        return Err(props.bad(
                            "delimiter",
                            &format!(
                                "must be one character other than a quote or newline, got {d:?}"
                            ),
                        ));
                    }
                }
            }
        };
        let mut columns = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let later = name
                .as_ref()
                .is_some_and(|n| names[i + 1..].iter().any(|m| m.as_ref() == Some(n)));
            if later {
                warnings.push(format!(
                    "{}: column {:?} appears more than once; the last one is kept",
                    props.external(),
                    name.as_deref().unwrap_or_default()
                ));
            }
            columns.push(
                name.as_ref()
                    .filter(|_| !later)
                    .map(|n| Str::from(n.as_str())),
            );
        }
        let width = columns.iter().filter(|c| c.is_some()).count();
        Ok(Dsv {
            columns,
            width,
            delimiter,
        })
    }

    fn put(&self, out: &mut Map, index: usize, value: &str) {
        if let Some(Some(key)) = self.columns.get(index) {
            out.push_unique(key.clone(), Value::Str(Str::from(value)));
        }
    }

    /// Plain split on a one-byte delimiter (no quotes, no newlines in `text`).
    fn split_fast(&self, text: &str, delim: u8, out: &mut Map) {
        // `delim` is ASCII: the bounds are character boundaries.
        self.each_field(text, delim, |index, start, end| {
            self.put(out, index, &text[start..end])
        });
    }

    /// The unquoted fields of `text` by column index (as byte ranges), as many as
    /// there are columns.
    fn each_field(&self, text: &str, delim: u8, mut field: impl FnMut(usize, usize, usize)) {
        let columns = self.columns.len();
        let mut start = 0;
        let mut index = 0;
        for at in Delimiters::new(text.as_bytes(), delim) {
            if index == columns {
                return;
            }
            field(index, start, at);
            start = at + 1;
            index += 1;
        }
        if index < columns {
            field(index, start, text.len());
        }
    }

    /// Whether `text` splits without quote handling (the common case).
    fn is_plain(&self, text: &str) -> bool {
        self.delimiter.is_ascii() && memchr3(b'"', b'\n', b'\r', text.as_bytes()).is_none()
    }

    /// Python `csv` reader state machine, for the first record of `text`.
    fn split_quoted(&self, text: &str, out: &mut Map) {
        #[derive(PartialEq)]
        enum State {
            StartField,
            InField,
            InQuoted,
            QuoteInQuoted,
        }
        let mut state = State::StartField;
        let mut field = String::new();
        let mut index = 0;
        let mut saw_any = false;
        for c in text.chars() {
            if index >= self.columns.len() {
                return;
            }
            saw_any = true;
            let newline = c == '\n' || c == '\r';
            match state {
                State::StartField | State::InField | State::QuoteInQuoted
                    if c == self.delimiter || newline =>
                {
                    self.put(out, index, &field);
                    field.clear();
                    index += 1;
                    if newline {
                        return;
                    }
                    state = State::StartField;
                }
                State::StartField if c == '"' => state = State::InQuoted,
                State::InQuoted if c == '"' => state = State::QuoteInQuoted,
                State::QuoteInQuoted if c == '"' => {
                    field.push('"');
                    state = State::InQuoted;
                }
                State::InQuoted => field.push(c),
                _ => {
                    field.push(c);
                    state = State::InField;
                }
            }
        }
        if saw_any && index < self.columns.len() {
            self.put(out, index, &field);
        }
    }
}

impl Parser for Dsv {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        let mut out = Map::with_capacity(self.width);
        if self.is_plain(&text) {
            if !text.is_empty() {
                self.split_fast(&text, self.delimiter as u8, &mut out);
            }
        } else {
            self.split_quoted(&text, &mut out);
        }
        Ok(Value::Map(out))
    }

    fn field_names(&self) -> Option<&[Option<Str>]> {
        Some(&self.columns)
    }

    fn split_spans(&self, text: &str, spans: &mut Vec<(u32, u32)>) -> Option<()> {
        spans.clear();
        if !self.is_plain(text) || u32::try_from(text.len()).is_err() {
            return None;
        }
        if !text.is_empty() {
            // Bounds fit: the text is shorter than 4 GiB.
            self.each_field(text, self.delimiter as u8, |_, start, end| {
                spans.push((start as u32, end as u32))
            });
        }
        Some(())
    }
}

/// The positions of one byte in a text, found 8 bytes at a time: on short
/// records with many fields this costs less than a search call per field.
struct Delimiters<'t> {
    bytes: &'t [u8],
    byte: u8,
    /// Start of the word whose matches are in `found`.
    base: usize,
    /// One high bit per matching byte of the current word.
    found: u64,
    next: usize,
}

impl<'t> Delimiters<'t> {
    fn new(bytes: &'t [u8], byte: u8) -> Delimiters<'t> {
        Delimiters {
            bytes,
            byte,
            base: 0,
            found: 0,
            next: 0,
        }
    }
}

impl Iterator for Delimiters<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        loop {
            if self.found != 0 {
                let at = self.base + (self.found.trailing_zeros() / 8) as usize;
                self.found &= self.found - 1;
                return Some(at);
            }
            let rest = self.bytes.get(self.next..)?;
            if let Some(word) = rest.first_chunk::<8>() {
                // Exact per byte: the high bit of `x` is set where the byte equals
                // `byte` (no borrow crosses bytes, unlike the zero-byte test).
                let x = u64::from_le_bytes(*word) ^ (u64::from(self.byte) * 0x0101_0101_0101_0101);
                self.found = !(((x & LOW7) + LOW7) | x | LOW7);
                self.base = self.next;
                self.next += 8;
            } else {
                let at = rest.iter().position(|&b| b == self.byte)?;
                self.next += at + 1;
                return Some(self.next - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn delimiters_are_found_at_every_position() {
        // Every length up to 40 and every delimiter position pattern in a window,
        // against a byte-by-byte search.
        for len in 0..40 {
            for pattern in 0u32..64 {
                let text: Vec<u8> = (0..len)
                    .map(|i| match (pattern >> (i % 6)) & 1 {
                        1 => b' ',
                        _ if i % 7 == 3 => 0xa0,
                        _ => b'a' + (i % 26) as u8,
                    })
                    .collect();
                let expected: Vec<usize> = text
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b' ')
                    .map(|(i, _)| i)
                    .collect();
                let found: Vec<usize> = Delimiters::new(&text, b' ').collect();
                assert_eq!(found, expected, "{text:?}");
            }
        }
    }

    fn cols(names: &[&str]) -> Value {
        Value::List(names.iter().map(|n| Value::from(*n)).collect())
    }

    fn dsv(names: &[&str], delim: Option<&str>, text: &str) -> Value {
        let mut props = vec![("columnnames", cols(names))];
        if let Some(d) = delim {
            props.push(("delimiter", d.into()));
        }
        let (p, _) = build("dsv.parse-dsv", &props).unwrap();
        run(&*p, text).unwrap()
    }

    #[test]
    fn vpc_flow_line_on_spaces() {
        let names = [
            "version",
            "account_id",
            "interface_id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log_status",
        ];
        let v = dsv(
            &names,
            Some(" "),
            "2 424805057484 eni-0f06a40fc9be596f6 212.83.179.156 10.0.0.96 123 123 17 2 152 1599665193 1599665488 ACCEPT OK",
        );
        let m = v.as_map().unwrap();
        assert_eq!(m.len(), 14);
        assert_eq!(m.get("srcaddr"), Some(&Value::from("212.83.179.156")));
        assert_eq!(m.get("log_status"), Some(&Value::from("OK")));
        assert_eq!(m.keys().next().map(|k| k.as_str()), Some("version"));
    }

    #[test]
    fn extra_values_dropped_missing_columns_absent_empty_kept() {
        assert_eq!(
            dsv(&["a", "b"], None, "1,2,3"),
            strs(&[("a", Some("1")), ("b", Some("2"))])
        );
        assert_eq!(
            dsv(&["a", "b", "c"], None, "1,"),
            strs(&[("a", Some("1")), ("b", Some(""))])
        );
        assert_eq!(dsv(&["a", "b"], None, ""), strs(&[]));
    }

    #[test]
    fn python_csv_quoting() {
        assert_eq!(
            dsv(&["a", "b", "c"], None, r#""x,y","say ""hi""",z"#),
            strs(&[
                ("a", Some("x,y")),
                ("b", Some(r#"say "hi""#)),
                ("c", Some("z"))
            ])
        );
        // A quote inside an unquoted field is literal; text after a closing quote is kept.
        assert_eq!(
            dsv(&["a", "b"], None, r#"ab"c,"q"rest"#),
            strs(&[("a", Some(r#"ab"c"#)), ("b", Some("qrest"))])
        );
        // Newlines end the record unless quoted; an unterminated quote keeps what it has.
        assert_eq!(
            dsv(&["a", "b"], None, "1,2\n3,4"),
            strs(&[("a", Some("1")), ("b", Some("2"))])
        );
        assert_eq!(
            dsv(&["a", "b"], None, "\"l1\nl2\",x"),
            strs(&[("a", Some("l1\nl2")), ("b", Some("x"))])
        );
        assert_eq!(dsv(&["a"], None, "\"open"), strs(&[("a", Some("open"))]));
        assert_eq!(
            dsv(&["a", "b"], Some("\t"), "1\t\"2\t3\""),
            strs(&[("a", Some("1")), ("b", Some("2\t3"))])
        );
        assert_eq!(
            dsv(&["a", "b"], Some("§"), "1§2"),
            strs(&[("a", Some("1")), ("b", Some("2"))])
        );
    }

    #[test]
    fn duplicate_and_null_columns() {
        let props = [(
            "columnnames",
            Value::List(vec!["a".into(), Value::Null, "a".into()]),
        )];
        let (p, w) = build("dsv.parse-dsv", &props).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(run(&*p, "1,2,3").unwrap(), strs(&[("a", Some("3"))]));
    }

    #[test]
    fn bad_properties() {
        assert!(
            build("dsv.parse-dsv", &[])
                .unwrap_err()
                .contains("columnnames")
        );
        let e = build(
            "dsv.parse-dsv",
            &[("columnnames", cols(&["a"])), ("delimiter", "ab".into())],
        )
        .unwrap_err();
        assert!(e.contains("delimiter") && e.contains("ab"), "{e}");
    }
}
