//! Formats: loading a format's files, compiling them, and running the pipeline.
//!
//! PUBLIC API CONTRACT (used by intake-formats, intake-pipeline and the CLI):
//! - [`Format::load`] compiles a format from the text of its files, or refuses it
//!   with a [`LoadError`] naming the file, line and offending text.
//! - [`Format::parse`] runs the compiled format on one input event and returns the
//!   normalized event, or a [`Rejection`] with its reason (the event then goes to
//!   the dead letter). `Format` is `Send + Sync`: share it across threads.

use crate::datetime::Timestamp;
use crate::value::{Map, Value};

/// One file of a format: where it came from (for error messages) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// The files that make a format (catalog layout: `ingest/parser.yml`,
/// `_meta/fields.yml`, `_meta/manifest.yml`).
#[derive(Debug, Clone)]
pub struct FormatFiles {
    /// The format's short name, e.g. `aws-vpc-flow-logs`.
    pub slug: String,
    pub parser: SourceFile,
    pub fields: Option<SourceFile>,
    pub manifest: Option<SourceFile>,
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Accept templates with syntax errors (they then fail when run), as the public
    /// catalog needs for a few formats. Off by default: a broken template refuses the format.
    pub lenient_templates: bool,
}

/// Why a format was refused at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Why an event could not be normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A compiled format.
pub struct Format {
    slug: String,
}

impl Format {
    pub fn load(files: &FormatFiles, _options: &LoadOptions) -> Result<Format, LoadError> {
        Ok(Format {
            slug: files.slug.clone(),
        })
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// Normalizes one event. `input` is the raw event: a map with `message` (the raw
    /// text) plus any other fields the collector knows. `now` fills in year-less dates.
    pub fn parse(&self, input: Map, _now: Timestamp) -> Result<Value, Rejection> {
        let _ = input;
        Err(Rejection {
            reason: "format engine not implemented yet".into(),
        })
    }

    /// Shorthand for an input event that is just `{"message": message}`.
    pub fn parse_message(&self, message: &str, now: Timestamp) -> Result<Value, Rejection> {
        let mut input = Map::with_capacity(1);
        input.insert("message", Value::from(message));
        self.parse(input, now)
    }
}
