//! CloudWatch Logs subscription payloads: the JSON documents a subscription filter
//! sends (to Firehose, Kinesis or Lambda), `{"messageType": …, "logEvents": [{"id",
//! "timestamp", "message"}, …]}`. Firehose writes them to S3 back to back (`}{`, or
//! one per line), each of them usually gzip-compressed. Every log event's `message`
//! is one raw event; control messages (`CONTROL_MESSAGE`, the service checking that
//! the destination is reachable) carry no events and are only counted.

use std::io::Read;

use serde::Deserialize;

#[derive(Deserialize)]
struct RawPayload {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<LogEvent>,
}

#[derive(Deserialize)]
struct LogEvent {
    message: String,
}

/// One subscription payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload {
    /// The messages of its log events, in order.
    Data(Vec<String>),
    /// A control message: nothing to normalize.
    Control,
}

impl From<RawPayload> for Result<Payload, String> {
    fn from(raw: RawPayload) -> Self {
        match raw.message_type.as_str() {
            "DATA_MESSAGE" => Ok(Payload::Data(
                raw.log_events.into_iter().map(|e| e.message).collect(),
            )),
            "CONTROL_MESSAGE" => Ok(Payload::Control),
            other => Err(format!(
                "CloudWatch Logs payload of unknown messageType {:?}",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// Whether `text` (a line, or the head of a stream) begins a subscription payload.
/// AWS writes `messageType` first; a flow-log JSON record never has that key.
pub fn is_payload(text: &[u8]) -> bool {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let rest = &text[start..];
    rest.starts_with(b"{\"messageType\"")
        || (rest.starts_with(b"{") && memfind(&rest[..rest.len().min(4096)], b"\"logEvents\""))
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn explain(e: serde_json::Error) -> String {
    format!("invalid CloudWatch Logs payload: {e}")
}

/// Every payload in `text` (one, or several back to back).
pub fn parse_payloads(text: &str) -> Result<Vec<Payload>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<RawPayload>()
        .map(|r| r.map_err(explain).and_then(Result::from))
        .collect()
}

/// Reads payloads back to back from a stream, handing each to `each`; stops at
/// the first error of `each` (returned as `Ok(Err)`) or of the stream (`Err`).
pub fn read_payloads<R: Read, E>(
    reader: R,
    mut each: impl FnMut(Payload) -> Result<(), E>,
) -> Result<Result<(), E>, String> {
    for raw in serde_json::Deserializer::from_reader(reader).into_iter::<RawPayload>() {
        let payload = Result::<Payload, String>::from(raw.map_err(explain)?)?;
        if let Err(e) = each(payload) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = r#"{"messageType":"DATA_MESSAGE","owner":"310987654321","logGroup":"flows","logStream":"eni-07aa11bb22cc33dd4-all","subscriptionFilters":["to-firehose"],"logEvents":[{"id":"1","timestamp":1765000000000,"message":"first"},{"id":"2","timestamp":1765000001000,"message":"second"}]}"#;
    const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1765000000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

    #[test]
    fn back_to_back_payloads() {
        let text = format!("{DATA}{CONTROL}\n{DATA}");
        assert!(is_payload(text.as_bytes()));
        let p = parse_payloads(&text).unwrap();
        assert_eq!(
            p,
            vec![
                Payload::Data(vec!["first".into(), "second".into()]),
                Payload::Control,
                Payload::Data(vec!["first".into(), "second".into()]),
            ]
        );
        let mut seen = 0;
        read_payloads(text.as_bytes(), |_| {
            seen += 1;
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(seen, 3);
    }

    #[test]
    fn what_is_not_a_payload() {
        assert!(!is_payload(br#"{"version":2,"srcaddr":"10.0.0.1"}"#));
        assert!(!is_payload(b"2 310987654321 eni-1"));
        let e = parse_payloads(&DATA[..DATA.len() - 3]).unwrap_err();
        assert!(e.starts_with("invalid CloudWatch Logs payload"), "{e}");
        let e = parse_payloads(r#"{"messageType":"OTHER","logEvents":[]}"#).unwrap_err();
        assert!(e.contains("\"OTHER\""), "{e}");
    }
}
