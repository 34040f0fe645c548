//! The standard grok pattern names, written for intake.
//!
//! The names and what they match follow the classic grok library that formats
//! are written against (its "legacy" set, with the firewall, httpd and haproxy
//! additions). Where the behaviour is observable in full-match patterns it is
//! kept: atomic groups where that library is atomic (numbers, quoted strings),
//! lookarounds around IPv4 and numbers, the field names some patterns capture
//! themselves (`SYSLOGPROG` → `program`, `pid`; `URIHOST` → `port`; …), and a
//! case-insensitive `MONTH` (`16 sep 2022`).

use std::sync::OnceLock;

/// The definition of a built-in pattern.
pub(crate) fn builtin(name: &str) -> Option<&'static str> {
    match name {
        "IPV4" => return Some(ipv4()),
        "IPV6" => return Some(ipv6()),
        _ => {}
    }
    PATTERNS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// All built-in names (for tests and diagnostics).
#[cfg(test)]
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    PATTERNS.iter().map(|(n, _)| *n).chain(["IPV4", "IPV6"])
}

/// One IPv4 octet, 0–255, tolerating leading zeros as the classic library does.
const OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]{1,2})";

/// A dotted quad not glued to other digits.
fn ipv4() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    CELL.get_or_init(|| format!("(?<![0-9])(?:{OCTET}\\.{OCTET}\\.{OCTET}\\.{OCTET})(?![0-9])"))
}

/// IPv6 in all its compressed forms, with an embedded IPv4 tail and an optional
/// zone index. Built from the grammar: `k` leading groups, then `::` and up to
/// `7 - k` trailing groups (two fewer with an IPv4 tail).
fn ipv6() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    CELL.get_or_init(|| {
        let h = "[0-9A-Fa-f]{1,4}";
        let v4 = "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
        let mut alts = vec![format!("(?:{h}:){{7}}(?:{h}|:)"), format!("(?:{h}:){{6}}(?::{h}|{v4}|:)")];
        for k in (1..=5).rev() {
            alts.push(format!(
                "(?:{h}:){{{k}}}(?:(?::{h}){{1,{}}}|(?::{h}){{0,{}}}:{v4}|:)",
                7 - k,
                5 - k
            ));
        }
        alts.push(format!(":(?:(?::{h}){{1,7}}|(?::{h}){{0,5}}:{v4}|:)"));
        format!("(?:{})(?:%[^\\s]+)?", alts.join("|"))
    })
}

const PATTERNS: &[(&str, &str)] = &[
    // Text and numbers.
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"%{USERNAME}"),
    ("EMAILLOCALPART", r"[a-zA-Z][a-zA-Z0-9_.+,/:;<=-]+"),
    ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
    ("INT", r"(?:[+-]?[0-9]+)"),
    (
        "BASE10NUM",
        r"(?<![0-9.+-])(?>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))",
    ),
    ("NUMBER", r"(?:%{BASE10NUM})"),
    ("BASE16NUM", r"(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?[0-9A-Fa-f]+)"),
    (
        "BASE16FLOAT",
        r"\b(?<![0-9A-Fa-f.])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?|\.[0-9A-Fa-f]+))\b",
    ),
    ("POSINT", r"\b(?:[1-9][0-9]*)\b"),
    ("NONNEGINT", r"\b(?:[0-9]+)\b"),
    ("WORD", r"\b\w+\b"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    (
        "QUOTEDSTRING",
        "(?>(?<!\\\\)(?:\"(?>[^\\\\\"]+|\\\\.)*\"|'(?>[^\\\\']+|\\\\.)*'|`(?>[^\\\\`]+|\\\\.)*`))",
    ),
    ("QS", r"%{QUOTEDSTRING}"),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    (
        "URN",
        r"urn:[0-9A-Za-z][0-9A-Za-z-]{0,31}:(?:%[0-9a-fA-F]{2}|[0-9A-Za-z()+,.:=@;$_!*'/?#-])+",
    ),
    // Networking.
    ("CISCOMAC", r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})"),
    ("WINDOWSMAC", r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})"),
    ("COMMONMAC", r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})"),
    ("MAC", r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})"),
    ("IP", r"(?:%{IPV6}|%{IPV4})"),
    (
        "HOSTNAME",
        r"\b[0-9A-Za-z][0-9A-Za-z-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z-]{0,62})*\.?",
    ),
    ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
    ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
    // Paths and URIs.
    ("UNIXPATH", r"(?:/(?:[\w%!$@:.,+~-]|\\.)*)+"),
    ("TTY", r"(?:/dev/(?:pts|tty(?:[pq])?)(?:\w+)?/?(?:[0-9]+))"),
    ("WINPATH", r"(?>[A-Za-z]+:|\\)(?:\\[^\\?*]*)+"),
    ("PATH", r"(?:%{UNIXPATH}|%{WINPATH})"),
    ("URIPROTO", r"[A-Za-z][A-Za-z0-9+.-]+"),
    ("URIHOST", r"%{IPORHOST}(?::%{POSINT:port})?"),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_-]*)+"),
    ("URIPARAM", r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\[\]<>-]*"),
    ("URIPATHPARAM", r"%{URIPATH}(?:%{URIPARAM})?"),
    (
        "URI",
        r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?",
    ),
    // Dates and times.
    (
        "MONTH",
        r"\b(?i:jan(?:uary|uar)?|feb(?:ruary|ruar)?|m(?:a|ä)?r(?:ch|z)?|apr(?:il)?|ma(?:y|i)?|jun(?:e|i)?|jul(?:y|i)?|aug(?:ust)?|sep(?:tember)?|o(?:c|k)?t(?:ober)?|nov(?:ember)?|de(?:c|z)(?:ember)?)\b",
    ),
    ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
    ("MONTHNUM2", r"(?:0[1-9]|1[0-2])"),
    ("MONTHDAY", r"(?:0[1-9]|[12][0-9]|3[01]|[1-9])"),
    (
        "DAY",
        r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    ),
    ("YEAR", r"(?>\d\d){1,2}"),
    ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
    ("MINUTE", r"(?:[0-5][0-9])"),
    ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
    ("TIME", r"%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])"),
    ("DATE_US", r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"),
    ("DATE_EU", r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"),
    ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
    ("ISO8601_SECOND", r"(?:%{SECOND}|60)"),
    (
        "TIMESTAMP_ISO8601",
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    ),
    ("DATE", r"%{DATE_US}|%{DATE_EU}"),
    ("DATESTAMP", r"%{DATE}[- ]%{TIME}"),
    ("TZ", r"(?:[APMCE][SD]T|UTC)"),
    (
        "DATESTAMP_RFC822",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}",
    ),
    (
        "DATESTAMP_RFC2822",
        r"%{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}",
    ),
    (
        "DATESTAMP_OTHER",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}",
    ),
    (
        "DATESTAMP_EVENTLOG",
        r"%{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}",
    ),
    // Syslog.
    ("SYSLOGTIMESTAMP", r"%{MONTH} +%{MONTHDAY} %{TIME}"),
    ("PROG", r"[\x21-\x5a\x5c\x5e-\x7e]+"),
    ("SYSLOGPROG", r"%{PROG:program}(?:\[%{POSINT:pid}\])?"),
    ("SYSLOGHOST", r"%{IPORHOST}"),
    (
        "SYSLOGFACILITY",
        r"<%{NONNEGINT:facility}.%{NONNEGINT:priority}>",
    ),
    (
        "SYSLOGBASE",
        r"%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} %{SYSLOGPROG}:",
    ),
    ("SYSLOG5424PRI", r"<%{NONNEGINT:syslog5424_pri}>"),
    ("HTTPDATE", r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"),
    (
        "LOGLEVEL",
        r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
    ),
    // httpd.
    ("HTTPDUSER", r"%{EMAILADDRESS}|%{USER}"),
    (
        "HTTPDERROR_DATE",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}",
    ),
    (
        "COMMONAPACHELOG",
        r#"%{IPORHOST:clientip} %{HTTPDUSER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" %{NUMBER:response} (?:%{NUMBER:bytes}|-)"#,
    ),
    (
        "COMBINEDAPACHELOG",
        r"%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}",
    ),
    // haproxy.
    (
        "HAPROXYTIME",
        r"%{HOUR:haproxy_hour}:%{MINUTE:haproxy_minute}(?::%{SECOND:haproxy_second})(?![0-9])",
    ),
    (
        "HAPROXYDATE",
        r"%{MONTHDAY:haproxy_monthday}/%{MONTH:haproxy_month}/%{YEAR:haproxy_year}:%{HAPROXYTIME:haproxy_time}.%{INT:haproxy_milliseconds}",
    ),
    // Cisco firewalls: the building blocks.
    (
        "CISCOTIMESTAMP",
        r"%{MONTH} +%{MONTHDAY}(?: %{YEAR})? %{TIME}",
    ),
    ("CISCOTAG", r"[A-Z0-9]+-%{INT}-(?:[A-Z0-9_]+)"),
    (
        "CISCO_TAGGED_SYSLOG",
        r"^<%{POSINT:syslog_pri}>%{CISCOTIMESTAMP:timestamp}(?: %{SYSLOGHOST:sysloghost})? ?: %%{CISCOTAG:ciscotag}:",
    ),
    (
        "CISCO_ACTION",
        r"Built|Teardown|Deny|Denied|denied|requested|permitted|denied by ACL|discarded|est-allowed|Dropping|created|deleted",
    ),
    (
        "CISCO_REASON",
        r"Duplicate TCP SYN|Failed to locate egress interface|Invalid transport field|No matching connection|DNS Response|DNS Query|(?:%{WORD}\s*)*",
    ),
    ("CISCO_DIRECTION", r"Inbound|inbound|Outbound|outbound"),
    ("CISCO_INTERVAL", r"first hit|%{INT}-second interval"),
    ("CISCO_XLATE_TYPE", r"static|dynamic"),
    (
        "CISCO_HITCOUNT_INTERVAL",
        r"hit-cnt %{INT:hit_count} (?:first hit|%{INT:interval}-second interval)",
    ),
    (
        "CISCO_SRC_IP_USER",
        r"%{NOTSPACE:interface}:%{IP:src_ip}(?:\(%{DATA:src_fwuser}\))?",
    ),
    (
        "CISCO_DST_IP_USER",
        r"%{NOTSPACE:interface}:%{IP:dst_ip}(?:\(%{DATA:dst_fwuser}\))?",
    ),
    (
        "CISCO_SRC_HOST_PORT_USER",
        r"%{NOTSPACE:src_interface}:(?:(?:%{IP:src_ip})|(?:%{HOSTNAME:src_hostname}))(?:/%{INT:src_port})?(?:\(%{DATA:src_fwuser}\))?",
    ),
    (
        "CISCO_DST_HOST_PORT_USER",
        r"%{NOTSPACE:dst_interface}:(?:(?:%{IP:dst_ip})|(?:%{HOSTNAME:dst_hostname}))(?:/%{INT:dst_port})?(?:\(%{DATA:dst_fwuser}\))?",
    ),
];
