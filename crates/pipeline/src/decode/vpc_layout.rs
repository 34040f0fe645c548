//! Flow-log text layouts: which field each column of a line holds, and how a line
//! reaches the format.
//!
//! A text line is handed over as written only when its layout is one the built-in
//! formats read by position (the 14-field default v2 layout and the 29-field v5
//! layout). Any other layout, named by a header line or by configuration, goes as a
//! compact JSON record keyed by the field names with underscores (`account-id` →
//! `account_id`), numbers as numbers, `-` left out. Without a header or configured
//! names, a line must have the shape of one of the two positional layouts, field by
//! field; anything else is rejected with a reason, never mapped by position.

use std::borrow::Cow;

use crate::dead_letter::DeadRecord;
use crate::event::{LineKind, RawBatch};
use std::net::IpAddr;
use std::sync::Arc;

use intake_engine::json::write_json_str;

/// The default format (version 2): the first 14 fields of the v5 layout.
pub const V2_FIELDS: &[&str] = V5_FIELDS.split_at(14).0;

/// The v2 fields then every field up to version 5, in the console's order.
pub const V5_FIELDS: [&str; 29] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// The default layout of Transit Gateway flow logs (36 fields), in AWS's order.
pub const TGW_FIELDS: [&str; 36] = [
    "version",
    "resource-type",
    "account-id",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "log-status",
    "type",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
    "tcp-flags",
    "region",
    "flow-direction",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
];

/// Field names of VPC flow logs after version 5: ECS (v7), reject reason (v8),
/// resource id (v9), encryption status (v10), and the version-11 fields of June
/// 2026 (the recording interface's type, the next hop, EC2 tag values).
const LATER_VPC_FIELDS: &[&str] = &[
    "interface-type",
    "next-hop-interface-id",
    "next-hop-subnet-id",
    "next-hop-az-id",
    "next-hop-vpc-id",
    "next-hop-interface-type",
    "instance-tag",
    "interface-tag",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

/// Whether `dashed` is a known flow-log field name.
pub fn is_known_field(dashed: &str) -> bool {
    V5_FIELDS.contains(&dashed)
        || TGW_FIELDS.contains(&dashed)
        || LATER_VPC_FIELDS.contains(&dashed)
}

/// Fields whose values are integers.
const NUMERIC_FIELDS: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
    "traffic-path",
    "encryption-status",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

/// Whether a format reads flow logs, so that its text lines go through the layout
/// reader (headers, configured names, the positional layouts' shapes).
pub fn is_flow_log_format(slug: &str) -> bool {
    slug.starts_with("aws-vpc")
}

fn is_name_token(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// The field names if `line` is a header line (every token a field name, at least
/// half of them known ones: a layout may carry fields newer than this list).
pub fn parse_header(line: &str) -> Option<Vec<String>> {
    if !line.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    if tokens.is_empty() || !tokens.iter().all(|t| is_name_token(t)) {
        return None;
    }
    let known = tokens
        .iter()
        .filter(|t| is_known_field(&t.replace('_', "-")))
        .count();
    (known * 2 >= tokens.len()).then(|| tokens.iter().map(|t| t.to_string()).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Str,
    /// Unknown field: an integer if it looks like one (no leading zero), else a string.
    Guess,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// Underscored name, the record's key.
    pub key: String,
    kind: Kind,
}

impl Field {
    pub fn new(name: &str) -> Field {
        let dashed = name.replace('_', "-");
        let kind = if NUMERIC_FIELDS.contains(&dashed.as_str()) {
            Kind::Int
        } else if is_known_field(&dashed)
            || dashed.ends_with("-id")
            || dashed.ends_with("-arn")
            || dashed.contains("account")
        {
            Kind::Str
        } else {
            Kind::Guess
        };
        Field {
            key: name.replace('-', "_"),
            kind,
        }
    }
}

/// Which fields the lines hold, and so how they reach the format.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Nothing said (no header, no configured names): a line goes as written only
    /// if it has the shape of the v2 or v5 layout, field by field.
    Assumed,
    /// Named as exactly the v2 or v5 layout: lines go as written, with that many fields.
    Positional(usize),
    /// Any other layout: a JSON record keyed by these fields.
    Record(Arc<[Field]>),
    /// Lines go as written, unchecked (a source whose format is not a flow-log one).
    AsWritten,
}

impl Layout {
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Layout {
        let dashed: Vec<String> = names.iter().map(|n| n.as_ref().replace('_', "-")).collect();
        let is = |layout: &[&str]| dashed.iter().map(String::as_str).eq(layout.iter().copied());
        if is(V2_FIELDS) {
            return Layout::Positional(V2_FIELDS.len());
        }
        if is(&V5_FIELDS) {
            return Layout::Positional(V5_FIELDS.len());
        }
        Layout::Record(names.iter().map(|n| Field::new(n.as_ref())).collect())
    }

    /// Names given on the command line or in a setting: space- or comma-separated.
    pub fn parse_names(text: &str) -> Result<Layout, String> {
        // `${version} ${srcaddr}` as the flow log's format is written, or plain names.
        let names: Vec<&str> = text
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .map(|t| t.trim_start_matches("${").trim_end_matches('}'))
            .filter(|t| !t.is_empty())
            .collect();
        if names.is_empty() {
            return Err("no field names".into());
        }
        if let Some(bad) = names.iter().find(|t| !is_name_token(t)) {
            return Err(format!(
                "{bad:?} is not a field name (lowercase letters, digits, '-' or '_')"
            ));
        }
        Ok(Layout::from_names(&names))
    }

    /// What to hand to the format for one data line (stateless: the workers run it).
    pub fn decode<'a>(&self, line: &'a str) -> Decoded<'a> {
        let line = strip_export_timestamp(line);
        match self {
            // A JSON record (Firehose, a Parquet row exported as JSON) names its fields.
            Layout::Assumed if line.starts_with('{') => Decoded::Message(Cow::Borrowed(line)),
            Layout::Assumed => match positional_problem(line, None) {
                None => Decoded::Message(Cow::Borrowed(line)),
                Some(reason) => Decoded::Reject(reason),
            },
            Layout::Positional(n) => match positional_problem(line, Some(*n)) {
                None => Decoded::Message(Cow::Borrowed(line)),
                Some(reason) => Decoded::Reject(reason),
            },
            Layout::Record(fields) => match line_to_record(fields, line) {
                Ok(json) => Decoded::Message(Cow::Owned(json)),
                Err(reason) => Decoded::Reject(reason),
            },
            Layout::AsWritten => Decoded::Message(Cow::Borrowed(line)),
        }
    }
}

/// What one line becomes.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The format's `message`: the line as written, or a JSON record.
    Message(Cow<'a, str>),
    /// A header line: it sets the layout of the lines after it; not an event.
    Header,
    /// Not readable in its layout: dead-letter it with this reason.
    Reject(String),
}

/// What to do about a line in no known layout, for every reason given.
const GIVE_LAYOUT: &str =
    "give the header line or the field names (`--fields`, or `fields` in the source's settings)";

/// CloudWatch Logs exports put the event's time before each message
/// (`2026-12-05T01:02:03.000Z 2 123456789012 eni-…`): the record is what follows.
pub fn strip_export_timestamp(line: &str) -> &str {
    let b = line.as_bytes();
    if b.len() > 21
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && let Some(space) = line.find(' ')
        && b[space - 1] == b'Z'
    {
        return &line[space + 1..];
    }
    line
}

fn is_digits(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// What a value of each field of the v5 layout looks like (by position, so that
/// checking a line costs no name comparisons).
#[derive(Clone, Copy)]
enum Shape {
    Version,
    Account,
    Prefixed(&'static str),
    Address,
    Count,
    OneOf(&'static [&'static str]),
    Any,
}

const V5_SHAPES: [Shape; 29] = [
    Shape::Version,
    Shape::Account,
    Shape::Prefixed("eni-"),
    Shape::Address,
    Shape::Address,
    Shape::Count,
    Shape::Count,
    Shape::Count,
    Shape::Count,
    Shape::Count,
    Shape::Count,
    Shape::Count,
    Shape::OneOf(&["ACCEPT", "REJECT"]),
    Shape::OneOf(&["OK", "NODATA", "SKIPDATA"]),
    Shape::Prefixed("vpc-"),
    Shape::Prefixed("subnet-"),
    Shape::Prefixed("i-"),
    Shape::Count,
    Shape::OneOf(&["IPv4", "IPv6", "EFA"]),
    Shape::Address,
    Shape::Address,
    Shape::Any,
    Shape::Any,
    Shape::Any,
    Shape::Any,
    Shape::Any,
    Shape::Any,
    Shape::OneOf(&["ingress", "egress"]),
    Shape::Count,
];

/// Whether `token` is a value of field `index` of the v5 layout.
fn fits(index: usize, token: &str) -> bool {
    let shape = V5_SHAPES[index];
    if token == "-" {
        // Every field may be absent, except the two that say what the line is.
        return !matches!(shape, Shape::Version) && index != 13;
    }
    match shape {
        Shape::Version => is_digits(token) && token.len() <= 2,
        Shape::Account => is_digits(token) || token == "unknown",
        Shape::Prefixed(p) => token.starts_with(p),
        Shape::Address => token.parse::<IpAddr>().is_ok(),
        Shape::Count => is_digits(token),
        Shape::OneOf(values) => values.contains(&token),
        Shape::Any => true,
    }
}

/// Why `line` is not a record of the v2 or v5 layout (of `expected` fields if
/// named), or `None` when it is one.
pub fn positional_problem(line: &str, expected: Option<usize>) -> Option<String> {
    let mut n = 0usize;
    let mut bad: Option<(usize, &str)> = None;
    for token in line.split_ascii_whitespace() {
        if bad.is_none() && n < V5_FIELDS.len() && !fits(n, token) {
            bad = Some((n, token));
        }
        n += 1;
    }
    match expected {
        Some(e) if n != e => {
            return Some(format!(
                "expected {e} fields as in the layout's names, found {n}"
            ));
        }
        None if n != V2_FIELDS.len() && n != V5_FIELDS.len() => {
            return Some(format!("unknown layout: {n} fields; {GIVE_LAYOUT}"));
        }
        _ => {}
    }
    let (i, token) = bad?;
    let shown: String = token.chars().take(40).collect();
    Some(match expected {
        Some(_) => format!(
            "field {} ({}) is {shown:?}, not a value of that field",
            i + 1,
            V5_FIELDS[i]
        ),
        None => format!(
            "unknown layout: {n} fields, but not the default order (field {} is {shown:?}, not a {} value); {GIVE_LAYOUT}",
            i + 1,
            V5_FIELDS[i]
        ),
    })
}

fn is_integer(t: &str, leading_zero_ok: bool) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (leading_zero_ok || digits == "0" || !digits.starts_with('0'))
}

/// Converts one data line of a `Record` layout into a compact JSON object.
pub fn line_to_record(fields: &[Field], line: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(line.len() * 2 + 16);
    out.push(b'{');
    let mut n = 0usize;
    let mut first = true;
    let mut mistyped: Option<usize> = None;
    for token in line.split_ascii_whitespace() {
        let Some(field) = fields.get(n) else {
            n += 1;
            continue;
        };
        n += 1;
        if token == "-" {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(&field.key, &mut out);
        out.push(b':');
        let numeric = match field.kind {
            Kind::Int => is_integer(token, true),
            Kind::Guess => is_integer(token, false),
            Kind::Str => false,
        };
        if numeric {
            // Normalize "007" to 7.
            match token.parse::<i64>() {
                Ok(v) => out.extend_from_slice(v.to_string().as_bytes()),
                Err(_) => write_json_str(token, &mut out),
            }
        } else {
            if field.kind == Kind::Int && mistyped.is_none() {
                mistyped = Some(n - 1);
            }
            write_json_str(token, &mut out);
        }
    }
    out.push(b'}');
    if n != fields.len() {
        return Err(format!(
            "expected {} fields as in the layout's names, found {n}",
            fields.len()
        ));
    }
    if let Some(i) = mistyped {
        // A number field holding text: the names do not describe this line.
        return Err(format!(
            "field {} ({}) is not a number: the line does not fit the layout's names",
            i + 1,
            fields[i].key
        ));
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Tracks the layout of one stream, line after line: a header line sets it for the
/// lines after it (concatenated objects may repeat or change it). This part must
/// run in order, on one thread; [`Layout::decode`] may then run anywhere.
#[derive(Debug, Clone)]
pub struct LayoutTracker {
    configured: Layout,
    current: Layout,
}

impl LayoutTracker {
    /// `configured`: the names given for headerless input, if any; `checked`: a
    /// line without names must have a positional layout's shape (else it goes as
    /// written).
    pub fn new(configured: Option<Layout>, checked: bool) -> LayoutTracker {
        let configured = configured.unwrap_or(if checked {
            Layout::Assumed
        } else {
            Layout::AsWritten
        });
        LayoutTracker {
            current: configured.clone(),
            configured,
        }
    }

    /// Takes `line` as the new layout if it is a header line.
    pub fn take_header(&mut self, line: &str) -> bool {
        match parse_header(line) {
            Some(names) => {
                self.current = Layout::from_names(&names);
                true
            }
            None => false,
        }
    }

    /// The layout of the lines from here on.
    pub fn current(&self) -> &Layout {
        &self.current
    }

    /// Back to the configured layout (a new object or file begins).
    pub fn reset(&mut self) {
        self.current = self.configured.clone();
    }

    /// Both steps for one line.
    pub fn decode<'a>(&mut self, line: &'a str) -> Decoded<'a> {
        if self.take_header(line) {
            return Decoded::Header;
        }
        self.current.decode(line)
    }
}

/// A new batch holding the lines of `batch` before `index`.
fn copy_before(batch: &RawBatch, index: usize) -> RawBatch {
    let mut o = RawBatch::new(batch.origin.clone());
    o.context = batch.context.clone();
    for earlier in &batch.lines[..index] {
        o.push(batch.bytes(earlier), earlier.number, earlier.kind);
    }
    o
}

/// The layout reader as the shared reader's line rewriter: it runs on the reading
/// thread, in order, so a header applies to exactly the lines after it. Header
/// lines are dropped (counted), lines of a named layout become records, lines of no
/// known layout become dead-letter records with the reason. A batch whose lines all
/// pass as written is handed on untouched.
impl crate::sources::LineRewriter for LayoutTracker {
    fn rewrite(&mut self, batch: RawBatch) -> RawBatch {
        let mut out: Option<RawBatch> = None;
        for (index, line) in batch.lines.iter().enumerate() {
            let bytes = batch.bytes(line);
            let decoded = match (line.kind, std::str::from_utf8(bytes)) {
                // CloudWatch Logs payloads kept one per line: each log event is a line.
                (LineKind::Whole, Ok(text)) if super::cloudwatch::is_payload(bytes) => {
                    let o = out.get_or_insert_with(|| copy_before(&batch, index));
                    match super::cloudwatch::parse_payloads(text) {
                        Ok(payloads) => {
                            for payload in payloads {
                                let super::cloudwatch::Payload::Data(messages) = payload else {
                                    o.skipped += 1;
                                    continue;
                                };
                                for m in &messages {
                                    match self.decode(m) {
                                        Decoded::Message(m) => {
                                            o.push(m.as_bytes(), line.number, LineKind::Whole)
                                        }
                                        Decoded::Header => o.skipped += 1,
                                        Decoded::Reject(reason) => o.dead.push(DeadRecord {
                                            reason,
                                            raw: Some(m.as_bytes().to_vec()),
                                            origin: Some(batch.origin.to_string()),
                                            line: Some(line.number),
                                            sqs_message_id: batch
                                                .context
                                                .as_deref()
                                                .map(str::to_string),
                                        }),
                                    }
                                }
                            }
                        }
                        Err(reason) => o.dead.push(DeadRecord {
                            reason,
                            raw: Some(bytes.to_vec()),
                            origin: Some(batch.origin.to_string()),
                            line: Some(line.number),
                            sqs_message_id: batch.context.as_deref().map(str::to_string),
                        }),
                    }
                    continue;
                }
                (LineKind::Whole, Ok(text)) => self.decode(text),
                // The normalize stage reports these with their reason.
                _ => Decoded::Message(Cow::Borrowed("")),
            };
            let unchanged = match &decoded {
                Decoded::Message(Cow::Borrowed(m)) => m.is_empty() || m.len() == bytes.len(),
                _ => false,
            };
            if unchanged && out.is_none() {
                continue;
            }
            let o = out.get_or_insert_with(|| copy_before(&batch, index));
            match decoded {
                _ if unchanged => o.push(bytes, line.number, line.kind),
                Decoded::Message(m) => o.push(m.as_bytes(), line.number, LineKind::Whole),
                Decoded::Header => o.skipped += 1,
                Decoded::Reject(reason) => o.dead.push(DeadRecord {
                    reason,
                    raw: Some(bytes.to_vec()),
                    origin: Some(batch.origin.to_string()),
                    line: Some(line.number),
                    sqs_message_id: batch.context.as_deref().map(str::to_string),
                }),
            }
        }
        match out {
            Some(mut o) => {
                o.dead.extend(batch.dead.iter().cloned());
                o.skipped += batch.skipped;
                o
            }
            None => batch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    fn message(d: Decoded<'_>) -> String {
        match d {
            Decoded::Message(m) => m.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    fn rejection(d: Decoded<'_>) -> String {
        match d {
            Decoded::Reject(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_layouts_pass_as_written() {
        let mut c = LayoutTracker::new(None, true);
        assert_eq!(c.decode(V2_HEADER), Decoded::Header);
        let l = "2 310987654321 eni-07aa11bb22cc33dd4 198.51.100.20 10.8.0.5 443 50422 6 12 4410 1765000000 1765000060 ACCEPT OK";
        assert_eq!(message(c.decode(l)), l);
        let mut c = LayoutTracker::new(None, true);
        assert_eq!(c.decode(&V5_FIELDS.join(" ")), Decoded::Header);
        let l = "5 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 50188 4433 6 1 44 1765000000 1765000001 ACCEPT OK vpc-0f1e subnet-0d2c - 2 IPv4 10.8.0.5 10.8.1.9 eu-north-1 eun1-az2 - - - - ingress -";
        assert_eq!(message(c.decode(l)), l);
        // Without a header, both shapes pass too, and NODATA lines with them.
        let mut c = LayoutTracker::new(None, true);
        assert_eq!(message(c.decode(l)), l);
        let nodata =
            "2 310987654321 eni-07aa11bb22cc33dd4 - - - - - - - 1765000000 1765000060 - NODATA";
        assert_eq!(message(c.decode(nodata)), nodata);
        let record = r#"{"version":3,"srcaddr":"10.8.0.5"}"#;
        assert_eq!(message(c.decode(record)), record);
    }

    #[test]
    fn headerless_lines_in_other_layouts_are_rejected_with_what_to_do() {
        let mut c = LayoutTracker::new(None, true);
        let r = rejection(c.decode(
            "vpc-0f1e 2 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 1 2 6 1 44 1765000000 1765000001 ACCEPT OK subnet-0d2c - 2 IPv4 10.8.0.5 10.8.1.9",
        ));
        assert!(r.starts_with("unknown layout: 21 fields;"), "{r}");
        assert!(r.contains("--fields"), "{r}");
        // 14 fields in another order: right count, wrong shapes.
        let r = rejection(c.decode(
            "310987654321 ACCEPT 44 10.8.1.9 ingress eni-07aa11bb22cc33dd4 10.8.0.5 50188 4433 6 1765000000 1765000001 8 OK",
        ));
        assert!(
            r.contains("14 fields, but not the default order (field 1"),
            "{r}"
        );
        // A NAT gateway line with `-` where the version goes.
        let r = rejection(c.decode(
            "- 310987654321 eni-07aa11bb22cc33dd4 10.8.0.5 10.8.1.9 1 2 6 1 44 1765000000 1765000001 ACCEPT OK",
        ));
        assert!(r.contains("field 1"), "{r}");
        // A VPC id where the source address goes.
        let r = rejection(c.decode(
            "2 310987654321 eni-07aa11bb22cc33dd4 vpc-0abc 10.8.1.9 1 2 6 1 44 1765000000 1765000001 ACCEPT OK",
        ));
        assert!(
            r.contains("field 4 is \"vpc-0abc\", not a srcaddr value"),
            "{r}"
        );
    }

    #[test]
    fn export_timestamps_are_dropped() {
        let mut c = LayoutTracker::new(None, true);
        let l = "2 310987654321 eni-07aa11bb22cc33dd4 198.51.100.20 10.8.0.5 443 50422 6 12 4410 1765000000 1765000060 REJECT OK";
        assert_eq!(
            message(c.decode(&format!("2026-12-04T23:59:58.000Z {l}"))),
            l
        );
        assert_eq!(strip_export_timestamp("2026-12-04 x"), "2026-12-04 x");
    }

    #[test]
    fn custom_layout_becomes_a_record() {
        let mut c = LayoutTracker::new(None, true);
        let header = "account-id action bytes dstaddr flow-direction interface-id srcaddr srcport dstport protocol start end version reject-reason tcp-flags";
        assert_eq!(c.decode(header), Decoded::Header);
        let line = "012345678901 REJECT 40 10.0.0.1 ingress eni-1 1.2.3.4 4444 22 6 1700000000 1700000060 8 - 2";
        assert_eq!(
            message(c.decode(line)),
            r#"{"account_id":"012345678901","action":"REJECT","bytes":40,"dstaddr":"10.0.0.1","flow_direction":"ingress","interface_id":"eni-1","srcaddr":"1.2.3.4","srcport":4444,"dstport":22,"protocol":6,"start":1700000000,"end":1700000060,"version":8,"tcp_flags":2}"#
        );
        assert!(rejection(c.decode("1 2 3")).contains("expected 15"));
        // Text in a number field: the names do not describe the line.
        let shifted = "012345678901 REJECT 40 10.0.0.1 ingress eni-1 1.2.3.4 4444 22 tcp 1700000000 1700000060 8 - 2";
        assert!(rejection(c.decode(shifted)).contains("field 10 (protocol) is not a number"));
    }

    #[test]
    fn configured_fields_for_headerless_input() {
        let layout =
            Layout::parse_names("${version},${srcaddr} dstaddr ecs-cluster-name custom-count")
                .unwrap();
        let mut c = LayoutTracker::new(Some(layout), true);
        assert_eq!(
            message(c.decode("7 1.1.1.1 2.2.2.2 prod 0012")),
            r#"{"version":7,"srcaddr":"1.1.1.1","dstaddr":"2.2.2.2","ecs_cluster_name":"prod","custom_count":"0012"}"#
        );
        // Configured v2 names mean text as written, with 14 fields.
        assert!(matches!(
            Layout::from_names(V2_FIELDS),
            Layout::Positional(14)
        ));
        assert!(Layout::parse_names(" , ").is_err());
        assert!(
            Layout::parse_names("version Src")
                .unwrap_err()
                .contains("\"Src\"")
        );
    }

    #[test]
    fn a_header_changes_the_layout_and_reset_restores_it() {
        let mut c = LayoutTracker::new(None, true);
        assert_eq!(c.decode(&TGW_FIELDS.join(" ")), Decoded::Header);
        assert!(matches!(c.current(), Layout::Record(f) if f.len() == 36));
        c.reset();
        assert!(matches!(c.current(), Layout::Assumed));
    }

    #[test]
    fn header_detection() {
        assert!(parse_header(V2_HEADER).is_some());
        assert!(parse_header("version srcaddr some-future-field").is_some());
        assert!(parse_header("version some-future-field other-new-field").is_none());
        assert!(parse_header("2 123 eni-1").is_none());
        assert!(parse_header("eni-abc ACCEPT").is_none());
        assert!(parse_header("eni-abc vpc-123").is_none());
        assert!(parse_header("i-0abc 10.0.0.1").is_none());
        assert!(parse_header("").is_none());
    }
}
