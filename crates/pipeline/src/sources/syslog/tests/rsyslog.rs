//! rsyslog (run unprivileged with its own configuration and work directory) reading a
//! file of Pulse lines with imfile and forwarding it over TLS (omfwd + gtls) and RELP
//! (omrelp) to the listeners.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::*;

/// Pulse WELF lines of our own making, all different.
fn pulse_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "id=firewall time=\"2026-11-{:02} {:02}:{:02}:{:02}\" pri=6 fw=10.20.0.{} vpn=gw-east ivs=Default Network user=user{i} realm=\"Staff\" roles=\"Employees\" proto=auth src=198.51.100.{} dst= dstname= type=vpn op= arg=\"\" result= sent= rcvd= agent=\"\" duration= msg=\"AUT24414: Agent login succeeded for user{i}/Staff from 198.51.100.{} (seq {i})\"",
                1 + i % 28,
                i % 24,
                i % 60,
                (i / 60) % 60,
                1 + i % 200,
                i % 250,
                i % 250,
            )
        })
        .collect()
}

struct Rsyslog {
    child: Child,
    _dir: PathBuf,
}

impl Rsyslog {
    /// Starts `rsyslogd -n` with `body` after a prologue that reads `input` with imfile.
    fn start(dir: &Path, input: &Path, globals: &str, action: &str) -> Rsyslog {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" {globals})
module(load="imfile" mode="polling" PollingInterval="1")
module(load="omrelp")
input(type="imfile" File="{input}" Tag="PulseSecure:" Facility="local0" Severity="info" ruleset="fwd")
ruleset(name="fwd") {{
  {action}
}}
"#,
                work = work.display(),
                input = input.display(),
            ),
        )
        .unwrap();
        let check = Command::new("rsyslogd")
            .args(["-N1", "-f"])
            .arg(&conf)
            .output()
            .expect(
                "rsyslogd must be installed (apt-get install rsyslog rsyslog-gnutls rsyslog-relp)",
            );
        assert!(
            check.status.success(),
            "rsyslog configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Rsyslog {
            child,
            _dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
}

/// Every line arrived exactly as written, with rsyslog's header as `log.syslog.*`, and
/// normalizes through the Pulse format.
fn check_arrivals(c: &Collector, lines: &[String], scheme: &str) {
    let events = c.events.lock().unwrap().clone();
    let got: HashSet<&str> = events.iter().map(|(_, e)| e.message.as_str()).collect();
    for l in lines {
        assert!(got.contains(l.as_str()), "missing line: {l}");
    }
    let format = intake_formats::builtin("pulse-connect-secure").unwrap();
    let now = chrono::Utc::now();
    for (origin, e) in &events {
        assert!(origin.starts_with(scheme), "{origin}");
        let d = e.defaults.as_ref().unwrap();
        assert_eq!(syslog_field(d, "syslog.appname"), &json!("PulseSecure"));
        assert_eq!(syslog_field(d, "syslog.facility.code"), &json!(16));
        assert_eq!(syslog_field(d, "syslog.severity.code"), &json!(6));
        assert!(syslog_field(d, "syslog.hostname").is_string());
        assert!(
            syslog_field(d, "source.address")
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        let mut input = intake_engine::Map::with_capacity(1);
        input.insert("message", intake_engine::Value::from(e.message.as_str()));
        let normalized = format.parse(input, now);
        assert!(normalized.is_ok(), "not normalized: {}", e.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let c = Collector::new();
    let mut cfg = config(Transport::Tcp);
    cfg.tls = Some(pki.server_tls(true));
    let (port, cancel, h) = start(cfg, c.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pulse.log");
    let lines = pulse_lines(500);
    write_lines(&input, &lines);
    let globals = format!(
        r#"DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{}" DefaultNetstreamDriverCertFile="{}" DefaultNetstreamDriverKeyFile="{}""#,
        pki.path("ca.pem").display(),
        pki.path("client.pem").display(),
        pki.path("client.key").display()
    );
    let action = format!(
        r#"action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid" TCP_Framing="octet-counted")"#
    );
    let _rsyslog = Rsyslog::start(dir.path(), &input, &globals, &action);
    c.wait_for(lines.len(), 0, 60).await;
    check_arrivals(&c, &lines, "syslog+tls://");
    cancel.cancel();
    h.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_relp() {
    let c = Collector::new();
    let (port, cancel, h) = start(config(Transport::Relp), c.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pulse.log");
    let lines = pulse_lines(2000);
    write_lines(&input, &lines);
    let action = format!(r#"action(type="omrelp" target="127.0.0.1" port="{port}")"#);
    let _rsyslog = Rsyslog::start(dir.path(), &input, "", &action);
    c.wait_for(lines.len(), 0, 60).await;
    check_arrivals(&c, &lines, "syslog+relp://");
    cancel.cancel();
    h.await.unwrap();
}

// ------------------------------------------------ RELP across a SIGKILL of the receiver

const CHILD_ENV: &str = "INTAKE_TEST_RELP_CHILD";

/// A `Deliver` standing for the file sink: every accepted message is written to the file
/// before `deliver` returns, so what the child acknowledged survives its death.
struct FileDeliver(std::sync::Mutex<std::fs::File>);

#[async_trait::async_trait]
impl crate::sources::deliver::Deliver for FileDeliver {
    async fn deliver(&self, _origin: &str, events: Vec<crate::sources::deliver::Incoming>) -> bool {
        let mut out = Vec::new();
        for e in events {
            out.extend_from_slice(e.message.as_bytes());
            out.push(b'\n');
        }
        self.0.lock().unwrap().write_all(&out).is_ok()
    }
    async fn dead_letter(&self, _origin: &str, _reason: String, _raw: Vec<u8>) -> bool {
        false
    }
}

/// The receiver run as a child process by `relp_survives_sigkill_of_the_receiver`.
#[tokio::test]
#[ignore = "run as a child process by relp_survives_sigkill_of_the_receiver"]
async fn relp_child_receiver() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (port, out) = spec.split_once(',').unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let mut cfg = config(Transport::Relp);
    cfg.address = format!("127.0.0.1:{port}");
    let listener = Listener::bind("child", cfg).await.unwrap();
    listener
        .serve(
            Arc::new(FileDeliver(std::sync::Mutex::new(file))),
            CancellationToken::new(),
        )
        .await;
}

fn spawn_child(port: u16, out: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sources::syslog::tests::rsyslog::relp_child_receiver",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{port},{}", out.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn received(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn relp_survives_sigkill_of_the_receiver() {
    let total = 100_000;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received.txt");
    let input = dir.path().join("pulse.log");
    let lines = pulse_lines(total);
    write_lines(&input, &lines);
    let mut child = spawn_child(port, &out);
    std::thread::sleep(Duration::from_millis(500));
    let action = format!(
        r#"action(type="omrelp" target="127.0.0.1" port="{port}" queue.type="LinkedList" queue.size="200000" action.resumeRetryCount="-1" action.resumeInterval="1")"#
    );
    let _rsyslog = Rsyslog::start(dir.path(), &input, "", &action);
    // Kill the receiver while lines are flowing.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while received(&out).len() < total / 5 {
        assert!(std::time::Instant::now() < deadline, "nothing arrives");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = received(&out).len();
    assert!(
        at_kill < total,
        "all lines arrived before the kill: test proves nothing"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let mut child = spawn_child(port, &out);
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let want: HashSet<&str> = lines.iter().map(String::as_str).collect();
    loop {
        let got = received(&out);
        let got: HashSet<&str> = got.iter().map(String::as_str).collect();
        if want.is_subset(&got) {
            eprintln!(
                "RELP across SIGKILL: killed after {at_kill} lines; {} lines received for {total} distinct",
                received(&out).len()
            );
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "after the restart {} of {total} distinct lines arrived (killed at {at_kill})",
                want.intersection(&got).count()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
}
