//! `dsv.parse-dsv` (SPEC §2.6): one delimiter-separated record mapped onto
//! `columnnames` by position. Quoting follows Python's `csv` reader (double
//! quotes, `""` inside quotes, no escape character, lenient about text after a
//! closing quote). Extra values are dropped; missing columns are absent.
//!
//! Hot path (VPC flow logs): a record on a one-byte delimiter, without a quote or
//! newline up to its last field, is split 16 bytes at a time (`split_plain`), with
//! pre-built keys and no per-event allocation beyond the values that do not fit
//! inline.

use super::{Failure, Parser, Props, input_text};
use crate::scan;
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

    /// The delimiter as a byte, when the plain split applies to it.
    fn byte_delimiter(&self) -> Option<u8> {
        self.delimiter.is_ascii().then_some(self.delimiter as u8)
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
        let mut spans = Vec::new();
        match self.byte_delimiter() {
            _ if text.is_empty() => {}
            Some(d) if split_plain(text.as_bytes(), d, self.columns.len(), &mut spans) => {
                // The delimiter is ASCII: the bounds are character boundaries.
                for (index, &(start, end)) in spans.iter().enumerate() {
                    self.put(&mut out, index, &text[start as usize..end as usize]);
                }
            }
            _ => self.split_quoted(&text, &mut out),
        }
        Ok(Value::Map(out))
    }

    fn field_names(&self) -> Option<&[Option<Str>]> {
        Some(&self.columns)
    }

    fn split_spans(&self, text: &str, spans: &mut Vec<(u32, u32)>) -> Option<()> {
        spans.clear();
        let delimiter = self.byte_delimiter()?;
        u32::try_from(text.len()).ok()?;
        if text.is_empty() {
            return Some(());
        }
        if split_plain(text.as_bytes(), delimiter, self.columns.len(), spans) {
            Some(())
        } else {
            spans.clear();
            None
        }
    }
}

/// Splits `bytes` (shorter than 4 GiB) on `delimiter` into its first `columns`
/// fields, as byte ranges; `false` when a quote or a newline comes before the end
/// of the last of them, so that the quoting rules apply (`fields` is then left
/// partly filled). Python's reader stops at that field too: whatever follows it
/// cannot change the fields before.
fn split_plain(bytes: &[u8], delimiter: u8, columns: usize, fields: &mut Vec<(u32, u32)>) -> bool {
    fields.clear();
    let mut start = 0;
    let mut base = 0;
    while base < bytes.len() {
        let (mut found, special) = scan::delimiter_masks(&bytes[base..], delimiter);
        if special != 0 {
            // Conservative: the quote may come after the last field ends.
            return false;
        }
        while found != 0 {
            if fields.len() == columns {
                return true;
            }
            let at = base + found.trailing_zeros() as usize;
            fields.push((start as u32, at as u32));
            start = at + 1;
            found &= found - 1;
        }
        base += 16;
    }
    if fields.len() < columns {
        fields.push((start as u32, bytes.len() as u32));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    /// The plain split gives the quoting reader's fields wherever the delimiters,
    /// quotes and newlines fall (every length to 40, patterns of 6 positions),
    /// whatever the number of columns; it declines only when a quote or a newline
    /// is in the text. `parse` gives the same fields either way.
    #[test]
    fn the_plain_split_agrees_with_the_quoting_reader_at_every_position() {
        for columns in [1, 3, 14, 40] {
            let names: Vec<Option<Str>> = (0..columns)
                .map(|i| Some(Str::from(format!("c{i}").as_str())))
                .collect();
            let dsv = Dsv {
                width: names.len(),
                columns: names.clone(),
                delimiter: ' ',
            };
            for len in 0..40 {
                for pattern in 0u32..64 {
                    for special in [None, Some(b'"'), Some(b'\n'), Some(b'\r')] {
                        let text: String = (0..len)
                            .map(|i| match (pattern >> (i % 6)) & 1 {
                                1 => ' ',
                                _ if i % 7 == 3 => special.map_or('é', char::from),
                                _ => char::from(b'a' + (i % 26) as u8),
                            })
                            .collect();
                        let mut reference = Map::new();
                        dsv.split_quoted(&text, &mut reference);
                        let reference = Value::Map(reference);
                        let parsed = run(&dsv, &text).unwrap();
                        assert_eq!(parsed, reference, "parse, {columns} {text:?}");
                        let mut spans = Vec::new();
                        let Some(()) = dsv.split_spans(&text, &mut spans) else {
                            assert!(special.is_some() && len > 3, "declined {text:?}");
                            continue;
                        };
                        let from_spans: Map = spans
                            .iter()
                            .zip(&names)
                            .map(|(&(lo, hi), name)| {
                                let name = name.clone().unwrap();
                                (name, Value::from(&text[lo as usize..hi as usize]))
                            })
                            .collect();
                        assert_eq!(Value::Map(from_spans), reference, "{columns} {text:?}");
                    }
                }
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
