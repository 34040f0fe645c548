//! Built-in parsers ("externals") that a pipeline step calls, e.g. `grok.match`.
//!
//! API CONTRACT (used by the format executor): [`compile`] builds a parser from the
//! step's `properties` once; [`Parser::parse`] runs it on one input value.
//! `input_field` and `output_field` are handled by the executor and are not passed.

use crate::template::{Env, Scope};
use crate::value::{Map, Value};

/// Why a parser produced nothing. Both are silent per SPEC §2.0; they differ only
/// in that a non-matching `grok.match` leaves an empty layer behind.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// `grok.match` found no match.
    NoMatch,
    /// Any other failure, with a short reason (used for dead-letter messages).
    Invalid(String),
}

pub trait Parser: Send + Sync + std::fmt::Debug {
    fn parse(&self, input: &Value, env: &Env) -> Result<Value, Failure>;
}

/// Compiles the external `name` (e.g. `kv.parse-kv`) with its properties. Unknown
/// properties are reported in `warnings`; an unknown name or a bad property is an error.
pub fn compile(
    name: &str,
    _properties: &Map,
    _scope: &dyn Scope,
    _warnings: &mut Vec<String>,
) -> Result<Box<dyn Parser>, String> {
    Err(format!("unknown external {name:?}"))
}
