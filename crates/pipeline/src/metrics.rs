//! Metrics: the `metrics` facade, recorded by the Prometheus exporter and served by
//! a small HTTP endpoint (`GET /metrics`). What is counted is defined in one place,
//! `internal_events.rs`, where each internal event both logs and counts.

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            crate::internal_events::describe();
            Some(handle)
        })
        .as_ref()
}

/// All metrics in the Prometheus text exposition format.
pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

/// The current value of a counter or gauge with exactly these labels (tests, logs).
pub fn value(name: &str, labels: &[(&str, &str)]) -> u64 {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let text = render();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, number) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once("} ") {
                Some((l, n)) => (l, n),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(n) => ("", n),
                None => continue,
            },
        };
        let mut found: Vec<&str> = if label_text.is_empty() {
            vec![]
        } else {
            label_text.split(',').collect()
        };
        found.sort_unstable();
        let mut wanted: Vec<&str> = labels.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        if found == wanted {
            return number.trim().parse::<f64>().map_or(0, |v| v as u64);
        }
    }
    0
}

/// Serves `GET /metrics` on `address` until the task is dropped.
pub async fn serve(address: SocketAddr) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Request, Response, StatusCode};

    install();
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
    fn counts_are_rendered_and_read_back() {
        install();
        crate::internal_events::SinkDelivered {
            sink: "t\"x",
            events: 3,
            bytes: 10,
            seconds: 0.01,
        }
        .emit();
        let text = render();
        assert!(
            text.contains("# TYPE intake_events_out_total counter"),
            "{text}"
        );
        assert_eq!(value("intake_events_out_total", &[("sink", "t\\\"x")]), 3);
        assert!(
            text.contains("intake_sink_request_seconds_bucket"),
            "{text}"
        );
    }
}
