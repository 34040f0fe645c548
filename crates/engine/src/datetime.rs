//! Dates: the autodetecting parser shared by `date.parse`, the `to_rfc3339` filter
//! and ECS `date` typing, strptime-style formats, and the two output forms.
//!
//! API CONTRACT (owned by the externals work; used by templates, taxonomy, executor).

use chrono::{DateTime, Utc};

use crate::value::Value;

/// An instant in UTC.
pub type Timestamp = DateTime<Utc>;

/// A time zone for values that carry no offset: UTC, a fixed offset, or an IANA zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Utc,
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, an IANA name (`Europe/Paris`), an offset (`+0100`, `-07:00`) or a
    /// common abbreviation (`PDT`, `CEST`). `None` when unknown.
    pub fn parse(_name: &str) -> Option<Zone> {
        None
    }
}

/// SPEC §2.5 autodetection, UTC for values without an offset.
pub fn parse_auto(value: &Value, now: Timestamp) -> Option<Timestamp> {
    parse_auto_in(value, Zone::Utc, now)
}

/// SPEC §2.5 autodetection; `zone` applies to values without an offset; `now`
/// supplies the year of year-less dates.
pub fn parse_auto_in(_value: &Value, _zone: Zone, _now: Timestamp) -> Option<Timestamp> {
    None
}

/// strptime-style parsing (`%d/%b/%Y:%H:%M:%S %z`, `%y%m%d%H%M%S.%f`, …).
pub fn parse_with_format(
    _text: &str,
    _format: &str,
    _zone: Zone,
    _now: Timestamp,
) -> Option<Timestamp> {
    None
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fraction digits (the `date.parse` output).
pub fn format_micros(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The ECS `date` form: `YYYY-MM-DDTHH:MM:SSZ`, or `.ffffffZ` when microseconds ≠ 0
/// (extra digits truncated).
pub fn format_ecs(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
