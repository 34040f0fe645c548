//! Every component kind, by the name its TOML `type` gives. Adding a kind is its
//! module plus one line here.

use serde::de::DeserializeOwned;

use crate::component::{SinkConfig, SourceConfig, TransformConfig};
use crate::config::deserialize;
use crate::{sinks, sources};

/// A component kind: its name and how its configuration is read.
pub struct Kind<T: ?Sized> {
    pub name: &'static str,
    pub parse: fn(toml::Value, &str) -> anyhow::Result<Box<T>>,
}

pub const SOURCES: &[Kind<dyn SourceConfig>] = &[
    source::<sources::s3_sqs::S3SqsConfig>("aws_s3_sqs"),
    source::<sources::file::FileSourceConfig>("file"),
    source::<sources::stdin::StdinSourceConfig>("stdin"),
];

pub const TRANSFORMS: &[Kind<dyn TransformConfig>] = &[];

pub const SINKS: &[Kind<dyn SinkConfig>] = &[
    sink::<sinks::file::FileSinkConfig>("file"),
    sink::<sinks::http::HttpSinkConfig>("http"),
    sink::<sinks::stdout::StdoutSinkConfig>("stdout"),
];

const fn source<C: SourceConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn SourceConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
    }
}

#[allow(dead_code)] // until the first transform kind is registered
const fn transform<C: TransformConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn TransformConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
    }
}

const fn sink<C: SinkConfig + DeserializeOwned + 'static>(
    name: &'static str,
) -> Kind<dyn SinkConfig> {
    Kind {
        name,
        parse: |v, at| Ok(Box::new(deserialize::<C>(v, at)?)),
    }
}

/// The names of a family, for error messages.
pub fn names<T: ?Sized>(kinds: &[Kind<T>]) -> String {
    kinds.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}
