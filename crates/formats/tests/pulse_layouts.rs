//! Pulse Connect Secure reads its two log layouts (WELF, standard) and nothing else: a line
//! that is neither is rejected, even when some `key=value` appears in its text.

use intake_engine::{Map, Value};

fn parse(message: &str) -> Result<Value, String> {
    let format = intake_formats::builtin("pulse-connect-secure").unwrap();
    let mut input = Map::with_capacity(1);
    input.insert("message", Value::from(message));
    format
        .parse(input, chrono::Utc::now())
        .map_err(|r| r.reason)
}

#[test]
fn lines_in_neither_layout_are_rejected() {
    for line in [
        "free text with user=mallory src=192.0.2.1 in it",
        "time=\"2026-01-01 00:00:00\" msg=\"AUT22670: not a WELF record\"",
        "2026-11-02 07:41:09 ics-node2 alice logged in",
        "",
    ] {
        let r = parse(line);
        assert!(r.is_err(), "accepted {line:?}: {r:?}");
    }
}

#[test]
fn both_layouts_are_read() {
    let welf = parse("id=firewall time=\"2026-03-01 10:00:00\" pri=6 fw=10.0.0.9 vpn=gw user=x realm=\"R\" roles=\"\" proto=auth src=192.0.2.7 dst= dstname= type=vpn op= arg=\"\" result= sent= rcvd= agent=\"\" duration= msg=\"AUT22673: Logout from 192.0.2.7 (session:01)\"").unwrap();
    let standard = parse("2026-03-01 10:00:00 - gw - [192.0.2.7] x(R)[] - AUT22673: Logout from 192.0.2.7 (session:01)").unwrap();
    for event in [&welf, &standard] {
        let json = intake_engine::json::to_json_string(event);
        assert!(json.contains("\"action\":\"logged-out\""), "{json}");
        assert!(
            json.contains("\"@timestamp\":\"2026-03-01T10:00:00Z\""),
            "{json}"
        );
        assert!(json.contains("\"ip\":\"192.0.2.7\""), "{json}");
    }
}
