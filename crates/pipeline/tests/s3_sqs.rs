//! End-to-end tests of the `aws_s3_sqs` source against a real moto_server.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use intake_pipeline::{Config, topology};
use tokio_util::sync::CancellationToken;

struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn start(config_text: &str) -> Running {
    intake_pipeline::init_logging(false);
    let config = Config::from_toml(config_text).unwrap_or_else(|e| panic!("{e}\n{config_text}"));
    let stop = CancellationToken::new();
    let task = tokio::spawn(topology::run(config, topology::until(stop.clone())));
    Running { stop, task }
}

fn source_toml(moto: &Moto, aws: &Aws, format: &str, extra: &str) -> String {
    format!(
        r#"
shutdown_timeout_secs = 10
[sources.flows]
type = "aws_s3_sqs"
queue_url = "{queue}"
region = "{REGION}"
endpoint_url = "{endpoint}"
access_key_id = "testing"
secret_access_key = "testing"
format = "{format}"
dead_letter = "rejects"
wait_time_secs = 1
visibility_timeout_secs = 30
{extra}
"#,
        queue = aws.queue_url,
        endpoint = moto.endpoint,
    )
}

fn file_sinks(dir: &Path) -> String {
    format!(
        r#"
[sinks.archive]
type = "file"
inputs = ["flows"]
path = "{dir}/flows-%Y-%m-%d.ndjson"

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
        dir = dir.display()
    )
}

/// `bytes` values seen in the archive (and, while the format cannot parse yet, in
/// the dead letter with the format's reason).
fn delivered(dir: &Path, strict: bool) -> Vec<u64> {
    let mut events = read_events(dir, "flows-");
    if !strict {
        events.extend(
            read_events(dir, "rejects")
                .into_iter()
                .filter(|e| e.get("message").is_some() && e.pointer("/intake/line").is_some()),
        );
    }
    events.iter().filter_map(bytes_of).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_kind_and_notification_shape() {
    let Some(moto) = moto() else { return };
    let aws = Aws::new(&moto.endpoint, "flowlogs", "flows").await;
    let format = flow_format();
    let strict = format != "raw";
    let dir = tempfile::tempdir().unwrap();

    // 1. gzipped v2 object with its header (two gzip members), direct notification.
    let mut text = format!("{V2_HEADER}\n");
    for b in 1000..1100 {
        text.push_str(&v2_line(b));
        text.push('\n');
    }
    let mut gz = gzip(&text);
    gz.extend(gzip(&format!("{}\n", v2_line(1100))));
    aws.put("AWSLogs/123456789010/vpcflowlogs/v2.log.gz", gz)
        .await;
    aws.send(s3_event(
        "flowlogs",
        "AWSLogs/123456789010/vpcflowlogs/v2.log.gz",
    ))
    .await;

    // 2. custom layout (non-default order, v5 and v8 fields), plain, SNS envelope.
    let custom = "srcaddr dstaddr action bytes version account-id interface-id flow-direction traffic-path reject-reason pkt-src-aws-service start end";
    let mut text = format!("{custom}\n");
    for b in 2000..2010 {
        text.push_str(&format!(
            "10.0.0.1 10.0.0.2 REJECT {b} 8 012345678901 eni-1 ingress 1 - S3 1700000000 1700000060\n"
        ));
    }
    aws.put("custom/custom.log", text.into_bytes()).await;
    aws.send(sns_envelope(&s3_event("flowlogs", "custom/custom.log")))
        .await;

    // 3. Parquet, SNS raw message delivery (the S3 event as is).
    let pq = parquet_object(&[
        (5, "012345678901", "1.2.3.4", Some(443), 3000, "ACCEPT"),
        (5, "012345678901", "1.2.3.5", None, 3001, "REJECT"),
    ]);
    aws.put("parquet/flows.parquet", pq).await;
    aws.send(s3_event("flowlogs", "parquet/flows.parquet"))
        .await;

    // 4. zstd v5 29-field layout, EventBridge.
    let v5_header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";
    let mut text = format!("{v5_header}\n");
    for b in 4000..4005 {
        text.push_str(&format!("5 123456789010 eni-1 5.6.7.8 1.2.3.4 50188 4433 6 1 {b} 1739865042 1739865042 ACCEPT OK vpc-1 subnet-1 - 2 IPv4 5.6.7.8 1.2.3.4 eu-west-1 euw1-az2 - - - - ingress -\n"));
    }
    aws.put(
        "zstd/flows.log.zst",
        zstd::encode_all(text.as_bytes(), 3).unwrap(),
    )
    .await;
    aws.send(eventbridge_event("flowlogs", "zstd/flows.log.zst"))
        .await;

    // 5. a key with spaces and '+', headerless default layout.
    let key = "odd keys/flow logs+2024.log";
    aws.put(
        key,
        format!("{}\n{}\n", v2_line(5000), v2_line(5001)).into_bytes(),
    )
    .await;
    aws.send(s3_event("flowlogs", key)).await;

    // 6. s3:TestEvent and something that is not a notification at all.
    aws.send(test_event("flowlogs")).await;
    aws.send("hello, I am not a notification".to_string()).await;

    let expected: BTreeSet<u64> = (1000..=1100)
        .chain(2000..2010)
        .chain([3000, 3001])
        .chain(4000..4005)
        .chain([5000, 5001])
        .collect();

    let running = start(&(source_toml(&moto, &aws, format, "") + &file_sinks(dir.path())));
    eventually(120, "every record delivered and the queue empty", || {
        let seen: BTreeSet<u64> = delivered(dir.path(), strict).into_iter().collect();
        let aws = &aws;
        let done = seen == expected;
        async move { done && aws.messages_left().await == 0 }
    })
    .await;
    running.stop().await;

    let events = read_events(dir.path(), "flows-");
    // The header never arrives.
    for e in events
        .iter()
        .chain(read_events(dir.path(), "rejects").iter())
    {
        let m = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
        assert!(!m.starts_with("version "), "header emitted: {m}");
    }
    let all = delivered(dir.path(), strict);
    assert_eq!(all.len(), expected.len(), "each record exactly once here");
    // Custom layouts arrive as JSON records with underscores, numbers as numbers, '-' left out.
    let rejects = read_events(dir.path(), "rejects");
    let pool: Vec<&serde_json::Value> = events.iter().chain(rejects.iter()).collect();
    let custom_event = pool
        .iter()
        .find(|e| bytes_of(e) == Some(2000))
        .expect("custom record");
    let record: serde_json::Value =
        serde_json::from_str(custom_event["message"].as_str().unwrap()).unwrap();
    assert_eq!(record["account_id"], "012345678901");
    assert_eq!(record["version"], 8);
    assert_eq!(record["traffic_path"], 1);
    assert!(record.get("reject_reason").is_none());
    let parquet_event = pool.iter().find(|e| bytes_of(e) == Some(3001)).unwrap();
    let record: serde_json::Value =
        serde_json::from_str(parquet_event["message"].as_str().unwrap()).unwrap();
    assert_eq!(record["version"], 5);
    assert!(record.get("srcport").is_none());
    // v2 / v5 lines go as raw text.
    let v5_event = pool.iter().find(|e| bytes_of(e) == Some(4000)).unwrap();
    assert!(
        v5_event["message"]
            .as_str()
            .unwrap()
            .starts_with("5 123456789010 eni-1 ")
    );
    if strict {
        for e in &events {
            assert_eq!(
                e.pointer("/cloud/provider"),
                Some(&serde_json::json!("aws")),
                "not normalized: {e}"
            );
            if bytes_of(e) != Some(3000) && bytes_of(e) != Some(3001) {
                // Every fixture but the Parquet one has start/end times.
                assert!(e.get("@timestamp").is_some(), "no @timestamp: {e}");
            }
        }
    }
    // The non-notification went to the dead letter with its message id.
    let not_notification = rejects
        .iter()
        .find(|e| e["message"] == "hello, I am not a notification")
        .expect("non-notification dead-lettered");
    assert!(
        not_notification["intake"]["sqs_message_id"]
            .as_str()
            .is_some()
    );
    assert!(
        not_notification["intake"]["reason"]
            .as_str()
            .unwrap()
            .contains("not a notification")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_missing_objects_are_reported_and_the_rest_delivered() {
    let Some(moto) = moto() else { return };
    let aws = Aws::new(&moto.endpoint, "flowlogs", "flows").await;
    let format = flow_format();
    let strict = format != "raw";
    let dir = tempfile::tempdir().unwrap();

    let mut lines = String::new();
    for b in 0..3000 {
        lines.push_str(&v2_line(10_000 + b));
        lines.push('\n');
    }
    let gz = gzip(&lines);
    aws.put("bad/corrupt.log.gz", gz[..gz.len() / 2].to_vec())
        .await;
    aws.put(
        "good/ok.log.gz",
        gzip(&format!("{V2_HEADER}\n{}\n", v2_line(7))),
    )
    .await;
    aws.send(s3_event("flowlogs", "bad/corrupt.log.gz")).await;
    aws.send(s3_event("flowlogs", "missing/nothing-here.log.gz"))
        .await;
    aws.send(s3_event("flowlogs", "good/ok.log.gz")).await;

    let running = start(&(source_toml(&moto, &aws, format, "") + &file_sinks(dir.path())));
    eventually(
        120,
        "good object delivered, errors reported, queue empty",
        || {
            let seen = delivered(dir.path(), strict);
            let rejects = read_events(dir.path(), "rejects");
            let reported = |k: &str| {
                rejects.iter().any(|e| {
                    e["intake"]["origin"]
                        .as_str()
                        .is_some_and(|o| o.ends_with(k))
                        && e.get("message").is_none()
                })
            };
            let ok = seen.contains(&7)
                && reported("bad/corrupt.log.gz")
                && reported("missing/nothing-here.log.gz");
            let aws = &aws;
            async move { ok && aws.messages_left().await == 0 }
        },
    )
    .await;
    running.stop().await;
    let rejects = read_events(dir.path(), "rejects");
    let corrupt = rejects
        .iter()
        .find(|e| {
            e.get("message").is_none()
                && e["intake"]["origin"] == "s3://flowlogs/bad/corrupt.log.gz"
        })
        .unwrap();
    assert!(
        corrupt["intake"]["reason"]
            .as_str()
            .unwrap()
            .contains("gzip"),
        "{corrupt}"
    );
    let missing = rejects
        .iter()
        .find(|e| e["intake"]["origin"] == "s3://flowlogs/missing/nothing-here.log.gz")
        .unwrap();
    assert!(
        missing["intake"]["reason"]
            .as_str()
            .unwrap()
            .contains("no such object")
    );
}

/// A local HTTP endpoint that answers 503 until told to recover, then keeps bodies.
struct Endpoint {
    url: String,
    healthy: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
    bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

async fn endpoint() -> Endpoint {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let healthy = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, f, b) = (healthy.clone(), failures.clone(), bodies.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (h, f, b) = (h.clone(), f.clone(), b.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (h, f, b) = (h.clone(), f.clone(), b.clone());
                        async move {
                            let key = req.headers().get("x-intake-key").cloned();
                            let gz = req
                                .headers()
                                .get("content-encoding")
                                .is_some_and(|v| v == "gzip");
                            let data = req
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let status = if key.as_ref().is_none_or(|k| k != "secret") {
                                400
                            } else if !h.load(Ordering::SeqCst) {
                                f.fetch_add(1, Ordering::SeqCst);
                                503
                            } else {
                                let mut text = String::new();
                                if gz {
                                    std::io::Read::read_to_string(
                                        &mut flate2::read::GzDecoder::new(&data[..]),
                                        &mut text,
                                    )
                                    .unwrap();
                                } else {
                                    text = String::from_utf8_lossy(&data).into_owned();
                                }
                                let docs: Vec<serde_json::Value> =
                                    serde_json::from_str(&text).unwrap();
                                b.lock().unwrap().extend(docs);
                                200
                            };
                            let resp = hyper::Response::builder()
                                .status(status)
                                .body(http_body_util::Full::new(hyper::body::Bytes::from_static(
                                    b"{}",
                                )))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Endpoint {
        url,
        healthy,
        failures,
        bodies,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sink_down_then_recovered_nothing_deleted_meanwhile() {
    let Some(moto) = moto() else { return };
    let aws = Aws::new(&moto.endpoint, "flowlogs", "flows").await;
    // Raw: this test is about delivery, not normalization.
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint().await;
    let mut text = format!("{V2_HEADER}\n");
    for b in 0..1200 {
        text.push_str(&v2_line(b));
        text.push('\n');
    }
    aws.put("a.log.gz", gzip(&text)).await;
    aws.put("b.log", v2_line(5000).into_bytes()).await;
    aws.send(s3_event("flowlogs", "a.log.gz")).await;
    aws.send(s3_event("flowlogs", "b.log")).await;

    // Metrics are process-wide and tests run in parallel: this test's source has a
    // name of its own, so its counters are its own.
    let config = source_toml(&moto, &aws, "raw", "visibility_timeout_secs = 2")
        .replace("visibility_timeout_secs = 30\n", "")
        .replace("[sources.flows]", "[sources.flows_503]")
        + &format!(
            r#"
[sinks.siem_503]
type = "http"
inputs = ["flows_503"]
uri = "{url}"
headers = {{ "x-intake-key" = "secret" }}
compression = "gzip"
retry_initial_backoff_ms = 100
retry_max_backoff_secs = 1

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
            url = ep.url,
            dir = dir.path().display()
        );
    let running = start(&config);
    let deleted = || {
        intake_pipeline::metrics::value(
            "intake_sqs_messages_deleted_total",
            &[("source", "flows_503")],
        )
    };
    let deleted_before = deleted();
    // Failing: retried, and the messages stay in flight (their visibility is extended
    // past the 2 s timeout, so they are not received twice).
    eventually(60, "several failed attempts", || {
        let n = ep.failures.load(Ordering::SeqCst);
        async move { n >= 6 }
    })
    .await;
    assert_eq!(
        aws.messages_left().await,
        2,
        "nothing deleted while the sink fails"
    );
    assert_eq!(deleted(), deleted_before);
    assert!(ep.bodies.lock().unwrap().is_empty());
    ep.healthy.store(true, Ordering::SeqCst);
    eventually(120, "every event delivered and the queue empty", || {
        let seen: BTreeSet<u64> = ep
            .bodies
            .lock()
            .unwrap()
            .iter()
            .filter_map(bytes_of)
            .collect();
        let aws = &aws;
        async move { seen.len() == 1201 && aws.messages_left().await == 0 }
    })
    .await;
    running.stop().await;
    assert!(
        intake_pipeline::metrics::value("intake_sink_retries_total", &[("sink", "siem_503")]) >= 6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_4xx_goes_to_the_dead_letter_not_a_retry_loop() {
    let Some(moto) = moto() else { return };
    let aws = Aws::new(&moto.endpoint, "flowlogs", "flows").await;
    let dir = tempfile::tempdir().unwrap();
    let ep = endpoint().await;
    aws.put(
        "c.log",
        format!("{}\n{}\n", v2_line(1), v2_line(2)).into_bytes(),
    )
    .await;
    aws.send(s3_event("flowlogs", "c.log")).await;
    let config = source_toml(&moto, &aws, "raw", "")
        + &format!(
            r#"
[sinks.siem]
type = "http"
inputs = ["flows"]
uri = "{url}"
headers = {{ "x-intake-key" = "wrong" }}

[sinks.rejects]
type = "file"
path = "{dir}/rejects.ndjson"
"#,
            url = ep.url,
            dir = dir.path().display()
        );
    let running = start(&config);
    eventually(60, "batch dead-lettered, queue empty", || {
        let n = read_events(dir.path(), "rejects").len();
        let aws = &aws;
        async move { n == 2 && aws.messages_left().await == 0 }
    })
    .await;
    running.stop().await;
    let rejects = read_events(dir.path(), "rejects");
    assert!(
        rejects[0]["intake"]["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 400")
    );
    assert_eq!(ep.failures.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_auth_through_sts() {
    let Some(moto) = moto() else { return };
    let aws = Aws::new(&moto.endpoint, "flowlogs", "flows").await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpbnRha2UifQ.c2ln\n").unwrap();
    let role = "arn:aws:iam::123456789012:role/intake-collector";

    // The provider itself: temporary credentials from STS.
    let provider = intake_pipeline::aws::WebIdentityProvider::new(
        REGION,
        Some(&moto.endpoint),
        role.into(),
        token.clone(),
        None,
    );
    let creds = provider.assume().await.unwrap();
    assert!(!creds.access_key_id().is_empty());
    assert!(creds.session_token().is_some());
    assert!(creds.expiry().is_some());

    // And the whole collector with it.
    aws.put("w.log", format!("{}\n", v2_line(77)).into_bytes())
        .await;
    aws.send(s3_event("flowlogs", "w.log")).await;
    let config = source_toml(&moto, &aws, "raw", "").replace(
        "access_key_id = \"testing\"\nsecret_access_key = \"testing\"",
        &format!(
            "role_arn = \"{role}\"\nweb_identity_token_file = \"{}\"",
            token.display()
        ),
    ) + &file_sinks(dir.path());
    let running = start(&config);
    eventually(60, "delivered with web identity credentials", || {
        let seen = delivered(dir.path(), true);
        let aws = &aws;
        async move { seen == vec![77] && aws.messages_left().await == 0 }
    })
    .await;
    running.stop().await;
}

#[test]
fn validate_online_reaches_the_queue() {
    let Some(moto) = moto() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::new(&moto.endpoint, "flowlogs", "flows"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intake.toml");
    std::fs::write(
        &path,
        source_toml(&moto, &aws, "raw", "") + &file_sinks(dir.path()),
    )
    .unwrap();
    let report = intake_pipeline::validate_file(&path, true).unwrap();
    assert!(
        report.iter().any(|l| l.contains("queue reachable")),
        "{report:?}"
    );
    // A queue that does not exist is reported.
    let bad = source_toml(&moto, &aws, "raw", "").replace("/flows\"", "/nope\"")
        + &file_sinks(dir.path());
    std::fs::write(&path, bad).unwrap();
    assert!(intake_pipeline::validate_file(&path, true).is_err());
}
