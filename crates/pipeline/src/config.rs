//! The TOML configuration of `intake run`: named sources, transforms and sinks.
//!
//! Each component's table has a `type` (looked up in `registry.rs`), the keys every
//! component of its family shares, and its own keys, deserialized by its own
//! config type. Unknown keys and kinds are refused with their path
//! (`sinks.siem.batch.max_event: unknown field`). Any string may be `${NAME}`, read
//! from the environment, so that secrets need not be written in the file; errors
//! never print a value.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::component::{SinkCommon, SinkConfig, SourceCommon, SourceConfig, TransformConfig};
use crate::registry;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Local address of the Prometheus endpoint (`GET /metrics`).
    pub address: SocketAddr,
}

#[derive(Debug)]
pub struct SourceEntry {
    pub kind: &'static str,
    pub common: SourceCommon,
    pub config: Box<dyn SourceConfig>,
}

#[derive(Debug)]
pub struct TransformEntry {
    pub kind: &'static str,
    pub inputs: Vec<String>,
    pub config: Box<dyn TransformConfig>,
}

#[derive(Debug)]
pub struct SinkEntry {
    pub kind: &'static str,
    pub common: SinkCommon,
    pub config: Box<dyn SinkConfig>,
}

#[derive(Debug)]
pub struct Config {
    pub metrics: Option<MetricsConfig>,
    /// How long in-flight work may take to finish after SIGINT/SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Normalize worker threads (default: the number of cores).
    pub threads: Option<usize>,
    pub sources: BTreeMap<String, SourceEntry>,
    pub transforms: BTreeMap<String, TransformEntry>,
    pub sinks: BTreeMap<String, SinkEntry>,
}

/// The keys of the top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    #[serde(default)]
    metrics: Option<MetricsConfig>,
    #[serde(default = "default_shutdown_timeout")]
    shutdown_timeout_secs: u64,
    #[serde(default)]
    threads: Option<usize>,
    #[serde(default)]
    sources: BTreeMap<String, toml::Table>,
    #[serde(default)]
    transforms: BTreeMap<String, toml::Table>,
    #[serde(default)]
    sinks: BTreeMap<String, toml::Table>,
}

fn default_shutdown_timeout() -> u64 {
    30
}

/// Deserializes `value` as `T`, naming the path of a refused key under `at`.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    at: &str,
) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.message().trim().to_string();
        if path == "." || path.is_empty() {
            anyhow::anyhow!("{at}: {message}")
        } else {
            anyhow::anyhow!("{at}.{path}: {message}")
        }
    })
}

/// Moves the keys `keys` of `table` into a table of their own.
fn split_off(table: &mut toml::Table, keys: &[&str]) -> toml::Table {
    let mut out = toml::Table::new();
    for k in keys {
        if let Some(v) = table.remove(*k) {
            out.insert(k.to_string(), v);
        }
    }
    out
}

fn take_type(table: &mut toml::Table, at: &str) -> anyhow::Result<String> {
    match table.remove("type") {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => anyhow::bail!("{at}.type: must be a string"),
        None => anyhow::bail!("{at}: missing `type`"),
    }
}

/// Where in `text` a TOML error is, as "line L, column C" (the text of the line is
/// not shown: it may hold a secret).
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}")
}

/// Replaces `${NAME}` in every string with the environment variable `NAME`;
/// collects the names that are not set.
fn substitute(value: &mut toml::Value, missing: &mut BTreeSet<String>) {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                match after.find('}') {
                    Some(end) => {
                        let name = &after[..end];
                        match std::env::var(name) {
                            Ok(v) => out.push_str(&v),
                            Err(_) => {
                                missing.insert(name.to_string());
                            }
                        }
                        rest = &after[end + 1..];
                    }
                    None => {
                        out.push_str(&rest[start..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, missing)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| substitute(v, missing)),
        _ => {}
    }
}

const SOURCE_COMMON_KEYS: &[&str] = &[
    "format",
    "dead_letter",
    "max_event_bytes",
    "framing",
    "lenient",
];

impl Config {
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let mut value: toml::Value = match toml::from_str::<toml::Table>(text) {
            Ok(t) => toml::Value::Table(t),
            Err(e) => {
                let at = e
                    .span()
                    .map(|s| format!(" at {}", position(text, s.start)))
                    .unwrap_or_default();
                anyhow::bail!("invalid TOML{at}: {}", e.message());
            }
        };
        let mut missing = BTreeSet::new();
        substitute(&mut value, &mut missing);
        if !missing.is_empty() {
            let names: Vec<String> = missing.into_iter().collect();
            anyhow::bail!("environment variables not set: {}", names.join(", "));
        }
        let top: Top = deserialize(value, "configuration")?;
        let mut config = Config {
            metrics: top.metrics,
            shutdown_timeout_secs: top.shutdown_timeout_secs,
            threads: top.threads,
            sources: BTreeMap::new(),
            transforms: BTreeMap::new(),
            sinks: BTreeMap::new(),
        };
        for (name, mut table) in top.sources {
            let at = format!("sources.{name}");
            let kind = take_type(&mut table, &at)?;
            let Some(entry) = registry::SOURCES.iter().find(|k| k.name == kind) else {
                anyhow::bail!(
                    "{at}.type: unknown source type {kind:?} (known: {})",
                    registry::names(registry::SOURCES)
                );
            };
            let common = split_off(&mut table, SOURCE_COMMON_KEYS);
            for key in entry.keeps {
                if let Some(v) = common.get(*key) {
                    table.insert(key.to_string(), v.clone());
                }
            }
            let common: SourceCommon = deserialize(toml::Value::Table(common), &at)?;
            let source = (entry.parse)(toml::Value::Table(table), &at)?;
            config.sources.insert(
                name,
                SourceEntry {
                    kind: entry.name,
                    common,
                    config: source,
                },
            );
        }
        for (name, mut table) in top.transforms {
            let at = format!("transforms.{name}");
            let kind = take_type(&mut table, &at)?;
            let Some(entry) = registry::TRANSFORMS.iter().find(|k| k.name == kind) else {
                anyhow::bail!(
                    "{at}.type: unknown transform type {kind:?} (known: {})",
                    registry::names(registry::TRANSFORMS)
                );
            };
            let common: SinkCommon =
                deserialize(toml::Value::Table(split_off(&mut table, &["inputs"])), &at)?;
            let transform = (entry.parse)(toml::Value::Table(table), &at)?;
            config.transforms.insert(
                name,
                TransformEntry {
                    kind: entry.name,
                    inputs: common.inputs,
                    config: transform,
                },
            );
        }
        for (name, mut table) in top.sinks {
            let at = format!("sinks.{name}");
            let kind = take_type(&mut table, &at)?;
            let Some(entry) = registry::SINKS.iter().find(|k| k.name == kind) else {
                anyhow::bail!(
                    "{at}.type: unknown sink type {kind:?} (known: {})",
                    registry::names(registry::SINKS)
                );
            };
            let common: SinkCommon =
                deserialize(toml::Value::Table(split_off(&mut table, &["inputs"])), &at)?;
            let sink = (entry.parse)(toml::Value::Table(table), &at)?;
            config.sinks.insert(
                name,
                SinkEntry {
                    kind: entry.name,
                    common,
                    config: sink,
                },
            );
        }
        config.check()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Config::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))
    }

    /// The sources whose events reach `input` (a source, a transform, or a
    /// transform's named output).
    fn sources_upstream<'a>(
        &'a self,
        input: &'a str,
        seen: &mut BTreeSet<&'a str>,
    ) -> Vec<&'a str> {
        if self.sources.contains_key(input) {
            return vec![input];
        }
        let transform = input.split_once('.').map_or(input, |(t, _)| t);
        if !seen.insert(transform) {
            return vec![];
        }
        match self.transforms.get_key_value(transform) {
            Some((_, t)) => t
                .inputs
                .iter()
                .flat_map(|i| self.sources_upstream(i, seen))
                .collect(),
            None => vec![],
        }
    }

    /// Whether `input` names an output: a source, a transform, or
    /// `transform.output` for one of its named outputs.
    fn is_output(&self, input: &str) -> bool {
        if self.sources.contains_key(input) || self.transforms.contains_key(input) {
            return true;
        }
        match input.split_once('.') {
            Some((t, o)) => self
                .transforms
                .get(t)
                .is_some_and(|t| t.config.outputs().contains(&o)),
            None => false,
        }
    }

    /// Checks everything that can be checked offline: each component's settings,
    /// the references between them, and that nothing can be lost silently.
    pub fn check(&self) -> anyhow::Result<()> {
        use anyhow::bail;
        if self.sources.is_empty() {
            bail!("no [sources.NAME] defined");
        }
        if self.sinks.is_empty() {
            bail!("no [sinks.NAME] defined");
        }
        if self.threads == Some(0) {
            bail!("threads: must be at least 1");
        }
        for (name, s) in &self.sources {
            s.config
                .validate(&s.common)
                .map_err(|e| anyhow::anyhow!("sources.{name}: {e}"))?;
            match &s.common.format {
                Some(f) if f.is_empty() => bail!("sources.{name}.format: empty"),
                None if s.config.needs_format() => bail!("sources.{name}: missing `format`"),
                _ => {}
            }
            if s.common.max_event_bytes == 0 {
                bail!("sources.{name}.max_event_bytes: must be at least 1");
            }
        }
        for (name, t) in &self.transforms {
            if self.sources.contains_key(name) {
                bail!("transforms.{name}: a source has the same name");
            }
            t.config
                .validate()
                .map_err(|e| anyhow::anyhow!("transforms.{name}: {e}"))?;
            if t.inputs.is_empty() {
                bail!("transforms.{name}.inputs: empty");
            }
            for input in &t.inputs {
                if !self.is_output(input) {
                    bail!("transforms.{name}.inputs: {input:?} is not a source or transform");
                }
            }
        }
        self.check_cycles()?;
        let mut fed: BTreeSet<&str> = BTreeSet::new();
        for t in self.transforms.values() {
            for i in &t.inputs {
                fed.extend(self.sources_upstream(i, &mut BTreeSet::new()));
            }
        }
        for (name, sink) in &self.sinks {
            sink.config
                .validate()
                .map_err(|e| anyhow::anyhow!("sinks.{name}: {e}"))?;
            for input in &sink.common.inputs {
                if !self.is_output(input) {
                    bail!("sinks.{name}.inputs: {input:?} is not a source or transform");
                }
                let upstream = self.sources_upstream(input, &mut BTreeSet::new());
                if sink.config.can_reject() {
                    for source in &upstream {
                        if self.sources[*source].common.dead_letter.is_none() {
                            bail!(
                                "sinks.{name}: its destination can refuse events for good, and source {source:?} has no dead_letter to keep them; set sources.{source}.dead_letter"
                            );
                        }
                    }
                }
                fed.extend(upstream);
            }
        }
        for (name, source) in &self.sources {
            if let Some(dl) = &source.common.dead_letter {
                let Some(sink) = self.sinks.get(dl) else {
                    bail!("sources.{name}.dead_letter: {dl:?} is not a sink");
                };
                if sink.common.inputs.iter().any(|i| i == name) {
                    bail!(
                        "sources.{name}.dead_letter: sink {dl:?} also takes the events of {name:?}; use a separate sink"
                    );
                }
                if sink.config.can_reject() {
                    bail!(
                        "sources.{name}.dead_letter: sink {dl:?} can refuse records itself; use a file sink for the dead letter"
                    );
                }
            }
            if !fed.contains(name.as_str()) {
                bail!("sources.{name}: no sink takes its events (add it to a sink's inputs)");
            }
        }
        Ok(())
    }

    fn check_cycles(&self) -> anyhow::Result<()> {
        fn visit<'a>(
            c: &'a Config,
            t: &'a str,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> anyhow::Result<()> {
            if done.contains(t) {
                return Ok(());
            }
            if path.contains(&t) {
                anyhow::bail!("transforms: a cycle: {} → {t}", path.join(" → "));
            }
            path.push(t);
            for i in &c.transforms[t].inputs {
                let up = i.split_once('.').map_or(i.as_str(), |(t, _)| t);
                if c.transforms.contains_key(up) {
                    visit(c, up, path, done)?;
                }
            }
            path.pop();
            done.insert(t);
            Ok(())
        }
        let mut done = BTreeSet::new();
        for t in self.transforms.keys() {
            visit(self, t, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }
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
        assert_eq!(c.sources["flows"].kind, "aws_s3_sqs");
        assert_eq!(
            c.sources["flows"].common.format.as_deref(),
            Some("aws-vpc-flow-logs")
        );
        assert_eq!(c.sinks["archive"].kind, "file");
    }

    #[test]
    fn unknown_keys_and_kinds_are_named_with_their_path() {
        let text = EXAMPLE.replace("region = ", "regoin = \"x\"\nregion = ");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("sources.flows") && e.contains("regoin"), "{e}");
        let text = EXAMPLE.replace("[sinks.archive]", "[sinks.archive]\ngzipped = true");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("sinks.archive") && e.contains("gzipped"), "{e}");
        let text = EXAMPLE.replace("type = \"file\"", "type = \"fiel\"");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            e.contains("sinks.archive.type") && e.contains("fiel"),
            "{e}"
        );
        let text = format!("{EXAMPLE}\ntheads = 2\n");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("theads"), "{e}");
        let text = EXAMPLE.replace(
            "[sinks.archive]",
            "[sinks.h]\ntype = \"http\"\ninputs = [\"flows\"]\nuri = \"http://x\"\nbatch = { max_event = 3 }\n[sinks.archive]",
        );
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            e.contains("sinks.h.batch") && e.contains("max_event"),
            "{e}"
        );
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

    #[test]
    fn a_sink_that_can_refuse_needs_a_dead_letter_upstream() {
        let text = EXAMPLE.replace("type = \"file\"\ninputs = [\"flows\"]", "type = \"file\"")
            + "\n[sinks.siem]\ntype = \"http\"\ninputs = [\"flows\"]\nuri = \"https://x/\"\n";
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("dead_letter"), "{e}");
        let text = text.replace("region = ", "dead_letter = \"archive\"\nregion = ");
        Config::from_toml(&text).unwrap();
    }

    #[test]
    fn environment_variables_are_substituted_and_missing_ones_named() {
        // SAFETY: tests in this module do not read these variables concurrently.
        unsafe { std::env::set_var("INTAKE_TEST_REGION", "eu-west-3") };
        let text = EXAMPLE.replace("\"eu-west-1\"", "\"${INTAKE_TEST_REGION}\"");
        Config::from_toml(&text).unwrap();
        let text = EXAMPLE.replace("\"eu-west-1\"", "\"${INTAKE_TEST_UNSET_1}\"");
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("INTAKE_TEST_UNSET_1"), "{e}");
    }

    #[test]
    fn syntax_errors_do_not_echo_the_line() {
        let text = EXAMPLE.replace(
            "region = \"eu-west-1\"",
            "secret_access_key = \"hunter2-very-secret\nregion = \"x\"",
        );
        let e = Config::from_toml(&text).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("line 5"), "{e}");
    }
}
