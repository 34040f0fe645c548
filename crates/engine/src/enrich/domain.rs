//! A host name split on the Public Suffix List, ICANN section only (the list is
//! compiled into the `psl` crate): `www.shop.example.co.uk` has the registered
//! domain `example.co.uk`, the top-level domain `co.uk` and the subdomain `www.shop`.
//! A name without a known suffix (`db.corp.internal`) keeps its last label as the
//! domain and only has a subdomain (`db.corp`); an IP address has no parts.

use psl::{Psl as _, Type};

/// The parts of a host name; empty parts are `None`.
#[derive(Debug, PartialEq, Eq)]
pub struct DomainParts<'a> {
    pub registered_domain: Option<&'a str>,
    pub top_level_domain: Option<&'a str>,
    pub subdomain: Option<&'a str>,
}

/// Splits `host`. Case is kept in the parts; the lookup ignores it. Like the
/// reference engine, it first takes the host out of text that is more than a host
/// name (`host.example/path`, `https://user@host.example:8443`, spaces around).
pub fn split(host: &str) -> DomainParts<'_> {
    let none = DomainParts {
        registered_domain: None,
        top_level_domain: None,
        subdomain: None,
    };
    let host = host_of(host);
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return none;
    }
    let lower = host.to_ascii_lowercase();
    let suffix_len = icann_suffix_len(&lower);
    // `rest` is what precedes the suffix (and its dot); its last label is the domain.
    let (rest, tld) = match suffix_len {
        Some(n) if n < host.len() => (&host[..host.len() - n - 1], Some(&host[host.len() - n..])),
        Some(_) => ("", Some(host)),
        None => (host, None),
    };
    let (sub, domain) = match rest.rfind('.') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => ("", rest),
    };
    let nonempty = |s: &'_ str| (!s.is_empty()).then_some(());
    DomainParts {
        registered_domain: match tld {
            Some(_) if !domain.is_empty() => {
                Some(&host[host.len() - suffix_len.unwrap_or(0) - 1 - domain.len()..])
            }
            _ => None,
        },
        top_level_domain: tld,
        subdomain: nonempty(sub).map(|_| sub),
    }
}

fn host_of(text: &str) -> &str {
    let mut host = text.trim();
    if let Some(i) = host.find("://") {
        host = &host[i + 3..];
    }
    host = &host[..host.find(['/', '?', '#']).unwrap_or(host.len())];
    host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if let Some((h, port)) = host.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
        && !h.contains(':')
    {
        host = h;
    }
    let host = host.trim();
    host.strip_suffix('.').unwrap_or(host)
}

/// The length in bytes of the longest ICANN suffix of `name` (lowercase), or `None`
/// when no ICANN rule matches. The list prefers the longest rule of either section;
/// when that rule is a private one, the ICANN rule that applies is a suffix of it,
/// so the search goes on from the private suffix without its first label.
fn icann_suffix_len(name: &str) -> Option<usize> {
    let mut rest = name;
    loop {
        let info = psl::List.find(rest.rsplit('.').map(str::as_bytes));
        match info.typ {
            Some(Type::Icann) if info.len > 0 => return Some(info.len),
            Some(Type::Private) if info.len > 0 => {
                let suffix = &rest[rest.len() - info.len..];
                rest = &suffix[suffix.find('.')? + 1..];
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
        let p = split(host);
        (p.registered_domain, p.top_level_domain, p.subdomain)
    }

    #[test]
    fn a_name_under_a_two_label_suffix() {
        assert_eq!(
            parts("www.shop.Example.co.uk"),
            (Some("Example.co.uk"), Some("co.uk"), Some("www.shop"))
        );
        assert_eq!(
            parts("example.org"),
            (Some("example.org"), Some("org"), None)
        );
    }

    #[test]
    fn private_suffixes_are_ignored() {
        // `cloudfront.net` and `blogspot.com` are in the private section.
        assert_eq!(
            parts("d111.cloudfront.net"),
            (Some("cloudfront.net"), Some("net"), Some("d111"))
        );
        assert_eq!(
            parts("a.b.blogspot.com"),
            (Some("blogspot.com"), Some("com"), Some("a.b"))
        );
    }

    #[test]
    fn unknown_suffixes_keep_only_a_subdomain() {
        assert_eq!(
            parts("db.corp.internal-zone"),
            (None, None, Some("db.corp"))
        );
        assert_eq!(parts("fileserver"), (None, None, None));
    }

    #[test]
    fn the_host_is_taken_out_of_a_longer_text() {
        assert_eq!(
            parts("portal.example.com/login?next=/"),
            (Some("example.com"), Some("com"), Some("portal"))
        );
        assert_eq!(
            parts("https://ann@portal.example.com:8443 "),
            (Some("example.com"), Some("com"), Some("portal"))
        );
    }

    #[test]
    fn addresses_and_bare_suffixes() {
        assert_eq!(parts("10.1.2.3"), (None, None, None));
        assert_eq!(parts("2001:db8::1"), (None, None, None));
        assert_eq!(parts("co.uk"), (None, Some("co.uk"), None));
        assert_eq!(parts(""), (None, None, None));
    }
}
