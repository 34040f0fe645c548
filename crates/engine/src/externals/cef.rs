//! `cef.parse-cef` (SPEC §2.7): an ArcSight Common Event Format record.
//!
//! Written by hand: no CEF crate fits. `rust-cef` only writes CEF, `cef2hashmap`
//! is a small one-author parser, and the parser inside `rsigma-runtime` (a large
//! runtime) unescapes `\=` and `\\`, which the catalog keeps. The catalog's
//! quirks (labels as keys, leading text, first key wins) are a page of code.
//!
//! * The record starts after the first `CEF:`; anything before it (a syslog
//!   header) is ignored; without `CEF:` the record starts at the version field.
//!   The seven `|`-separated header fields become `CEFVersion`, `DeviceVendor`,
//!   `DeviceProduct`, `DeviceVersion`, `DeviceEventClassID`, `Name` and
//!   `Severity`, trimmed; `\|` and `\\` are unescaped there.
//! * The extension is `key=value` pairs. A key is a run of letters, digits and
//!   `_ . - [ ]` that starts the extension or follows whitespace, and is directly
//!   followed by `=`. A value runs to the whitespace before the next key (the last
//!   one to the end), so it may hold spaces and newlines. One pair of quotes that
//!   opens and closes it is removed, then it is trimmed. Backslash escapes are kept
//!   as they are: the catalog expects `uuid\=…` and `DOMAIN\\user` unchanged, and
//!   F5's format turns `\r\n` into line breaks itself. Only a final odd backslash
//!   is dropped: it escaped the whitespace after the value.
//!   A value opening with a quote may hold keys: see [`quoted_value_end`].
//!   Empty values are left out; a repeated key keeps its first value (SonicWall
//!   repeats `catid` and the catalog expects the first).
//! * A custom label (`cs1Label=Rule`, `flexString2Label=…`) also gives its field's
//!   value under the label's text (`Rule`), unless that key already exists.

use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Value};

const HEADER: [&str; 7] = [
    "CEFVersion",
    "DeviceVendor",
    "DeviceProduct",
    "DeviceVersion",
    "DeviceEventClassID",
    "Name",
    "Severity",
];

#[derive(Debug)]
pub(crate) struct Cef;

impl Cef {
    pub(crate) fn compile(_props: &mut Props) -> Result<Cef, String> {
        Ok(Cef)
    }
}

impl Parser for Cef {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        parse_cef(&text).map(Value::Map).map_err(Failure::Invalid)
    }
}

/// The CEF record in `text` as a flat map of strings.
pub(crate) fn parse_cef(text: &str) -> Result<Map, String> {
    // Some senders drop the `CEF:` marker and start at the version field.
    let record = text
        .find("CEF:")
        .map_or(text, |at| &text[at + "CEF:".len()..]);
    let (fields, extension) = split_header(record, HEADER.len());
    if fields.len() < HEADER.len() {
        return Err(format!(
            "CEF header has {} of its {} `|`-separated fields",
            fields.len(),
            HEADER.len()
        ));
    }
    let mut out = Map::with_capacity(HEADER.len() + 32);
    for (name, field) in HEADER.iter().zip(&fields) {
        out.insert(*name, Value::from(field.trim()));
    }
    extension_pairs(extension, &mut out);
    apply_labels(&mut out);
    Ok(out)
}

/// Up to `n` header fields separated by unescaped `|` (with `\|` and `\\`
/// unescaped), and the text after the `n`th separator. A header that ends
/// without its last `|` still counts its last field.
pub(crate) fn split_header(record: &str, n: usize) -> (Vec<String>, &str) {
    let mut fields = Vec::with_capacity(n);
    let mut field = String::new();
    let mut chars = record.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some((_, e @ ('|' | '\\'))) => {
                    field.push(e);
                    chars.next();
                }
                _ => field.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut field));
                if fields.len() == n {
                    return (fields, &record[i + 1..]);
                }
            }
            c => field.push(c),
        }
    }
    fields.push(field);
    (fields, "")
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// The keys of an extension: `(key start, key end)`, `=` being at key end.
fn key_positions(ext: &str) -> Vec<(usize, usize)> {
    let bytes = ext.as_bytes();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_token = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if at_token && is_key_byte(bytes[i]) {
            let mut end = i;
            while end < bytes.len() && is_key_byte(bytes[end]) {
                end += 1;
            }
            if bytes.get(end) == Some(&b'=') {
                keys.push((i, end));
                i = end + 1;
                continue;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    keys
}

fn extension_pairs(ext: &str, out: &mut Map) {
    let keys = key_positions(ext);
    let mut n = 0;
    while let Some(&(ks, ke)) = keys.get(n) {
        let next = quoted_value_end(ext, &keys, n);
        // The whitespace before the next key separates; the last value keeps
        // whatever trails it, so a quote followed by a newline is not a closing one.
        let raw = match keys.get(next) {
            Some(&(end, _)) => ext[ke + 1..end].trim_end(),
            None => &ext[ke + 1..],
        };
        n = next;
        let value = drop_escaping_backslash(unquote(raw).trim());
        let key = &ext[ks..ke];
        if value.is_empty() || out.contains_key(key) {
            continue;
        }
        out.insert(key, Value::from(value));
    }
}

/// The index of the key that ends value `n`: the next key, unless the value opens
/// with a quote. Then it ends at the last key before the next value opening with
/// the same quote that follows that quote: `cs1="A -> B" app=7 note=x-"y" cs6="…"`
/// gives cs1 everything up to `x-"y"`, as SonicWall's catalog case expects.
fn quoted_value_end(ext: &str, keys: &[(usize, usize)], n: usize) -> usize {
    let (_, ke) = keys[n];
    let Some(quote @ (b'"' | b'\'')) = ext.as_bytes().get(ke + 1).copied() else {
        return n + 1;
    };
    let mut end = n + 1;
    for (i, &(ks, ke)) in keys.iter().enumerate().skip(n + 1) {
        if ext.as_bytes()[..ks].trim_ascii_end().last() == Some(&quote) {
            end = i;
        }
        if ext.as_bytes().get(ke + 1) == Some(&quote) {
            break;
        }
    }
    end
}

/// A value ending in an odd run of backslashes ends in an escape of the
/// whitespace that followed it (`C:\\dir\ next=`): that backslash is dropped.
fn drop_escaping_backslash(value: &str) -> &str {
    let run = value.len() - value.trim_end_matches('\\').len();
    if run % 2 == 1 {
        value[..value.len() - 1].trim_end()
    } else {
        value
    }
}

/// One pair of matching quotes around the whole value removed.
pub(crate) fn unquote(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2 && matches!(b[0], b'"' | b'\'') && b[b.len() - 1] == b[0] {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

fn apply_labels(out: &mut Map) {
    let mut labelled = Vec::new();
    for (key, label) in out.iter() {
        let Some(base) = key.strip_suffix("Label") else {
            continue;
        };
        let (Some(label), Some(value)) = (label.as_str(), out.get(base)) else {
            continue;
        };
        if !label.is_empty() && !out.contains_key(label) {
            labelled.push((label.to_string(), value.clone()));
        }
    }
    for (label, value) in labelled {
        out.insert(label, value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;
    use crate::value::Value;

    fn cef(input: &str) -> Value {
        let (p, w) = build("cef.parse-cef", &[]).unwrap();
        assert!(w.is_empty());
        run(&*p, input).unwrap()
    }

    fn get<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.as_map().unwrap().get(k).and_then(Value::as_str)
    }

    #[test]
    fn header_fields_after_leading_text() {
        let v =
            cef("<13>Jan 2 host CEF:1| Acme |Gate|4.2|deny-7|Blocked \\| dropped|8|src=192.0.2.9");
        assert_eq!(get(&v, "CEFVersion"), Some("1"));
        assert_eq!(get(&v, "DeviceVendor"), Some("Acme"));
        assert_eq!(get(&v, "DeviceProduct"), Some("Gate"));
        assert_eq!(get(&v, "DeviceVersion"), Some("4.2"));
        assert_eq!(get(&v, "DeviceEventClassID"), Some("deny-7"));
        assert_eq!(get(&v, "Name"), Some("Blocked | dropped"));
        assert_eq!(get(&v, "Severity"), Some("8"));
        assert_eq!(get(&v, "src"), Some("192.0.2.9"));
    }

    #[test]
    fn values_hold_spaces_and_newlines_and_keep_escapes() {
        let v = cef(
            "CEF:0|A|B|1|c|n|3|msg=disk is  full\n  on node 4 path=C:\\\\tmp\\\\x \
             note=a\\=b and\\nmore dpt=8080",
        );
        assert_eq!(get(&v, "msg"), Some("disk is  full\n  on node 4"));
        assert_eq!(get(&v, "path"), Some("C:\\\\tmp\\\\x"));
        assert_eq!(get(&v, "note"), Some("a\\=b and\\nmore"));
        assert_eq!(get(&v, "dpt"), Some("8080"));
    }

    #[test]
    fn quotes_empty_values_duplicates_and_dotted_keys() {
        let v = cef(
            "CEF:0|A|B|1|c|n|3|to='<ann@example.org>' half='open empty= ad.zone=lan \
             id=1 id=2",
        );
        assert_eq!(get(&v, "to"), Some("<ann@example.org>"));
        assert_eq!(get(&v, "half"), Some("'open"));
        assert!(v.as_map().unwrap().get("empty").is_none());
        assert_eq!(get(&v, "ad.zone"), Some("lan"));
        assert_eq!(get(&v, "id"), Some("1"));
    }

    #[test]
    fn a_final_quote_before_trailing_newlines_is_not_a_closing_one() {
        let v = cef("CEF:0|A|B|1|c|n|3|tag='x' subject='=?utf-8?q?hi?='\n\n");
        assert_eq!(get(&v, "tag"), Some("x"));
        assert_eq!(get(&v, "subject"), Some("'=?utf-8?q?hi?='"));
    }

    #[test]
    fn a_backslash_escaping_the_separator_is_dropped() {
        let v = cef("CEF:0|A|B|1|c|n|3|dir=D:\\logs\\ share=\\\\srv\\\\ n=1");
        assert_eq!(get(&v, "dir"), Some("D:\\logs"));
        assert_eq!(get(&v, "share"), Some("\\\\srv\\\\"));
    }

    #[test]
    fn a_quoted_value_runs_to_its_last_closing_quote_before_the_next_quoted_value() {
        let v = cef(
            "CEF:0|A|B|1|c|n|3|rule=\"lan -> wan\" app=80 tag=x-\"y\" pol=\"P 1\" n=2 \
             who=\"kim\" dpt=443 cs1='a b' c=1",
        );
        assert_eq!(get(&v, "rule"), Some("lan -> wan\" app=80 tag=x-\"y"));
        assert!(v.as_map().unwrap().get("app").is_none());
        assert_eq!(get(&v, "pol"), Some("P 1"));
        assert_eq!(get(&v, "n"), Some("2"));
        assert_eq!(get(&v, "who"), Some("kim"));
        assert_eq!(get(&v, "dpt"), Some("443"));
        assert_eq!(get(&v, "cs1"), Some("a b"));
        assert_eq!(get(&v, "c"), Some("1"));
    }

    #[test]
    fn custom_labels_name_their_values() {
        let v = cef(
            "CEF:0|A|B|1|c|n|3|cs2=edge-rule cs2Label=Rule Name cn1Label=Hits cn1=12 \
             cs3Label=Orphan src=10.1.1.1 cs4=x cs4Label=src",
        );
        assert_eq!(get(&v, "Rule Name"), Some("edge-rule"));
        assert_eq!(get(&v, "cs2"), Some("edge-rule"));
        assert_eq!(get(&v, "Hits"), Some("12"));
        assert!(v.as_map().unwrap().get("Orphan").is_none());
        // A label never replaces a real extension key.
        assert_eq!(get(&v, "src"), Some("10.1.1.1"));
    }

    #[test]
    fn record_without_the_cef_marker() {
        let v = cef("0|Acme|Audit|2|Logon|Logon ok|1|suser=kim rt=1700000000000");
        assert_eq!(get(&v, "CEFVersion"), Some("0"));
        assert_eq!(get(&v, "suser"), Some("kim"));
    }

    #[test]
    fn header_without_extension() {
        let v = cef("CEF:0|A|B|1|c|name|5|");
        assert_eq!(get(&v, "Severity"), Some("5"));
        let v = cef("CEF:0|A|B|1|c|name|5");
        assert_eq!(get(&v, "Severity"), Some("5"));
        assert_eq!(v.as_map().unwrap().len(), 7);
    }

    #[test]
    fn malformed_records_are_rejected() {
        let (p, _) = build("cef.parse-cef", &[]).unwrap();
        let Err(Failure::Invalid(why)) = run(&*p, "src=1.2.3.4 dst=5.6.7.8") else {
            panic!("accepted a record without a header");
        };
        assert!(why.contains("1 of its 7"), "{why}");
        let Err(Failure::Invalid(why)) = run(&*p, "CEF:0|A|B|c") else {
            panic!("accepted a short header");
        };
        assert!(why.contains("4 of its 7"), "{why}");
        assert!(run(&*p, "").is_err());
        assert!(run(&*p, "CEF:").is_err());
    }
}
