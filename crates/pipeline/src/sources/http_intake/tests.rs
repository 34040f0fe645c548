//! The endpoint driven by `curl` and a Python client against a collecting `Deliver`.

use std::process::Command;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::*;
use crate::sources::deliver::testing::Collector;

const KEY: &str = "k3y-for-plain-7f1c2a";

struct Server {
    port: u16,
    pulse: Arc<Collector>,
    other: Arc<Collector>,
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A server with two keys: `KEY` from a file selects `pulse-connect-secure`; the value of
/// `$HOME` (an environment variable every test run has) selects `other`.
async fn server(max_body_bytes: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let config = HttpIntakeSourceConfig {
        format: "pulse-connect-secure".into(),
        dead_letter: None,
        address: "127.0.0.1:0".into(),
        keys: vec![
            IntakeKeyConfig {
                key_file: Some(key_file),
                key_env: None,
                format: None,
            },
            IntakeKeyConfig {
                key_file: None,
                key_env: Some("HOME".into()),
                format: Some("other".into()),
            },
        ],
        max_body_bytes,
        max_pending_requests: 8,
        header_timeout_secs: 5,
    };
    let pulse = Collector::new();
    let other = Collector::new();
    let mut deliver: HashMap<String, Arc<dyn Deliver>> = HashMap::new();
    deliver.insert("pulse-connect-secure".into(), pulse.clone());
    deliver.insert("other".into(), other.clone());
    let cancel = CancellationToken::new();
    let listener = Listener::bind("http-test", config, deliver, cancel.clone())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(listener.serve());
    Server {
        port,
        pulse,
        other,
        cancel,
        handle,
        _dir: dir,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.handle.await.unwrap();
    }
}

/// Runs curl; returns the status (0 when curl itself failed), headers and body.
async fn curl(args: Vec<String>) -> (u16, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sS", "-D", "-", "-o", "-"])
            .args(&args)
            .output()
            .expect("curl must be installed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_string(), body.to_string())
    })
    .await
    .unwrap()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_decide_acceptance_and_format() {
    let srv = server(1 << 20).await;
    let url = srv.url("/plain");
    let key_header = format!("X-Intake-Key: {KEY}");
    let (status, _, body) = curl(s(&[
        "-H",
        &key_header,
        "--data-binary",
        "one\ntwo\r\nthree\n",
        &url,
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"received": 3, "rejected": 0})
    );
    assert_eq!(srv.pulse.messages(), ["one", "two", "three"]);
    assert!(srv.pulse.events.lock().unwrap()[0].0.ends_with("/plain"));

    // The second key (Bearer) selects the other format.
    let home = std::env::var("HOME").unwrap();
    let bearer = format!("Authorization: Bearer {home}");
    let (status, _, _) = curl(s(&["-H", &bearer, "--data-binary", "four", &url])).await;
    assert_eq!(status, 200);
    assert_eq!(srv.other.messages(), ["four"]);

    // Wrong key, no key: 401 and nothing accepted; the key is not echoed.
    let (status, _, body) = curl(s(&[
        "-H",
        "X-Intake-Key: guessed-key",
        "--data-binary",
        "x",
        &url,
    ]))
    .await;
    assert_eq!(status, 401);
    assert!(!body.contains("guessed-key"));
    let (status, _, _) = curl(s(&["--data-binary", "x", &url])).await;
    assert_eq!(status, 401);
    let prefix = format!("X-Intake-Key: {}", &KEY[..KEY.len() - 1]);
    let (status, _, _) = curl(s(&["-H", &prefix, "--data-binary", "x", &url])).await;
    assert_eq!(status, 401);
    assert_eq!(srv.pulse.count(), 3);
    assert_eq!(srv.other.count(), 1);

    let (status, _, body) = curl(s(&[&srv.url("/health")])).await;
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}"));
    let (status, _, _) = curl(s(&["-H", &key_header, &srv.url("/nowhere")])).await;
    assert_eq!(status, 404);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_ndjson_with_a_malformed_line() {
    let srv = server(1 << 20).await;
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("body.gz");
    let ndjson = "{\"message\":\"m1\",\"cloud\":{\"region\":\"eu-west-3\"}}\n{\"message\": oops}\n{\"message\":\"m2\"}\n";
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf '%s' '{ndjson}' | gzip -c > {}",
            gz.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let key_header = format!("X-Intake-Key: {KEY}");
    let (status, _, body) = curl(s(&[
        "-H",
        &key_header,
        "-H",
        "Content-Encoding: gzip",
        "--data-binary",
        &format!("@{}", gz.display()),
        &srv.url("/jsons"),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"received": 2, "rejected": 1})
    );
    assert_eq!(srv.pulse.messages(), ["m1", "m2"]);
    let first = srv.pulse.events.lock().unwrap()[0].1.clone();
    assert_eq!(
        Value::Object(first.fields.unwrap()),
        json!({"cloud": {"region": "eu-west-3"}})
    );
    let dead = srv.pulse.dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.starts_with("line 2 is not a JSON object"),
        "{}",
        dead[0].reason
    );
    assert_eq!(dead[0].raw, b"{\"message\": oops}");

    // Plain text sent to /jsons is refused whole, with the reason.
    let (status, _, body) = curl(s(&[
        "-H",
        &key_header,
        "--data-binary",
        "not json",
        &srv.url("/jsons"),
    ]))
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("line 1"), "{body}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_are_refused() {
    let srv = server(1000).await;
    let key_header = format!("X-Intake-Key: {KEY}");
    let big = "x".repeat(5000);
    let (status, _, body) = curl(s(&[
        "-H",
        &key_header,
        "--data-binary",
        &big,
        &srv.url("/plain"),
    ]))
    .await;
    assert_eq!(status, 413, "{body}");
    // Chunked (no Content-Length) is cut at the limit too.
    let (status, _, _) = curl(s(&[
        "-H",
        &key_header,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &big,
        &srv.url("/plain"),
    ]))
    .await;
    assert_eq!(status, 413);
    // A small gzip body that inflates past the limit.
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("bomb.gz");
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 100000 /dev/zero | tr '\\0' 'a' | gzip -c > {}",
            gz.display()
        ))
        .status()
        .unwrap();
    let (status, _, body) = curl(s(&[
        "-H",
        &key_header,
        "-H",
        "Content-Encoding: gzip",
        "--data-binary",
        &format!("@{}", gz.display()),
        &srv.url("/plain"),
    ]))
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("decompressed"));
    assert_eq!(srv.pulse.count(), 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_200_until_the_sinks_accept() {
    let srv = server(1 << 20).await;
    let key_header = format!("X-Intake-Key: {KEY}");
    let url = srv.url("/plain");
    // A sink that stops answering: the request does not complete.
    srv.pulse.block(true);
    let (status, _, _) = curl(s(&[
        "--max-time",
        "2",
        "-H",
        &key_header,
        "--data-binary",
        "held",
        &url,
    ]))
    .await;
    assert_eq!(status, 0, "answered while the sink was down");
    // A failing sink: 503 with Retry-After.
    srv.pulse.refuse.store(true, Ordering::SeqCst);
    srv.pulse.block(false);
    let (status, head, _) = curl(s(&["-H", &key_header, "--data-binary", "refused", &url])).await;
    assert_eq!(status, 503);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 5"),
        "{head}"
    );
    // The client retries once the sink is back: accepted.
    srv.pulse.refuse.store(false, Ordering::SeqCst);
    let (status, _, body) = curl(s(&["-H", &key_header, "--data-binary", "refused", &url])).await;
    assert_eq!(status, 200, "{body}");
    assert!(srv.pulse.messages().contains(&"refused".to_string()));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_posts_a_gzip_json_array() {
    let srv = server(1 << 20).await;
    let url = srv.url("/jsons");
    let script = r#"
import gzip, json, sys, urllib.request, urllib.error
url, key = sys.argv[1], sys.argv[2]
events = [{"message": "py-%d" % i, "observer": {"id": i}} for i in range(250)]
events.append("not an object")
req = urllib.request.Request(url, data=gzip.compress(json.dumps(events).encode()), method="POST",
    headers={"Authorization": "Bearer " + key, "Content-Encoding": "gzip", "Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    print(r.status, r.read().decode())
try:
    urllib.request.urlopen(urllib.request.Request(url, data=b"[]", method="POST", headers={"X-Intake-Key": "nope"}))
    print("accepted a wrong key")
except urllib.error.HTTPError as e:
    print(e.code)
"#;
    let url2 = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", script, &url2, KEY])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("200 {\"received\":250,\"rejected\":1}"));
    assert_eq!(lines.next(), Some("401"));
    assert_eq!(srv.pulse.count(), 250);
    let ev = srv.pulse.events.lock().unwrap()[249].1.clone();
    assert_eq!(ev.message, "py-249");
    assert_eq!(
        Value::Object(ev.fields.unwrap()),
        json!({"observer": {"id": 249}})
    );
    assert_eq!(srv.pulse.dead.lock().unwrap()[0].raw, b"\"not an object\"");
    srv.stop().await;
}

#[test]
fn key_errors_name_the_source_not_the_secret() {
    let config = |keys| HttpIntakeSourceConfig {
        format: "f".into(),
        dead_letter: None,
        address: "127.0.0.1:0".into(),
        keys,
        max_body_bytes: 10,
        max_pending_requests: 1,
        header_timeout_secs: 1,
    };
    let missing = config(vec![IntakeKeyConfig {
        key_file: None,
        key_env: Some("INTAKE_TEST_SURELY_UNSET_VARIABLE".into()),
        format: None,
    }]);
    let e = format!("{:#}", missing.validate().unwrap_err());
    assert!(e.contains("INTAKE_TEST_SURELY_UNSET_VARIABLE"), "{e}");
    let both = config(vec![IntakeKeyConfig {
        key_file: Some("/k".into()),
        key_env: Some("HOME".into()),
        format: None,
    }]);
    assert!(
        both.validate()
            .unwrap_err()
            .to_string()
            .contains("exactly one")
    );
    assert!(config(vec![]).validate().is_err());
    let store = KeyStore::load(&config(vec![IntakeKeyConfig {
        key_file: None,
        key_env: Some("HOME".into()),
        format: None,
    }]))
    .unwrap();
    assert!(!format!("{store:?}").contains(&std::env::var("HOME").unwrap()));
}
