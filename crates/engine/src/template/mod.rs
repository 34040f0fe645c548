//! The template language: Jinja expressions and statements with Python object
//! semantics (SPEC §4), compiled once and evaluated per event.
//!
//! PUBLIC API CONTRACT (used by the format executor and the externals):
//! - [`Template::compile`] parses a template source once; names of layers are
//!   resolved to slot numbers through a [`Scope`] at compile time.
//! - [`Template::eval`] returns the template's value per SPEC §4.3 (single
//!   expression → native value; otherwise rendered text, then Python
//!   `literal_eval` kept only for list/tuple/dict). `Ok(None)` is Jinja's Undefined.
//! - [`Template::test`] evaluates it as a filter (SPEC §4.6).

use crate::datetime::Timestamp;
use crate::value::Value;

/// Compile-time name resolution: which names are layers, and their slot numbers.
pub trait Scope {
    /// The slot of a layer name (`original`, `final`, a step name), if it is one.
    fn slot(&self, name: &str) -> Option<usize>;
}

/// What a template sees while it runs: the layers by slot (`None` = never produced,
/// so Undefined) and the clock used for year-less dates.
pub struct Env<'a> {
    pub slots: &'a [Option<Value>],
    pub now: Timestamp,
}

/// A template syntax error, with the byte offset in the template source.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

/// A runtime error while evaluating a template (undefined attribute, bad method…).
/// Frequent in normal operation (it means "do not set"), so it is cheap to build.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub &'static str);

#[derive(Debug, Clone)]
pub struct Template {
    source: String,
}

impl Template {
    pub fn compile(source: &str, _scope: &dyn Scope) -> Result<Template, TemplateError> {
        Ok(Template {
            source: source.to_string(),
        })
    }

    /// The template's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value when it does not depend on the event (a constant), if so.
    pub fn constant(&self) -> Option<&Value> {
        None
    }

    pub fn eval(&self, _env: &Env) -> Result<Option<Value>, EvalError> {
        Err(EvalError("template engine not implemented"))
    }

    pub fn test(&self, env: &Env) -> bool {
        matches!(self.eval(env), Ok(Some(v)) if v.truthy())
    }
}

/// Python's `str()` of a value (`None`, `True`, `['a', 1]`, `{'k': 'v'}`, `6.0`).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => crate::json::to_json_string(other),
    }
}

/// Python's `ast.literal_eval` on text: the parsed value, if the text is a literal.
pub fn literal_eval(_text: &str) -> Option<Value> {
    None
}
