//! Source-independent decoding of what a stream holds before a format reads it:
//! flow-log layouts (header lines, configured field names, the positional layouts'
//! shapes, CloudWatch export timestamps) and CloudWatch Logs subscription payloads.
//! The S3 source and `intake parse` both use it, so a file and an object with the
//! same bytes give the same events.

pub mod cloudwatch;
pub mod vpc_layout;
