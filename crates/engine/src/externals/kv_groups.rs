//! `kv.parse-kv` with `groups: true` (SPEC §2.4): `key=value` items with
//! bracketed sections, as Clavister firewalls log them:
//!
//! `id=7 [message=Conn opened zone="A" ][rules rule=R1 ][conn [conn srcip=1.2.3.4 ]]`
//! gives `{id, message, zone, rules: {rule}, conn: {conn: {srcip}}}`.
//!
//! * `[name …]` is a nested map under `name`, the first word after `[`. Words
//!   after the name and before the first key (`[udp packet srcport=…]`) are part
//!   of the section's title and are skipped.
//! * `[k=v …]`, without a name, merges its pairs into the enclosing map.
//! * Items are separated by whitespace; a value runs over the following words
//!   that hold no `=` (`message=Packet dropped. Dropping`), up to a bracket. A
//!   value opening with a quote runs to its closing quote. Values are cleaned as
//!   in plain kv: trimmed, one pair of surrounding quotes removed, trimmed again.
//! * A repeated key keeps its last value, as in plain kv. A section whose name is
//!   already a map merges into it.
//! * Unbalanced brackets are tolerated: a missing `]` closes at the end of the
//!   text, a stray `]` at the top is skipped.

use crate::value::{Map, Value};

/// Deeper sections than this are refused rather than risking the stack.
const MAX_DEPTH: usize = 32;

pub(crate) fn parse_groups(text: &str) -> Result<Map, String> {
    let mut reader = Reader { text, at: 0 };
    let mut out = Map::new();
    reader.section(&mut out, 0)?;
    Ok(out)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace()
}

impl Reader<'_> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.byte().is_some_and(is_space) {
            self.at += 1;
        }
    }

    /// The end of the word at `from`: the next whitespace or bracket.
    fn word_end(&self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = from;
        while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'[' && bytes[i] != b']' {
            i += 1;
        }
        i
    }

    /// Reads items into `out` up to the `]` closing this section (consumed) or the end.
    fn section(&mut self, out: &mut Map, depth: usize) -> Result<(), String> {
        loop {
            self.skip_space();
            match self.byte() {
                None => return Ok(()),
                Some(b']') => {
                    self.at += 1;
                    if depth > 0 {
                        return Ok(());
                    }
                }
                Some(b'[') => {
                    if depth >= MAX_DEPTH {
                        return Err(format!(
                            "kv groups nested deeper than {MAX_DEPTH} at byte {}",
                            self.at
                        ));
                    }
                    self.at += 1;
                    self.subsection(out, depth + 1)?;
                }
                Some(_) => self.item(out),
            }
        }
    }

    fn subsection(&mut self, out: &mut Map, depth: usize) -> Result<(), String> {
        self.skip_space();
        let start = self.at;
        let end = self.word_end(start);
        let word = &self.text[start..end];
        if word.is_empty() || word.contains('=') {
            // No name: the pairs belong to the enclosing map.
            return self.section(out, depth);
        }
        self.at = end;
        // Title words before the first key are not data.
        loop {
            self.skip_space();
            let end = self.word_end(self.at);
            if end == self.at || self.text[self.at..end].contains('=') {
                break;
            }
            self.at = end;
        }
        let mut inner = match out.remove(word) {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        self.section(&mut inner, depth)?;
        out.insert(word, Value::Map(inner));
        Ok(())
    }

    /// One `key=value` item, or a word without `=`, which is skipped.
    fn item(&mut self, out: &mut Map) {
        let start = self.at;
        let end = self.word_end(start);
        let word = &self.text[start..end];
        let Some(eq) = word.find('=') else {
            self.at = end.max(start + 1);
            return;
        };
        let key = word[..eq].trim();
        let value_start = start + eq + 1;
        let value_end = match self.text[value_start..].chars().next() {
            Some(q @ ('"' | '\'')) => match self.text[value_start + 1..].find(q) {
                Some(close) => value_start + 1 + close + 1,
                None => self.extended_end(end),
            },
            _ => self.extended_end(end),
        };
        self.at = value_end;
        if !key.is_empty() {
            let value = clean(&self.text[value_start..value_end]);
            out.insert(key, Value::from(value));
        }
    }

    /// The end of a value whose first word ends at `end`, extended over the
    /// following words that hold no `=`, up to a bracket.
    fn extended_end(&self, mut end: usize) -> usize {
        let bytes = self.text.as_bytes();
        loop {
            let mut next = end;
            while next < bytes.len() && is_space(bytes[next]) {
                next += 1;
            }
            if next >= bytes.len() || matches!(bytes[next], b'[' | b']') {
                return end;
            }
            let word_end = self.word_end(next);
            if self.text[next..word_end].contains('=') {
                return end;
            }
            end = word_end;
        }
    }
}

fn clean(raw: &str) -> &str {
    let v = raw.trim();
    let b = v.as_bytes();
    if b.len() >= 2 && matches!(b[0], b'"' | b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].trim()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;

    fn groups(text: &str) -> String {
        let (p, w) = build("kv.parse-kv", &[("groups", true.into())]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        crate::json::to_json_string(&run(&*p, text).unwrap())
    }

    #[test]
    fn named_sections_nest_and_unnamed_ones_merge() {
        assert_eq!(
            groups(
                "code=42 kind=flow_end [message=Flow ended. Peer: b. zone=\"Z 1\" note=\"\" ]\
                 [policy rule=Allow_DNS ][flow [flow src=192.0.2.1 dst=192.0.2.9 ]]"
            ),
            r#"{"code":"42","kind":"flow_end","message":"Flow ended. Peer: b.","zone":"Z 1","note":"","policy":{"rule":"Allow_DNS"},"flow":{"flow":{"src":"192.0.2.1","dst":"192.0.2.9"}}}"#
        );
    }

    #[test]
    fn titles_are_skipped_and_text_follows_a_closing_bracket() {
        assert_eq!(
            groups(
                "[frame len=60 [tos prio=Low ]ttl=9 [flags df=1 ]sum=0xAB ][udp datagram \
                 sport=53 dport=5353 ]tail=x"
            ),
            r#"{"frame":{"len":"60","tos":{"prio":"Low"},"ttl":"9","flags":{"df":"1"},"sum":"0xAB"},"udp":{"sport":"53","dport":"5353"},"tail":"x"}"#
        );
    }

    #[test]
    fn values_span_words_and_later_keys_win() {
        assert_eq!(
            groups("sent=4.5   K recv=7 recv=8 err=\"can't say\" [x a=1 ][x b=2 ]"),
            r#"{"sent":"4.5   K","recv":"8","err":"can't say","x":{"a":"1","b":"2"}}"#
        );
    }

    #[test]
    fn unbalanced_and_hostile_input_never_panics() {
        assert_eq!(groups("a=1 [s b=2"), r#"{"a":"1","s":{"b":"2"}}"#);
        assert_eq!(groups("] a=1 ]]"), r#"{"a":"1"}"#);
        assert_eq!(
            groups("a=\"open [s b=2 ]"),
            r#"{"a":"\"open","s":{"b":"2"}}"#
        );
        let (p, _) = build("kv.parse-kv", &[("groups", true.into())]).unwrap();
        let Err(Failure::Invalid(why)) = run(&*p, &"[s ".repeat(100)) else {
            panic!("accepted deep sections");
        };
        assert!(why.contains("deeper"), "{why}");
        assert!(run(&*p, "no pairs here").is_err());
        assert!(run(&*p, "").is_err());
    }

    #[test]
    fn groups_need_the_default_separators() {
        let err = build(
            "kv.parse-kv",
            &[("groups", true.into()), ("item_sep", ",".into())],
        )
        .unwrap_err();
        assert!(err.contains("groups"), "{err}");
    }
}
