//! Built-in formats (the `formats/` folder, embedded in the binary at build time)
//! and format folders read from disk, plus their test cases.
//!
//! PUBLIC API CONTRACT: [`builtin`] compiles a built-in format by slug; [`list`]
//! names the built-ins with their descriptions; [`load_dir`] compiles a format folder.

use intake_engine::Format;

/// A built-in format's slug and one-line description.
pub struct BuiltinInfo {
    pub slug: &'static str,
    pub description: String,
}

/// The built-in formats.
pub fn list() -> Vec<BuiltinInfo> {
    Vec::new()
}

/// Compiles the built-in format `slug`.
pub fn builtin(slug: &str) -> Result<Format, String> {
    Err(format!("unknown format {slug:?}"))
}
