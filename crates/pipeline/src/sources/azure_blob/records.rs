//! Reading a flow log blob (`PT1H.json`) incrementally, and turning its records into
//! one raw event per flow tuple.
//!
//! Azure keeps the blob as `{"records":[R1,R2,…]}` and commits a new block before the
//! closing `]}` every few minutes. A read starts at the checkpoint (the byte after the
//! last record handed on), so it begins either at the very start of the blob, or at the
//! `,` before the next record, or at the closing `]`. [`scan`] returns the complete
//! records in the bytes read and where the last one ends; a record cut by the end of the
//! read is left for the next poll.

use std::borrow::Cow;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// The built-in format of NSG flow log records (versions 1 and 2).
pub const NSG_FORMAT: &str = "azure-nsg-flow-logs";
/// The built-in format of VNet flow log records (version 4).
pub const VNET_FORMAT: &str = "azure-vnet-flow-logs";

/// What one read of a blob holds.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// Byte ranges (in the buffer) of the complete records, in blob order.
    pub records: Vec<Range<usize>>,
    /// Bytes of the buffer that are done with: up to the end of the last complete record
    /// (or of the `{"records":[` header when no record is complete yet).
    pub consumed: usize,
    /// The closing `]` was reached: the blob holds no further record for now.
    pub closed: bool,
}

/// Bytes that are not a flow log blob where a record or separator was expected.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("not a flow log blob at byte {offset}: {reason}")]
pub struct ScanError {
    /// Offset in the buffer.
    pub offset: usize,
    pub reason: &'static str,
}

const HEADER_KEY: &[u8] = b"\"records\"";

/// Where in a blob a read begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Byte 0: the `{"records":[` header comes first.
    Start,
    /// Right after the header: the first record comes next, with no `,`.
    AfterHeader,
    /// Right after a record: a `,` comes before the next one.
    AfterRecord,
}

impl At {
    /// Where a read starting at `offset` begins, from the bytes just before it.
    pub fn of(offset: u64, before: &[u8]) -> At {
        match before
            .iter()
            .rev()
            .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            _ if offset == 0 => At::Start,
            Some(b'[') => At::AfterHeader,
            _ => At::AfterRecord,
        }
    }
}

/// Finds the complete records in `buf`, which begins `at` that place of the blob.
pub fn scan(buf: &[u8], at_place: At) -> Result<Scan, ScanError> {
    let mut out = Scan::default();
    let mut at = 0;
    if at_place == At::Start {
        match header_end(buf)? {
            Some(end) => at = end,
            None => return Ok(out),
        }
        out.consumed = at;
    }
    // Right after a record, a record may follow only after a `,`.
    let mut need_comma = at_place == At::AfterRecord;
    loop {
        at = skip_ws(buf, at);
        let Some(&b) = buf.get(at) else {
            return Ok(out);
        };
        match b {
            b']' => {
                out.closed = true;
                return Ok(out);
            }
            b',' if need_comma => {
                need_comma = false;
                at += 1;
            }
            b'{' if !need_comma => match object_end(buf, at) {
                Some(end) => {
                    out.records.push(at..end);
                    out.consumed = end;
                    need_comma = true;
                    at = end;
                }
                None => return Ok(out),
            },
            _ => {
                return Err(ScanError {
                    offset: at,
                    reason: if need_comma {
                        "expected `,` or `]` after a record"
                    } else {
                        "expected a record (`{`)"
                    },
                });
            }
        }
    }
}

/// The end of `{"records":[`, `None` if the buffer stops inside it.
fn header_end(buf: &[u8]) -> Result<Option<usize>, ScanError> {
    let bad = |offset, reason| Err(ScanError { offset, reason });
    let mut at = skip_ws(buf, 0);
    // A UTF-8 byte order mark is tolerated before the header.
    if buf[at..].starts_with(b"\xEF\xBB\xBF") {
        at = skip_ws(buf, at + 3);
    }
    match buf.get(at) {
        None => return Ok(None),
        Some(b'{') => at += 1,
        Some(_) => return bad(at, "a flow log blob starts with `{\"records\":[`"),
    }
    at = skip_ws(buf, at);
    let rest = &buf[at.min(buf.len())..];
    if rest.len() < HEADER_KEY.len() {
        return if HEADER_KEY.starts_with(rest) {
            Ok(None)
        } else {
            bad(at, "a flow log blob starts with `{\"records\":[`")
        };
    }
    if !rest.starts_with(HEADER_KEY) {
        return bad(at, "a flow log blob starts with `{\"records\":[`");
    }
    at = skip_ws(buf, at + HEADER_KEY.len());
    match buf.get(at) {
        None => return Ok(None),
        Some(b':') => at = skip_ws(buf, at + 1),
        Some(_) => return bad(at, "expected `:` after \"records\""),
    }
    match buf.get(at) {
        None => Ok(None),
        Some(b'[') => Ok(Some(at + 1)),
        Some(_) => bad(at, "expected `[` after \"records\":"),
    }
}

fn skip_ws(buf: &[u8], mut at: usize) -> usize {
    while at < buf.len() && matches!(buf[at], b' ' | b'\n' | b'\r' | b'\t') {
        at += 1;
    }
    at
}

/// The end (exclusive) of the JSON object starting at `start`, `None` when the buffer
/// stops inside it. Braces inside strings do not count.
fn object_end(buf: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = start;
    while i < buf.len() {
        let b = buf[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The flow log schemas a record can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// NSG flow logs, version 1 (8 tuple fields) or 2 (13).
    Nsg,
    /// VNet flow logs, version 4.
    Vnet,
}

impl Schema {
    pub fn format(self) -> &'static str {
        match self {
            Schema::Nsg => NSG_FORMAT,
            Schema::Vnet => VNET_FORMAT,
        }
    }
}

/// One flow log record as Azure writes it, NSG or VNet (the fields of both, borrowed).
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "systemId")]
    system_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "macAddress")]
    mac_address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "operationName")]
    operation_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    properties: Option<NsgProperties<'a>>,
    #[serde(rename = "flowLogVersion")]
    flow_log_version: Option<serde_json::Value>,
    #[serde(borrow, rename = "flowLogGUID")]
    flow_log_guid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "flowLogResourceID")]
    flow_log_resource_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "targetResourceID")]
    target_resource_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "flowRecords")]
    flow_records: Option<VnetFlowRecords<'a>>,
}

#[derive(Deserialize)]
struct NsgProperties<'a> {
    #[serde(rename = "Version")]
    version: Option<serde_json::Value>,
    #[serde(borrow, default)]
    flows: Vec<NsgRuleFlows<'a>>,
}

#[derive(Deserialize)]
struct NsgRuleFlows<'a> {
    #[serde(borrow)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    flows: Vec<NsgMacFlows<'a>>,
}

#[derive(Deserialize)]
struct NsgMacFlows<'a> {
    #[serde(borrow)]
    mac: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "flowTuples")]
    flow_tuples: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct VnetFlowRecords<'a> {
    #[serde(borrow, default)]
    flows: Vec<VnetAclFlows<'a>>,
}

#[derive(Deserialize)]
struct VnetAclFlows<'a> {
    #[serde(borrow, rename = "aclID")]
    acl_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "flowGroups")]
    flow_groups: Vec<VnetFlowGroup<'a>>,
}

#[derive(Deserialize)]
struct VnetFlowGroup<'a> {
    #[serde(borrow)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "flowTuples")]
    flow_tuples: Vec<Cow<'a, str>>,
}

/// The raw event of one NSG tuple: the record's context and the tuple under `flow.0`,
/// the shape `azure-nsg-flow-logs` reads.
#[derive(Serialize)]
struct NsgEvent<'r> {
    time: Option<&'r str>,
    #[serde(rename = "systemId", skip_serializing_if = "Option::is_none")]
    system_id: Option<&'r str>,
    category: Option<&'r str>,
    #[serde(rename = "resourceId")]
    resource_id: Option<&'r str>,
    #[serde(rename = "operationName")]
    operation_name: Option<&'r str>,
    version: &'r str,
    rule: Option<&'r str>,
    #[serde(rename = "macAddress")]
    mac_address: Option<&'r str>,
    #[serde(rename = "flow.0")]
    flow: &'r str,
}

/// The raw event of one VNet tuple, the shape `azure-vnet-flow-logs` reads.
#[derive(Serialize)]
struct VnetEvent<'r> {
    time: Option<&'r str>,
    #[serde(rename = "flowLogVersion")]
    flow_log_version: &'r serde_json::Value,
    #[serde(rename = "flowLogGUID")]
    flow_log_guid: Option<&'r str>,
    #[serde(rename = "macAddress")]
    mac_address: Option<&'r str>,
    category: Option<&'r str>,
    #[serde(rename = "flowLogResourceID")]
    flow_log_resource_id: Option<&'r str>,
    #[serde(rename = "targetResourceID")]
    target_resource_id: Option<&'r str>,
    #[serde(rename = "operationName")]
    operation_name: Option<&'r str>,
    #[serde(rename = "aclID")]
    acl_id: Option<&'r str>,
    rule: Option<&'r str>,
    #[serde(rename = "flow.0")]
    flow: &'r str,
}

/// One record split into raw events (JSON messages), with the schema that reads them.
#[derive(Debug, PartialEq)]
pub struct Split {
    pub schema: Schema,
    pub messages: Vec<String>,
}

/// Why a record gives no events: it goes to the dead letter with this reason.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("the record is not valid JSON of a flow log record: {0}")]
    Json(String),
    #[error("unknown flow log version {0} (NSG versions 1 and 2, VNet version 4 are read)")]
    UnknownVersion(String),
    #[error("the record has neither properties.Version (NSG) nor flowLogVersion (VNet)")]
    NoVersion,
    #[error("the record's schema ({found}) is not the one of the configured format {format}")]
    WrongFormat { found: &'static str, format: String },
}

fn version_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn version_number(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Splits one record into one raw event per flow tuple, every tuple of every rule and
/// interface. `only` restricts the schema when the format is not `auto`.
pub fn split(record: &[u8], only: Option<Schema>) -> Result<Split, RecordError> {
    let r: Record = serde_json::from_slice(record).map_err(|e| RecordError::Json(e.to_string()))?;
    let schema = match (&r.properties, &r.flow_log_version) {
        (_, Some(v)) => match version_number(v) {
            Some(4) => Schema::Vnet,
            _ => return Err(RecordError::UnknownVersion(version_text(v))),
        },
        (Some(p), None) => match p.version.as_ref().map(|v| (version_number(v), v)) {
            Some((Some(1 | 2), _)) => Schema::Nsg,
            Some((_, v)) => return Err(RecordError::UnknownVersion(version_text(v))),
            None => return Err(RecordError::NoVersion),
        },
        (None, None) => return Err(RecordError::NoVersion),
    };
    if let Some(want) = only
        && want != schema
    {
        return Err(RecordError::WrongFormat {
            found: schema.format(),
            format: want.format().to_string(),
        });
    }
    let mut messages = Vec::new();
    let json = |e: serde_json::Error| RecordError::Json(e.to_string());
    match schema {
        Schema::Nsg => {
            let p = r.properties.as_ref().expect("NSG schema has properties");
            let version = version_text(p.version.as_ref().expect("checked above"));
            for rule in &p.flows {
                for mac in &rule.flows {
                    for tuple in &mac.flow_tuples {
                        let e = NsgEvent {
                            time: r.time.as_deref(),
                            system_id: r.system_id.as_deref(),
                            category: r.category.as_deref(),
                            resource_id: r.resource_id.as_deref(),
                            operation_name: r.operation_name.as_deref(),
                            version: &version,
                            rule: rule.rule.as_deref(),
                            mac_address: mac.mac.as_deref().or(r.mac_address.as_deref()),
                            flow: tuple,
                        };
                        messages.push(serde_json::to_string(&e).map_err(json)?);
                    }
                }
            }
        }
        Schema::Vnet => {
            let version = r.flow_log_version.as_ref().expect("checked above");
            for acl in r.flow_records.iter().flat_map(|f| &f.flows) {
                for group in &acl.flow_groups {
                    for tuple in &group.flow_tuples {
                        let e = VnetEvent {
                            time: r.time.as_deref(),
                            flow_log_version: version,
                            flow_log_guid: r.flow_log_guid.as_deref(),
                            mac_address: r.mac_address.as_deref(),
                            category: r.category.as_deref(),
                            flow_log_resource_id: r.flow_log_resource_id.as_deref(),
                            target_resource_id: r.target_resource_id.as_deref(),
                            operation_name: r.operation_name.as_deref(),
                            acl_id: acl.acl_id.as_deref(),
                            rule: group.rule.as_deref(),
                            flow: tuple,
                        };
                        messages.push(serde_json::to_string(&e).map_err(json)?);
                    }
                }
            }
        }
    }
    Ok(Split { schema, messages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nsg_record(version: u32, tuples: &[&str]) -> String {
        let tuples: Vec<String> = tuples.iter().map(|t| format!("\"{t}\"")).collect();
        format!(
            r#"{{"time":"2026-01-10T08:00:12.5000000Z","systemId":"sys-1","macAddress":"0A0B0C0D0E0F","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG","operationName":"NetworkSecurityGroupFlowEvents","properties":{{"Version":{version},"flows":[{{"rule":"UserRule_web","flows":[{{"mac":"0A0B0C0D0E0F","flowTuples":[{}]}}]}}]}}}}"#,
            tuples.join(",")
        )
    }

    #[test]
    fn a_whole_blob_gives_every_record_and_is_closed() {
        let a = nsg_record(2, &["1,a"]);
        let b = nsg_record(2, &["2,b"]);
        let blob = format!("{{\"records\":[{a},\n{b}]}}");
        let s = scan(blob.as_bytes(), At::Start).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(&blob[s.records[0].clone()], a);
        assert_eq!(&blob[s.records[1].clone()], b);
        assert!(s.closed);
        assert_eq!(s.consumed, s.records[1].end);
    }

    #[test]
    fn a_record_cut_by_the_read_waits_and_the_next_read_resumes_at_the_comma() {
        let a = nsg_record(2, &["1,a"]);
        let b = nsg_record(2, &["2,b}\\\"{"]);
        let blob = format!("{{\"records\":[{a},{b}]}}");
        let cut = blob.len() - 10;
        let s = scan(&blob.as_bytes()[..cut], At::Start).unwrap();
        assert_eq!(s.records.len(), 1);
        assert!(!s.closed);
        // The next poll reads from the checkpoint: `,` then the second record.
        let rest = &blob.as_bytes()[s.consumed..];
        assert_eq!(rest[0], b',');
        let s2 = scan(rest, At::AfterRecord).unwrap();
        assert_eq!(s2.records.len(), 1);
        assert_eq!(&rest[s2.records[0].clone()], b.as_bytes());
        assert!(s2.closed);
    }

    #[test]
    fn a_header_cut_anywhere_is_no_record_yet() {
        let blob = b"{ \"records\" : [";
        for cut in 0..blob.len() {
            assert_eq!(
                scan(&blob[..cut], At::Start).unwrap(),
                Scan::default(),
                "cut {cut}"
            );
        }
        let s = scan(blob, At::Start).unwrap();
        assert_eq!(s.consumed, blob.len());
        assert!(s.records.is_empty());
        // The next read begins right after the header: no `,` before the first record.
        assert_eq!(At::of(blob.len() as u64, blob), At::AfterHeader);
        let s = scan(b"{\"a\":1},{\"b\":2}", At::AfterHeader).unwrap();
        assert_eq!(s.records, [0..7, 8..15]);
        assert!(scan(b"{\"a\":1}", At::AfterRecord).is_err());
        assert_eq!(At::of(12, b"x}"), At::AfterRecord);
        assert_eq!(At::of(0, b""), At::Start);
    }

    #[test]
    fn bytes_that_are_not_a_flow_log_blob_are_an_error_naming_the_offset() {
        assert_eq!(scan(b"[1,2]", At::Start).unwrap_err().offset, 0);
        assert_eq!(scan(b"{\"value\":[", At::Start).unwrap_err().offset, 1);
        let e = scan(b",{}x", At::AfterRecord).unwrap_err();
        assert_eq!(e.offset, 3);
        // Two records with no comma between them.
        assert!(scan(b"{\"records\":[{} {}]}", At::Start).is_err());
    }

    #[test]
    fn nsg_v2_gives_every_tuple_with_its_rule_and_mac() {
        let rec = r#"{"time":"t","macAddress":"M0","resourceId":"/R","operationName":"NetworkSecurityGroupFlowEvents","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[
            {"rule":"R1","flows":[{"mac":"M1","flowTuples":["1,a","2,b"]},{"mac":"M2","flowTuples":["3,c"]}]},
            {"rule":"R2","flows":[{"mac":"M3","flowTuples":["4,d"]}]}]}}"#;
        let s = split(rec.as_bytes(), None).unwrap();
        assert_eq!(s.schema, Schema::Nsg);
        let events: Vec<serde_json::Value> = s
            .messages
            .iter()
            .map(|m| serde_json::from_str(m).unwrap())
            .collect();
        let pick =
            |k: &str| -> Vec<&str> { events.iter().map(|e| e[k].as_str().unwrap()).collect() };
        assert_eq!(pick("flow.0"), ["1,a", "2,b", "3,c", "4,d"]);
        assert_eq!(pick("rule"), ["R1", "R1", "R1", "R2"]);
        assert_eq!(pick("macAddress"), ["M1", "M1", "M2", "M3"]);
        assert_eq!(pick("version"), ["2", "2", "2", "2"]);
        assert_eq!(events[0]["resourceId"], "/R");
        assert_eq!(events[0]["time"], "t");
    }

    #[test]
    fn vnet_v4_gives_every_tuple_with_its_acl_and_rule() {
        let rec = r#"{"time":"t","flowLogVersion":4,"flowLogGUID":"g","macAddress":"M","category":"FlowLogFlowEvent","flowLogResourceID":"/F","targetResourceID":"/T","operationName":"FlowLogFlowEvent","flowRecords":{"flows":[
            {"aclID":"A1","flowGroups":[{"rule":"R1","flowTuples":["1,x","2,y"]},{"rule":"R2","flowTuples":["3,z"]}]},
            {"aclID":"A2","flowGroups":[{"rule":"R3","flowTuples":["4,w"]}]}]}}"#;
        let s = split(rec.as_bytes(), None).unwrap();
        assert_eq!(s.schema, Schema::Vnet);
        let events: Vec<serde_json::Value> = s
            .messages
            .iter()
            .map(|m| serde_json::from_str(m).unwrap())
            .collect();
        let pick =
            |k: &str| -> Vec<&str> { events.iter().map(|e| e[k].as_str().unwrap()).collect() };
        assert_eq!(pick("flow.0"), ["1,x", "2,y", "3,z", "4,w"]);
        assert_eq!(pick("aclID"), ["A1", "A1", "A1", "A2"]);
        assert_eq!(pick("rule"), ["R1", "R1", "R2", "R3"]);
        assert_eq!(events[3]["flowLogVersion"], 4);
        assert_eq!(events[3]["targetResourceID"], "/T");
        assert_eq!(events[3]["macAddress"], "M");
    }

    #[test]
    fn versions_pick_the_format_and_unknown_ones_are_errors() {
        assert_eq!(
            split(nsg_record(1, &["1"]).as_bytes(), None)
                .unwrap()
                .schema,
            Schema::Nsg
        );
        assert!(matches!(
            split(nsg_record(3, &["1"]).as_bytes(), None),
            Err(RecordError::UnknownVersion(v)) if v == "3"
        ));
        assert!(matches!(
            split(br#"{"flowLogVersion":5,"flowRecords":{"flows":[]}}"#, None),
            Err(RecordError::UnknownVersion(v)) if v == "5"
        ));
        assert_eq!(split(br#"{"time":"t"}"#, None), Err(RecordError::NoVersion));
        assert!(matches!(
            split(b"{\"time\":", None),
            Err(RecordError::Json(_))
        ));
        assert!(matches!(
            split(nsg_record(2, &["1"]).as_bytes(), Some(Schema::Vnet)),
            Err(RecordError::WrongFormat { .. })
        ));
    }

    #[test]
    fn escaped_strings_in_a_record_are_kept() {
        let rec = r#"{"time":"t","resourceId":"/R\/x","properties":{"Version":"2","flows":[{"rule":"a\"b","flows":[{"mac":"M","flowTuples":["1,2"]}]}]}}"#;
        let s = split(rec.as_bytes(), None).unwrap();
        let e: serde_json::Value = serde_json::from_str(&s.messages[0]).unwrap();
        assert_eq!(e["rule"], "a\"b");
        assert_eq!(e["resourceId"], "/R/x");
    }
}
