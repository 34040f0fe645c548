//! intake's format engine.
//!
//! A format is a YAML pipeline of parsing steps (externals such as `json`, `kv`,
//! `grok`, `date`, `dsv`) and action stages (`set`, `translate`, `delete`) whose
//! values are Jinja-style templates. This crate compiles a format once into a
//! compact form and then runs it on one event at a time.
//!
//! The crate is pure: no file or network I/O and no async. Callers hand it the
//! text of a format's files and the events; collectors and sinks live elsewhere.

mod append;
pub mod datetime;
pub mod enrich;
pub mod externals;
pub mod format;
pub mod json;
pub mod network;
pub mod regex;
mod scan;
pub mod taxonomy;
pub mod template;
pub mod value;

pub use datetime::Timestamp;
pub use format::{Format, FormatFiles, Input, LoadError, LoadOptions, Rejection, Route};
pub use value::{Map, Str, Value};
