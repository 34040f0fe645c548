//! Flow-log text layouts: the header line, and how each data line reaches the format.
//!
//! The default v2 layout (14 fields) and the 29-field v5 layout go as raw text. Any
//! other layout or order goes as a compact JSON record keyed by the field names with
//! underscores (`account-id` → `account_id`), numbers as numbers, `-` left out.

use std::sync::Arc;

use intake_engine::json::write_json_str;

use crate::dead_letter::DeadRecord;
use crate::event::{LineKind, RawBatch};

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

/// Field names of VPC flow logs after version 5 (ECS, reject reason, resource and
/// encryption fields) and of Transit Gateway flow logs.
const LATER_FIELDS: &[&str] = &[
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
    "resource-type",
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
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

/// Whether `dashed` is a known flow-log field name.
fn is_known_field(dashed: &str) -> bool {
    V5_FIELDS.contains(&dashed) || LATER_FIELDS.contains(&dashed)
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
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

fn is_name_token(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// The field names if `line` is a header line (every token a field name, mostly known ones).
pub fn parse_header(line: &str) -> Option<Vec<String>> {
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

/// How data lines go to the format.
#[derive(Debug, Clone)]
pub enum Layout {
    /// The line as is (default v2 or 29-field v5 layouts, or unknown text).
    Raw,
    /// A JSON record keyed by these fields.
    Record(Arc<[Field]>),
}

impl Layout {
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Layout {
        let dashed: Vec<String> = names.iter().map(|n| n.as_ref().replace('_', "-")).collect();
        if dashed
            .iter()
            .map(String::as_str)
            .eq(V2_FIELDS.iter().copied())
            || dashed
                .iter()
                .map(String::as_str)
                .eq(V5_FIELDS.iter().copied())
        {
            return Layout::Raw;
        }
        Layout::Record(names.iter().map(|n| Field::new(n.as_ref())).collect())
    }
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
            write_json_str(token, &mut out);
        }
    }
    out.push(b'}');
    if n != fields.len() {
        return Err(format!(
            "expected {} fields as in the layout, found {n}",
            fields.len()
        ));
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// What became of one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A header line: not an event.
    Header,
    /// The text to hand to the format as `message`.
    Event(String),
    /// A line that does not fit the layout.
    Invalid(String),
}

/// Tracks the layout of one text object, line after line.
pub struct LineConverter {
    configured: Option<Layout>,
    layout: Option<Layout>,
}

impl LineConverter {
    /// `configured`: the source's `fields`, for headerless objects.
    pub fn new(configured: Option<Layout>) -> LineConverter {
        LineConverter {
            configured,
            layout: None,
        }
    }

    pub fn convert(&mut self, line: &str) -> Line {
        // A header comes first, but concatenated objects may repeat it.
        if line.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && let Some(names) = parse_header(line)
        {
            self.layout = Some(Layout::from_names(&names));
            return Line::Header;
        }
        let layout = self
            .layout
            .get_or_insert_with(|| self.configured.clone().unwrap_or(Layout::Raw));
        match layout {
            Layout::Raw => Line::Event(line.to_string()),
            Layout::Record(fields) => match line_to_record(fields, line) {
                Ok(json) => Line::Event(json),
                Err(reason) => Line::Invalid(reason),
            },
        }
    }
}

impl crate::sources::LineRewriter for LineConverter {
    /// Applies the layout to a batch: header lines are dropped, lines of a custom
    /// layout become records, lines that do not fit become dead-letter records.
    /// A batch of raw-layout lines with no possible header passes untouched.
    fn rewrite(&mut self, batch: RawBatch) -> RawBatch {
        let may_hold_header = |b: &RawBatch| {
            b.lines
                .iter()
                .any(|l| b.bytes(l).first().is_some_and(u8::is_ascii_lowercase))
        };
        if matches!(self.layout, Some(Layout::Raw)) && !may_hold_header(&batch) {
            return batch;
        }
        let mut out = RawBatch::new(batch.origin.clone());
        out.context = batch.context.clone();
        for line in &batch.lines {
            let bytes = batch.bytes(line);
            let text = match (line.kind, std::str::from_utf8(bytes)) {
                (LineKind::Whole, Ok(text)) => text,
                // The normalize stage reports these.
                _ => {
                    out.push(bytes, line.number, line.kind);
                    continue;
                }
            };
            match self.convert(text) {
                Line::Header => {}
                Line::Event(record) => out.push(record.as_bytes(), line.number, LineKind::Whole),
                Line::Invalid(reason) => out.dead.push(DeadRecord {
                    reason,
                    raw: Some(bytes.to_vec()),
                    origin: Some(batch.origin.to_string()),
                    line: Some(line.number),
                    sqs_message_id: batch.context.as_deref().map(str::to_string),
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    #[test]
    fn default_layouts_are_raw() {
        let mut c = LineConverter::new(None);
        assert_eq!(c.convert(V2_HEADER), Line::Header);
        let l = "2 424805057484 eni-0f06a40fc9be596f6 212.83.179.156 10.0.0.96 123 123 17 2 152 1599665193 1599665488 ACCEPT OK";
        assert_eq!(c.convert(l), Line::Event(l.into()));
        let mut c = LineConverter::new(None);
        assert_eq!(c.convert(&V5_FIELDS.join(" ")), Line::Header);
        let l = "5 1234567890 eni-1235b8ca123456789 5.6.7.8 1.2.3.4 50188 4433 6 1 44 1739865042 1739865042 ACCEPT OK vpc-1 subnet-1 - 2 IPv4 5.6.7.8 1.2.3.4 eu-west-1 euw1-az2 - - - - ingress -";
        assert_eq!(c.convert(l), Line::Event(l.into()));
    }

    #[test]
    fn headerless_is_raw() {
        let mut c = LineConverter::new(None);
        let l = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
        assert_eq!(c.convert(l), Line::Event(l.into()));
    }

    #[test]
    fn custom_layout_becomes_a_record() {
        let mut c = LineConverter::new(None);
        let header = "account-id action bytes dstaddr flow-direction interface-id srcaddr srcport dstport protocol start end version reject-reason tcp-flags";
        assert_eq!(c.convert(header), Line::Header);
        let line = "012345678901 REJECT 40 10.0.0.1 ingress eni-1 1.2.3.4 4444 22 6 1700000000 1700000060 8 - 2";
        let Line::Event(json) = c.convert(line) else {
            panic!()
        };
        assert_eq!(
            json,
            r#"{"account_id":"012345678901","action":"REJECT","bytes":40,"dstaddr":"10.0.0.1","flow_direction":"ingress","interface_id":"eni-1","srcaddr":"1.2.3.4","srcport":4444,"dstport":22,"protocol":6,"start":1700000000,"end":1700000060,"version":8,"tcp_flags":2}"#
        );
        assert!(matches!(c.convert("1 2 3"), Line::Invalid(r) if r.contains("expected 15")));
    }

    #[test]
    fn configured_fields_for_headerless_objects() {
        let layout = Layout::from_names(&[
            "version",
            "srcaddr",
            "dstaddr",
            "ecs-cluster-name",
            "custom-count",
        ]);
        let mut c = LineConverter::new(Some(layout));
        let Line::Event(json) = c.convert("7 1.1.1.1 2.2.2.2 prod 0012") else {
            panic!()
        };
        assert_eq!(
            json,
            r#"{"version":7,"srcaddr":"1.1.1.1","dstaddr":"2.2.2.2","ecs_cluster_name":"prod","custom_count":"0012"}"#
        );
        // Configured v2 names mean raw text.
        assert!(matches!(Layout::from_names(V2_FIELDS), Layout::Raw));
    }

    #[test]
    fn header_detection() {
        assert!(parse_header(V2_HEADER).is_some());
        assert!(parse_header("version srcaddr some-future-field").is_some());
        assert!(parse_header("2 123 eni-1").is_none());
        assert!(parse_header("eni-abc ACCEPT").is_none());
        assert!(parse_header("eni-abc vpc-123").is_none());
        assert!(parse_header("").is_none());
    }
}
