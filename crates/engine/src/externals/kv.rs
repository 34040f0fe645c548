//! `kv.parse-kv` (SPEC §2.4): `key=value` items.
//!
//! Items are split on `item_sep` (runs collapse). The key is the text before the
//! first `value_sep` of an item; the value runs to the end of the item and over
//! the following items that contain no `value_sep` (`ivs=Default Network`). A value
//! opening with a quote keeps separators up to its closing quote. Values are
//! trimmed, stripped of one pair of surrounding quotes, and trimmed again;
//! backslashes are kept as they are.
//!
//! Separators are regexes, with a literal fallback for invalid ones (`*,*`).
//! Single characters and `\s` get a byte-level fast path with no regex per event.

use memchr::memchr;

use super::{Failure, Names, Parser, Props, input_text};
use crate::regex::Pattern;
use crate::template::Env;
use crate::value::{Map, Str, Value};

#[derive(Debug)]
pub(crate) struct Kv {
    item_sep: Sep,
    value_sep: Sep,
    /// `groups: true`: bracketed sections become nested maps (see `kv_groups`).
    groups: bool,
}

/// A separator and how to find it.
#[derive(Debug)]
enum Sep {
    /// One literal character.
    Char(char),
    /// `\s`: one whitespace character.
    Space,
    /// A literal string of several characters.
    Lit(String),
    Regex(Pattern),
}

impl Sep {
    fn compile(src: &str) -> Sep {
        if matches!(src, r"\s" | r"\s+" | r"\s*") {
            return Sep::Space;
        }
        let mut chars = src.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some(c), None, _) if !is_meta(c) => return Sep::Char(c),
            (Some('\\'), Some(c), None) => match c {
                't' => return Sep::Char('\t'),
                'n' => return Sep::Char('\n'),
                'r' => return Sep::Char('\r'),
                c if c.is_ascii_punctuation() || c == ' ' => return Sep::Char(c),
                _ => {}
            },
            _ => {}
        }
        if !src.chars().any(is_meta) {
            return Sep::Lit(src.to_string());
        }
        // Empty matches are skipped when searching, so any valid regex works.
        match Pattern::new(src) {
            Ok(p) => Sep::Regex(p),
            Err(_) => Sep::Lit(src.to_string()),
        }
    }

    /// The first non-empty match starting in `from..limit` and ending by `limit`.
    fn find(&self, text: &str, from: usize, limit: usize) -> Option<(usize, usize)> {
        match self {
            Sep::Char(c) if c.is_ascii() => find_byte(text, *c as u8, from, limit),
            Sep::Space => find_space(text, from, limit),
            Sep::Char(c) => text
                .get(..limit)?
                .get(from..)?
                .find(*c)
                .map(|i| (from + i, from + i + c.len_utf8())),
            Sep::Lit(s) => {
                memchr::memmem::find(text.get(..limit)?.as_bytes().get(from..)?, s.as_bytes())
                    .map(|i| (from + i, from + i + s.len()))
            }
            Sep::Regex(p) => {
                let hay = text.get(..limit)?;
                let mut at = from;
                loop {
                    let (s, e) = p.find_at(hay, at)?;
                    if e > s {
                        return Some((s, e));
                    }
                    // Skip an empty match by one character.
                    at = s + hay.get(s..)?.chars().next()?.len_utf8();
                }
            }
        }
    }

    /// The end of a non-empty match starting exactly at `at`.
    fn match_at(&self, text: &str, at: usize) -> Option<usize> {
        match self {
            Sep::Char(c) => text.get(at..)?.starts_with(*c).then(|| at + c.len_utf8()),
            Sep::Space => space_at(text, at),
            Sep::Lit(s) => text
                .get(at..)?
                .starts_with(s.as_str())
                .then(|| at + s.len()),
            Sep::Regex(_) => self
                .find(text, at, text.len())
                .filter(|(s, _)| *s == at)
                .map(|(_, e)| e),
        }
    }
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '^' | '$' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}'
    )
}

/// Python's `\s` on str: Unicode whitespace plus the ASCII separators 0x1c–0x1f.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// [`is_space`] of an ASCII byte.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// The end of the `\s` character at `at`, if there is one.
#[inline]
fn space_at(text: &str, at: usize) -> Option<usize> {
    match text.as_bytes().get(at)? {
        &b if b < 0x80 => is_ascii_space(b).then_some(at + 1),
        _ => {
            let c = text.get(at..)?.chars().next()?;
            is_space(c).then(|| at + c.len_utf8())
        }
    }
}

/// The first `\s` character of `text[from..limit]`, as a byte range.
#[inline]
fn find_space(text: &str, from: usize, limit: usize) -> Option<(usize, usize)> {
    let rest = text.get(..limit)?.get(from..)?;
    // ASCII bytes are tested as they are; others are decoded.
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        i += maybe_space(bytes.get(i..)?)?;
        let b = bytes[i];
        if b < 0x80 {
            if is_ascii_space(b) {
                return Some((from + i, from + i + 1));
            }
            i += 1;
        } else {
            let c = rest.get(i..)?.chars().next()?;
            if is_space(c) {
                return Some((from + i, from + i + c.len_utf8()));
            }
            i += c.len_utf8();
        }
    }
    None
}

/// The first ASCII `byte` of `text[from..limit]`, as a byte range.
#[inline]
fn find_byte(text: &str, byte: u8, from: usize, limit: usize) -> Option<(usize, usize)> {
    let bytes = text.get(..limit)?.as_bytes().get(from..)?;
    // Most items are short: a plain loop costs less than a call.
    let i = if bytes.len() <= 32 {
        bytes.iter().position(|b| *b == byte)?
    } else {
        memchr(byte, bytes)?
    };
    Some((from + i, from + i + 1))
}

/// The position of the first byte that may start a space: ASCII up to 0x20, or
/// not ASCII. Eight bytes at a time: in each word, a byte below 0x21 borrows when
/// 0x21 is taken from it and a byte from 0x80 has its high bit set already; a
/// borrow only runs into the bytes after the first such byte.
fn maybe_space(bytes: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x2121_2121_2121_2121;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let hits = (w.wrapping_sub(LOW) | w) & HIGH;
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b <= 0x20 || b >= 0x80)
        .map(|p| i + p)
}

/// `str::trim`, without a look at the ends when they are visible ASCII.
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

impl Kv {
    pub(crate) fn compile(props: &mut Props, warnings: &mut Vec<String>) -> Result<Kv, String> {
        let item = props
            .string("item_sep")?
            .unwrap_or_else(|| r"\s".to_string());
        let value = props
            .string("value_sep")?
            .unwrap_or_else(|| "=".to_string());
        if item.is_empty() {
            return Err(props.bad("item_sep", "must not be empty"));
        }
        if value.is_empty() {
            return Err(props.bad("value_sep", "must not be empty"));
        }
        let groups = props.get("groups").is_some_and(Value::truthy);
        if groups && (!matches!(item.as_str(), r"\s" | r"\s+") || value != "=") {
            return Err(props.bad(
                "groups",
                "needs the default separators (whitespace between items, `=` in them)",
            ));
        }
        if props.get("reversed").is_some_and(Value::truthy) {
            warnings.push(format!(
                "{}: property `reversed` is not supported and is ignored",
                props.external()
            ));
        }
        Ok(Kv {
            item_sep: Sep::compile(&item),
            value_sep: Sep::compile(&value),
            groups,
        })
    }

    /// Calls `pair(key, value)` for each pair of `text`, in order: the key trimmed
    /// and not empty, the value's byte range as written (see [`clean_value`]).
    fn pairs(&self, text: &str, pair: impl FnMut(&str, (usize, usize))) {
        match (&self.item_sep, &self.value_sep) {
            // The commonest separators, with their searches inlined.
            (Sep::Space, Sep::Char(c)) if c.is_ascii() => {
                let c = *c as u8;
                scan(
                    text,
                    space_at,
                    find_space,
                    |t, from, limit| find_byte(t, c, from, limit),
                    pair,
                );
            }
            (item, value) => scan(
                text,
                |t, at| item.match_at(t, at),
                |t, from, limit| item.find(t, from, limit),
                |t, from, limit| value.find(t, from, limit),
                pair,
            ),
        }
    }
}

/// [`Kv::pairs`] with its separators' searches: the end of an item separator at
/// a position, the first item separator and the first value separator in a range.
fn scan(
    text: &str,
    item_at: impl Fn(&str, usize) -> Option<usize>,
    find_item: impl Fn(&str, usize, usize) -> Option<(usize, usize)>,
    find_value: impl Fn(&str, usize, usize) -> Option<(usize, usize)>,
    mut pair: impl FnMut(&str, (usize, usize)),
) {
    {
        let len = text.len();
        // The pair being built: key range and value range.
        let mut pending: Option<(usize, usize, usize, usize)> = None;
        let mut flush = |pending: Option<(usize, usize, usize, usize)>| {
            let Some((ks, ke, vs, ve)) = pending else {
                return;
            };
            let Some(key) = text.get(ks..ke).map(trim) else {
                return;
            };
            if !key.is_empty() {
                pair(key, (vs, ve));
            }
        };
        let mut pos = 0;
        loop {
            while let Some(e) = item_at(text, pos) {
                pos = e;
            }
            if pos >= len {
                break;
            }
            let token_end = find_item(text, pos, len).map_or(len, |(s, _)| s);
            match find_value(text, pos, token_end) {
                Some((vs, ve)) => {
                    flush(pending.take());
                    let mut end = token_end;
                    if let Some(q) = text[ve..]
                        .chars()
                        .next()
                        .filter(|c| *c == '"' || *c == '\'')
                        && let Some(close) = closing_quote(text, ve + 1, q)
                        && close >= token_end
                    {
                        end = find_item(text, close + 1, len).map_or(len, |(s, _)| s);
                    }
                    pending = Some((pos, vs, ve, end));
                    pos = end;
                }
                None => {
                    // No separator: the item continues the previous value.
                    if let Some(p) = pending.as_mut() {
                        p.3 = token_end;
                    }
                    pos = token_end;
                }
            }
        }
        flush(pending);
    }
}

impl Kv {
    fn split(&self, text: &str) -> Map {
        let mut out = Map::new();
        self.pairs(text, |key, (lo, hi)| {
            if let Some((lo, hi)) = clean_value(text, lo, hi) {
                out.insert(key, Value::Str(Str::from(&text[lo..hi])));
            }
        });
        out
    }
}

/// The byte offset of the quote closing a value opened with `q`, skipping
/// backslash-escaped quotes.
fn closing_quote(text: &str, from: usize, q: char) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == q as u8 => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The value at `lo..hi` of `text` trimmed, stripped of one pair of surrounding
/// quotes and trimmed again, as a byte range; `None` when the range is not text.
fn clean_value(text: &str, lo: usize, hi: usize) -> Option<(usize, usize)> {
    let raw = text.get(lo..hi)?;
    let mut v = trim(raw);
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v = trim(&v[1..v.len() - 1]);
    }
    // `v` is a slice of `raw`: its offset is its distance from the start.
    let start = lo + (v.as_ptr() as usize - raw.as_ptr() as usize);
    Some((start, start + v.len()))
}

impl Parser for Kv {
    fn finds_spans(&self) -> bool {
        // Sections make a nested output, not a flat one.
        !self.groups
    }

    fn find_spans(
        &self,
        text: &str,
        names: &Names,
        spans: &mut [Option<(u32, u32)>],
    ) -> Option<()> {
        if self.groups || names.len() != spans.len() || u32::try_from(text.len()).is_err() {
            return None;
        }
        spans.fill(None);
        let mut any = false;
        self.pairs(text, |key, (lo, hi)| {
            // Only a value that is not text is left out of the mapping
            // (`clean_value`); the others are cleaned when read.
            if text.get(lo..hi).is_none() {
                return;
            }
            any = true;
            // A later pair of the same key wins, as in the mapping.
            if let Some(i) = names.find(key)
                && let Some((lo, hi)) = clean_value(text, lo, hi)
            {
                spans[i] = Some((lo as u32, hi as u32));
            }
        });
        // Text without any pair fails: the general path says why.
        any.then_some(())
    }

    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        let pairs = if self.groups {
            super::kv_groups::parse_groups(&text).map_err(Failure::Invalid)?
        } else {
            self.split(&text)
        };
        // Text with no key/value pair at all is not this format: say so, so that an
        // event nothing could read is dead-lettered rather than passed on empty.
        if pairs.is_empty() {
            return Err(Failure::Invalid("no key/value pair found".into()));
        }
        Ok(Value::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn kv(props: &[(&str, Value)], text: &str) -> Value {
        let (p, _) = build("kv.parse-kv", props).unwrap();
        run(&*p, text).unwrap()
    }

    fn get(v: &Value, k: &str) -> Option<String> {
        v.as_map()?.get(k)?.as_str().map(str::to_string)
    }

    #[test]
    fn ivanti_line() {
        let line = r#"id=firewall time="2021-01-28 13:46:08" pri=6 fw=172.16.128.22 ivs=Default Network user=MYDomain\\johndoe realm="" dst= msg="SYS32083: LMDB shards usage f:1%   ""#;
        let v = kv(&[], line);
        assert_eq!(get(&v, "id").as_deref(), Some("firewall"));
        assert_eq!(get(&v, "time").as_deref(), Some("2021-01-28 13:46:08"));
        assert_eq!(get(&v, "ivs").as_deref(), Some("Default Network"));
        assert_eq!(
            get(&v, "user").as_deref(),
            Some(r"MYDomain\\johndoe"),
            "backslashes kept"
        );
        assert_eq!(get(&v, "realm").as_deref(), Some(""));
        assert_eq!(get(&v, "dst").as_deref(), Some(""), "empty values kept");
        assert_eq!(
            get(&v, "msg").as_deref(),
            Some("SYS32083: LMDB shards usage f:1%")
        );
        assert_eq!(v.as_map().unwrap().len(), 9);
    }

    #[test]
    fn quoted_values_keep_separators_and_inner_quotes() {
        let v = kv(
            &[],
            r#"msg="AUT24804: policy 'Sekoia_Host Checker' reason 'n'est pas installé.'." src=1.2.3.4"#,
        );
        assert_eq!(
            get(&v, "msg").as_deref(),
            Some("AUT24804: policy 'Sekoia_Host Checker' reason 'n'est pas installé.'.")
        );
        assert_eq!(get(&v, "src").as_deref(), Some("1.2.3.4"));
        let v = kv(&[], r#"a='x y = z' b=" padded " c="esc \" q" d=it's"#);
        assert_eq!(get(&v, "a").as_deref(), Some("x y = z"));
        assert_eq!(get(&v, "b").as_deref(), Some("padded"));
        assert_eq!(get(&v, "c").as_deref(), Some(r#"esc \" q"#));
        assert_eq!(get(&v, "d").as_deref(), Some("it's"));
    }

    #[test]
    fn runs_of_separators_collapse_and_later_keys_win() {
        let v = kv(&[], "  pri=information  \t user=mail a=1 a=2 ");
        assert_eq!(get(&v, "pri").as_deref(), Some("information"));
        assert_eq!(get(&v, "user").as_deref(), Some("mail"));
        assert_eq!(get(&v, "a").as_deref(), Some("2"));
        // Leading text without a separator has no key to extend.
        let v = kv(&[], "junk more k=v");
        assert_eq!(v.as_map().unwrap().len(), 1);
    }

    #[test]
    fn custom_separators() {
        let v = kv(
            &[("item_sep", ";".into()), ("value_sep", ":".into())],
            "a:1;b: two words ;c:x:y",
        );
        assert_eq!(get(&v, "a").as_deref(), Some("1"));
        assert_eq!(get(&v, "b").as_deref(), Some("two words"));
        assert_eq!(get(&v, "c").as_deref(), Some("x:y"));
        // Invalid regex → literal.
        let v = kv(&[("item_sep", "*,*".into())], "a=1*,*b=2,3");
        assert_eq!(get(&v, "a").as_deref(), Some("1"));
        assert_eq!(get(&v, "b").as_deref(), Some("2,3"));
        // A real regex.
        let v = kv(
            &[
                ("item_sep", r",\s*|\|".into()),
                ("value_sep", r"\s*=\s*".into()),
            ],
            "a = 1,  b=2|c =3",
        );
        assert_eq!(get(&v, "a").as_deref(), Some("1"));
        assert_eq!(get(&v, "b").as_deref(), Some("2"));
        assert_eq!(get(&v, "c").as_deref(), Some("3"));
        // Escaped punctuation is a literal character.
        let v = kv(&[("item_sep", r"\|".into())], "a=1|b=2");
        assert_eq!(get(&v, "b").as_deref(), Some("2"));
    }

    #[test]
    fn unsupported_and_bad_properties() {
        let (_, w) = build(
            "kv.parse-kv",
            &[("groups", true.into()), ("reversed", false.into())],
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let (_, w) = build("kv.parse-kv", &[("reversed", true.into())]).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            build("kv.parse-kv", &[("item_sep", "".into())])
                .unwrap_err()
                .contains("item_sep")
        );
        assert!(
            build("kv.parse-kv", &[("value_sep", Value::List(vec![]))])
                .unwrap_err()
                .contains("value_sep")
        );
    }

    /// The fields found by name are the mapping's, as slices of the text.
    #[test]
    fn spans_found_by_name_agree_with_the_mapping() {
        let names = Names::new(
            ["id", "msg", "a", "b", "user", "k", "é", "missing", ""]
                .into_iter()
                .map(Str::from)
                .collect(),
        );
        for props in [
            vec![],
            vec![
                ("item_sep", Value::from(";")),
                ("value_sep", Value::from(":")),
            ],
            vec![("item_sep", Value::from(r",\s*|\|"))],
        ] {
            let (p, _) = build("kv.parse-kv", &props).unwrap();
            assert!(p.finds_spans());
            for text in [
                r#"id=firewall time="2021-01-28 13:46:08" ivs=Default Network user=a\\b msg="SYS: x  ""#,
                r#"a=1 a=2 b= "x" k=' q ' msg="esc \" q" user=it's"#,
                "a:1;b: two words ;k:x:y;a:3",
                "a=1, b=2|k =3",
                "  é=è ü\u{2003}b=\u{a0}v\u{2003} ",
                "junk more",
                "",
                "=",
                "a=\"",
                " = = ",
            ] {
                let mut spans = vec![None; names.len()];
                let found = p.find_spans(text, &names, &mut spans);
                match run(&*p, text) {
                    Ok(Value::Map(m)) => {
                        assert!(found.is_some(), "{text:?}");
                        for (name, span) in ["id", "msg", "a", "b", "user", "k", "é", "missing", ""]
                            .into_iter()
                            .zip(&spans)
                        {
                            let piece = span.map(|(lo, hi)| &text[lo as usize..hi as usize]);
                            let want = m.get(name).and_then(Value::as_str);
                            assert_eq!(piece, want, "{name} in {text:?}");
                        }
                    }
                    _ => assert!(found.is_none(), "{text:?}"),
                }
            }
        }
        // Names and spans must pair up.
        let (p, _) = build("kv.parse-kv", &[]).unwrap();
        assert!(p.find_spans("a=1", &names, &mut [None]).is_none());
    }

    /// The inlined searches of `\s` and `=` split as the general ones do (here
    /// regexes matching the same characters) on every text of a small alphabet.
    #[test]
    fn inlined_separators_split_as_the_general_ones() {
        let (fast, _) = build("kv.parse-kv", &[]).unwrap();
        let (general, _) = build(
            "kv.parse-kv",
            &[("item_sep", "[ \t]".into()), ("value_sep", "[=]".into())],
        )
        .unwrap();
        let alphabet = [" ", "\t", "=", "\"", "'", "\\", "k", "v"];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5000 {
            let mut text = String::new();
            for _ in 0..(seed % 13) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            seed = seed.wrapping_add(1);
            assert_eq!(run(&*fast, &text), run(&*general, &text), "{text:?}");
        }
    }

    #[test]
    fn maybe_space_finds_the_first_candidate_byte() {
        let texts: [&[u8]; 8] = [
            b"",
            b"abcdefgh",
            b"abcdefghijklmnop q",
            b"abc\x1fdef ghi",
            b"!~!~!~!~!~!~\x7f\x80",
            b"\x00abcdefgh",
            b"abcdefg\x21\x20",
            "ab\u{2003}cdefghijklmnop".as_bytes(),
        ];
        for t in texts {
            let want = t.iter().position(|&b| b <= 0x20 || b >= 0x80);
            assert_eq!(maybe_space(t), want, "{t:?}");
        }
        // Every byte value, in every position of a word.
        for b in 0..=255u8 {
            for at in 0..12 {
                let mut t = vec![b'a'; 12];
                t[at] = b;
                let want = (b <= 0x20 || b >= 0x80).then_some(at);
                assert_eq!(maybe_space(&t), want, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let (p, _) = build("kv.parse-kv", &[]).unwrap();
        for s in [
            "",
            "=",
            "==",
            "a=\"",
            "a='",
            "\"=\"",
            "é=è ü",
            "a=\\",
            "a=\"\\",
            " = = ",
            "k=\u{2003}v",
        ] {
            let _ = run(&*p, s);
        }
        let (p, _) = build("kv.parse-kv", &[("item_sep", r"\s*".into())]).unwrap();
        let _ = run(&*p, "a=1 b=2");
        // A regex that can match nothing still splits on its non-empty matches.
        let (p, _) = build("kv.parse-kv", &[("item_sep", ";?,".into())]).unwrap();
        let v = run(&*p, "a=1;,b=2,c=3").unwrap();
        assert_eq!(v.as_map().unwrap().get("b"), Some(&Value::from("2")));
        let (p, _) = build("kv.parse-kv", &[("item_sep", "x?".into())]).unwrap();
        let v = run(&*p, "a=1xb=2").unwrap();
        assert_eq!(v.as_map().unwrap().get("b"), Some(&Value::from("2")));
    }
}
