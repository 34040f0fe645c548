//! Feeds: where indicators come from (a STIX bundle or a plain list), as configured, and
//! reading one into indicators.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use crate::index::IndicatorSet;
use crate::indicator::{
    Indicator, Meta, Observable, hash_algorithm_of, normalize_domain, normalize_url,
    parse_ip_or_cidr,
};
use crate::stix;

/// One feed of the `threat_match` transform's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    pub path: PathBuf,
    pub format: FeedFormat,
    /// Tags added to every indicator of the feed (the only tags of a list).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The name alerts and enrichments give as the feed; the file's name by default.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedFormat {
    /// A STIX 2.1 bundle (JSON).
    Stix2,
    /// One IP, CIDR range, domain, URL or hexadecimal hash per line; `#` starts a comment.
    List,
}

impl FeedSpec {
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path.file_name().map_or_else(
                || self.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
    }
}

/// A feed read into indicators.
#[derive(Default)]
pub struct FeedContent {
    pub set: IndicatorSet,
    /// Revoked or already expired STIX indicators, left out.
    pub inactive: u64,
    /// STIX indicators whose pattern intake cannot match, each with its id and why.
    pub unsupported: Vec<String>,
}

/// Reads a feed. `now` (Unix seconds) decides which indicators are already expired.
/// An error names the feed's path, and for a list the line.
pub fn read_feed(spec: &FeedSpec, now: i64) -> Result<FeedContent, String> {
    let feed: Arc<str> = spec.display_name().into();
    let tags: Vec<Arc<str>> = spec.tags.iter().map(|t| Arc::from(t.as_str())).collect();
    let where_ = spec.path.display();
    let file = std::fs::File::open(&spec.path).map_err(|e| format!("feed {where_}: {e}"))?;
    match spec.format {
        FeedFormat::Stix2 => {
            let content = stix::read_bundle(file, feed, &tags, now)
                .map_err(|e| format!("feed {where_}: {e}"))?;
            Ok(FeedContent {
                set: content.set,
                inactive: content.inactive,
                unsupported: content.unsupported,
            })
        }
        FeedFormat::List => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::BufReader::new(file), &mut text)
                .map_err(|e| format!("feed {where_}: {e}"))?;
            let indicators =
                read_list(&text, feed, tags).map_err(|e| format!("feed {where_}: {e}"))?;
            Ok(FeedContent {
                set: IndicatorSet::build(indicators),
                ..FeedContent::default()
            })
        }
    }
}

/// Reads a list. Any line that is not an indicator fails the whole list, so a truncated
/// or wrong file never silently replaces a good one.
pub fn read_list(
    text: &str,
    feed: Arc<str>,
    tags: Vec<Arc<str>>,
) -> Result<Vec<Indicator>, String> {
    let meta = Arc::new(Meta {
        feed,
        tags: tags.into(),
        ..Meta::default()
    });
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let value = line
            .split_once('#')
            .map_or(line, |(before, _)| before)
            .trim();
        if value.is_empty() {
            continue;
        }
        let observable = list_value(value).ok_or_else(|| {
            format!(
                "line {}: {value:?} is not an IP, CIDR range, domain, URL or hash",
                number + 1
            )
        })?;
        out.push(Indicator {
            observable,
            meta: meta.clone(),
        });
    }
    Ok(out)
}

fn list_value(value: &str) -> Option<Observable> {
    if let Some(ip) = parse_ip_or_cidr(value) {
        return Some(ip);
    }
    if value.contains("://") {
        return normalize_url(value).map(Observable::Url);
    }
    if let Some(algorithm) = hash_algorithm_of(value) {
        return Some(Observable::Hash {
            algorithm: algorithm.into(),
            value: value.to_ascii_lowercase().into(),
        });
    }
    // A value made of digits and dots or colons only is a mistyped address, not a domain.
    if value
        .bytes()
        .all(|c| c.is_ascii_digit() || c == b'.' || c == b':' || c == b'/')
    {
        return None;
    }
    normalize_domain(value).map(Observable::Domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_comments_and_kinds() {
        let text = "# TOR exits\n198.51.100.7\n\n203.0.113.0/24 # a range\nEvil.Example.\nhttps://x.example/p\nD41D8CD98F00B204E9800998ECF8427E\n2001:db8::/32\n";
        let got = read_list(text, "tor".into(), vec!["tor".into()]).unwrap();
        let observables: Vec<_> = got.iter().map(|i| i.observable.clone()).collect();
        assert_eq!(
            observables,
            vec![
                Observable::Ip("198.51.100.7".parse().unwrap()),
                Observable::Cidr("203.0.113.0/24".parse().unwrap()),
                Observable::Domain("evil.example".into()),
                Observable::Url("https://x.example/p".into()),
                Observable::Hash {
                    algorithm: "md5".into(),
                    value: "d41d8cd98f00b204e9800998ecf8427e".into()
                },
                Observable::Cidr("2001:db8::/32".parse().unwrap()),
            ]
        );
        assert_eq!(&*got[0].meta.tags[0], "tor");
    }

    #[test]
    fn a_bad_line_fails_the_list_naming_the_line() {
        let e = read_list("198.51.100.7\n198.51.100.300\n", "f".into(), vec![]).unwrap_err();
        assert_eq!(
            e,
            "line 2: \"198.51.100.300\" is not an IP, CIDR range, domain, URL or hash"
        );
        assert!(read_list("ok.example\nnot a domain\n", "f".into(), vec![]).is_err());
    }
}
