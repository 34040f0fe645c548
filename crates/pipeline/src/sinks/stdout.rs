//! The `stdout` sink: NDJSON on standard output.

use std::io::Write;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::event::Delivery;
use crate::metrics;

pub fn run(name: Arc<str>, mut rx: mpsc::Receiver<Delivery>) {
    let out_total = metrics::counter("intake_events_out_total", &[("sink", &name)]);
    let errors = metrics::counter("intake_sink_errors_total", &[("sink", &name)]);
    while let Some(d) = rx.blocking_recv() {
        let mut out = std::io::stdout().lock();
        match out.write_all(&d.batch.ndjson).and_then(|_| out.flush()) {
            Ok(()) => {
                metrics::add(&out_total, d.batch.count as u64);
                d.ack.accept();
            }
            Err(e) => {
                metrics::add(&errors, 1);
                tracing::error!(sink = %name, "cannot write to stdout: {e}");
            }
        }
    }
}
