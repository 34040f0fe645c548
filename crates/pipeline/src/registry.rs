//! Every component kind, by the name its TOML `type` gives. Adding a kind is its
//! module plus one line here.

use serde::de::DeserializeOwned;

use crate::component::{SinkConfig, SourceConfig, TransformConfig};
use crate::config::deserialize;
use crate::{sinks, sources, transforms};

/// A component kind: its name and how its configuration is read (its own keys,
/// and the common keys it reads itself).
pub struct Kind<T: ?Sized> {
    pub name: &'static str,
    pub parse: fn(toml::Value, &str) -> anyhow::Result<Box<T>>,
    /// Common keys (`format`, …) its own configuration declares too.
    pub keeps: &'static [&'static str],
}

pub const SOURCES: &[Kind<dyn SourceConfig>] = &[
    source::<sources::s3_sqs::S3SqsConfig>("aws_s3_sqs"),
    source::<sources::file::FileSourceConfig>("file"),
    source::<sources::stdin::StdinSourceConfig>("stdin"),
    source_keeping::<sources::syslog::SyslogSourceConfig>(
        "syslog",
        &["format", "dead_letter", "max_event_bytes"],
    ),
    source_keeping::<sources::http_intake::HttpIntakeSourceConfig>(
        "http_intake",
        &["format", "dead_letter"],
    ),
    source_keeping::<sources::azure_blob::AzureBlobSourceConfig>(
        "azure_blob",
        &["format", "dead_letter"],
    ),
];

pub const TRANSFORMS: &[Kind<dyn TransformConfig>] = &[
    transform::<transforms::threat_match::ThreatMatchTransformConfig>("threat_match"),
    transform::<transforms::geoip::GeoIpTransformConfig>("geoip"),
];

pub const SINKS: &[Kind<dyn SinkConfig>] = &[
    sink::<sinks::file::FileSinkConfig>("file"),
    sink::<sinks::http::HttpSinkConfig>("http"),
    sink::<sinks::stdout::StdoutSinkConfig>("stdout"),
];

const fn source<C: SourceConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn SourceConfig> {
    source_keeping::<C>(name, &[])
}

const fn source_keeping<C: SourceConfig + DeserializeOwned + 'static>(
    name: &'static str,
    keeps: &'static [&'static str],
) -> Kind<dyn SourceConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
        keeps,
    }
}

const fn transform<C: TransformConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn TransformConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
        keeps: &[],
    }
}

const fn sink<C: SinkConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn SinkConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
        keeps: &[],
    }
}

/// The names of a family, for error messages.
pub fn names<T: ?Sized>(kinds: &[Kind<T>]) -> String {
    kinds.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}
