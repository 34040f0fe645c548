//! Syslog headers: RFC 5424 and RFC 3164, tolerant of what real devices send (no year,
//! a year or ISO timestamp in 3164, no hostname, `TAG:` or `TAG[pid]:`, a BOM before the
//! message). Parsing never fails: what is not a header stays in the message.

use serde_json::{Map, Value, json};

/// The header fields found in one syslog record (`None`: absent or RFC 5424's `-`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Header<'a> {
    pub priority: Option<u8>,
    pub timestamp: Option<&'a str>,
    pub hostname: Option<&'a str>,
    pub appname: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    /// RFC 5424 structured data: element id → parameter → value (escapes resolved).
    pub structured_data: Option<Map<String, Value>>,
}

/// A record split into its header and the message part the format reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub header: Header<'a>,
    pub message: &'a str,
}

impl Header<'_> {
    pub fn facility(&self) -> Option<u8> {
        self.priority.map(|p| p >> 3)
    }
    pub fn severity(&self) -> Option<u8> {
        self.priority.map(|p| p & 7)
    }

    /// The header as the ECS fields the event gets when its format did not set them,
    /// with the peer's address as `log.source.address`.
    pub fn ecs_defaults(&self, peer: Option<&str>) -> Map<String, Value> {
        let mut syslog = Map::new();
        if let Some(p) = self.priority {
            syslog.insert("priority".into(), json!(p));
            syslog.insert("facility".into(), json!({ "code": p >> 3 }));
            syslog.insert("severity".into(), json!({ "code": p & 7 }));
        }
        let texts = [
            ("hostname", self.hostname),
            ("appname", self.appname),
            ("procid", self.procid),
            ("msgid", self.msgid),
        ];
        for (name, value) in texts {
            if let Some(v) = value {
                syslog.insert(name.into(), Value::String(v.to_string()));
            }
        }
        if let Some(sd) = &self.structured_data {
            syslog.insert("structured_data".into(), Value::Object(sd.clone()));
        }
        let mut log = Map::new();
        if !syslog.is_empty() {
            log.insert("syslog".into(), Value::Object(syslog));
        }
        if let Some(peer) = peer {
            log.insert("source".into(), json!({ "address": peer }));
        }
        let mut top = Map::new();
        if !log.is_empty() {
            top.insert("log".into(), Value::Object(log));
        }
        top
    }
}

const BOM: &str = "\u{feff}";

/// Splits one syslog record (frame or datagram, without its trailing newline).
pub fn parse(record: &str) -> Parsed<'_> {
    let Some((priority, rest)) = priority(record) else {
        return Parsed {
            header: Header::default(),
            message: strip_bom(record),
        };
    };
    if let Some(after_version) = rest.strip_prefix("1 ") {
        return rfc5424(priority, after_version);
    }
    rfc3164(priority, rest)
}

fn strip_bom(s: &str) -> &str {
    s.strip_prefix(BOM).unwrap_or(s)
}

/// `<PRI>` with 1–3 digits and a value of at most 191.
fn priority(s: &str) -> Option<(u8, &str)> {
    let inner = s.strip_prefix('<')?;
    let end = inner.find('>')?;
    let digits = &inner[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u16 = digits.parse().ok()?;
    (value <= 191).then_some((value as u8, &inner[end + 1..]))
}

/// Takes one space-delimited token; `-` is RFC 5424's nil value.
fn token(s: &str) -> (Option<&str>, &str) {
    let (tok, rest) = s.split_once(' ').unwrap_or((s, ""));
    ((tok != "-" && !tok.is_empty()).then_some(tok), rest)
}

fn rfc5424(priority: u8, s: &str) -> Parsed<'_> {
    let (timestamp, s) = token(s);
    let (hostname, s) = token(s);
    let (appname, s) = token(s);
    let (procid, s) = token(s);
    let (msgid, s) = token(s);
    let (structured_data, s) = if let Some(rest) = s.strip_prefix('-') {
        (None, rest)
    } else if s.starts_with('[') {
        match structured_data(s) {
            Some((sd, rest)) => (Some(sd), rest),
            // Malformed structured data stays in the message rather than being lost.
            None => (None, s),
        }
    } else {
        (None, s)
    };
    let message = s.strip_prefix(' ').unwrap_or(s);
    Parsed {
        header: Header {
            priority: Some(priority),
            timestamp,
            hostname,
            appname,
            procid,
            msgid,
            structured_data,
        },
        message: strip_bom(message),
    }
}

/// Reads `[id k="v" …][id2 …]`, resolving `\"`, `\\` and `\]` in values.
fn structured_data(s: &str) -> Option<(Map<String, Value>, &str)> {
    let mut out = Map::new();
    let mut rest = s;
    while let Some(body) = rest.strip_prefix('[') {
        let id_end = body.find([' ', ']'])?;
        let id = &body[..id_end];
        if id.is_empty() {
            return None;
        }
        let mut params = Map::new();
        let mut p = &body[id_end..];
        loop {
            if let Some(after) = p.strip_prefix(']') {
                rest = after;
                break;
            }
            p = p.strip_prefix(' ')?;
            let eq = p.find('=')?;
            let name = &p[..eq];
            let quoted = p[eq + 1..].strip_prefix('"')?;
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => {
                        let (_, next) = chars.next()?;
                        if !matches!(next, '"' | '\\' | ']') {
                            value.push('\\');
                        }
                        value.push(next);
                    }
                    '"' => break i,
                    c => value.push(c),
                }
            };
            params.insert(name.to_string(), Value::String(value));
            p = &quoted[end + 1..];
        }
        out.insert(id.to_string(), Value::Object(params));
    }
    Some((out, rest))
}

fn rfc3164(priority: u8, s: &str) -> Parsed<'_> {
    let mut header = Header {
        priority: Some(priority),
        ..Header::default()
    };
    let mut rest = s;
    if let Some((ts, after)) = bsd_timestamp(s).or_else(|| iso_timestamp(s)) {
        header.timestamp = Some(ts);
        rest = after;
        // After a timestamp comes the hostname, unless the device left it out and the
        // next token is already the tag.
        if tag(rest).is_none() {
            let (host, after_host) = rest.split_once(' ').unwrap_or((rest, ""));
            if !host.is_empty() {
                header.hostname = Some(host);
                rest = after_host;
            }
        }
    }
    if let Some((app, pid, after)) = tag(rest) {
        header.appname = Some(app);
        header.procid = pid;
        rest = after;
    }
    Parsed {
        header,
        message: strip_bom(rest),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Mmm dd hh:mm:ss`, also with a space-padded or one-digit day, a year before the time
/// (`Mar  5 2024 08:12:44`) and fractional seconds. Returns the timestamp and what follows
/// its separating space.
fn bsd_timestamp(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() < 14 || !MONTHS.contains(&s.get(..3)?) || b[3] != b' ' {
        return None;
    }
    let mut i = 4;
    if b[i] == b' ' {
        i += 1;
    }
    let day_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if !(1..=2).contains(&(i - day_start)) || b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    // An optional year: four digits and a space.
    if b.len() >= i + 5 && b[i..i + 4].iter().all(u8::is_ascii_digit) && b[i + 4] == b' ' {
        i += 5;
    }
    let time = b.get(i..i + 8)?;
    let shape_ok = time.iter().enumerate().all(|(k, c)| match k {
        2 | 5 => *c == b':',
        _ => c.is_ascii_digit(),
    });
    if !shape_ok {
        return None;
    }
    i += 8;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    finish_timestamp(s, i)
}

/// `YYYY-MM-DDThh:mm:ss` followed by anything up to the next space (fraction, offset).
fn iso_timestamp(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    let ok = shape.iter().zip(b).all(|(want, got)| match want {
        b'd' => got.is_ascii_digit(),
        other => other == got,
    });
    if !ok {
        return None;
    }
    let end = s.find(' ').unwrap_or(s.len());
    finish_timestamp(s, end)
}

/// The timestamp ends at `end`, which must be a space or the end of the record.
fn finish_timestamp(s: &str, end: usize) -> Option<(&str, &str)> {
    match s.as_bytes().get(end) {
        None => Some((&s[..end], "")),
        Some(b' ') => Some((&s[..end], &s[end + 1..])),
        Some(_) => None,
    }
}

/// `app:` or `app[pid]:` (or `app[pid]` alone) followed by a space or the end. Returns
/// the app name, the pid and the message after one separating space.
fn tag(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_./@".contains(c)))
        .unwrap_or(s.len());
    if name_end == 0 || name_end > 64 {
        return None;
    }
    let name = &s[..name_end];
    let mut rest = &s[name_end..];
    let mut pid = None;
    let mut bracketed = false;
    if let Some(inner) = rest.strip_prefix('[') {
        let close = inner.find(']')?;
        let p = &inner[..close];
        if p.is_empty() || p.contains(' ') {
            return None;
        }
        pid = Some(p);
        rest = &inner[close + 1..];
        bracketed = true;
    }
    let rest = match rest.strip_prefix(':') {
        Some(r) => r,
        None if bracketed => rest,
        None => return None,
    };
    match rest.strip_prefix(' ') {
        Some(message) => Some((name, pid, message)),
        None if rest.is_empty() => Some((name, pid, rest)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_all_fields_and_structured_data() {
        let p = parse(
            r#"<165>1 2026-11-30T22:14:15.003Z gw-7.lab.test vpnd 4410 LOGIN [origin ip="192.0.2.9" note="a \"quoted\" \] end"][meta seq="12"] user carol signed in"#,
        );
        assert_eq!(p.message, "user carol signed in");
        let h = &p.header;
        assert_eq!(h.facility(), Some(20));
        assert_eq!(h.severity(), Some(5));
        assert_eq!(h.timestamp, Some("2026-11-30T22:14:15.003Z"));
        assert_eq!(h.hostname, Some("gw-7.lab.test"));
        assert_eq!(h.appname, Some("vpnd"));
        assert_eq!(h.procid, Some("4410"));
        assert_eq!(h.msgid, Some("LOGIN"));
        assert_eq!(
            Value::Object(h.structured_data.clone().unwrap()),
            json!({"origin": {"ip": "192.0.2.9", "note": "a \"quoted\" ] end"}, "meta": {"seq": "12"}})
        );
    }

    #[test]
    fn rfc5424_nil_values_and_bom() {
        let p = parse("<14>1 - - - - - -  \u{feff}body with BOM");
        // One space separates SD from MSG; the second is the message's own.
        assert_eq!(p.message, " \u{feff}body with BOM");
        let p = parse("<14>1 - - - - - - \u{feff}body with BOM");
        assert_eq!(p.message, "body with BOM");
        assert_eq!(p.header.hostname, None);
        assert_eq!(p.header.structured_data, None);
        assert_eq!(p.header.priority, Some(14));
    }

    #[test]
    fn rfc5424_without_message() {
        let p = parse("<14>1 2026-01-02T03:04:05+01:00 h a p m -");
        assert_eq!(p.message, "");
        assert_eq!(p.header.msgid, Some("m"));
    }

    #[test]
    fn rfc5424_malformed_structured_data_stays_in_message() {
        let p = parse(r#"<14>1 - h a - - [broken k="v rest"#);
        assert_eq!(p.message, r#"[broken k="v rest"#);
        assert_eq!(p.header.structured_data, None);
    }

    #[test]
    fn rfc3164_classic() {
        let p = parse("<34>Oct  3 22:14:15 mymachine su[231]: 'su root' failed for lonvick");
        assert_eq!(p.header.timestamp, Some("Oct  3 22:14:15"));
        assert_eq!(p.header.hostname, Some("mymachine"));
        assert_eq!(p.header.appname, Some("su"));
        assert_eq!(p.header.procid, Some("231"));
        assert_eq!(p.header.facility(), Some(4));
        assert_eq!(p.header.severity(), Some(2));
        assert_eq!(p.message, "'su root' failed for lonvick");
    }

    #[test]
    fn rfc3164_tag_without_pid_and_two_digit_day() {
        let p = parse("<134>Dec 15 07:00:01 edge-2 PulseSecure: id=firewall time=\"x\"");
        assert_eq!(p.header.hostname, Some("edge-2"));
        assert_eq!(p.header.appname, Some("PulseSecure"));
        assert_eq!(p.header.procid, None);
        assert_eq!(p.message, "id=firewall time=\"x\"");
    }

    #[test]
    fn rfc3164_without_hostname() {
        let p = parse("<13>Feb  1 10:00:00 cron[77]: job started");
        assert_eq!(p.header.hostname, None);
        assert_eq!(p.header.appname, Some("cron"));
        assert_eq!(p.header.procid, Some("77"));
        assert_eq!(p.message, "job started");
    }

    #[test]
    fn rfc3164_with_year_and_fraction() {
        let p = parse("<189>Mar  5 2024 08:12:44.120 fw01 %ASA-5-111008: User 'x' executed");
        assert_eq!(p.header.timestamp, Some("Mar  5 2024 08:12:44.120"));
        assert_eq!(p.header.hostname, Some("fw01"));
        // `%ASA-…` is not a tag: it stays in the message.
        assert_eq!(p.header.appname, None);
        assert_eq!(p.message, "%ASA-5-111008: User 'x' executed");
    }

    #[test]
    fn rfc3164_with_iso_timestamp() {
        let p = parse("<30>2024-03-05T08:12:44.5+02:00 node-b app-x[9]: ready");
        assert_eq!(p.header.timestamp, Some("2024-03-05T08:12:44.5+02:00"));
        assert_eq!(p.header.hostname, Some("node-b"));
        assert_eq!(p.header.appname, Some("app-x"));
        assert_eq!(p.message, "ready");
    }

    #[test]
    fn rfc3164_ipv6_hostname_is_not_a_tag() {
        let p = parse("<30>Jan  9 01:02:03 2001:db8::7 daemon: up");
        assert_eq!(p.header.hostname, Some("2001:db8::7"));
        assert_eq!(p.header.appname, Some("daemon"));
        assert_eq!(p.message, "up");
    }

    #[test]
    fn rfc3164_no_timestamp_tag_only() {
        let p = parse("<13>kernel: link up");
        assert_eq!(p.header.appname, Some("kernel"));
        assert_eq!(p.header.timestamp, None);
        assert_eq!(p.message, "link up");
        // Without a timestamp, plain words are not taken for a hostname.
        let p = parse("<13>just some words");
        assert_eq!(p.header.hostname, None);
        assert_eq!(p.message, "just some words");
    }

    #[test]
    fn rfc3164_message_with_bom_and_no_tag() {
        let p = parse("<13>Jan 19 01:02:03 host \u{feff}free text");
        assert_eq!(p.header.hostname, Some("host"));
        assert_eq!(p.message, "free text");
    }

    #[test]
    fn pulse_standard_line_after_a_3164_header() {
        let p = parse(
            "<134>Mar  5 08:12:44 ics-node2 PulseSecure: 2024-03-05 08:12:44 - ics-node2 - [198.51.100.23] alice(Users)[Staff] - Login succeeded",
        );
        assert_eq!(p.header.appname, Some("PulseSecure"));
        assert!(p.message.starts_with("2024-03-05 08:12:44 - ics-node2"));
    }

    #[test]
    fn not_syslog_at_all() {
        for line in ["no header", "<>x", "<1000>x", "<12a>x", "<192>too high"] {
            let p = parse(line);
            assert_eq!(p.header, Header::default(), "{line}");
            assert_eq!(p.message, line);
        }
    }

    #[test]
    fn ecs_defaults_shape() {
        let p = parse("<165>1 - gw a 9 ID [x@1 k=\"v\"] m");
        let d = p.header.ecs_defaults(Some("127.0.0.1:5140"));
        assert_eq!(
            Value::Object(d),
            json!({"log": {
                "syslog": {"priority": 165, "facility": {"code": 20}, "severity": {"code": 5},
                           "hostname": "gw", "appname": "a", "procid": "9", "msgid": "ID",
                           "structured_data": {"x@1": {"k": "v"}}},
                "source": {"address": "127.0.0.1:5140"}}})
        );
        assert!(Header::default().ecs_defaults(None).is_empty());
    }
}
