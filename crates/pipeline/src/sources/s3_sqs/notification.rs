//! Understanding SQS message bodies: S3 event notifications (`Records[]`), the same
//! wrapped in an SNS envelope (raw message delivery off), EventBridge "Object
//! Created" events, and `s3:TestEvent`.

use percent_encoding::percent_decode_str;
use serde_json::Value as Json;

/// An object a notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The key, URL-decoded (`+` is a space).
    pub key: String,
    /// The key as it appeared in the notification (tried when the decoded one is missing).
    pub raw_key: String,
    pub size: Option<u64>,
}

impl ObjectRef {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Objects created (possibly none left after filtering out other event types).
    Objects(Vec<ObjectRef>),
    /// `s3:TestEvent`, sent by S3 when a notification configuration is saved.
    Test { bucket: Option<String> },
    /// A well-formed notification about something else (e.g. `ObjectRemoved:*`).
    Ignored(String),
}

/// Decodes an S3 notification key: `+` is a space, then percent-decoding.
pub fn decode_key(key: &str) -> String {
    let plus = key.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

/// Parses an SQS message body. `Err` says why it is not a notification.
pub fn parse(body: &str) -> Result<Notification, String> {
    let json: Json = serde_json::from_str(body.trim())
        .map_err(|e| format!("not a notification: not JSON ({e})"))?;
    parse_json(&json, 0)
}

fn parse_json(json: &Json, depth: u8) -> Result<Notification, String> {
    let Some(obj) = json.as_object() else {
        return Err("not a notification: not a JSON object".into());
    };
    // SNS envelope (raw message delivery disabled): the notification is in `Message`.
    if obj.get("Type").and_then(Json::as_str) == Some("Notification")
        && let Some(message) = obj.get("Message").and_then(Json::as_str)
    {
        if depth > 2 {
            return Err("not a notification: SNS envelopes nested too deep".into());
        }
        let inner: Json = serde_json::from_str(message)
            .map_err(|e| format!("not a notification: SNS message is not JSON ({e})"))?;
        return parse_json(&inner, depth + 1);
    }
    if obj.get("Event").and_then(Json::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test {
            bucket: obj.get("Bucket").and_then(Json::as_str).map(String::from),
        });
    }
    if let Some(records) = obj.get("Records") {
        return parse_records(records);
    }
    if obj.get("source").and_then(Json::as_str) == Some("aws.s3")
        && let Some(detail_type) = obj.get("detail-type").and_then(Json::as_str)
    {
        return parse_eventbridge(detail_type, obj.get("detail"));
    }
    Err(
        "not a notification: no Records, no SNS envelope, no EventBridge S3 event, no s3:TestEvent"
            .into(),
    )
}

fn parse_records(records: &Json) -> Result<Notification, String> {
    let Some(records) = records.as_array() else {
        return Err("not a notification: Records is not a list".into());
    };
    if records.is_empty() {
        return Err("not a notification: Records is empty".into());
    }
    let mut objects = Vec::new();
    let mut others = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if !r.is_object() {
            return Err(format!("not a notification: Records[{i}] is not an object"));
        }
        let Some(name) = r.get("eventName").and_then(Json::as_str) else {
            return Err(format!("not a notification: Records[{i}] has no eventName"));
        };
        let source = r
            .get("eventSource")
            .and_then(Json::as_str)
            .unwrap_or("aws:s3");
        if source != "aws:s3" {
            others.push(format!("{source} {name}"));
            continue;
        }
        if !name.starts_with("ObjectCreated:") {
            others.push(name.to_string());
            continue;
        }
        let s3 = r
            .get("s3")
            .ok_or_else(|| format!("not a notification: Records[{i}] has no s3"))?;
        let bucket = s3
            .pointer("/bucket/name")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("not a notification: Records[{i}] has no s3.bucket.name"))?;
        let key = s3
            .pointer("/object/key")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("not a notification: Records[{i}] has no s3.object.key"))?;
        objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key: decode_key(key),
            raw_key: key.to_string(),
            size: s3.pointer("/object/size").and_then(Json::as_u64),
        });
    }
    if objects.is_empty() && !others.is_empty() {
        return Ok(Notification::Ignored(format!(
            "no ObjectCreated event (got {})",
            others.join(", ")
        )));
    }
    Ok(Notification::Objects(objects))
}

fn parse_eventbridge(detail_type: &str, detail: Option<&Json>) -> Result<Notification, String> {
    if detail_type != "Object Created" {
        return Ok(Notification::Ignored(format!(
            "EventBridge {detail_type:?} event"
        )));
    }
    let detail = detail.ok_or("not a notification: EventBridge event without detail")?;
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Json::as_str)
        .ok_or("not a notification: EventBridge event without detail.bucket.name")?;
    let key = detail
        .pointer("/object/key")
        .and_then(Json::as_str)
        .ok_or("not a notification: EventBridge event without detail.object.key")?;
    Ok(Notification::Objects(vec![ObjectRef {
        bucket: bucket.to_string(),
        key: decode_key(key),
        raw_key: key.to_string(),
        size: detail.pointer("/object/size").and_then(Json::as_u64),
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_event(name: &str, key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventTime": "2024-05-01T10:00:00.000Z", "eventName": name,
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "logs", "arn": "arn:aws:s3:::logs"},
                   "object": {"key": key, "size": 1234, "eTag": "x"}}
        }]})
        .to_string()
    }

    fn one(n: Notification) -> ObjectRef {
        match n {
            Notification::Objects(mut v) if v.len() == 1 => v.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn direct_s3_event() {
        let o = one(parse(&s3_event("ObjectCreated:Put", "AWSLogs/a.log.gz")).unwrap());
        assert_eq!(o.bucket, "logs");
        assert_eq!(o.key, "AWSLogs/a.log.gz");
        assert_eq!(o.size, Some(1234));
        for name in [
            "ObjectCreated:CompleteMultipartUpload",
            "ObjectCreated:Copy",
        ] {
            one(parse(&s3_event(name, "k")).unwrap());
        }
    }

    #[test]
    fn keys_are_url_decoded() {
        let o = one(parse(&s3_event("ObjectCreated:Put", "my+flow+logs/a%2Bb%20c.gz")).unwrap());
        assert_eq!(o.key, "my flow logs/a+b c.gz");
        assert_eq!(o.raw_key, "my+flow+logs/a%2Bb%20c.gz");
        assert_eq!(o.url(), "s3://logs/my flow logs/a+b c.gz");
    }

    #[test]
    fn other_events_are_ignored() {
        assert!(matches!(
            parse(&s3_event("ObjectRemoved:Delete", "k")).unwrap(),
            Notification::Ignored(_)
        ));
    }

    #[test]
    fn sns_envelope() {
        let env = serde_json::json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:1:t",
            "Subject": "Amazon S3 Notification", "Message": s3_event("ObjectCreated:Put", "a+b"),
            "Timestamp": "2024-05-01T10:00:00.000Z"
        })
        .to_string();
        assert_eq!(one(parse(&env).unwrap()).key, "a b");
        let env = serde_json::json!({"Type": "Notification", "Message": "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Bucket\":\"logs\"}"}).to_string();
        assert_eq!(
            parse(&env).unwrap(),
            Notification::Test {
                bucket: Some("logs".into())
            }
        );
        let env = serde_json::json!({"Type": "Notification", "Message": "hello"}).to_string();
        assert!(parse(&env).unwrap_err().contains("SNS"));
    }

    #[test]
    fn eventbridge() {
        let ev = serde_json::json!({
            "version": "0", "id": "x", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "2024-05-01T10:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::logs"],
            "detail": {"version": "0", "bucket": {"name": "logs"},
                       "object": {"key": "dir/x.gz", "size": 5}, "reason": "PutObject"}
        })
        .to_string();
        let o = one(parse(&ev).unwrap());
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str(), o.size),
            ("logs", "dir/x.gz", Some(5))
        );
        let ev = ev.replace("Object Created", "Object Deleted");
        assert!(matches!(parse(&ev).unwrap(), Notification::Ignored(_)));
    }

    #[test]
    fn test_event() {
        let t = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-01T10:00:00.000Z","Bucket":"logs","RequestId":"r","HostId":"h"}"#;
        assert!(matches!(parse(t).unwrap(), Notification::Test { .. }));
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for body in [
            "",
            "hello",
            "[]",
            "{}",
            "{\"Records\": 3}",
            "{\"Records\": []}",
            "{\"Records\": [42, 43]}",
            "{\"Records\": [{\"s3\": {}}]}",
            "{\"Records\": [{\"eventName\": \"ObjectCreated:Put\"}]}",
            "{\"Records\": [{\"eventName\": \"ObjectCreated:Put\", \"s3\": {\"bucket\": {}}}]}",
            "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\"}",
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
    }
}
