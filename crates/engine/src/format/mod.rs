//! Formats: loading a format's files, compiling them, and running the pipeline.
//!
//! PUBLIC API CONTRACT (used by intake-formats, intake-pipeline and the CLI):
//! - [`Format::load`] compiles a format from the text of its files, or refuses it
//!   with a [`LoadError`] naming the file, line and offending text.
//! - [`Format::parse`] runs the compiled format on one input event and returns the
//!   normalized event, or a [`Rejection`] with its reason (the event then goes to
//!   the dead letter). `Format` is `Send + Sync`: share it across threads.

mod compile;
mod plan;
mod run;
pub mod yaml;

use crate::datetime::Timestamp;
use crate::taxonomy::Taxonomy;
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
    /// Third-party catalog mode: unknown keys and templates with syntax errors become
    /// warnings (such a template then fails whenever it runs, like an undefined
    /// value), as a few public catalog formats need. Off by default: they refuse the format.
    pub lenient: bool,
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

/// A raw event as a caller hands it to [`Format::normalize`].
pub enum Input<'a> {
    /// Just the raw text: the event is `{"message": text}`.
    Message(&'a str),
    /// The raw text under `message` and other fields the collector knows.
    Fields(Map),
}

/// Which executor produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The flat executor.
    Planned,
    /// The interpreter, because the plan does not model this event.
    FellBack,
    /// The interpreter, because the format (or this input) has no plan.
    Interpreted,
}

/// A compiled format.
pub struct Format {
    slug: String,
    name: Option<String>,
    description: Option<String>,
    warnings: Vec<LoadError>,
    program: compile::Program,
    /// The flat executor for this format, or why its shape does not allow one.
    plan: Result<plan::Plan, &'static str>,
}

fn parse_yaml(file: &SourceFile) -> Result<yaml::Node, LoadError> {
    yaml::parse(&file.text).map_err(|e| LoadError {
        file: file.path.clone(),
        line: Some(e.line),
        message: format!("invalid YAML: {}", e.message),
    })
}

impl Format {
    pub fn load(files: &FormatFiles, options: &LoadOptions) -> Result<Format, LoadError> {
        let taxonomy = match &files.fields {
            Some(f) => compile::taxonomy_from_fields(&f.path, &parse_yaml(f)?)?,
            None => Taxonomy::with_custom([]),
        };
        let (mut name, mut description) = (None, None);
        if let Some(m) = &files.manifest {
            let manifest = parse_yaml(m)?;
            name = manifest
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string);
            description = manifest
                .get("description")
                .and_then(|n| n.as_str())
                .map(|d| d.trim().to_string());
        }
        let root = parse_yaml(&files.parser)?;
        let mut warnings = Vec::new();
        let program =
            compile::compile(&files.parser.path, &root, taxonomy, options, &mut warnings)?;
        let plan = plan::Plan::compile(&program);
        Ok(Format {
            slug: files.slug.clone(),
            name,
            description,
            warnings,
            program,
            plan,
        })
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The manifest's display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The manifest's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// What was accepted at load but deserves attention (unknown properties,
    /// and in lenient mode unknown keys and broken templates).
    pub fn warnings(&self) -> &[LoadError] {
        &self.warnings
    }

    /// Normalizes one event. `input` is the raw event: a map with `message` (the raw
    /// text) plus any other fields the collector knows. `now` fills in year-less dates.
    pub fn parse(&self, input: Map, now: Timestamp) -> Result<Value, Rejection> {
        self.program.run(input, now)
    }

    /// Whether events of this format run on the flat executor (see `plan.rs`)
    /// rather than the interpreter.
    pub fn is_planned(&self) -> bool {
        self.plan.is_ok()
    }

    /// Why events of this format are interpreted rather than planned, if they are.
    pub fn plan_refusal(&self) -> Option<&'static str> {
        self.plan.as_ref().err().copied()
    }

    /// This format without its flat executor: every event is interpreted. The two
    /// give the same events; this is for comparing them and for diagnosis.
    pub fn interpreted_only(mut self) -> Format {
        self.plan = Err("interpreted on request");
        self
    }

    /// THE entry point for callers that serialize events: normalizes one raw event
    /// and appends it to `out` as one compact JSON object (no newline). A bare
    /// message runs on the flat executor when the format has one, and falls back to
    /// the interpreter for the events the plan does not model; an input with other
    /// fields runs on the interpreter. On rejection `out` is left as it was.
    pub fn normalize(
        &self,
        input: Input<'_>,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<Route, Rejection> {
        let (event, route) = match input {
            Input::Message(message) => {
                if let Ok(plan) = &self.plan {
                    let mark = out.len();
                    match plan.run(&self.program, message, now, out) {
                        plan::Planned::Written => return Ok(Route::Planned),
                        plan::Planned::Fallback => out.truncate(mark),
                    }
                }
                let route = if self.plan.is_ok() {
                    Route::FellBack
                } else {
                    Route::Interpreted
                };
                (self.parse_message(message, now)?, route)
            }
            Input::Fields(fields) => (self.parse(fields, now)?, Route::Interpreted),
        };
        crate::json::write_json(&event, out);
        Ok(route)
    }

    /// [`Format::normalize`] of a bare message.
    pub fn parse_message_json(
        &self,
        message: &str,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        self.normalize(Input::Message(message), now, out)
            .map(|_| ())
    }

    /// Shorthand for an input event that is just `{"message": message}`.
    pub fn parse_message(&self, message: &str, now: Timestamp) -> Result<Value, Rejection> {
        let mut input = Map::with_capacity(1);
        input.insert("message", Value::from(message));
        self.parse(input, now)
    }
}

#[cfg(test)]
mod tests;
