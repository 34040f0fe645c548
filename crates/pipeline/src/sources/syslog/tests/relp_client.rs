//! A RELP client written from the protocol description, to check acknowledgements.

use super::*;

async fn open(port: u16) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let offer = "relp_version=0\nrelp_software=test\ncommands=syslog";
    s.write_all(format!("1 open {} {offer}\n", offer.len()).as_bytes())
        .await
        .unwrap();
    let reply = read_reply(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(
        reply.starts_with(b"1 rsp "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    (s, reply)
}

/// Reads whatever the server has sent within `wait` (None if nothing).
async fn read_reply(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

fn syslog_frame(txnr: u64, record: &str) -> Vec<u8> {
    format!("{txnr} syslog {} {record}\n", record.len()).into_bytes()
}

#[tokio::test]
async fn relp_acknowledges_only_after_delivery() {
    let c = Collector::new();
    c.block(true);
    let (port, cancel, h) = start(config(Transport::Relp), c.clone()).await;
    let (mut s, _) = open(port).await;
    for (txnr, m) in [(2, "alpha"), (3, "beta"), (4, "gamma")] {
        s.write_all(&syslog_frame(
            txnr,
            &format!("<134>2026-12-05T01:00:00Z h PulseSecure: {m}"),
        ))
        .await
        .unwrap();
    }
    // Blocked pipeline: no acknowledgement yet.
    assert_eq!(read_reply(&mut s, Duration::from_millis(500)).await, None);
    c.block(false);
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("4 rsp") {
        got.extend(
            read_reply(&mut s, Duration::from_secs(5))
                .await
                .expect("no ack"),
        );
    }
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp 6 200 OK\n"
    );
    assert_eq!(c.messages(), ["alpha", "beta", "gamma"]);
    let events = c.events.lock().unwrap().clone();
    let d = events[0].1.defaults.as_ref().unwrap();
    assert_eq!(syslog_field(d, "syslog.hostname"), &json!("h"));
    assert_eq!(syslog_field(d, "syslog.appname"), &json!("PulseSecure"));
    assert!(events[0].0.starts_with("syslog+relp://"));
    s.write_all(b"5 close 0\n").await.unwrap();
    let r = read_reply(&mut s, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r, b"5 rsp 6 200 OK\n");
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn relp_refused_delivery_leaves_frames_unacknowledged() {
    let c = Collector::new();
    c.refuse.store(true, Ordering::SeqCst);
    let (port, cancel, h) = start(config(Transport::Relp), c.clone()).await;
    let (mut s, _) = open(port).await;
    s.write_all(&syslog_frame(2, "<13>lost?")).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .expect("connection left open")
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rest).contains("2 rsp"),
        "acknowledged: {rest:?}"
    );
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn relp_overlong_frame_is_dead_lettered_then_acknowledged() {
    let c = Collector::new();
    let mut cfg = config(Transport::Relp);
    cfg.max_event_bytes = 50;
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let (mut s, _) = open(port).await;
    s.write_all(&syslog_frame(2, &format!("<13>{}", "q".repeat(400))))
        .await
        .unwrap();
    s.write_all(&syslog_frame(3, "<13>fine")).await.unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("3 rsp") {
        got.extend(
            read_reply(&mut s, Duration::from_secs(5))
                .await
                .expect("no ack"),
        );
    }
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "2 rsp 6 200 OK\n3 rsp 6 200 OK\n"
    );
    c.wait_for(1, 1, 5).await;
    assert_eq!(c.messages(), ["fine"]);
    let dead = c.dead.lock().unwrap()[0].clone();
    assert!(
        dead.reason.contains("RELP syslog frame 2"),
        "{}",
        dead.reason
    );
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn relp_protocol_error_closes_with_serverclose() {
    let c = Collector::new();
    let (port, cancel, h) = start(config(Transport::Relp), c.clone()).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"1 syslog 4 <13>x\n").await.unwrap(); // before open
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"0 serverclose 0\n");
    assert_eq!(c.count(), 0);
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn relp_over_tls() {
    let pki = Pki::new();
    let c = Collector::new();
    let mut cfg = config(Transport::Relp);
    cfg.tls = Some(pki.server_tls(true));
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut s = pki.connector(true).connect(name, tcp).await.unwrap();
    let offer = "relp_version=0\nrelp_software=test\ncommands=syslog";
    let mut wire = format!("1 open {} {offer}\n", offer.len()).into_bytes();
    wire.extend(syslog_frame(2, "<13>1 - h app - - - over tls"));
    s.write_all(&wire).await.unwrap();
    s.flush().await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("2 rsp 6 200 OK\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(c.messages(), ["over tls"]);
    assert!(
        c.events.lock().unwrap()[0]
            .0
            .starts_with("syslog+relp+tls://")
    );
    cancel.cancel();
    drop(s);
    h.await.unwrap();
}
