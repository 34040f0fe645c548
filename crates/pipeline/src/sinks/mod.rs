//! Sinks: each runs as one task reading its bounded input queue, and accepts a
//! delivery's acknowledgement claim only once the batch is written or sent.

pub mod file;
pub mod http;
pub mod stdout;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::SinkConfig;
use crate::event::Delivery;
use crate::shutdown::Signal;

/// Batches waiting in a sink's queue (each at most a few hundred events).
pub const QUEUE_CAPACITY: usize = 8;

/// Starts a sink. It ends once every sender of its queue is gone and the queue is drained.
pub fn spawn(
    name: Arc<str>,
    config: &SinkConfig,
    rx: mpsc::Receiver<Delivery>,
    abort: Signal,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(match config {
        SinkConfig::File(c) => {
            let sink = file::FileSink::new(name, c);
            tokio::task::spawn_blocking(move || sink.run(rx))
        }
        SinkConfig::Stdout(_) => tokio::task::spawn_blocking(move || stdout::run(name, rx)),
        SinkConfig::Http(c) => {
            let sink = http::HttpSink::new(name, c)?;
            tokio::spawn(sink.run(rx, abort))
        }
    })
}
