//! Sinks: each runs as one task reading its bounded input queue, and accepts a
//! delivery's acknowledgement claim only once the batch is durably written or sent.

pub mod driver;
pub mod file;
pub mod http;
pub mod stdout;
