//! The Azure flow log source against a real Azurite (blob service emulator), started by
//! each test on a free port. Azurite is found through `AZURITE_BLOB` (the path of
//! `azurite-blob`) or on PATH: `npm install --prefix <dir> azurite@3.35.0`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use intake_pipeline::sources::azure_blob::client::{Auth, BlobClient};
use intake_pipeline::sources::azure_blob::{
    AzureBlobSource, AzureBlobSourceConfig, Deliver, Incoming,
};
use tokio_util::sync::CancellationToken;

/// Azurite's published development account.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const NSG: &str = "insights-logs-networksecuritygroupflowevent";
const VNET: &str = "insights-logs-flowlogflowevent";

struct Azurite {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn azurite_command() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("AZURITE_BLOB") {
        return Some(p.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("azurite-blob"))
            .find(|p| p.is_file())
    })
}

/// Starts Azurite, or returns `None` (loudly) when it is not installed.
fn azurite() -> Option<Azurite> {
    let Some(cmd) = azurite_command() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "azurite-blob not found (set AZURITE_BLOB or npm install azurite@3.35.0)"
        );
        eprintln!("\n!!!!!!!! SKIPPED: azurite-blob not found (AZURITE_BLOB or PATH) !!!!!!!!\n");
        return None;
    };
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(cmd)
        .args([
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting azurite-blob");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "azurite did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Azurite {
        child,
        endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
        _dir: dir,
    })
}

fn client(az: &Azurite) -> BlobClient {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap();
    BlobClient::new(&az.endpoint, ACCOUNT, Auth::SharedKey(key)).unwrap()
}

fn config(az: &Azurite, checkpoints: &str, extra: &str) -> AzureBlobSourceConfig {
    let text = format!(
        r#"
account = "{ACCOUNT}"
account_key = "{KEY}"
endpoint = "{}"
containers = ["{NSG}", "{VNET}"]
format = "auto"
checkpoints = "{checkpoints}"
poll_interval_secs = 1
{extra}
"#,
        az.endpoint
    );
    toml::from_str(&text).unwrap()
}

/// A test pipeline: collects what it is given, can refuse, or hang.
#[derive(Default)]
struct Collect {
    events: Mutex<Vec<(String, String, String)>>,
    dead: Mutex<Vec<(String, String)>>,
    refuse: AtomicBool,
    /// Accepted batches before every later one hangs (a pipeline stuck when killed).
    hang_after: Mutex<Option<usize>>,
    batches: AtomicUsize,
    delay: Mutex<Duration>,
}

struct Target {
    format: &'static str,
    sink: Arc<Collect>,
}

#[async_trait::async_trait]
impl Deliver for Target {
    async fn deliver(&self, origin: &str, events: Vec<Incoming>) -> bool {
        let delay = *self.sink.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.sink.refuse.load(Ordering::SeqCst) {
            return false;
        }
        let n = self.sink.batches.fetch_add(1, Ordering::SeqCst);
        if self
            .sink
            .hang_after
            .lock()
            .unwrap()
            .is_some_and(|limit| n >= limit)
        {
            std::future::pending::<()>().await;
        }
        let mut all = self.sink.events.lock().unwrap();
        for e in events {
            all.push((self.format.to_string(), origin.to_string(), e.message));
        }
        true
    }

    async fn dead_letter(&self, origin: &str, reason: String, raw: Vec<u8>) -> bool {
        assert!(reason.contains(origin), "{reason} names {origin}");
        self.sink
            .dead
            .lock()
            .unwrap()
            .push((reason, String::from_utf8(raw).unwrap()));
        true
    }
}

fn targets(sink: &Arc<Collect>) -> HashMap<String, Arc<dyn Deliver>> {
    ["azure-nsg-flow-logs", "azure-vnet-flow-logs"]
        .into_iter()
        .map(|f| {
            (
                f.to_string(),
                Arc::new(Target {
                    format: f,
                    sink: sink.clone(),
                }) as Arc<dyn Deliver>,
            )
        })
        .collect()
}

fn nsg_name(n: u32, hour: u32) -> String {
    format!(
        "resourceId=/SUBSCRIPTIONS/5C1D0E2F-0000-4A4B-8C8D-000000000001/RESOURCEGROUPS/WEB-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG-{n}/y=2026/m=02/d=11/h={hour:02}/m=00/macAddress=00155D0A0B{n:02}/PT1H.json"
    )
}

fn vnet_name(n: u32, hour: u32) -> String {
    format!(
        "flowLogResourceID=/5C1D0E2F-0000-4A4B-8C8D-000000000001_NETWORKWATCHERRG/NETWORKWATCHER_NORTHEUROPE_APP-VNET-FLOWLOG-{n}/y=2026/m=02/d=11/h={hour:02}/m=00/macAddress=00155D0A0C{n:02}/PT1H.json"
    )
}

/// An NSG record with `tuples` (version 1: 8 fields; version 2: 13).
fn nsg_record(version: u32, rule: &str, tuples: &[String]) -> String {
    serde_json::json!({
        "time": "2026-02-11T09:14:05.2730000Z",
        "systemId": "2b7c9e10-6a1f-4c55-9d33-1f0e8a7b6c5d",
        "macAddress": "00155D0A0B01",
        "category": "NetworkSecurityGroupFlowEvent",
        "resourceId": "/SUBSCRIPTIONS/5C1D0E2F-0000-4A4B-8C8D-000000000001/RESOURCEGROUPS/WEB-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG-1",
        "operationName": "NetworkSecurityGroupFlowEvents",
        "properties": {"Version": version, "flows": [
            {"rule": rule, "flows": [{"mac": "00155D0A0B01", "flowTuples": tuples}]}
        ]}
    })
    .to_string()
}

fn vnet_record(tuples: &[String]) -> String {
    serde_json::json!({
        "time": "2026-02-11T09:20:44.1180000Z",
        "flowLogVersion": 4,
        "flowLogGUID": "0c9d8e7f-1a2b-4c3d-8e9f-a0b1c2d3e4f5",
        "macAddress": "00155D0A0C01",
        "category": "FlowLogFlowEvent",
        "flowLogResourceID": "/SUBSCRIPTIONS/5C1D0E2F-0000-4A4B-8C8D-000000000001/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_NORTHEUROPE/FLOWLOGS/APP-VNET-FLOWLOG",
        "targetResourceID": "/subscriptions/5c1d0e2f-0000-4a4b-8c8d-000000000001/resourceGroups/app-rg/providers/Microsoft.Network/virtualNetworks/app-vnet",
        "operationName": "FlowLogFlowEvent",
        "flowRecords": {"flows": [{"aclID": "61f0a2b3-c4d5-4e6f-8a7b-9c0d1e2f3a4b", "flowGroups": [
            {"rule": "DefaultRule_AllowInternetOutBound", "flowTuples": tuples}
        ]}]}
    })
    .to_string()
}

fn v2_tuple(i: u32) -> String {
    format!(
        "{},10.1.0.{},198.51.100.{},{},443,T,O,A,C,{},{},{},{}",
        1770801245 + i,
        i % 250 + 1,
        i % 200 + 1,
        40000 + i % 20000,
        i % 9 + 1,
        (i % 9 + 1) * 120,
        i % 5,
        (i % 5) * 1500
    )
}

fn vnet_tuple(i: u32) -> String {
    format!(
        "{},10.2.0.{},203.0.113.{},{},8443,6,O,C,NX,{},{},{},{}",
        1770801644000u64 + i as u64,
        i % 250 + 1,
        i % 200 + 1,
        50000 + i % 10000,
        i % 7 + 1,
        (i % 7 + 1) * 64,
        i % 3,
        (i % 3) * 900
    )
}

/// Writes a blob as Azure does: a header block, one block per record, a footer block,
/// committed as one list (`records` of them, `closed` adds the footer).
async fn commit(c: &BlobClient, container: &str, name: &str, records: &[String], closed: bool) {
    c.put_block(
        container,
        name,
        "h-000000",
        Bytes::from_static(b"{\"records\":["),
    )
    .await
    .unwrap();
    let mut ids = vec!["h-000000".to_string()];
    for (i, r) in records.iter().enumerate() {
        let id = format!("b-{i:06}");
        let body = if i == 0 { r.clone() } else { format!(",{r}") };
        c.put_block(container, name, &id, Bytes::from(body))
            .await
            .unwrap();
        ids.push(id);
    }
    if closed {
        c.put_block(container, name, "t-000000", Bytes::from_static(b"]}"))
            .await
            .unwrap();
        ids.push("t-000000".into());
    }
    c.put_block_list(container, name, &ids).await.unwrap();
}

fn now() -> intake_engine::Timestamp {
    chrono::Utc::now()
}

fn normalize(format: &str, message: &str) -> serde_json::Value {
    let f = intake_formats::builtin(format).unwrap();
    let v = f.parse_message(message, now()).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&intake_engine::json::to_json_string(&v)).unwrap();
    v.as_object_mut().unwrap().remove("message");
    v
}

fn tuples_of(sink: &Collect) -> Vec<String> {
    sink.events
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, m)| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            v["flow.0"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn setup(az: &Azurite) -> BlobClient {
    let c = client(az);
    c.create_container(NSG).await.unwrap();
    c.create_container(VNET).await.unwrap();
    c
}

#[tokio::test]
async fn nsg_v1_v2_and_vnet_v4_blobs_give_every_tuple_normalized() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let v1: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{},10.1.0.9,192.0.2.{},5{i}000,22,T,I,D",
                1770801245 + i,
                i + 1
            )
        })
        .collect();
    let v2: Vec<String> = (0..40).map(v2_tuple).collect();
    let vnet: Vec<String> = (0..25).map(vnet_tuple).collect();
    commit(
        &c,
        NSG,
        &nsg_name(1, 9),
        &[nsg_record(1, "UserRule_DenySsh", &v1)],
        true,
    )
    .await;
    commit(
        &c,
        NSG,
        &nsg_name(2, 9),
        &[
            nsg_record(2, "DefaultRule_AllowInternetOutBound", &v2[..15]),
            nsg_record(2, "DefaultRule_AllowInternetOutBound", &v2[15..]),
        ],
        true,
    )
    .await;
    commit(&c, VNET, &vnet_name(1, 9), &[vnet_record(&vnet)], true).await;

    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(
        config(&az, dir.path().to_str().unwrap(), ""),
        targets(&sink),
    )
    .unwrap();
    let stats = src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(stats.events, 3 + 40 + 25);

    let events = sink.events.lock().unwrap().clone();
    let mut want: Vec<String> = v1.iter().chain(&v2).chain(&vnet).cloned().collect();
    let mut got = tuples_of(&sink);
    want.sort();
    got.sort();
    assert_eq!(got, want);

    for (format, origin, message) in &events {
        let raw: serde_json::Value = serde_json::from_str(message).unwrap();
        let tuple = raw["flow.0"].as_str().unwrap();
        let event = normalize(format, message);
        if vnet.iter().any(|t| t == tuple) {
            assert_eq!(format, "azure-vnet-flow-logs");
            assert!(origin.contains(VNET), "{origin}");
            let f: Vec<&str> = tuple.split(',').collect();
            assert_eq!(event["source"]["ip"], f[1]);
            assert_eq!(event["destination"]["port"], f[4].parse::<u64>().unwrap());
            assert_eq!(event["network"]["transport"], "tcp");
            assert_eq!(event["source"]["packets"], f[9].parse::<u64>().unwrap());
            assert_eq!(event["destination"]["bytes"], f[12].parse::<u64>().unwrap());
            assert_eq!(
                event["rule"]["ruleset"],
                "61f0a2b3-c4d5-4e6f-8a7b-9c0d1e2f3a4b"
            );
            assert_eq!(
                event["cloud"]["account"]["id"],
                "5c1d0e2f-0000-4a4b-8c8d-000000000001"
            );
        } else {
            assert_eq!(format, "azure-nsg-flow-logs");
            // The same tuple in the shape of the format's golden cases, normalized by
            // the same format as `intake parse --format azure-nsg-flow-logs` does.
            let version = raw["version"].as_str().unwrap();
            let golden_shape = serde_json::json!({
                "resourceId": "/SUBSCRIPTIONS/5C1D0E2F-0000-4A4B-8C8D-000000000001/RESOURCEGROUPS/WEB-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG-1",
                "macAddress": "00155D0A0B01",
                "flow.0": tuple,
                "rule": if version == "1" { "UserRule_DenySsh" } else { "DefaultRule_AllowInternetOutBound" },
                "operationName": "NetworkSecurityGroupFlowEvents",
                "time": "2026-02-11T09:14:05.2730000Z",
                "version": version,
            })
            .to_string();
            assert_eq!(
                event,
                normalize("azure-nsg-flow-logs", &golden_shape),
                "{tuple}"
            );
            assert!(event["source"]["ip"].is_string());
        }
    }
    // A second poll finds nothing new.
    let again = src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(again.events, 0);
    assert_eq!(sink.events.lock().unwrap().len(), 68);
}

#[tokio::test]
async fn a_blob_growing_block_by_block_gives_every_tuple_exactly_once() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let now = chrono::Utc::now();
    // The current hour: the blob is still being written.
    let name = format!(
        "resourceId=/SUBSCRIPTIONS/X/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/GROWING/y={}/m={}/d={}/h={}/m=00/macAddress=00155D0A0BFF/PT1H.json",
        now.format("%Y"),
        now.format("%m"),
        now.format("%d"),
        now.format("%H")
    );
    let records: Vec<String> = (0..6)
        .map(|r| {
            nsg_record(
                2,
                "R",
                &(r * 10..r * 10 + 10).map(v2_tuple).collect::<Vec<_>>(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(
        config(&az, dir.path().to_str().unwrap(), ""),
        targets(&sink),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    // Header only, then one record, then three, then six and the footer.
    for (n, closed) in [(0, false), (1, false), (3, false), (3, false), (6, true)] {
        commit(&c, NSG, &name, &records[..n], closed).await;
        src.poll_once(&cancel).await.unwrap();
        assert_eq!(tuples_of(&sink).len(), n * 10, "after {n} records");
    }
    src.poll_once(&cancel).await.unwrap();
    let mut got = tuples_of(&sink);
    got.sort();
    let mut want: Vec<String> = (0..60).map(v2_tuple).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_refused_batch_is_read_again_and_a_kill_duplicates_at_most_one_batch() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    // 20 records of 10 tuples, batches of 30 tuples (3 records).
    let records: Vec<String> = (0..20)
        .map(|r| {
            nsg_record(
                2,
                "R",
                &(r * 10..r * 10 + 10).map(v2_tuple).collect::<Vec<_>>(),
            )
        })
        .collect();
    commit(&c, NSG, &nsg_name(3, 10), &records, true).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = config(&az, dir.path().to_str().unwrap(), "batch_events = 30");

    // The pipeline refuses: nothing is acknowledged, nothing moves.
    let sink = Arc::new(Collect::default());
    sink.refuse.store(true, Ordering::SeqCst);
    let mut src = AzureBlobSource::new(conf.clone(), targets(&sink)).unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert!(sink.events.lock().unwrap().is_empty());
    drop(src);

    // The pipeline takes two batches and hangs on the third: the process is killed there.
    let first = Arc::new(Collect::default());
    *first.hang_after.lock().unwrap() = Some(2);
    let mut src = AzureBlobSource::new(conf.clone(), targets(&first)).unwrap();
    let run = tokio::spawn(async move {
        let _ = src.poll_once(&CancellationToken::new()).await;
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while first.batches.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the third batch never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    let _ = run.await;
    assert_eq!(tuples_of(&first).len(), 60);

    // Restarted on the same checkpoints: the rest arrives, starting after what was acknowledged.
    let second = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(conf, targets(&second)).unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    let mut all = tuples_of(&first);
    all.extend(tuples_of(&second));
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 200, "every tuple at least once");
    assert!(
        all.len() - unique.len() <= 30,
        "{} duplicates",
        all.len() - unique.len()
    );
    assert_eq!(tuples_of(&second).len(), 140);
}

#[tokio::test]
async fn two_instances_share_the_blobs_through_leases_and_account_checkpoints() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let mut want = Vec::new();
    for n in 0..8 {
        let tuples: Vec<String> = (n * 100..n * 100 + 30).map(v2_tuple).collect();
        want.extend(tuples.clone());
        commit(
            &c,
            NSG,
            &nsg_name(n, 11),
            &[nsg_record(2, "R", &tuples)],
            true,
        )
        .await;
    }
    let sinks: Vec<Arc<Collect>> = (0..2).map(|_| Arc::new(Collect::default())).collect();
    let mut tasks = Vec::new();
    for sink in &sinks {
        *sink.delay.lock().unwrap() = Duration::from_millis(150);
        let mut src = AzureBlobSource::new(config(&az, "azure", ""), targets(sink)).unwrap();
        tasks.push(tokio::spawn(async move {
            let cancel = CancellationToken::new();
            let mut leased = 0;
            for _ in 0..3 {
                leased += src.poll_once(&cancel).await.unwrap().leased_elsewhere;
            }
            leased
        }));
    }
    let mut leased_elsewhere = 0;
    for t in tasks {
        leased_elsewhere += t.await.unwrap();
    }
    let mut got: Vec<String> = sinks.iter().flat_map(|s| tuples_of(s)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every tuple exactly once here (no kill)");
    // No blob was read by both instances.
    let by_origin = |s: &Collect| -> std::collections::BTreeSet<String> {
        s.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, o, _)| o.clone())
            .collect()
    };
    let (a, b) = (by_origin(&sinks[0]), by_origin(&sinks[1]));
    assert!(a.is_disjoint(&b), "{a:?} and {b:?}");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both instances worked: {} / {}",
        a.len(),
        b.len()
    );
    assert!(leased_elsewhere > 0, "the instances met a lease");
    // The checkpoints are in the account.
    let meta = c
        .metadata("intake-checkpoints", &format!("{NSG}/{}", nsg_name(0, 11)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.get("finished").map(String::as_str),
        Some("true"),
        "{meta:?}"
    );
}

#[tokio::test]
async fn the_bandwidth_example_adds_up_across_begin_continue_and_end() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    // One TCP flow: its begin tuple has no counters, then two reports of the traffic
    // since the previous tuple (our own numbers in the shape of Microsoft's example).
    let tuples = vec![
        "1770801300,10.1.0.4,198.51.100.77,49822,443,T,O,A,B,,,,".to_string(),
        "1770801360,10.1.0.4,198.51.100.77,49822,443,T,O,A,C,41,20311,37,51230".to_string(),
        "1770801395,10.1.0.4,198.51.100.77,49822,443,T,O,A,E,12,3020,15,18844".to_string(),
    ];
    commit(
        &c,
        NSG,
        &nsg_name(9, 12),
        &[nsg_record(2, "R", &tuples)],
        true,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(
        config(&az, dir.path().to_str().unwrap(), ""),
        targets(&sink),
    )
    .unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    let events: Vec<serde_json::Value> = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|(f, _, m)| normalize(f, m))
        .collect();
    assert_eq!(events.len(), 3);
    let sum = |side: &str, what: &str| -> u64 {
        events.iter().filter_map(|e| e[side][what].as_u64()).sum()
    };
    assert_eq!(sum("source", "packets"), 41 + 12);
    assert_eq!(sum("source", "bytes"), 20311 + 3020);
    assert_eq!(sum("destination", "packets"), 37 + 15);
    assert_eq!(sum("destination", "bytes"), 51230 + 18844);
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["action"]["properties"][0]["FlowState"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["begin", "continue", "end"]);
}

#[tokio::test]
async fn unknown_versions_and_broken_bytes_go_to_the_dead_letter_with_the_record() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let good = nsg_record(2, "R", &[v2_tuple(1)]);
    let unknown = nsg_record(3, "R", &[v2_tuple(2)]);
    commit(&c, NSG, &nsg_name(20, 13), &[good, unknown.clone()], true).await;
    c.put_blob(
        NSG,
        &nsg_name(21, 13),
        Bytes::from_static(b"<html>not a flow log</html>"),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(
        config(&az, dir.path().to_str().unwrap(), ""),
        targets(&sink),
    )
    .unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(tuples_of(&sink), [v2_tuple(1)]);
    let dead = sink.dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let (reason, raw) = &dead.iter().find(|(r, _)| r.contains("version")).unwrap();
    assert!(reason.contains("unknown flow log version 3"), "{reason}");
    assert_eq!(raw, &unknown);
    let (reason, raw) = &dead
        .iter()
        .find(|(r, _)| r.contains("not a flow log"))
        .unwrap();
    assert!(reason.contains("byte 0"), "{reason}");
    assert_eq!(raw, "<html>not a flow log</html>");
    // Nothing is dead-lettered twice.
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(sink.dead.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_blob_rewritten_from_scratch_is_read_again_from_the_start() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let name = nsg_name(30, 14);
    let big: Vec<String> = (0..3)
        .map(|r| {
            nsg_record(
                2,
                "R",
                &(r * 10..r * 10 + 10).map(v2_tuple).collect::<Vec<_>>(),
            )
        })
        .collect();
    commit(&c, NSG, &name, &big, false).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(
        config(&az, dir.path().to_str().unwrap(), ""),
        targets(&sink),
    )
    .unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(tuples_of(&sink).len(), 30);
    // Replaced by a blob as long or longer, with other records.
    let other: Vec<String> = (0..4)
        .map(|r| {
            nsg_record(
                2,
                "S",
                &(500 + r * 10..500 + r * 10 + 10)
                    .map(v2_tuple)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    c.put_blob(
        NSG,
        &name,
        Bytes::from(format!("{{\"records\":[{}]}}", other.join(","))),
    )
    .await
    .unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    let got = tuples_of(&sink);
    assert_eq!(got.len(), 70);
    let mut want: Vec<String> = (0..30).chain(500..540).map(v2_tuple).collect();
    want.sort();
    let mut got = got;
    got.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_connection_string_and_a_wrong_key_are_told_apart() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    commit(
        &c,
        VNET,
        &vnet_name(2, 15),
        &[vnet_record(&[vnet_tuple(1)])],
        true,
    )
    .await;
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={};",
        az.endpoint
    );
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "connection_string = \"{cs}\"\ncontainers = [\"{VNET}\"]\nformat = \"azure-vnet-flow-logs\"\ncheckpoints = \"{}\"\n",
        dir.path().display()
    );
    let conf: AzureBlobSourceConfig = toml::from_str(&text).unwrap();
    let health = conf.healthcheck().await.unwrap();
    assert!(health.contains(VNET), "{health}");
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(conf, targets(&sink)).unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(tuples_of(&sink), [vnet_tuple(1)]);

    let wrong = "AAAA".repeat(22);
    let bad = config(&az, dir.path().to_str().unwrap(), "").clone();
    let bad = AzureBlobSourceConfig {
        account_key: Some(wrong.clone()),
        ..bad
    };
    let e = bad.healthcheck().await.unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
    assert!(!e.contains(&wrong) && !e.contains(KEY), "{e}");
}

/// A Deliver that normalizes every event to JSON on the spot, as the pipeline's
/// normalizer does, and counts them.
struct Normalizing {
    format: intake_engine::Format,
    out: Mutex<(usize, usize)>,
}

#[async_trait::async_trait]
impl Deliver for Normalizing {
    async fn deliver(&self, _origin: &str, events: Vec<Incoming>) -> bool {
        let mut buf = Vec::with_capacity(1 << 20);
        let mut n = 0;
        for e in &events {
            buf.clear();
            self.format
                .parse_message_json(&e.message, now(), &mut buf)
                .unwrap();
            n += 1;
        }
        let mut out = self.out.lock().unwrap();
        out.0 += n;
        out.1 += buf.len();
        true
    }
    async fn dead_letter(&self, _: &str, reason: String, _: Vec<u8>) -> bool {
        panic!("{reason}")
    }
}

/// The figure of the issue: a 60 MB PT1H.json in Azurite, every tuple normalized, against
/// normalizing the same raw events from a file (what `intake parse` does, one thread on
/// both sides). Run it in release:
/// `cargo test --release -p intake-pipeline --test azure_blob sixty -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement: 60 MB, run in release"]
async fn sixty_megabytes_of_nsg_v2_collected_against_parsing_a_file() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let mut records = Vec::new();
    let mut size = 0;
    let mut i = 0u32;
    while size < 60 << 20 {
        let tuples: Vec<String> = (i..i + 100).map(v2_tuple).collect();
        i += 100;
        let r = nsg_record(2, "DefaultRule_AllowInternetOutBound", &tuples);
        size += r.len() + 1;
        records.push(r);
    }
    let blob = format!("{{\"records\":[{}]}}", records.join(","));
    let name = nsg_name(40, 16);
    // Uploaded in 1 MiB blocks (Azure writes blocks too).
    let mut ids = Vec::new();
    for (k, chunk) in blob.as_bytes().chunks(1 << 20).enumerate() {
        let id = format!("p-{k:06}");
        c.put_block(NSG, &name, &id, Bytes::copy_from_slice(chunk))
            .await
            .unwrap();
        ids.push(id);
    }
    c.put_block_list(NSG, &name, &ids).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let format = || intake_formats::builtin("azure-nsg-flow-logs").unwrap();
    let sink = Arc::new(Normalizing {
        format: format(),
        out: Mutex::new((0, 0)),
    });
    let targets: HashMap<String, Arc<dyn Deliver>> = [(
        "azure-nsg-flow-logs".to_string(),
        sink.clone() as Arc<dyn Deliver>,
    )]
    .into();
    let conf = config(&az, dir.path().to_str().unwrap(), "");
    let conf = AzureBlobSourceConfig {
        format: "azure-nsg-flow-logs".into(),
        containers: vec![NSG.into()],
        ..conf
    };
    let mut src = AzureBlobSource::new(conf, targets).unwrap();
    let t = Instant::now();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    let collect = t.elapsed();
    let (events, _) = *sink.out.lock().unwrap();
    assert_eq!(events, i as usize);

    // The same raw events, one per line in a file, normalized the same way.
    let mut lines = String::new();
    for r in &records {
        for m in intake_pipeline::sources::azure_blob::records::split(r.as_bytes(), None)
            .unwrap()
            .messages
        {
            lines.push_str(&m);
            lines.push('\n');
        }
    }
    let file = dir.path().join("tuples.ndjson");
    std::fs::write(&file, &lines).unwrap();
    drop(lines);
    let f = format();
    let t = Instant::now();
    let text = std::fs::read_to_string(&file).unwrap();
    let mut buf = Vec::with_capacity(1 << 20);
    let mut n = 0;
    for line in text.lines() {
        buf.clear();
        f.parse_message_json(line, now(), &mut buf).unwrap();
        n += 1;
    }
    let parse = t.elapsed();
    assert_eq!(n, events);
    let ratio = parse.as_secs_f64() / collect.as_secs_f64();
    eprintln!(
        "60 MB blob ({} bytes, {events} tuples): collected and normalized in {collect:?} ({:.0} events/s); the same events from a file in {parse:?} ({:.0} events/s); collector speed = {:.0}% of the file's",
        blob.len(),
        events as f64 / collect.as_secs_f64(),
        events as f64 / parse.as_secs_f64(),
        ratio * 100.0
    );
    assert!(
        ratio >= 0.7,
        "the collector runs at {:.0}% of the file's speed",
        ratio * 100.0
    );
}

/// Appends every event to a file and syncs it before acknowledging: what a durable sink
/// does. Slowed down so that a kill lands in the middle of the blob.
struct FileSink {
    file: Mutex<std::fs::File>,
}

#[async_trait::async_trait]
impl Deliver for FileSink {
    async fn deliver(&self, _origin: &str, events: Vec<Incoming>) -> bool {
        use std::io::Write;
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut text = String::new();
        for e in &events {
            let v: serde_json::Value = serde_json::from_str(&e.message).unwrap();
            text.push_str(v["flow.0"].as_str().unwrap());
            text.push('\n');
        }
        let mut f = self.file.lock().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f.sync_data().unwrap();
        true
    }
    async fn dead_letter(&self, _: &str, reason: String, _: Vec<u8>) -> bool {
        panic!("{reason}")
    }
}

/// The collector process of the SIGKILL test (this test binary, run again by it).
/// Does nothing when run on its own.
#[tokio::test]
#[ignore = "run by sigkill_in_the_middle_of_a_blob_then_restart"]
async fn child_collector() {
    let (Ok(endpoint), Ok(checkpoints), Ok(out)) = (
        std::env::var("AZ_CHILD_ENDPOINT"),
        std::env::var("AZ_CHILD_CHECKPOINTS"),
        std::env::var("AZ_CHILD_OUT"),
    ) else {
        return;
    };
    let text = format!(
        "account = \"{ACCOUNT}\"\naccount_key = \"{KEY}\"\nendpoint = \"{endpoint}\"\ncontainers = [\"{NSG}\"]\nformat = \"auto\"\ncheckpoints = \"{checkpoints}\"\nbatch_events = 20\n"
    );
    let conf: AzureBlobSourceConfig = toml::from_str(&text).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let sink: Arc<dyn Deliver> = Arc::new(FileSink {
        file: Mutex::new(file),
    });
    let targets: HashMap<String, Arc<dyn Deliver>> = [
        ("azure-nsg-flow-logs".to_string(), sink.clone()),
        ("azure-vnet-flow-logs".to_string(), sink),
    ]
    .into();
    let mut src = AzureBlobSource::new(conf, targets).unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
}

#[tokio::test]
async fn sigkill_in_the_middle_of_a_blob_then_restart() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    let records: Vec<String> = (0..50)
        .map(|r| {
            nsg_record(
                2,
                "R",
                &(r * 10..r * 10 + 10).map(v2_tuple).collect::<Vec<_>>(),
            )
        })
        .collect();
    commit(&c, NSG, &nsg_name(50, 17), &records, true).await;
    let dir = tempfile::tempdir().unwrap();
    let out1 = dir.path().join("delivered-1.txt");
    let out2 = dir.path().join("delivered-2.txt");
    let child = |out: &std::path::Path| {
        Command::new(std::env::current_exe().unwrap())
            .args(["child_collector", "--exact", "--ignored", "--nocapture"])
            .env("AZ_CHILD_ENDPOINT", &az.endpoint)
            .env("AZ_CHILD_CHECKPOINTS", dir.path().join("checkpoints"))
            .env("AZ_CHILD_OUT", out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let lines = || {
        std::fs::read_to_string(&out1)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let mut first = child(&out1);
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines() < 150 {
        assert!(
            Instant::now() < deadline,
            "the first collector delivered {} tuples",
            lines()
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first collector ended early"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = lines();
    assert!(before < 500, "killed in the middle ({before} of 500)");

    let status = child(&out2).wait().unwrap();
    assert!(status.success());
    let mut text = std::fs::read_to_string(&out1).unwrap();
    // A line cut by the kill is not a delivered tuple (its batch was not acknowledged).
    if !text.ends_with('\n') {
        text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
    }
    text.push_str(&std::fs::read_to_string(&out2).unwrap());
    let all: Vec<&str> = text.lines().collect();
    let unique: std::collections::BTreeSet<&str> = all.iter().copied().collect();
    let want: std::collections::BTreeSet<String> = (0..500).map(v2_tuple).collect();
    let want: std::collections::BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(unique, want, "every tuple at least once");
    let duplicates = all.len() - unique.len();
    assert!(duplicates <= 20, "{duplicates} duplicates (batch of 20)");
    eprintln!("killed after {before} tuples; {duplicates} duplicates after the restart");
}

/// An account SAS (read and list on blobs), signed here with the development key.
fn account_sas() -> String {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let (sp, ss, srt, se, spr, sv) = (
        "rl",
        "b",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2019-12-12",
    );
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&b64.decode(KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = b64.encode(mac.finalize().into_bytes());
    let sig: String =
        percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={se}&spr=https%2Chttp&sig={sig}")
}

#[tokio::test]
async fn a_sas_token_reads_the_blobs() {
    let Some(az) = azurite() else { return };
    let c = setup(&az).await;
    commit(
        &c,
        NSG,
        &nsg_name(60, 18),
        &[nsg_record(2, "R", &[v2_tuple(7), v2_tuple(8)])],
        true,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sas = account_sas();
    let text = format!(
        "account = \"{ACCOUNT}\"\nsas_token = \"?{sas}\"\nendpoint = \"{}\"\ncontainers = [\"{NSG}\"]\nformat = \"auto\"\ncheckpoints = \"{}\"\n",
        az.endpoint,
        dir.path().display()
    );
    let conf: AzureBlobSourceConfig = toml::from_str(&text).unwrap();
    let sink = Arc::new(Collect::default());
    let mut src = AzureBlobSource::new(conf.clone(), targets(&sink)).unwrap();
    src.poll_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(tuples_of(&sink), [v2_tuple(7), v2_tuple(8)]);
    // A tampered signature is refused, and the error does not show the token.
    let bad = AzureBlobSourceConfig {
        sas_token: Some(sas.replace("sig=", "sig=AA")),
        ..conf
    };
    let e = bad.healthcheck().await.unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
    assert!(!e.contains("sig="), "{e}");
}
