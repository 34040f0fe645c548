//! The TOML configuration of `intake run`: named sources and named sinks.
//!
//! Unknown keys are refused (the error names the key and where it is), and the
//! cross-references (a sink's `inputs`, a source's `dead_letter`) are checked by
//! [`Config::check`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// How long in-flight work may take to finish after SIGINT/SIGTERM.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_secs: u64,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
}

fn default_shutdown_timeout() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Local address of the Prometheus endpoint (`GET /metrics`).
    pub address: SocketAddr,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // a handful, built once
pub enum SourceConfig {
    AwsS3Sqs(S3SqsConfig),
    File(FileSourceConfig),
    Stdin(StdinSourceConfig),
}

impl SourceConfig {
    pub fn format(&self) -> &str {
        match self {
            SourceConfig::AwsS3Sqs(c) => &c.format,
            SourceConfig::File(c) => &c.format,
            SourceConfig::Stdin(c) => &c.format,
        }
    }

    pub fn dead_letter(&self) -> Option<&str> {
        match self {
            SourceConfig::AwsS3Sqs(c) => c.dead_letter.as_deref(),
            SourceConfig::File(c) => c.dead_letter.as_deref(),
            SourceConfig::Stdin(c) => c.dead_letter.as_deref(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::AwsS3Sqs(_) => "aws_s3_sqs",
            SourceConfig::File(_) => "file",
            SourceConfig::Stdin(_) => "stdin",
        }
    }
}

/// Authentication and endpoint settings shared by the AWS clients.
#[derive(Debug, Clone, Default)]
pub struct AwsAuth {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
    pub role_session_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3SqsConfig {
    pub format: String,
    pub dead_letter: Option<String>,
    pub queue_url: String,
    pub region: String,
    /// Any S3/SQS/STS-compatible endpoint (moto, LocalStack, MinIO + ElasticMQ…).
    pub endpoint_url: Option<String>,
    /// Path-style S3 addressing; defaults to true when `endpoint_url` is set.
    pub force_path_style: Option<bool>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub role_arn: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
    pub role_session_name: Option<String>,
    /// Messages per ReceiveMessage call, 1 to 10.
    #[serde(default = "default_batch_size")]
    pub batch_size: i32,
    /// Long-poll wait, 0 to 20 seconds.
    #[serde(default = "default_wait_time")]
    pub wait_time_secs: i32,
    /// Messages processed at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Visibility timeout asked for on receive, and renewed while a message is worked on.
    #[serde(default = "default_visibility")]
    pub visibility_timeout_secs: i32,
    /// Only objects whose key starts with this prefix.
    pub key_prefix: Option<String>,
    /// Only objects whose key matches this glob pattern (`*` matches `/` too).
    pub key_pattern: Option<String>,
    /// Field names of headerless text objects (CloudWatch/Firehose exports).
    pub fields: Option<Vec<String>>,
}

fn default_batch_size() -> i32 {
    10
}
fn default_wait_time() -> i32 {
    20
}
fn default_concurrency() -> usize {
    4
}
fn default_visibility() -> i32 {
    300
}

impl S3SqsConfig {
    pub fn auth(&self) -> AwsAuth {
        AwsAuth {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
            role_arn: self.role_arn.clone(),
            web_identity_token_file: self.web_identity_token_file.clone(),
            role_session_name: self.role_session_name.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    pub format: String,
    pub dead_letter: Option<String>,
    /// Paths or glob patterns.
    pub paths: Vec<String>,
    /// Keep reading files as they grow (like `tail -F`), instead of reading them once.
    #[serde(default)]
    pub follow: bool,
    /// Field names of headerless flow-log files, in order (a header line still wins).
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSourceConfig {
    pub format: String,
    pub dead_letter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    File(FileSinkConfig),
    Stdout(StdoutSinkConfig),
    Http(HttpSinkConfig),
}

impl SinkConfig {
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkConfig::File(c) => &c.inputs,
            SinkConfig::Stdout(c) => &c.inputs,
            SinkConfig::Http(c) => &c.inputs,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Path, with strftime placeholders (`%Y-%m-%d`) taken from the UTC time of writing.
    pub path: String,
    /// Rotate when the current file reaches this many bytes (written, before compression).
    pub max_bytes: Option<u64>,
    /// Gzip the files.
    #[serde(default)]
    pub gzip: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    #[serde(default)]
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HttpEncoding {
    #[default]
    JsonArray,
    Ndjson,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    #[serde(default)]
    pub inputs: Vec<String>,
    pub uri: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub encoding: HttpEncoding,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default = "default_http_timeout")]
    pub timeout_secs: u64,
    /// Retries of a batch after a 408/429/5xx or a network error; unset = retry until
    /// delivered (or shutdown).
    pub max_retries: Option<u32>,
    #[serde(default = "default_initial_backoff")]
    pub retry_initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff")]
    pub retry_max_backoff_secs: u64,
}

fn default_http_timeout() -> u64 {
    30
}
fn default_initial_backoff() -> u64 {
    500
}
fn default_max_backoff() -> u64 {
    30
}

/// The special format name that skips normalization: events are `{"message": raw}`.
pub const RAW_FORMAT: &str = "raw";

impl Config {
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.check()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Config::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))
    }

    /// Checks everything that can be checked offline: references, ranges, auth combinations.
    pub fn check(&self) -> anyhow::Result<()> {
        use anyhow::bail;
        if self.sources.is_empty() {
            bail!("no [sources.NAME] defined");
        }
        if self.sinks.is_empty() {
            bail!("no [sinks.NAME] defined");
        }
        let mut fed: BTreeSet<&str> = BTreeSet::new();
        for (name, sink) in &self.sinks {
            for input in sink.inputs() {
                if !self.sources.contains_key(input) {
                    bail!("sinks.{name}: input {input:?} is not a source");
                }
                fed.insert(input);
            }
            match sink {
                SinkConfig::File(c) => check_path_template(&c.path)
                    .map_err(|e| anyhow::anyhow!("sinks.{name}.path: {e}"))?,
                SinkConfig::Http(c) => {
                    let url = reqwest::Url::parse(&c.uri)
                        .map_err(|e| anyhow::anyhow!("sinks.{name}.uri: {e}"))?;
                    if !matches!(url.scheme(), "http" | "https") {
                        bail!("sinks.{name}.uri: scheme must be http or https");
                    }
                    for (k, v) in &c.headers {
                        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                            || reqwest::header::HeaderValue::from_str(v).is_err()
                        {
                            bail!("sinks.{name}.headers: invalid header {k:?}");
                        }
                    }
                }
                SinkConfig::Stdout(_) => {}
            }
        }
        for (name, source) in &self.sources {
            if let Some(dl) = source.dead_letter() {
                let Some(sink) = self.sinks.get(dl) else {
                    bail!("sources.{name}.dead_letter: {dl:?} is not a sink");
                };
                if sink.inputs().iter().any(|i| i == name) {
                    bail!(
                        "sources.{name}.dead_letter: sink {dl:?} also takes the events of {name:?}; use a separate sink"
                    );
                }
            } else if !fed.contains(name.as_str()) {
                bail!("sources.{name}: no sink takes its events (add it to a sink's inputs)");
            }
            if source.format().is_empty() {
                bail!("sources.{name}.format: empty");
            }
            if let SourceConfig::AwsS3Sqs(c) = source {
                check_s3_sqs(name, c)?;
            }
            if let SourceConfig::File(c) = source {
                if c.paths.is_empty() {
                    bail!("sources.{name}.paths: empty");
                }
                for p in &c.paths {
                    glob::Pattern::new(p)
                        .map_err(|e| anyhow::anyhow!("sources.{name}.paths: {p:?}: {e}"))?;
                }
                if let Some(f) = &c.fields {
                    crate::decode::vpc_layout::Layout::parse_names(&f.join(" "))
                        .map_err(|e| anyhow::anyhow!("sources.{name}.fields: {e}"))?;
                }
            }
        }
        Ok(())
    }
}

fn check_s3_sqs(name: &str, c: &S3SqsConfig) -> anyhow::Result<()> {
    use anyhow::bail;
    if !(1..=10).contains(&c.batch_size) {
        bail!("sources.{name}.batch_size: must be 1 to 10");
    }
    if !(0..=20).contains(&c.wait_time_secs) {
        bail!("sources.{name}.wait_time_secs: must be 0 to 20");
    }
    if c.concurrency == 0 {
        bail!("sources.{name}.concurrency: must be at least 1");
    }
    if !(1..=43_200).contains(&c.visibility_timeout_secs) {
        bail!("sources.{name}.visibility_timeout_secs: must be 1 to 43200");
    }
    if c.queue_url.is_empty() {
        bail!("sources.{name}.queue_url: empty");
    }
    if c.region.is_empty() {
        bail!("sources.{name}.region: empty");
    }
    match (&c.access_key_id, &c.secret_access_key) {
        (Some(_), None) | (None, Some(_)) => {
            bail!("sources.{name}: access_key_id and secret_access_key go together")
        }
        (Some(_), Some(_)) if c.role_arn.is_some() => {
            bail!("sources.{name}: give either static keys or role_arn, not both")
        }
        _ => {}
    }
    if c.web_identity_token_file.is_some() && c.role_arn.is_none() {
        bail!("sources.{name}: web_identity_token_file needs role_arn");
    }
    if c.role_arn.is_some() && c.web_identity_token_file.is_none() {
        bail!("sources.{name}: role_arn needs web_identity_token_file (OIDC web identity)");
    }
    if let Some(p) = &c.key_pattern {
        glob::Pattern::new(p).map_err(|e| anyhow::anyhow!("sources.{name}.key_pattern: {e}"))?;
    }
    if let Some(f) = &c.fields
        && f.is_empty()
    {
        bail!("sources.{name}.fields: empty");
    }
    Ok(())
}

/// Refuses strftime placeholders chrono does not know (formatting them would fail).
pub fn check_path_template(path: &str) -> anyhow::Result<()> {
    use chrono::format::{Item, StrftimeItems};
    if path.is_empty() {
        anyhow::bail!("empty path");
    }
    if StrftimeItems::new(path).any(|i| matches!(i, Item::Error)) {
        anyhow::bail!("invalid date placeholder in {path:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[sources.flows]
type = "aws_s3_sqs"
queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/flowlogs"
region = "eu-west-1"
format = "aws-vpc-flow-logs"

[sinks.archive]
type = "file"
inputs = ["flows"]
path = "events/flows-%Y-%m-%d.ndjson"
"#;

    #[test]
    fn example_parses() {
        let c = Config::from_toml(EXAMPLE).unwrap();
        let SourceConfig::AwsS3Sqs(s) = &c.sources["flows"] else {
            panic!()
        };
        assert_eq!(s.batch_size, 10);
        assert_eq!(s.wait_time_secs, 20);
        assert!(matches!(c.sinks["archive"], SinkConfig::File(_)));
    }

    #[test]
    fn unknown_key_is_named() {
        let text = EXAMPLE.replace("region = ", "regoin = \"x\"\nregion = ");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("regoin"), "{e}");
        let text = EXAMPLE.replace("[sinks.archive]", "[sinks.archive]\ngzipped = true");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("gzipped"), "{e}");
    }

    #[test]
    fn references_are_checked() {
        let text = EXAMPLE.replace("inputs = [\"flows\"]", "inputs = [\"flow\"]");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("\"flow\""), "{e}");
        let text = EXAMPLE.replace("region = ", "dead_letter = \"nope\"\nregion = ");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn ranges_and_auth_are_checked() {
        let text = EXAMPLE.replace("region = ", "batch_size = 11\nregion = ");
        assert!(Config::from_toml(&text).is_err());
        let text = EXAMPLE.replace("region = ", "access_key_id = \"a\"\nregion = ");
        assert!(Config::from_toml(&text).is_err());
        let text = EXAMPLE.replace(
            "region = ",
            "role_arn = \"arn:aws:iam::1:role/r\"\nregion = ",
        );
        assert!(Config::from_toml(&text).is_err());
        let text = EXAMPLE.replace("%Y-%m-%d", "%Q");
        assert!(Config::from_toml(&text).is_err());
    }
}
