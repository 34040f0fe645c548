//! A URL split into the ECS `url.*` parts the way the reference engine splits it:
//! Python's `urlsplit`, which accepts any text. Text without `scheme://` is all path
//! (`/a/b?c=1` has a path and a query; `host.example/a` is a path), a Windows path
//! has a one-letter scheme. The WHATWG parser of the `url` crate refuses or rewrites
//! such text, so the split is written here.

/// The parts of a URL; empty parts are `None`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Lowercased, as `urlsplit` gives it.
    pub scheme: Option<String>,
    /// The host name without user, password and port, lowercased.
    pub domain: Option<String>,
    /// The explicit port, else the scheme's default (http 80, https 443).
    pub port: Option<i64>,
    pub path: Option<&'a str>,
    pub query: Option<&'a str>,
    /// Whether the URL is a web URL (`http`/`https` with a host): only those are
    /// copied to `url.full`.
    pub is_web: bool,
}

pub fn split(url: &str) -> UrlParts<'_> {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let mut parts = UrlParts::default();
    let mut rest = url;
    if let Some(i) = url.find(':')
        && i > 0
        && url.as_bytes()[0].is_ascii_alphabetic()
        && url[..i]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        parts.scheme = Some(url[..i].to_ascii_lowercase());
        rest = &url[i + 1..];
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    if let Some(i) = rest.find('#') {
        rest = &rest[..i];
    }
    if let Some(i) = rest.find('?') {
        parts.query = Some(&rest[i + 1..]).filter(|q| !q.is_empty());
        rest = &rest[..i];
    }
    parts.path = Some(rest).filter(|p| !p.is_empty());

    let host_port = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]:8080`.
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (v6, None),
        },
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if !host.is_empty() {
        parts.domain = Some(host.to_ascii_lowercase());
    }
    let scheme = parts.scheme.as_deref();
    parts.port = match port.filter(|p| !p.is_empty()) {
        Some(p) => p.parse::<u16>().ok().map(i64::from),
        None if parts.domain.is_some() => match scheme {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        },
        None => None,
    };
    parts.is_web = parts.domain.is_some() && matches!(scheme, Some("http" | "https"));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_url_with_every_part() {
        let p = split("HTTPS://bob:pw@Shop.Example.org:8443/cart/view?id=7#top");
        assert_eq!(p.scheme.as_deref(), Some("https"));
        assert_eq!(p.domain.as_deref(), Some("shop.example.org"));
        assert_eq!(p.port, Some(8443));
        assert_eq!(p.path, Some("/cart/view"));
        assert_eq!(p.query, Some("id=7"));
        assert!(p.is_web);
    }

    #[test]
    fn default_ports_only_for_http_and_https() {
        assert_eq!(split("http://a.example/").port, Some(80));
        assert_eq!(split("https://a.example").port, Some(443));
        let ws = split("wss://a.example/socket");
        assert_eq!((ws.port, ws.is_web), (None, false));
        assert_eq!(split("tunnel://a.example:8443/").port, Some(8443));
    }

    #[test]
    fn text_without_a_scheme_is_a_path() {
        let p = split("/reports/daily?format=csv");
        assert_eq!((p.scheme, p.domain), (None, None));
        assert_eq!(p.path, Some("/reports/daily"));
        assert_eq!(p.query, Some("format=csv"));
        let p = split("files.example.net/pub/x.iso");
        assert_eq!(p.domain, None);
        assert_eq!(p.path, Some("files.example.net/pub/x.iso"));
    }

    #[test]
    fn a_windows_path_has_a_one_letter_scheme() {
        let p = split(r"D:\data\report.xlsx");
        assert_eq!(p.scheme.as_deref(), Some("d"));
        assert_eq!(p.path, Some(r"\data\report.xlsx"));
        assert_eq!(p.port, None);
    }

    #[test]
    fn ipv6_hosts_and_bad_ports() {
        let p = split("http://[2001:db8::5]:8080/x");
        assert_eq!(p.domain.as_deref(), Some("2001:db8::5"));
        assert_eq!(p.port, Some(8080));
        assert_eq!(split("http://a.example:99999/").port, None);
    }
}
