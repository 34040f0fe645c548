//! `leef.parse-leef` (SPEC §2.8): an IBM QRadar Log Event Extended Format record.
//!
//! Written by hand: no maintained crate parses LEEF, and the format is a header
//! split plus one delimiter split.
//!
//! * The record starts after the first `LEEF:` (or at its version field when the
//!   marker was stripped). The header fields become `LEEFVersion`, `DeviceVendor`,
//!   `DeviceProduct`, `DeviceVersion` and `DeviceEventClassID`, trimmed.
//! * LEEF 2.0 adds a sixth header field, the attribute delimiter: one character
//!   (`^`), or a hex code (`x09`, `0x7C`, `\x1f`). Empty or missing, it is a tab,
//!   as in LEEF 1.0. A sixth field holding `=` is an attribute, not a delimiter.
//! * Attributes are `key=value` items split on the delimiter. With a tab
//!   delimiter, syslog's octal escape of a tab (`#011`) also separates. Keys and
//!   values are trimmed; empty values are left out (CyberArk's `ExtraDetails=`
//!   must read as undefined); an item without `=` belongs
//!   to the value before it (text before the first key is ignored); a repeated key keeps its first value.

use super::cef::split_header;
use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Value};

const HEADER: [&str; 5] = [
    "LEEFVersion",
    "DeviceVendor",
    "DeviceProduct",
    "DeviceVersion",
    "DeviceEventClassID",
];

#[derive(Debug)]
pub(crate) struct Leef;

impl Leef {
    pub(crate) fn compile(_props: &mut Props) -> Result<Leef, String> {
        Ok(Leef)
    }
}

impl Parser for Leef {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        parse_leef(&text).map(Value::Map).map_err(Failure::Invalid)
    }
}

fn parse_leef(text: &str) -> Result<Map, String> {
    let record = text
        .find("LEEF:")
        .map_or(text, |at| &text[at + "LEEF:".len()..]);
    let (fields, rest) = split_header(record, HEADER.len());
    if fields.len() < HEADER.len() {
        return Err(format!(
            "LEEF header has {} of its {} `|`-separated fields",
            fields.len(),
            HEADER.len()
        ));
    }
    let mut out = Map::with_capacity(HEADER.len() + 32);
    for (name, field) in HEADER.iter().zip(&fields) {
        out.insert(*name, Value::from(field.trim()));
    }
    let version = fields[0].trim();
    let (delimiter, attributes) = if version.starts_with('2') {
        delimiter_field(rest)?
    } else {
        ('\t', rest)
    };
    attribute_pairs(attributes, delimiter, &mut out);
    Ok(out)
}

/// The LEEF 2.0 delimiter and the attributes after it.
fn delimiter_field(rest: &str) -> Result<(char, &str), String> {
    let Some(bar) = rest.find('|') else {
        return Ok(('\t', rest));
    };
    let field = &rest[..bar];
    if field.contains('=') {
        return Ok(('\t', rest));
    }
    Ok((delimiter(field.trim())?, &rest[bar + 1..]))
}

fn delimiter(field: &str) -> Result<char, String> {
    let mut chars = field.chars();
    match (chars.next(), chars.next()) {
        (None, _) => return Ok('\t'),
        (Some(c), None) => return Ok(c),
        _ => {}
    }
    let hex = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("\\x"))
        .or_else(|| field.strip_prefix('x'))
        .or_else(|| field.strip_prefix('X'));
    hex.and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .ok_or_else(|| format!("LEEF delimiter {field:?} is neither one character nor a hex code"))
}

fn attribute_pairs(attributes: &str, delimiter: char, out: &mut Map) {
    let items: Vec<&str> = if delimiter == '\t' && attributes.contains("#011") {
        attributes
            .split(['\t'])
            .flat_map(|s| s.split("#011"))
            .collect()
    } else {
        attributes.split(delimiter).collect()
    };
    let mut pairs: Vec<(&str, String)> = Vec::with_capacity(items.len());
    for item in items {
        match item.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((key.trim(), value.to_string()));
            }
            // Text without a key: the previous value held a delimiter. Text
            // before the first attribute has no key and is skipped, as in CEF.
            _ => {
                if let Some((_, value)) = pairs.last_mut() {
                    value.push(delimiter);
                    value.push_str(item);
                }
            }
        }
    }
    for (key, value) in pairs {
        let value = value.trim();
        if value.is_empty() || out.contains_key(key) {
            continue;
        }
        out.insert(key, Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;
    use crate::value::Value;

    fn leef(input: &str) -> Value {
        let (p, w) = build("leef.parse-leef", &[]).unwrap();
        assert!(w.is_empty());
        run(&*p, input).unwrap()
    }

    fn get<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.as_map().unwrap().get(k).and_then(Value::as_str)
    }

    #[test]
    fn leef_1_header_and_tab_attributes() {
        let v = leef(
            "<14>host LEEF:1.0|Acme|Vault|3.1|Login|usr= ann \tsrc=198.51.100.7\tnote=\tmsg=a=b",
        );
        assert_eq!(get(&v, "LEEFVersion"), Some("1.0"));
        assert_eq!(get(&v, "DeviceVendor"), Some("Acme"));
        assert_eq!(get(&v, "DeviceProduct"), Some("Vault"));
        assert_eq!(get(&v, "DeviceVersion"), Some("3.1"));
        assert_eq!(get(&v, "DeviceEventClassID"), Some("Login"));
        assert_eq!(get(&v, "usr"), Some("ann"));
        assert_eq!(get(&v, "src"), Some("198.51.100.7"));
        assert!(v.as_map().unwrap().get("note").is_none());
        assert_eq!(get(&v, "msg"), Some("a=b"));
    }

    #[test]
    fn syslog_escaped_tabs_separate_and_the_marker_may_be_missing() {
        let v = leef("1.0|Acme|Box|9|42|host=fw1#011sn=X1#011msg=two words");
        assert_eq!(get(&v, "host"), Some("fw1"));
        assert_eq!(get(&v, "sn"), Some("X1"));
        assert_eq!(get(&v, "msg"), Some("two words"));
    }

    #[test]
    fn leef_2_delimiters() {
        let v = leef("LEEF:2.0|Acme|Box|9|42|^|a=1^b=two words^c=3");
        assert_eq!(get(&v, "b"), Some("two words"));
        assert_eq!(get(&v, "c"), Some("3"));
        let v = leef("LEEF:2.0|Acme|Box|9|42|x7C|a=1|b=2");
        assert_eq!(get(&v, "a"), Some("1"));
        assert_eq!(get(&v, "b"), Some("2"));
        let v = leef("LEEF:2.0|Acme|Box|9|42|0x3b|a=1;b=2");
        assert_eq!(get(&v, "b"), Some("2"));
        let v = leef("LEEF:2.0|Acme|Box|9|42||a=1\tb=2");
        assert_eq!(get(&v, "b"), Some("2"));
        // No delimiter field at all: the sixth field is already an attribute.
        let v = leef("LEEF:2.0|Acme|Box|9|42|a=1\tb=x|y");
        assert_eq!(get(&v, "a"), Some("1"));
        assert_eq!(get(&v, "b"), Some("x|y"));
    }

    #[test]
    fn keyless_items_join_the_previous_value_and_first_key_wins() {
        let v = leef("LEEF:2.0|Acme|Box|9|42|,|list=a,b,c,k=1,k=2");
        assert_eq!(get(&v, "list"), Some("a,b,c"));
        assert_eq!(get(&v, "k"), Some("1"));
    }

    #[test]
    fn malformed_records_are_rejected() {
        let (p, _) = build("leef.parse-leef", &[]).unwrap();
        let Err(Failure::Invalid(why)) = run(&*p, "LEEF:1.0|Acme|Box") else {
            panic!("accepted a short header");
        };
        assert!(why.contains("3 of its 5"), "{why}");
        let Err(Failure::Invalid(why)) = run(&*p, "LEEF:2.0|Acme|Box|9|42|tab|a=1") else {
            panic!("accepted a bad delimiter");
        };
        assert!(why.contains("\"tab\""), "{why}");
        let Err(Failure::Invalid(why)) = run(&*p, "LEEF:2.0|Acme|Box|9|42|xZZ|a=1") else {
            panic!("accepted a bad hex delimiter");
        };
        assert!(why.contains("xZZ"), "{why}");
        assert!(run(&*p, "").is_err());
    }
}
