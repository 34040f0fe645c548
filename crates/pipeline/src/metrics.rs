//! Process-wide counters and gauges, rendered in the Prometheus text format, and the
//! small HTTP endpoint that serves them (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Every metric intake exposes: name, type, help.
const CATALOG: &[(&str, &str, &str)] = &[
    (
        "intake_sqs_messages_received_total",
        "counter",
        "SQS messages received.",
    ),
    (
        "intake_sqs_messages_deleted_total",
        "counter",
        "SQS messages deleted after every event they named was delivered.",
    ),
    (
        "intake_sqs_messages_retained_total",
        "counter",
        "SQS messages left in the queue for redelivery after a failure.",
    ),
    (
        "intake_sqs_visibility_extensions_total",
        "counter",
        "Visibility timeout extensions of in-flight SQS messages.",
    ),
    (
        "intake_sqs_lag_seconds",
        "gauge",
        "Age of the last SQS message received, at reception.",
    ),
    (
        "intake_s3_objects_total",
        "counter",
        "S3 objects read to the end.",
    ),
    (
        "intake_s3_object_errors_total",
        "counter",
        "S3 objects that could not be read (missing, corrupt, access denied).",
    ),
    (
        "intake_s3_bytes_total",
        "counter",
        "Bytes read from S3 (as stored, before decompression).",
    ),
    (
        "intake_events_in_total",
        "counter",
        "Raw events read by a source.",
    ),
    (
        "intake_events_normalized_total",
        "counter",
        "Events normalized by a source's format.",
    ),
    (
        "intake_events_dead_lettered_total",
        "counter",
        "Events and messages sent to the dead letter, with their reason.",
    ),
    (
        "intake_events_out_total",
        "counter",
        "Events accepted by a sink.",
    ),
    (
        "intake_sink_retries_total",
        "counter",
        "Batches a sink retried.",
    ),
    (
        "intake_sink_errors_total",
        "counter",
        "Batches a sink failed to deliver.",
    ),
];

#[derive(Default)]
struct Registry {
    counters: Mutex<BTreeMap<(String, String), Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<(String, String), Arc<AtomicI64>>>,
}

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::default)
}

fn label_text(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s
}

/// A counter handle (cheap to clone, cache it rather than looking it up per event).
pub fn counter(name: &str, labels: &[(&str, &str)]) -> Arc<AtomicU64> {
    let key = (name.to_string(), label_text(labels));
    let mut map = registry()
        .counters
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(key).or_default().clone()
}

pub fn gauge(name: &str, labels: &[(&str, &str)]) -> Arc<AtomicI64> {
    let key = (name.to_string(), label_text(labels));
    let mut map = registry().gauges.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(key).or_default().clone()
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The current value of a counter (tests and logs).
pub fn value(name: &str, labels: &[(&str, &str)]) -> u64 {
    counter(name, labels).load(Ordering::Relaxed)
}

/// All metrics in the Prometheus text exposition format.
pub fn render() -> String {
    let reg = registry();
    let counters = reg.counters.lock().unwrap_or_else(|e| e.into_inner());
    let gauges = reg.gauges.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = String::new();
    for (name, kind, help) in CATALOG {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        let write = |out: &mut String, labels: &str, v: String| {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {v}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        };
        for ((n, labels), v) in counters.iter() {
            if n == name {
                write(&mut out, labels, v.load(Ordering::Relaxed).to_string());
            }
        }
        for ((n, labels), v) in gauges.iter() {
            if n == name {
                write(&mut out, labels, v.load(Ordering::Relaxed).to_string());
            }
        }
    }
    out
}

/// Serves `GET /metrics` on `address` until the task is dropped.
pub async fn serve(address: SocketAddr) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Request, Response, StatusCode};

    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("metrics endpoint {address}: {e}"))?;
    tracing::info!(%address, "metrics endpoint listening on /metrics");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let resp = if req.uri().path() == "/metrics" {
                            Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from(render())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(b"not found\n")))
                        };
                        Ok::<_, hyper::http::Error>(resp.unwrap_or_default())
                    });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_and_help() {
        let c = counter("intake_events_out_total", &[("sink", "t\"x")]);
        add(&c, 3);
        let text = render();
        assert!(text.contains("# TYPE intake_events_out_total counter"));
        assert!(
            text.contains("intake_events_out_total{sink=\"t\\\"x\"} 3"),
            "{text}"
        );
    }
}
