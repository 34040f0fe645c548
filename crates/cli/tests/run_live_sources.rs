//! `intake run` with the pushed sources wired into a pipeline: a `syslog` TCP source
//! fed by `logger` (util-linux) and an `http_intake` source fed by `curl`, both into
//! file sinks. The protocols themselves are tested in depth in intake-pipeline.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const PULSE: &str = "id=firewall time=\"2026-07-14 23:30:05\" pri=6 fw=10.1.2.3 vpn=ics-west ivs=Root user=hana realm=\"Staff\" roles=\"Employees\" proto=auth src=192.0.2.44 dst= dstname= type=vpn op= arg=\"\" result= sent= rcvd= agent=\"\" duration= msg=\"AUT24414: Agent login succeeded for hana/Staff from 192.0.2.44 with Pulse-Secure/9.1.\"";

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn syslog_and_http_intake_deliver_through_intake_run() {
    let dir = tempfile::tempdir().unwrap();
    let (syslog_port, http_port) = (free_port(), free_port());
    let key = dir.path().join("key");
    std::fs::write(&key, "k-0123456789\n").unwrap();
    let vpn = dir.path().join("vpn.ndjson");
    let flows = dir.path().join("flows.ndjson");
    let config = dir.path().join("intake.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[sources.vpn]
type = "syslog"
transport = "tcp"
address = "127.0.0.1:{syslog_port}"
format = "pulse-connect-secure"
dead_letter = "rejects"

[sources.intake]
type = "http_intake"
address = "127.0.0.1:{http_port}"
format = "aws-vpc-flow-logs"
dead_letter = "rejects"
keys = [{{ key_file = "{key}" }}]

[sinks.vpn]
type = "file"
inputs = ["vpn"]
path = "{vpn}"

[sinks.flows]
type = "file"
inputs = ["intake"]
path = "{flows}"

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
            key = key.display(),
            vpn = vpn.display(),
            flows = flows.display(),
            dir = dir.path().display()
        ),
    )
    .unwrap();
    let _intake = spawn_intake(&config, &dir.path().join("intake.log"));
    wait_for(60, "the listeners", || {
        std::net::TcpStream::connect(("127.0.0.1", http_port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", syslog_port)).is_ok()
    });

    let sent = Command::new("logger")
        .args(["--tcp", "-n", "127.0.0.1", "-P", &syslog_port.to_string()])
        .args(["--rfc5424", "-t", "pulse", "-p", "local0.info", PULSE])
        .status()
        .expect("logger (util-linux) is installed by scripts/test.sh");
    assert!(sent.success());
    wait_for(60, "the syslog event", || !lines(&vpn).is_empty());
    let event = &lines(&vpn)[0];
    assert_eq!(event["user"]["name"], "hana", "{event}");
    assert_eq!(event["log"]["syslog"]["appname"], "pulse", "{event}");
    assert_eq!(event["log"]["syslog"]["facility"]["code"], 16, "{event}");
    assert!(
        event["log"]["source"]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let body = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1431280876 1431280934 ACCEPT OK\n\
                2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 41 1431280876 1431280934 ACCEPT OK\n";
    let curl = |key: &str| {
        Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-H"])
            .arg(format!("X-Intake-Key: {key}"))
            .args(["--data-binary", body])
            .arg(format!("http://127.0.0.1:{http_port}/plain"))
            .output()
            .expect("curl")
    };
    let refused = curl("wrong");
    assert!(String::from_utf8_lossy(&refused.stdout).ends_with("401"));
    let accepted = curl("k-0123456789");
    let text = String::from_utf8_lossy(&accepted.stdout).to_string();
    assert!(text.ends_with("200"), "{text}");
    assert!(text.contains("\"received\":2"), "{text}");
    // The 200 came after the sink accepted: the events are in the file already.
    let events = lines(&flows);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["source"]["bytes"], 41);
    std::thread::sleep(Duration::from_millis(10));
}
