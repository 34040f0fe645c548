//! The `stdin` source: one event per line of standard input, until its end.

use async_trait::async_trait;

use crate::ack::AckRef;
use crate::component::{Source, SourceBuild, SourceConfig, SourceContext};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSourceConfig {}

#[async_trait]
impl SourceConfig for StdinSourceConfig {
    async fn build(&self, cx: &SourceBuild) -> anyhow::Result<Box<dyn Source>> {
        Ok(Box::new(StdinSource {
            max_event_bytes: cx.common.max_event_bytes,
        }))
    }
}

struct StdinSource {
    max_event_bytes: usize,
}

#[async_trait]
impl Source for StdinSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> anyhow::Result<()> {
        let max = self.max_event_bytes;
        let handle = tokio::runtime::Handle::current();
        // A blocking read of stdin cannot be cancelled: the runtime does not wait for it.
        let task = tokio::task::spawn_blocking(move || {
            let _guard = handle.enter();
            let reader: Box<dyn std::io::Read + Send> = Box::new(std::io::stdin());
            let options = super::StreamOptions {
                max_event_bytes: max,
                plain: false,
                context: None,
                rewriter: None,
                abort: &cx.abort,
            };
            super::read_stream(reader, "stdin".into(), options, &cx.output, &AckRef::none())
        });
        match task.await? {
            Ok(stats) => tracing::info!(lines = stats.lines, "end of standard input"),
            Err(e) => tracing::error!("standard input: {e}"),
        }
        Ok(())
    }
}
