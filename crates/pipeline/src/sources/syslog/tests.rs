//! The listeners driven by real senders (`logger`, raw sockets, a TLS client, a RELP
//! client) against a collecting `Deliver`.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::sources::deliver::testing::Collector;

pub(super) fn config(transport: Transport) -> SyslogSourceConfig {
    SyslogSourceConfig {
        format: "pulse-connect-secure".into(),
        dead_letter: None,
        transport,
        address: "127.0.0.1:0".into(),
        max_event_bytes: 4096,
        max_connections: 16,
        idle_timeout_secs: 30,
        udp_queue: 1024,
        tls: None,
    }
}

/// Starts a listener; returns its port and the token that stops it.
pub(super) async fn start(
    config: SyslogSourceConfig,
    collector: Arc<Collector>,
) -> (u16, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = Listener::bind("test", config).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(listener.serve(collector, cancel.clone()));
    (port, cancel, handle)
}

fn logger(port: u16, args: &[&str], message: &str) {
    let status = Command::new("logger")
        .args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .arg(message)
        .status()
        .expect("logger (util-linux) must be installed");
    assert!(status.success(), "logger {args:?} failed");
}

fn syslog_field<'a>(defaults: &'a serde_json::Map<String, Value>, path: &str) -> &'a Value {
    let mut v = defaults.get("log").expect("log");
    for part in path.split('.') {
        v = v.get(part).unwrap_or(&Value::Null);
    }
    v
}

#[tokio::test]
async fn udp_logger_rfc3164_and_rfc5424() {
    let c = Collector::new();
    let (port, cancel, h) = start(config(Transport::Udp), c.clone()).await;
    logger(
        port,
        &[
            "--udp",
            "--rfc3164",
            "-t",
            "PulseSecure",
            "-p",
            "local0.info",
        ],
        "first over udp",
    );
    logger(
        port,
        &[
            "--udp",
            "--rfc5424",
            "-t",
            "vpn",
            "-p",
            "auth.warning",
            "--msgid",
            "M7",
        ],
        "second over udp",
    );
    c.wait_for(2, 0, 10).await;
    let events = c.events.lock().unwrap().clone();
    let first = events
        .iter()
        .find(|(_, e)| e.message == "first over udp")
        .expect("3164");
    let d = first.1.defaults.as_ref().unwrap();
    assert_eq!(syslog_field(d, "syslog.appname"), &json!("PulseSecure"));
    assert_eq!(syslog_field(d, "syslog.facility.code"), &json!(16));
    assert_eq!(syslog_field(d, "syslog.severity.code"), &json!(6));
    assert!(
        syslog_field(d, "source.address")
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(first.0.starts_with("syslog+udp://"));
    let second = events
        .iter()
        .find(|(_, e)| e.message == "second over udp")
        .expect("5424");
    let d = second.1.defaults.as_ref().unwrap();
    assert_eq!(syslog_field(d, "syslog.appname"), &json!("vpn"));
    assert_eq!(syslog_field(d, "syslog.msgid"), &json!("M7"));
    assert_eq!(syslog_field(d, "syslog.facility.code"), &json!(4));
    assert_eq!(syslog_field(d, "syslog.severity.code"), &json!(4));
    // logger adds its timeQuality element to RFC 5424 messages.
    assert!(syslog_field(d, "syslog.structured_data.timeQuality").is_object());
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn tcp_logger_newline_and_octet_counting() {
    let c = Collector::new();
    let (port, cancel, h) = start(config(Transport::Tcp), c.clone()).await;
    logger(
        port,
        &["--tcp", "--rfc3164", "-t", "app"],
        "newline framed 3164",
    );
    logger(
        port,
        &["--tcp", "--rfc5424", "-t", "app"],
        "newline framed 5424",
    );
    logger(
        port,
        &[
            "--tcp",
            "--octet-count",
            "--rfc5424",
            "-t",
            "app",
            "--id=99",
        ],
        "octet counted\nwith a newline inside",
    );
    logger(
        port,
        &["--tcp", "--octet-count", "--rfc3164", "-t", "app"],
        "octet counted 3164",
    );
    c.wait_for(4, 0, 10).await;
    let mut messages = c.messages();
    messages.sort();
    assert_eq!(
        messages,
        [
            "newline framed 3164",
            "newline framed 5424",
            "octet counted\nwith a newline inside",
            "octet counted 3164",
        ]
    );
    let events = c.events.lock().unwrap().clone();
    let counted = events
        .iter()
        .find(|(_, e)| e.message.starts_with("octet counted\n"))
        .unwrap();
    assert_eq!(
        syslog_field(counted.1.defaults.as_ref().unwrap(), "syslog.procid"),
        &json!("99")
    );
    assert!(counted.0.starts_with("syslog+tcp://127.0.0.1:"));
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn overlong_frame_is_dead_lettered_and_the_connection_survives() {
    let c = Collector::new();
    let mut cfg = config(Transport::Tcp);
    cfg.max_event_bytes = 100;
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let long = format!("<13>{}\n", "z".repeat(5000));
    s.write_all(b"<13>before\n").await.unwrap();
    s.write_all(long.as_bytes()).await.unwrap();
    s.write_all(b"<13>after\n").await.unwrap();
    c.wait_for(2, 1, 10).await;
    assert_eq!(c.messages(), ["before", "after"]);
    let dead = c.dead.lock().unwrap()[0].clone();
    assert!(
        dead.reason.contains("max_event_bytes (100)"),
        "{}",
        dead.reason
    );
    assert!(dead.reason.contains("127.0.0.1:"), "{}", dead.reason);
    assert!(dead.raw.starts_with(b"<13>zzz") && dead.raw.len() <= framing::PREVIEW_BYTES);
    cancel.cancel();
    drop(s);
    h.await.unwrap();
}

#[tokio::test]
async fn non_utf8_record_is_dead_lettered() {
    let c = Collector::new();
    let (port, cancel, h) = start(config(Transport::Tcp), c.clone()).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"<13>bad \xff\xfe bytes\n<13>good\n")
        .await
        .unwrap();
    c.wait_for(1, 1, 10).await;
    assert_eq!(c.messages(), ["good"]);
    let dead = c.dead.lock().unwrap()[0].clone();
    assert!(dead.reason.contains("not UTF-8"));
    assert_eq!(dead.raw, b"<13>bad \xff\xfe bytes");
    cancel.cancel();
    drop(s);
    h.await.unwrap();
}

#[tokio::test]
async fn tcp_stops_reading_while_the_pipeline_is_blocked() {
    let c = Collector::new();
    c.block(true);
    let (port, cancel, h) = start(config(Transport::Tcp), c.clone()).await;
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let line = format!("<13>{}\n", "p".repeat(200));
    let total_lines = 200_000; // ~40 MB: far more than socket buffers hold
    let (written_tx, written_rx) = tokio::sync::watch::channel(0usize);
    let writer = tokio::spawn(async move {
        let mut s = s;
        for i in 0..total_lines {
            s.write_all(line.as_bytes()).await.unwrap();
            if i % 1000 == 0 {
                written_tx.send_replace(i);
            }
        }
        s.shutdown().await.unwrap();
        written_tx.send_replace(total_lines);
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stalled_at = *written_rx.borrow();
    assert!(
        stalled_at < total_lines / 2,
        "sender was not held back: {stalled_at}"
    );
    assert_eq!(c.count(), 0);
    c.block(false);
    c.wait_for(total_lines, 0, 60).await;
    writer.await.unwrap();
    assert_eq!(c.count(), total_lines);
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn tcp_connection_closed_when_the_pipeline_refuses() {
    let c = Collector::new();
    c.refuse.store(true, Ordering::SeqCst);
    let (port, cancel, h) = start(config(Transport::Tcp), c.clone()).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"<13>refused\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection stayed open");
    assert_eq!(c.count(), 0);
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test]
async fn max_connections_and_idle_timeout() {
    crate::metrics::install();
    let c = Collector::new();
    let mut cfg = config(Transport::Tcp);
    cfg.max_connections = 1;
    cfg.idle_timeout_secs = 1;
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let mut first = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    first.write_all(b"<13>one\n").await.unwrap();
    c.wait_for(1, 0, 5).await;
    // The second connection is closed at once.
    let mut second = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buf))
        .await
        .expect("second connection left open")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        crate::metrics::value(
            "intake_syslog_connections_refused_total",
            &[("source", "test")]
        ) >= 1
    );
    // The first one is closed when idle for a second.
    let n = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf))
        .await
        .expect("idle connection left open")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // Its slot is free again.
    let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    third.write_all(b"<13>three\n").await.unwrap();
    c.wait_for(2, 0, 5).await;
    cancel.cancel();
    drop(third);
    h.await.unwrap();
}

#[tokio::test]
async fn udp_overflow_is_counted() {
    crate::metrics::install();
    let c = Collector::new();
    c.block(true);
    let mut cfg = config(Transport::Udp);
    cfg.udp_queue = 4;
    let listener = Listener::bind("udp-overflow", cfg).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cancel = CancellationToken::new();
    let h = tokio::spawn(listener.serve(c.clone(), cancel.clone()));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..200 {
        sock.send_to(format!("<13>n{i}").as_bytes(), ("127.0.0.1", port))
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    let dropped = || {
        crate::metrics::value(
            "intake_syslog_udp_dropped_total",
            &[("source", "udp-overflow")],
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while dropped() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped() > 0);
    c.block(false);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Every datagram was either delivered or counted as dropped (the kernel may drop some
    // before they reach the socket; none may vanish between the socket and the pipeline).
    assert!(c.count() as u64 + dropped() <= 200);
    assert!(c.count() >= 4);
    cancel.cancel();
    h.await.unwrap();
}

// ---------------------------------------------------------------- TLS

pub(super) struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=intake test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
            ),
            ("client", "extendedKeyUsage=clientAuth"),
        ] {
            std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
            run(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ]);
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn server_tls(&self, client_auth: bool) -> TlsConfig {
        TlsConfig {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: client_auth.then(|| self.path("ca.pem")),
        }
    }

    fn connector(&self, with_client_cert: bool) -> tokio_rustls::TlsConnector {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.path("ca.pem")).unwrap())
            .unwrap();
        let b = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let chain = vec![CertificateDer::from_pem_file(self.path("client.pem")).unwrap()];
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        } else {
            b.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

#[tokio::test]
async fn tls_with_client_certificates() {
    let pki = Pki::new();
    let c = Collector::new();
    let mut cfg = config(Transport::Tcp);
    cfg.tls = Some(pki.server_tls(true));
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();

    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut tls = pki
        .connector(true)
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    let record = "<13>1 - h app - - - secret";
    tls.write_all(format!("{} {record}", record.len()).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    c.wait_for(1, 0, 10).await;
    assert_eq!(c.messages(), ["secret"]);
    assert!(c.events.lock().unwrap()[0].0.starts_with("syslog+tls://"));

    // Without a client certificate nothing gets through.
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let attempt = async {
        let mut tls = pki.connector(false).connect(name, tcp).await?;
        tls.write_all(b"<13>intruder\n").await?;
        tls.flush().await?;
        let mut b = [0u8; 1];
        tls.read(&mut b).await
    };
    assert!(
        attempt.await.is_err(),
        "a client without certificate was served"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.messages(), ["secret"]);
    cancel.cancel();
    drop(tls);
    h.await.unwrap();
}

#[test]
fn validate_names_the_problem() {
    let mut cfg = config(Transport::Udp);
    cfg.address = "not an address".into();
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("not an address")
    );
    let mut cfg = config(Transport::Tcp);
    cfg.tls = Some(TlsConfig {
        cert_file: "/nonexistent/cert.pem".into(),
        key_file: "/nonexistent/key.pem".into(),
        client_ca_file: None,
    });
    assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("/nonexistent/cert.pem"));
    let mut cfg = config(Transport::Udp);
    cfg.tls = config(Transport::Tcp).tls.or(Some(TlsConfig {
        cert_file: "c".into(),
        key_file: "k".into(),
        client_ca_file: None,
    }));
    assert!(cfg.validate().unwrap_err().to_string().contains("UDP"));
    let parsed: Result<SyslogSourceConfig, _> = toml::from_str(
        "format = \"x\"\ntransport = \"tcp\"\naddress = \"127.0.0.1:1\"\nbogus = 1\n",
    );
    assert!(parsed.unwrap_err().to_string().contains("bogus"));
}

#[tokio::test]
async fn healthcheck_reports_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config(Transport::Tcp);
    cfg.address = taken.local_addr().unwrap().to_string();
    assert!(cfg.healthcheck().await.is_err());
    drop(taken);
    assert!(cfg.healthcheck().await.unwrap().contains("tcp"));
}

mod relp_client;
mod rsyslog;
