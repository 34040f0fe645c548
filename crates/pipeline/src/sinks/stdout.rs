//! The `stdout` sink: NDJSON on standard output.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::component::{Sink, SinkConfig, SinkInput};
use crate::internal_events::{SinkDelivered, SinkFailed};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}

#[async_trait]
impl SinkConfig for StdoutSinkConfig {
    async fn build(&self, name: Arc<str>) -> anyhow::Result<Box<dyn Sink>> {
        Ok(Box::new(StdoutSink { name }))
    }
}

struct StdoutSink {
    name: Arc<str>,
}

#[async_trait]
impl Sink for StdoutSink {
    async fn run(self: Box<Self>, input: SinkInput) -> anyhow::Result<()> {
        let SinkInput { mut rx, .. } = input;
        let name = self.name;
        tokio::task::spawn_blocking(move || {
            while let Some(d) = rx.blocking_recv() {
                let started = Instant::now();
                let mut out = std::io::stdout().lock();
                match out.write_all(&d.batch.ndjson).and_then(|_| out.flush()) {
                    Ok(()) => {
                        SinkDelivered {
                            sink: &name,
                            events: d.batch.count,
                            bytes: d.batch.ndjson.len(),
                            seconds: started.elapsed().as_secs_f64(),
                        }
                        .emit();
                        d.ack.accept();
                    }
                    Err(e) => {
                        SinkFailed {
                            sink: &name,
                            events: d.batch.count,
                            reason: &format!("cannot write to stdout: {e}"),
                        }
                        .emit();
                        d.ack.reject();
                    }
                }
            }
        })
        .await?;
        Ok(())
    }
}
