//! One indicator of compromise, and the normalization applied once to indicator values
//! when a feed loads and to event values when they are looked up, so both compare alike.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

/// What an indicator observes, in its normalized form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Observable {
    Ip(IpAddr),
    /// A network range; a host-length prefix is stored as `Ip` instead.
    Cidr(IpNet),
    /// Lowercase ASCII (IDNA), no trailing dot; matches itself and its subdomains.
    Domain(Box<str>),
    Url(Box<str>),
    /// Lowercase hexadecimal; `algorithm` is the STIX/ECS name (`md5`, `sha1`, `sha256`, …).
    Hash {
        algorithm: Box<str>,
        value: Box<str>,
    },
}

impl Observable {
    /// The ECS `threat.indicator.type` of this observable.
    pub fn ecs_type(&self) -> &'static str {
        match self {
            Observable::Ip(IpAddr::V4(_)) => "ipv4-addr",
            Observable::Ip(IpAddr::V6(_)) => "ipv6-addr",
            Observable::Cidr(IpNet::V4(_)) => "ipv4-addr",
            Observable::Cidr(IpNet::V6(_)) => "ipv6-addr",
            Observable::Domain(_) => "domain-name",
            Observable::Url(_) => "url",
            Observable::Hash { .. } => "file",
        }
    }

    /// The family counted in the per-feed metrics.
    pub fn family(&self) -> Family {
        match self {
            Observable::Ip(_) => Family::Ip,
            Observable::Cidr(_) => Family::Cidr,
            Observable::Domain(_) => Family::Domain,
            Observable::Url(_) => Family::Url,
            Observable::Hash { .. } => Family::Hash,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ip,
    Cidr,
    Domain,
    Url,
    Hash,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Ip,
        Family::Cidr,
        Family::Domain,
        Family::Url,
        Family::Hash,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Cidr => "cidr",
            Family::Domain => "domain",
            Family::Url => "url",
            Family::Hash => "hash",
        }
    }
}

/// Facts shared by the comparisons of one STIX indicator or by every line of a list:
/// kept once behind an `Arc` so a million list lines cost one copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// The feed's name (its configured name, or its file name).
    pub feed: Arc<str>,
    /// The STIX `id`; none for list lines.
    pub id: Option<StixId>,
    pub name: Option<Box<str>>,
    /// `labels`, `indicator_types` and the feed's configured tags, deduplicated; shared
    /// by the indicators with the same tags.
    pub tags: Arc<[Arc<str>]>,
    /// Unix seconds; an indicator matches only within `[valid_from, valid_until)`.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    /// STIX confidence, 0–100.
    pub confidence: Option<u8>,
}

impl Meta {
    pub fn valid_at(&self, now: i64) -> bool {
        self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// The ECS `threat.indicator.confidence` wording of the STIX 0–100 scale
    /// (STIX 2.1 "None/Low/Med/High" mapping).
    pub fn confidence_word(&self) -> Option<&'static str> {
        self.confidence.map(|c| match c {
            0 => "None",
            1..=29 => "Low",
            30..=69 => "Medium",
            _ => "High",
        })
    }
}

/// A STIX id, kept as 16 bytes when it is the usual `indicator--<UUID>` (a million
/// indicators spend 16 MB on ids instead of 64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StixId {
    Indicator(u128),
    Other(Box<str>),
}

impl StixId {
    pub fn new(text: &str) -> StixId {
        let uuid = text.strip_prefix("indicator--").filter(|u| {
            u.len() == 36
                && u.char_indices().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
                    }
                })
        });
        match uuid.and_then(|u| u128::from_str_radix(&u.replace('-', ""), 16).ok()) {
            Some(n) => StixId::Indicator(n),
            None => StixId::Other(text.into()),
        }
    }
}

impl std::fmt::Display for StixId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StixId::Indicator(n) => {
                let hex = format!("{n:032x}");
                write!(
                    f,
                    "indicator--{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
            StixId::Other(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Indicator {
    pub observable: Observable,
    pub meta: Arc<Meta>,
}

/// Normalizes a domain name: trimmed, lowercase, trailing dot removed, Unicode labels to
/// their ASCII (punycode) form. `None` for text that is not a host name.
pub fn normalize_domain(text: &str) -> Option<Box<str>> {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return None;
    }
    let ascii = if text.is_ascii() {
        if !text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
        {
            return None;
        }
        text.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(text).ok()?
    };
    if ascii.is_empty() || ascii.starts_with('.') || ascii.contains("..") {
        return None;
    }
    Some(ascii.into_boxed_str())
}

/// Parses an address or a CIDR range; a host-length prefix (/32, /128) is an address, and
/// host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). IPv6 comes out in canonical form
/// because it is compared as a number, never as text.
pub fn parse_ip_or_cidr(text: &str) -> Option<Observable> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Observable::Ip(canonical_ip(ip)));
    }
    let net: IpNet = text.parse().ok()?;
    let net = net.trunc();
    if net.prefix_len() == net.max_prefix_len() {
        return Some(Observable::Ip(canonical_ip(net.addr())));
    }
    Some(Observable::Cidr(net))
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address it carries.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Recognizes a hexadecimal digest by its length.
pub fn hash_algorithm_of(hex: &str) -> Option<&'static str> {
    if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        32 => Some("md5"),
        40 => Some("sha1"),
        64 => Some("sha256"),
        128 => Some("sha512"),
        _ => None,
    }
}

/// The STIX `file:hashes` key spelled as an ECS `file.hash.*` name.
pub fn ecs_hash_name(stix_key: &str) -> Option<&'static str> {
    match stix_key
        .to_ascii_uppercase()
        .replace(['-', '_'], "")
        .as_str()
    {
        "MD5" => Some("md5"),
        "SHA1" => Some("sha1"),
        "SHA256" => Some("sha256"),
        "SHA384" => Some("sha384"),
        "SHA512" => Some("sha512"),
        "SSDEEP" => Some("ssdeep"),
        "TLSH" => Some("tlsh"),
        _ => None,
    }
}

/// A URL compared as text, trimmed; its scheme and host are lowercased (they are
/// case-insensitive), its path is kept as written.
pub fn normalize_url(text: &str) -> Option<Box<str>> {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = String::with_capacity(text.len());
    out.push_str(&scheme.to_ascii_lowercase());
    out.push_str("://");
    out.push_str(&rest[..host_end].to_ascii_lowercase());
    out.push_str(&rest[host_end..]);
    Some(out.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercase_ascii_without_trailing_dot() {
        assert_eq!(
            normalize_domain(" Evil.Example. ").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            normalize_domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_domain("BÜCHER.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(normalize_domain("a..b"), None);
        assert_eq!(normalize_domain("a b.example"), None);
        assert_eq!(normalize_domain("."), None);
    }

    #[test]
    fn ips_and_cidrs_are_canonical() {
        assert_eq!(
            parse_ip_or_cidr("2001:DB8:0:0::1"),
            Some(Observable::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            parse_ip_or_cidr("::ffff:192.0.2.7"),
            Some(Observable::Ip("192.0.2.7".parse().unwrap()))
        );
        assert_eq!(
            parse_ip_or_cidr("10.1.2.3/8"),
            Some(Observable::Cidr("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            parse_ip_or_cidr("192.0.2.9/32"),
            Some(Observable::Ip("192.0.2.9".parse().unwrap()))
        );
        assert_eq!(parse_ip_or_cidr("192.0.2.0/33"), None);
        assert_eq!(parse_ip_or_cidr("evil.example"), None);
    }

    #[test]
    fn validity_window_and_confidence_words() {
        let meta = Meta {
            valid_from: Some(100),
            valid_until: Some(200),
            confidence: Some(75),
            ..Meta::default()
        };
        assert!(!meta.valid_at(99));
        assert!(meta.valid_at(100));
        assert!(!meta.valid_at(200));
        assert_eq!(meta.confidence_word(), Some("High"));
    }

    #[test]
    fn stix_ids_round_trip() {
        for id in [
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--1",
            "x",
        ] {
            assert_eq!(StixId::new(id).to_string(), id);
        }
        assert!(matches!(
            StixId::new("indicator--00000000-0000-4000-8000-000000000001"),
            StixId::Indicator(_)
        ));
    }

    #[test]
    fn urls_lowercase_scheme_and_host_only() {
        assert_eq!(
            normalize_url("HTTP://Evil.Example/Path?Q=1").as_deref(),
            Some("http://evil.example/Path?Q=1")
        );
        assert_eq!(normalize_url("evil.example/x"), None);
    }
}
