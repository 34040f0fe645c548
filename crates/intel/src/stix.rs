//! STIX 2.1 bundles: the indicator objects whose pattern is a disjunction of equality
//! comparisons on the observables intake matches. The bundle is read as a stream, one
//! object at a time, so a bundle far larger than memory's budget still loads.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::index::IndicatorSet;
use crate::indicator::{
    Indicator, Meta, Observable, StixId, ecs_hash_name, normalize_domain, normalize_url,
    parse_ip_or_cidr,
};

/// The indicators of one bundle and the ones left out, with why.
#[derive(Default)]
pub struct BundleContent {
    /// Indicators go straight into the index as they are read: a million-object bundle
    /// never exists as a list in memory.
    pub set: IndicatorSet,
    /// Indicators left out on purpose: revoked, or already expired when loaded (`now`).
    pub inactive: u64,
    /// Indicators whose pattern intake cannot match, each with its id and the reason.
    pub unsupported: Vec<String>,
    tag_sets: Vec<Arc<[Arc<str>]>>,
}

/// Reads a bundle. `tags` are added to every indicator's own labels and types.
pub fn read_bundle(
    reader: impl Read,
    feed: Arc<str>,
    tags: &[Arc<str>],
    now: i64,
) -> Result<BundleContent, String> {
    let mut content = BundleContent::default();
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    BundleSeed {
        feed: &feed,
        tags,
        now,
        content: &mut content,
    }
    .deserialize(&mut de)
    .map_err(|e| format!("not a STIX bundle: {e}"))?;
    de.end().map_err(|e| format!("not a STIX bundle: {e}"))?;
    content.set.finish();
    Ok(content)
}

struct BundleSeed<'a> {
    feed: &'a Arc<str>,
    tags: &'a [Arc<str>],
    now: i64,
    content: &'a mut BundleContent,
}

impl<'de> DeserializeSeed<'de> for BundleSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BundleSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a STIX bundle object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut kind: Option<String> = None;
        let mut objects = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "objects" => {
                    objects = true;
                    map.next_value_seed(ObjectsSeed {
                        feed: self.feed,
                        tags: self.tags,
                        now: self.now,
                        content: &mut *self.content,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if kind.as_deref() != Some("bundle") {
            return Err(serde::de::Error::custom("its \"type\" is not \"bundle\""));
        }
        if !objects {
            return Err(serde::de::Error::missing_field("objects"));
        }
        Ok(())
    }
}

struct ObjectsSeed<'a> {
    feed: &'a Arc<str>,
    tags: &'a [Arc<str>],
    now: i64,
    content: &'a mut BundleContent,
}

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of STIX objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(object) = seq.next_element::<StixObject>()? {
            if object.kind != "indicator" {
                continue;
            }
            if let Err(why) = add_indicator(object, self.feed, self.tags, self.now, self.content) {
                self.content.unsupported.push(why);
            }
        }
        Ok(())
    }
}

/// The members of a STIX object that intake reads; any other member is ignored.
#[derive(Deserialize)]
struct StixObject {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    pattern_type: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    indicator_types: Vec<String>,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    confidence: Option<u8>,
}

fn timestamp(id: &str, member: &str, text: Option<&str>) -> Result<Option<i64>, String> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .map_err(|e| {
                format!("indicator {id}: {member} {t:?} is not an RFC 3339 timestamp: {e}")
            })
    })
    .transpose()
}

fn add_indicator(
    object: StixObject,
    feed: &Arc<str>,
    tags: &[Arc<str>],
    now: i64,
    content: &mut BundleContent,
) -> Result<(), String> {
    let id = object.id;
    if let Some(kind) = object.pattern_type.as_deref().filter(|k| *k != "stix") {
        return Err(format!(
            "indicator {id}: pattern_type {kind:?} is not \"stix\""
        ));
    }
    let Some(pattern) = object.pattern.as_deref() else {
        return Err(format!("indicator {id}: no pattern"));
    };
    let observables = parse_pattern(pattern)
        .map_err(|why| format!("indicator {id}: pattern {pattern:?}: {why}"))?;
    let valid_from = timestamp(&id, "valid_from", object.valid_from.as_deref())?;
    let valid_until = timestamp(&id, "valid_until", object.valid_until.as_deref())?;
    if object.revoked || valid_until.is_some_and(|until| until <= now) {
        content.inactive += 1;
        return Ok(());
    }
    let mut names: Vec<&str> = Vec::new();
    for tag in object
        .labels
        .iter()
        .chain(&object.indicator_types)
        .map(String::as_str)
        .chain(tags.iter().map(|t| &**t))
    {
        if !names.contains(&tag) {
            names.push(tag);
        }
    }
    // Most indicators of a bundle share a few tag sets: each set is kept once.
    let all_tags = match content
        .tag_sets
        .iter()
        .find(|set| set.len() == names.len() && set.iter().zip(&names).all(|(a, b)| **a == **b))
    {
        Some(set) => set.clone(),
        None => {
            let set: Arc<[Arc<str>]> = names.iter().map(|n| Arc::from(*n)).collect();
            if content.tag_sets.len() < 64 {
                content.tag_sets.push(set.clone());
            }
            set
        }
    };
    let meta = Arc::new(Meta {
        feed: feed.clone(),
        id: Some(StixId::new(&id)),
        name: object.name.map(String::into_boxed_str),
        tags: all_tags,
        valid_from,
        valid_until,
        confidence: object.confidence.filter(|c| *c <= 100),
    });
    for observable in observables {
        content.set.insert(Indicator {
            observable,
            meta: meta.clone(),
        });
    }
    Ok(())
}

/// Parses `[cmp (OR cmp)*] (OR [cmp (OR cmp)*])*` where each comparison is
/// `object:path = 'value'` (or `ISSUBSET` for a range) on an observable intake matches.
pub fn parse_pattern(pattern: &str) -> Result<Vec<Observable>, String> {
    let mut lexer = Lexer {
        text: pattern,
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        lexer.expect("[")?;
        loop {
            out.push(comparison(&mut lexer)?);
            match lexer.word() {
                Some("OR") => continue,
                Some("]") => break,
                Some(other) => {
                    return Err(format!(
                        "{other:?} is not supported (only OR of comparisons)"
                    ));
                }
                None => return Err("the pattern ends before ']'".into()),
            }
        }
        match lexer.word() {
            None => return Ok(out),
            Some("OR") => continue,
            Some(other) => {
                return Err(format!(
                    "{other:?} after an observation is not supported (only OR)"
                ));
            }
        }
    }
}

fn comparison(lexer: &mut Lexer) -> Result<Observable, String> {
    let path = lexer.path()?;
    let operator = lexer.word().ok_or("the pattern ends before an operator")?;
    let value = lexer.quoted()?;
    let bad = |what: &str| format!("{value:?} is not {what}");
    match (path.as_str(), operator) {
        ("ipv4-addr:value" | "ipv6-addr:value", "=" | "ISSUBSET") => {
            let observable =
                parse_ip_or_cidr(&value).ok_or_else(|| bad("an IP address or CIDR range"))?;
            let v6 = path.starts_with("ipv6");
            let is_v6 = matches!(&observable, Observable::Ip(ip) if ip.is_ipv6())
                || matches!(&observable, Observable::Cidr(net) if matches!(net, ipnet::IpNet::V6(_)));
            if v6 != is_v6 {
                return Err(bad(if v6 { "an IPv6 value" } else { "an IPv4 value" }));
            }
            Ok(observable)
        }
        ("domain-name:value", "=") => Ok(Observable::Domain(
            normalize_domain(&value).ok_or_else(|| bad("a domain name"))?,
        )),
        ("url:value", "=") => Ok(Observable::Url(
            normalize_url(&value).ok_or_else(|| bad("a URL"))?,
        )),
        (p, "=") if p.starts_with("file:hashes.") => {
            let key = p["file:hashes.".len()..].trim_matches(['\'', '"']);
            let algorithm =
                ecs_hash_name(key).ok_or_else(|| format!("hash {key:?} is not supported"))?;
            let hex = value.trim().to_ascii_lowercase();
            if hex.is_empty()
                || (algorithm != "ssdeep"
                    && algorithm != "tlsh"
                    && !hex.bytes().all(|c| c.is_ascii_hexdigit()))
            {
                return Err(bad("a hexadecimal digest"));
            }
            Ok(Observable::Hash {
                algorithm: algorithm.into(),
                value: hex.into_boxed_str(),
            })
        }
        (p, op) => Err(format!("the comparison {p} {op} is not supported")),
    }
}

struct Lexer<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_ws(&mut self) {
        self.at = self.text.len() - self.rest().trim_start().len();
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.at += token.len();
            Ok(())
        } else {
            Err(format!("expected {token:?} at byte {}", self.at))
        }
    }

    /// A bracket, an operator, or a keyword.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let first = rest.chars().next()?;
        let len = if "[]=".contains(first) {
            1
        } else if rest.starts_with("!=") || rest.starts_with("<=") || rest.starts_with(">=") {
            2
        } else {
            rest.find(|c: char| c.is_whitespace() || "[]'".contains(c))
                .unwrap_or(rest.len())
                .max(1)
        };
        self.at += len;
        Some(&rest[..len])
    }

    /// An object path such as `file:hashes.'SHA-256'`: up to whitespace or an operator,
    /// quotes included.
    fn path(&mut self) -> Result<String, String> {
        self.skip_ws();
        let mut out = String::new();
        let mut quote = None;
        for c in self.rest().chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => quote = Some(c),
                None if c.is_whitespace()
                    || c == '='
                    || c == '!'
                    || c == '<'
                    || c == '>'
                    || c == ']' =>
                {
                    break;
                }
                None => {}
            }
            out.push(c);
        }
        if out.is_empty() {
            return Err(format!("expected an object path at byte {}", self.at));
        }
        self.at += out.len();
        Ok(out)
    }

    /// A single-quoted string with `\'` and `\\` escapes.
    fn quoted(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.at;
        let mut chars = self.rest().char_indices();
        if chars.next().map(|(_, c)| c) != Some('\'') {
            return Err(format!("expected a quoted value at byte {start}"));
        }
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                '\'' => {
                    self.at = start + i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(format!("unterminated quoted value at byte {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_of_the_supported_subset() {
        let got = parse_pattern(
            "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [domain-name:value = 'Evil.Example.']",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Observable::Ip("198.51.100.7".parse().unwrap()),
                Observable::Cidr("203.0.113.0/24".parse().unwrap()),
                Observable::Domain("evil.example".into()),
            ]
        );
        let e = parse_pattern("[file:hashes.'SHA-256' = 'XYZ']").unwrap_err();
        assert_eq!(e, "\"XYZ\" is not a hexadecimal digest");
    }

    #[test]
    fn hashes_urls_and_ipv6() {
        assert_eq!(
            parse_pattern("[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']").unwrap(),
            vec![Observable::Hash {
                algorithm: "md5".into(),
                value: "d41d8cd98f00b204e9800998ecf8427e".into()
            }]
        );
        assert_eq!(
            parse_pattern("[url:value = 'HTTPS://Evil.Example/a\\'b']").unwrap(),
            vec![Observable::Url("https://evil.example/a'b".into())]
        );
        assert_eq!(
            parse_pattern("[ipv6-addr:value = '2001:DB8::0:1']").unwrap(),
            vec![Observable::Ip("2001:db8::1".parse().unwrap())]
        );
    }

    #[test]
    fn unsupported_patterns_say_why() {
        for (pattern, why) in [
            (
                "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'x.example']",
                "\"AND\" is not supported",
            ),
            (
                "[process:name = 'evil.exe']",
                "the comparison process:name = is not supported",
            ),
            ("[ipv4-addr:value = '2001:db8::1']", "is not an IPv4 value"),
            (
                "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']",
                "FOLLOWEDBY",
            ),
            ("[ipv4-addr:value = '1.2.3.4'", "ends before ']'"),
            (
                "[domain-name:value = 'unterminated]",
                "unterminated quoted value",
            ),
            ("ipv4-addr:value = '1.2.3.4'", "expected \"[\""),
        ] {
            let e = parse_pattern(pattern).unwrap_err();
            assert!(e.contains(why), "{pattern}: {e}");
        }
    }
}
