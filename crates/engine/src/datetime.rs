//! Dates: the autodetecting parser shared by `date.parse`, the `to_rfc3339` filter
//! and ECS `date` typing, strptime-style formats, and the two output forms.

use chrono::{DateTime, Utc};

/// An instant in UTC.
pub type Timestamp = DateTime<Utc>;

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fraction digits (the `date.parse` output).
pub fn format_micros(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
