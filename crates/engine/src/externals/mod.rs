//! Built-in parsers ("externals") that a pipeline step can call.
