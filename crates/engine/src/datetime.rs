//! Dates: the autodetecting parser shared by `date.parse`, the `to_rfc3339` filter
//! and ECS `date` typing, strptime-style formats, and the two output forms.
//!
//! API CONTRACT (owned by the externals work; used by templates, taxonomy, executor).
//!
//! Everything here is hand-parsed: the hot shapes (epoch seconds, already
//! normalised ISO strings) must not go through chrono's format machinery, and no
//! input may panic. Results are limited to years 1..=9999, the range of Python's
//! `datetime` that the reference engine uses.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

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

/// Common abbreviations and their offsets in minutes. Ambiguous ones take their
/// most frequent meaning in logs (`CST` = US Central, `IST` = India).
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("UT", 0),
    ("Z", 0),
    ("WET", 0),
    ("WEST", 60),
    ("BST", 60),
    ("IST", 330),
    ("CET", 60),
    ("CEST", 120),
    ("MET", 60),
    ("MEST", 120),
    ("EET", 120),
    ("EEST", 180),
    ("MSK", 180),
    ("EST", -300),
    ("EDT", -240),
    ("CST", -360),
    ("CDT", -300),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
    ("AKST", -540),
    ("AKDT", -480),
    ("HST", -600),
    ("AST", -240),
    ("ADT", -180),
    ("NST", -210),
    ("NDT", -150),
    ("BRT", -180),
    ("BRST", -120),
    ("ART", -180),
    ("WAT", 60),
    ("CAT", 120),
    ("EAT", 180),
    ("SAST", 120),
    ("PKT", 300),
    ("ICT", 420),
    ("WIB", 420),
    ("HKT", 480),
    ("SGT", 480),
    ("AWST", 480),
    ("JST", 540),
    ("KST", 540),
    ("ACST", 570),
    ("ACDT", 630),
    ("AEST", 600),
    ("AEDT", 660),
    ("NZST", 720),
    ("NZDT", 780),
];

impl Zone {
    /// Parses `UTC`, an IANA name (`Europe/Paris`), an offset (`+0100`, `-07:00`) or a
    /// common abbreviation (`PDT`, `CEST`). `None` when unknown.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        if let Some(minutes) = abbreviation(name) {
            return Some(if minutes == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(FixedOffset::east_opt(minutes * 60)?)
            });
        }
        if let Some(offset) = parse_offset(name.as_bytes()) {
            return Some(Zone::Fixed(offset));
        }
        // `UTC+2`, `GMT-05:00`
        for prefix in ["UTC", "GMT"] {
            if let Some(rest) = name.strip_prefix(prefix)
                && let Some(offset) = parse_offset(rest.as_bytes())
            {
                return Some(Zone::Fixed(offset));
            }
        }
        name.parse::<chrono_tz::Tz>().ok().map(Zone::Named)
    }

    /// The instant of a local date-time in this zone. An ambiguous local time
    /// takes its earlier instant; a time in a DST gap uses the offset in force
    /// just before the gap.
    fn resolve(self, local: NaiveDateTime) -> Option<Timestamp> {
        let t = match self {
            Zone::Utc => local.and_utc(),
            Zone::Fixed(off) => {
                (local - chrono::Duration::seconds(off.local_minus_utc().into())).and_utc()
            }
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                    t.with_timezone(&Utc)
                }
                chrono::LocalResult::None => {
                    let before = local - chrono::Duration::hours(3);
                    let off = tz.offset_from_utc_datetime(&before);
                    let secs = chrono::Offset::fix(&off).local_minus_utc();
                    (local - chrono::Duration::seconds(secs.into())).and_utc()
                }
            },
        };
        in_range(t)
    }
}

fn abbreviation(name: &str) -> Option<i32> {
    if name.len() > 4 {
        return None;
    }
    ABBREVIATIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map(|&(_, m)| m)
}

/// `+HH`, `+HHMM`, `+HH:MM` (and `-`), the whole input.
fn parse_offset(b: &[u8]) -> Option<FixedOffset> {
    let (off, used) = scan_offset(b)?;
    (used == b.len()).then_some(off)
}

/// An offset at the start of `b`: `Z`, `±HH`, `±HHMM`, `±HH:MM`. Returns the offset
/// and the bytes used.
fn scan_offset(b: &[u8]) -> Option<(FixedOffset, usize)> {
    match b.first()? {
        b'Z' | b'z' => return Some((FixedOffset::east_opt(0)?, 1)),
        b'+' | b'-' => {}
        _ => return None,
    }
    let sign = if b[0] == b'-' { -1 } else { 1 };
    let hh = two_digits(b, 1)?;
    let (mm, used) = if b.get(3) == Some(&b':') {
        (two_digits(b, 4)?, 6)
    } else if let Some(mm) = two_digits(b, 3) {
        (mm, 5)
    } else {
        (0, 3)
    };
    if hh > 23 || mm > 59 {
        return None;
    }
    Some((
        FixedOffset::east_opt(sign * (hh as i32 * 3600 + mm as i32 * 60))?,
        used,
    ))
}

fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    let d0 = digit(*b.get(at)?)?;
    let d1 = digit(*b.get(at + 1)?)?;
    Some(d0 * 10 + d1)
}

fn digit(c: u8) -> Option<u32> {
    c.is_ascii_digit().then(|| (c - b'0') as u32)
}

/// Keeps instants inside Python's `datetime` range (years 1..=9999).
fn in_range(t: Timestamp) -> Option<Timestamp> {
    (1..=9999).contains(&t.year()).then_some(t)
}

/// SPEC §2.5 autodetection, UTC for values without an offset.
pub fn parse_auto(value: &Value, now: Timestamp) -> Option<Timestamp> {
    parse_auto_in(value, Zone::Utc, now)
}

/// SPEC §2.5 autodetection; `zone` applies to values without an offset; `now`
/// supplies the year of year-less dates.
pub fn parse_auto_in(value: &Value, zone: Zone, now: Timestamp) -> Option<Timestamp> {
    match value {
        Value::Int(i) => epoch_int(*i),
        Value::Float(f) => epoch_float(*f),
        Value::Str(s) => parse_text(s, zone, now),
        _ => None,
    }
}

/// Epoch values only (the `format: timestamp` keyword): numbers and digit strings.
pub fn parse_epoch(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Int(i) => epoch_int(*i),
        Value::Float(f) => epoch_float(*f),
        Value::Str(s) => epoch_text(s.trim()),
        _ => None,
    }
}

fn parse_text(s: &str, zone: Zone, now: Timestamp) -> Option<Timestamp> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.first()?.is_ascii_digit()
        && let Some(t) = epoch_text(s)
    {
        return Some(t);
    }
    let (local, offset) = parse_local(b, now.year())?;
    match offset {
        Some(off) => Zone::Fixed(off).resolve(local),
        None => zone.resolve(local),
    }
}

// ---------------------------------------------------------------------------
// Epoch values.

fn from_micros(us: i64) -> Option<Timestamp> {
    in_range(DateTime::from_timestamp_micros(us)?)
}

/// An epoch integer scaled by its digit count: 10 s, 13 ms, 16 µs, 19 ns, and any
/// other length as seconds × 10^(10 - digits), like the reference engine. The
/// count is the length of the number as text, so a minus sign counts as a digit
/// (the reference reads `-11644473600000`, the Windows epoch in ms, as 15 digits).
fn epoch_int(v: i64) -> Option<Timestamp> {
    let digits = v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1) + u32::from(v < 0);
    epoch_scaled(v, digits)
}

fn epoch_scaled(v: i64, digits: u32) -> Option<Timestamp> {
    match digits {
        10 => from_micros(v.checked_mul(1_000_000)?),
        13 => from_micros(v.checked_mul(1_000)?),
        16 => from_micros(v),
        19 => from_micros(ns_to_micros(v)),
        _ => epoch_seconds_f64(v as f64 / 10f64.powi(digits as i32 - 10)),
    }
}

fn epoch_float(f: f64) -> Option<Timestamp> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return epoch_int(f as i64);
    }
    let int = f.abs().trunc();
    let digits = if int < 1.0 {
        1
    } else {
        int.log10().floor() as i32 + 1
    };
    epoch_seconds_f64(f / 10f64.powi(digits - 10))
}

/// Digit strings, optionally with a `.fraction` (`"20241029112721.500"`). The
/// digit count is the length of the integer part as written.
fn epoch_text(s: &str) -> Option<Timestamp> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = int.len();
    match frac {
        None => match int.parse::<i64>() {
            Ok(v) => epoch_scaled(v, digits as u32),
            Err(_) => epoch_seconds_f64(int.parse::<f64>().ok()? / 10f64.powi(digits as i32 - 10)),
        },
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: f64 = s.parse().ok()?;
            epoch_seconds_f64(v / 10f64.powi(digits as i32 - 10))
        }
    }
}

/// Float seconds → instant, rounding to the microsecond like Python's
/// `datetime.fromtimestamp` (fraction × 10^6, ties to even).
fn epoch_seconds_f64(secs: f64) -> Option<Timestamp> {
    if !secs.is_finite() || secs.abs() > 4e11 {
        return None;
    }
    let whole = secs.floor();
    let us = ((secs - whole) * 1e6).round_ties_even() as i64;
    from_micros((whole as i64).checked_mul(1_000_000)?.checked_add(us)?)
}

/// Nanoseconds → microseconds as Python's `round(v / 1000)` does it: the true
/// division is rounded to the nearest double first, then to an integer with ties
/// to even. (`1637681708541881380` → `…541882`, where exact maths gives `…541881`.)
fn ns_to_micros(v: i64) -> i64 {
    let neg = v < 0;
    let n = v.unsigned_abs() as u128;
    let q = (n / 1000) as u64;
    if q == 0 {
        return 0;
    }
    // The double nearest to n/1000 is a multiple of 2^(e-52), e = floor(log2(n/1000)).
    let e = 63 - q.leading_zeros() as i32;
    let shift = 52 - e;
    let result = if shift > 0 {
        // Spacing 2^-shift: m = round_half_even(n * 2^shift / 1000), value = m / 2^shift.
        let m = round_div_even(n << shift, 1000);
        let int = m >> shift;
        let frac = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        if frac > half || (frac == half && int & 1 == 1) {
            int + 1
        } else {
            int
        }
    } else {
        let j = -shift;
        round_div_even(n, 1000u128 << j) << j
    };
    let r = result as i64;
    if neg { -r } else { r }
}

fn round_div_even(num: u128, den: u128) -> u128 {
    let q = num / den;
    let r = num % den;
    if r * 2 > den || (r * 2 == den && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

// ---------------------------------------------------------------------------
// Text shapes of the autodetection.

/// A byte cursor over the input.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in s {
            v = v * 10 + digit(c)?;
        }
        self.i += n;
        Some(v)
    }
    /// One to `max` digits.
    fn digits(&mut self, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v = 0u32;
        while self.i - start < max
            && let Some(d) = self.peek().and_then(digit)
        {
            v = v * 10 + d;
            self.i += 1;
        }
        (self.i > start).then_some(v)
    }
    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }
    fn word(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        &self.b[start..self.i]
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A month name, abbreviated (3 letters, or `Sept`) or full, any case.
fn month_name(w: &[u8]) -> Option<u32> {
    if w.len() < 3 {
        return None;
    }
    let w = std::str::from_utf8(w).ok()?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| {
            *m == w || (w.len() == 3 && m.starts_with(&w)) || (w == "sept" && *m == "september")
        })
        .map(|i| i as u32 + 1)
}

fn weekday_name(w: &[u8]) -> bool {
    if w.len() < 3 {
        return false;
    }
    let w = String::from_utf8_lossy(w).to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .any(|d| *d == w || (w.len() == 3 && d.starts_with(&w)))
}

fn make(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> Option<NaiveDateTime> {
    if !(1..=9999).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_micro_opt(h, mi, s, us)
}

/// The local date-time of one of the autodetected text shapes, and its offset when
/// the text carries one.
fn parse_local(b: &[u8], this_year: i32) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let mut c = Cur { b, i: 0 };
    if b.first()?.is_ascii_digit() {
        if b.get(4).is_some_and(|&x| x == b'-' || x == b'/') {
            return parse_iso(&mut c);
        }
        if b.get(4) == Some(&b' ') && b.get(5).is_some_and(u8::is_ascii_alphabetic) {
            return parse_year_month_name(&mut c);
        }
        if b.get(2) == Some(&b'/') && b.get(3).is_some_and(u8::is_ascii_digit) {
            return parse_us_numeric(&mut c);
        }
        return parse_day_first(&mut c);
    }
    // Optional weekday (`Tue`, `Tuesday,`).
    let save = c.i;
    let w = c.word();
    if weekday_name(w) {
        c.eat(b',');
        if c.spaces() == 0 {
            return None;
        }
        if c.peek().is_some_and(|x| x.is_ascii_digit()) {
            return parse_day_first(&mut c);
        }
    } else {
        c.i = save;
    }
    parse_month_first(&mut c, this_year)
}

/// `HH:MM[:SS[.f…]]` → (h, m, s, µs). Fraction digits beyond six are truncated.
fn parse_time(c: &mut Cur) -> Option<(u32, u32, u32, u32)> {
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let m = c.fixed(2)?;
    let mut s = 0;
    let mut us = 0;
    if c.eat(b':') {
        s = c.fixed(2)?;
        if c.peek() == Some(b'.') || c.peek() == Some(b',') {
            c.i += 1;
            us = fraction(c)?;
        }
    }
    Some((h, m, s, us))
}

/// Fraction digits → microseconds, truncating beyond six digits.
fn fraction(c: &mut Cur) -> Option<u32> {
    let start = c.i;
    let mut us = 0u32;
    while let Some(d) = c.peek().and_then(digit) {
        if c.i - start < 6 {
            us = us * 10 + d;
        }
        c.i += 1;
    }
    let n = c.i - start;
    if n == 0 {
        return None;
    }
    for _ in n..6 {
        us *= 10;
    }
    Some(us)
}

/// What may follow the time: nothing, `Z`, an offset, or a zone abbreviation,
/// optionally after spaces. `Err` on anything else.
fn parse_trailing_zone(c: &mut Cur) -> Result<Option<FixedOffset>, ()> {
    c.spaces();
    if c.done() {
        return Ok(None);
    }
    if let Some((off, used)) = scan_offset(&c.b[c.i..]) {
        c.i += used;
        return if c.done() { Ok(Some(off)) } else { Err(()) };
    }
    let w = c.word();
    let name = std::str::from_utf8(w).map_err(|_| ())?;
    let minutes = abbreviation(name).ok_or(())?;
    // `UTC+01:00`
    let mut off = FixedOffset::east_opt(minutes * 60).ok_or(())?;
    if !c.done() {
        let (o, used) = scan_offset(&c.b[c.i..]).ok_or(())?;
        if minutes != 0 {
            return Err(());
        }
        off = o;
        c.i += used;
    }
    if c.done() { Ok(Some(off)) } else { Err(()) }
}

/// ISO-8601 / RFC-3339 and `YYYY-MM-DD HH:MM:SS[.f]` (also with `/`), date only too.
fn parse_iso(c: &mut Cur) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let y = c.fixed(4)? as i32;
    let sep = c.peek()?;
    c.i += 1;
    let mo = c.digits(2)?;
    if !c.eat(sep) {
        return None;
    }
    let d = c.digits(2)?;
    if c.done() {
        return Some((make(y, mo, d, 0, 0, 0, 0)?, None));
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    c.spaces();
    let (h, mi, s, us) = parse_time(c)?;
    let off = parse_trailing_zone(c).ok()?;
    Some((make(y, mo, d, h, mi, s, us)?, off))
}

/// `YYYY Mon DD HH:MM:SS` (Cisco NX-OS), with an optional zone.
fn parse_year_month_name(c: &mut Cur) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let y = c.fixed(4)? as i32;
    c.spaces();
    let mo = month_name(c.word())?;
    if c.spaces() == 0 {
        return None;
    }
    let d = c.digits(2)?;
    if c.spaces() == 0 {
        return None;
    }
    let (h, mi, s, us) = parse_time(c)?;
    let off = parse_trailing_zone(c).ok()?;
    Some((make(y, mo, d, h, mi, s, us)?, off))
}

/// `MM/DD/YYYY HH:MM:SS`: numeric dates read month first, as the reference's
/// parser (dateutil, `dayfirst=False`) reads them, unless the first number cannot
/// be a month.
fn parse_us_numeric(c: &mut Cur) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let first = c.digits(2)?;
    if !c.eat(b'/') {
        return None;
    }
    let second = c.digits(2)?;
    let (mo, d) = if first > 12 {
        (second, first)
    } else {
        (first, second)
    };
    if !c.eat(b'/') {
        return None;
    }
    let y = c.fixed(4)? as i32;
    if c.done() {
        return Some((make(y, mo, d, 0, 0, 0, 0)?, None));
    }
    if c.spaces() == 0 {
        return None;
    }
    let (h, mi, s, us) = parse_time(c)?;
    let off = parse_trailing_zone(c).ok()?;
    Some((make(y, mo, d, h, mi, s, us)?, off))
}

/// `dd/Mon/YYYY:HH:MM:SS ±zzzz` (HTTP), `DD-Mon-YYYY HH:MM:SS` and
/// `DD Mon YYYY HH:MM:SS …` (RFC 2822).
fn parse_day_first(c: &mut Cur) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let d = c.digits(2)?;
    let http = c.eat(b'/');
    let dashed = !http && c.eat(b'-');
    if !http && !dashed && c.spaces() == 0 {
        return None;
    }
    let mo = month_name(c.word())?;
    if http || dashed {
        if !c.eat(if http { b'/' } else { b'-' }) {
            return None;
        }
    } else if c.spaces() == 0 {
        return None;
    }
    let y = c.fixed(4)? as i32;
    if http {
        if !c.eat(b':') {
            return None;
        }
    } else if c.spaces() == 0 {
        return None;
    }
    let (h, mi, s, us) = parse_time(c)?;
    let off = parse_trailing_zone(c).ok()?;
    Some((make(y, mo, d, h, mi, s, us)?, off))
}

/// `Mon DD YYYY HH:MM:SS`, syslog `Mon DD HH:MM:SS[.fff]` (year from `now`) and
/// asctime `Mon DD HH:MM:SS YYYY`, each with an optional zone.
fn parse_month_first(c: &mut Cur, this_year: i32) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let mo = month_name(c.word())?;
    c.eat(b'.');
    if c.spaces() == 0 {
        return None;
    }
    let d = c.digits(2)?;
    c.eat(b',');
    if c.spaces() == 0 {
        return None;
    }
    // A year comes first when four digits are not followed by `:`.
    let mut year = None;
    if c.b.get(c.i + 4).is_none_or(|&x| x == b' ') && c.b.get(c.i + 2) != Some(&b':') {
        year = Some(c.fixed(4)? as i32);
        if c.spaces() == 0 {
            return None;
        }
    }
    let (h, mi, s, us) = parse_time(c)?;
    if year.is_none() {
        let save = c.i;
        if c.spaces() > 0
            && let Some(y) = c.fixed(4)
            && c.peek().is_none_or(|x| x == b' ')
        {
            year = Some(y as i32);
        } else {
            c.i = save;
        }
    }
    let off = parse_trailing_zone(c).ok()?;
    Some((make(year.unwrap_or(this_year), mo, d, h, mi, s, us)?, off))
}

// ---------------------------------------------------------------------------
// strptime.

/// strptime-style parsing (`%d/%b/%Y:%H:%M:%S %z`, `%y%m%d%H%M%S.%f`, …), with
/// Python's semantics: each directive matches like Python's regex for it (tried
/// alternatives in order), a space matches one or more whitespace characters,
/// literals match case-insensitively, and the first match must consume the whole
/// text. A format without a year takes the year of `now`.
pub fn parse_with_format(
    text: &str,
    format: &str,
    zone: Zone,
    now: Timestamp,
) -> Option<Timestamp> {
    let items = compile_format(format)?;
    let mut fields = Fields::default();
    let mut budget = 100_000u32;
    let end = match_items(&items, text.as_bytes(), 0, &mut fields, &mut budget)?;
    if end != text.len() {
        return None;
    }
    fields.finish(zone, now)
}

/// Whether `format` is a strptime format this module understands.
pub fn is_valid_format(format: &str) -> bool {
    compile_format(format).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Lit(u8),
    Space,
    Dir(u8),
}

fn compile_format(format: &str) -> Option<Vec<Item>> {
    let mut out = Vec::with_capacity(format.len());
    let mut b = format.bytes();
    while let Some(c) = b.next() {
        if c == b'%' {
            let d = b.next()?;
            let expand = match d {
                b'c' => Some("%a %b %d %H:%M:%S %Y"),
                b'x' => Some("%m/%d/%y"),
                b'X' | b'T' => Some("%H:%M:%S"),
                b'D' => Some("%m/%d/%y"),
                b'F' => Some("%Y-%m-%d"),
                b'R' => Some("%H:%M"),
                _ => None,
            };
            match expand {
                Some(e) => out.extend(compile_format(e)?),
                None if b"YymdHIMSfjbBhaApzZes%uwUWGV".contains(&d) => out.push(if d == b'%' {
                    Item::Lit(b'%')
                } else {
                    Item::Dir(d)
                }),
                None => return None,
            }
        } else if c.is_ascii_whitespace() {
            if out.last() != Some(&Item::Space) {
                out.push(Item::Space);
            }
        } else {
            out.push(Item::Lit(c));
        }
    }
    // Matching recurses once per directive or space: real formats have a few dozen,
    // and a bound keeps a hostile format from exhausting a worker thread's stack.
    let steps = out.iter().filter(|i| !matches!(i, Item::Lit(_))).count();
    (steps <= MAX_FORMAT_STEPS).then_some(out)
}

/// The most directives and spaces a strptime format may hold.
const MAX_FORMAT_STEPS: usize = 256;

/// What the directives captured.
#[derive(Debug, Default, Clone)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: u32,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    micro: u32,
    yday: Option<u32>,
    offset: Option<FixedOffset>,
    epoch: Option<i64>,
}

impl Fields {
    fn finish(self, zone: Zone, now: Timestamp) -> Option<Timestamp> {
        if let Some(e) = self.epoch {
            return in_range(DateTime::from_timestamp(e, 0)?);
        }
        let year = self.year.unwrap_or(now.year());
        let hour = match (self.hour12, self.pm) {
            (Some(h), Some(pm)) => h % 12 + if pm { 12 } else { 0 },
            (Some(h), None) => h,
            _ => self.hour,
        };
        let date = match (self.month, self.day, self.yday) {
            (None, None, Some(j)) => NaiveDate::from_yo_opt(year, j)?,
            (m, d, _) => NaiveDate::from_ymd_opt(year, m.unwrap_or(1), d.unwrap_or(1))?,
        };
        if !(1..=9999).contains(&year) {
            return None;
        }
        let local = date.and_hms_micro_opt(hour, self.minute, self.second, self.micro)?;
        match self.offset {
            Some(off) => Zone::Fixed(off).resolve(local),
            None => zone.resolve(local),
        }
    }
}

/// Matches `items` at `pos` with backtracking over each directive's alternatives;
/// returns the end of the first overall match (not necessarily the whole text).
fn match_items(
    items: &[Item],
    t: &[u8],
    pos: usize,
    f: &mut Fields,
    budget: &mut u32,
) -> Option<usize> {
    *budget = budget.checked_sub(1)?;
    let Some((&item, rest)) = items.split_first() else {
        return Some(pos);
    };
    match item {
        Item::Lit(_) => {
            // Literals never backtrack: consume the whole run here, so recursion depth
            // follows the directives and spaces, not the format's length.
            let (mut pos, mut items) = (pos, items);
            while let Some((&Item::Lit(c), rest)) = items.split_first() {
                if !t.get(pos)?.eq_ignore_ascii_case(&c) {
                    return None;
                }
                pos += 1;
                items = rest;
            }
            match_items(items, t, pos, f, budget)
        }
        Item::Space => {
            // Python's `\s+` is greedy: try the longest run first.
            let mut end = pos;
            while t.get(end).is_some_and(|c| c.is_ascii_whitespace()) {
                end += 1;
            }
            while end > pos {
                if let Some(e) = match_items(rest, t, end, f, budget) {
                    return Some(e);
                }
                end -= 1;
            }
            None
        }
        Item::Dir(d) => {
            for (len, apply) in candidates(d, &t[pos.min(t.len())..]) {
                let saved = f.clone();
                if apply(f)
                    && let Some(e) = match_items(rest, t, pos + len, f, budget)
                {
                    return Some(e);
                }
                *f = saved;
            }
            None
        }
    }
}

type Apply = Box<dyn Fn(&mut Fields) -> bool>;

/// The ways directive `d` can match at the start of `t`, in Python's order.
fn candidates(d: u8, t: &[u8]) -> Vec<(usize, Apply)> {
    let mut out: Vec<(usize, Apply)> = Vec::new();
    let num = |n: usize| -> Option<u32> {
        let s = t.get(..n)?;
        let mut v = 0;
        for &c in s {
            v = v * 10 + digit(c)?;
        }
        Some(v)
    };
    // Two-digit form valid in [lo2, hi], then one digit in [lo1, 9].
    let mut two_one = |lo2: u32, hi: u32, lo1: u32, set: fn(&mut Fields, u32)| {
        if let Some(v) = num(2).filter(|v| (lo2..=hi).contains(v)) {
            out.push((
                2,
                Box::new(move |f| {
                    set(f, v);
                    true
                }),
            ));
        }
        if let Some(v) = num(1).filter(|v| *v >= lo1) {
            out.push((
                1,
                Box::new(move |f| {
                    set(f, v);
                    true
                }),
            ));
        }
    };
    match d {
        b'd' | b'e' => {
            two_one(1, 31, 1, |f, v| f.day = Some(v));
            if t.first() == Some(&b' ')
                && let Some(v) = t.get(1).and_then(|&c| digit(c)).filter(|v| *v >= 1)
            {
                out.push((
                    2,
                    Box::new(move |f| {
                        f.day = Some(v);
                        true
                    }),
                ));
            }
        }
        b'm' => two_one(1, 12, 1, |f, v| f.month = Some(v)),
        b'H' => two_one(0, 23, 0, |f, v| f.hour = v),
        b'I' => two_one(1, 12, 1, |f, v| f.hour12 = Some(v)),
        b'M' => two_one(0, 59, 0, |f, v| f.minute = v),
        b'S' => two_one(0, 61, 0, |f, v| f.second = v),
        b'U' | b'W' => two_one(0, 53, 0, |_, _| {}),
        b'V' => two_one(1, 53, 1, |_, _| {}),
        b'w' | b'u' => {
            if let Some(v) = num(1).filter(|v| {
                if d == b'w' {
                    *v <= 6
                } else {
                    (1..=7).contains(v)
                }
            }) {
                let _ = v;
                out.push((1, Box::new(|_| true)));
            }
        }
        b'y' => {
            if let Some(v) = num(2) {
                let y = if v < 69 { 2000 + v } else { 1900 + v } as i32;
                out.push((
                    2,
                    Box::new(move |f| {
                        f.year = Some(y);
                        true
                    }),
                ));
            }
        }
        b'Y' | b'G' => {
            if let Some(v) = num(4) {
                let set_year = d == b'Y';
                out.push((
                    4,
                    Box::new(move |f| {
                        if set_year {
                            f.year = Some(v as i32);
                        }
                        true
                    }),
                ));
            }
        }
        b'j' => {
            if let Some(v) = num(3).filter(|v| (1..=366).contains(v)) {
                out.push((
                    3,
                    Box::new(move |f| {
                        f.yday = Some(v);
                        true
                    }),
                ));
            }
            if let Some(v) = num(2).filter(|v| *v >= 1) {
                out.push((
                    2,
                    Box::new(move |f| {
                        f.yday = Some(v);
                        true
                    }),
                ));
            }
            if let Some(v) = num(1).filter(|v| *v >= 1) {
                out.push((
                    1,
                    Box::new(move |f| {
                        f.yday = Some(v);
                        true
                    }),
                ));
            }
        }
        b'f' => {
            let n = t.iter().take(6).take_while(|c| c.is_ascii_digit()).count();
            for len in (1..=n).rev() {
                let mut us = num(len).unwrap_or(0);
                for _ in len..6 {
                    us *= 10;
                }
                out.push((
                    len,
                    Box::new(move |f| {
                        f.micro = us;
                        true
                    }),
                ));
            }
        }
        b'b' | b'B' | b'h' => {
            // Longest names first, as Python sorts its alternation.
            for (i, name) in MONTHS.iter().enumerate() {
                let m = i as u32 + 1;
                for cand in [&name[..], &name[..3]] {
                    if t.len() >= cand.len()
                        && t[..cand.len()].eq_ignore_ascii_case(cand.as_bytes())
                    {
                        out.push((
                            cand.len(),
                            Box::new(move |f| {
                                f.month = Some(m);
                                true
                            }),
                        ));
                    }
                }
            }
            out.sort_by_key(|c| std::cmp::Reverse(c.0));
            out.dedup_by(|a, b| a.0 == b.0);
        }
        b'a' | b'A' => {
            for name in WEEKDAYS {
                for cand in [name, &name[..3]] {
                    if t.len() >= cand.len()
                        && t[..cand.len()].eq_ignore_ascii_case(cand.as_bytes())
                    {
                        out.push((cand.len(), Box::new(|_| true)));
                    }
                }
            }
            out.sort_by_key(|c| std::cmp::Reverse(c.0));
            out.dedup_by(|a, b| a.0 == b.0);
        }
        b'p' => {
            let pm = match t.get(..2) {
                Some(x) if x.eq_ignore_ascii_case(b"am") => Some(false),
                Some(x) if x.eq_ignore_ascii_case(b"pm") => Some(true),
                _ => None,
            };
            if let Some(pm) = pm {
                out.push((
                    2,
                    Box::new(move |f| {
                        f.pm = Some(pm);
                        true
                    }),
                ));
            }
        }
        b'z' => {
            if let Some((off, used)) = scan_strptime_offset(t) {
                out.push((
                    used,
                    Box::new(move |f| {
                        f.offset = Some(off);
                        true
                    }),
                ));
            }
        }
        b'Z' => {
            let n = t.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if let Some(m) = std::str::from_utf8(&t[..n]).ok().and_then(abbreviation)
                && let Some(off) = FixedOffset::east_opt(m * 60)
            {
                out.push((
                    n,
                    Box::new(move |f| {
                        f.offset = Some(off);
                        true
                    }),
                ));
            }
        }
        b's' => {
            let neg = t.first() == Some(&b'-');
            let start = usize::from(neg);
            let n = t[start..]
                .iter()
                .take(12)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if n > 0
                && let Some(v) = std::str::from_utf8(&t[start..start + n])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
            {
                let v = if neg { -v } else { v };
                out.push((
                    start + n,
                    Box::new(move |f| {
                        f.epoch = Some(v);
                        true
                    }),
                ));
            }
        }
        _ => {}
    }
    out
}

/// Python's `%z`: `Z`, or `±HH[:]MM[[:]SS[.ffffff]]`.
fn scan_strptime_offset(t: &[u8]) -> Option<(FixedOffset, usize)> {
    if t.first() == Some(&b'Z') {
        return Some((FixedOffset::east_opt(0)?, 1));
    }
    let sign = match t.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hh = two_digits(t, 1)?;
    let mut i = 3;
    let colon = t.get(i) == Some(&b':');
    if colon {
        i += 1;
    }
    let mm = two_digits(t, i).filter(|m| *m <= 59)?;
    i += 2;
    let mut ss = 0;
    let with_sep = if colon { t.get(i) == Some(&b':') } else { true };
    let j = if colon { i + 1 } else { i };
    if with_sep && let Some(s) = two_digits(t, j).filter(|s| *s <= 59) {
        ss = s;
        i = j + 2;
        if t.get(i) == Some(&b'.') {
            let n = t[i + 1..]
                .iter()
                .take(6)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if n > 0 {
                i += 1 + n;
            }
        }
    }
    if hh > 23 {
        return None;
    }
    let secs = sign * (hh as i32 * 3600 + mm as i32 * 60 + ss as i32);
    Some((FixedOffset::east_opt(secs)?, i))
}

// ---------------------------------------------------------------------------
// Output forms.

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fraction digits (the `date.parse` output).
pub fn format_micros(t: Timestamp) -> String {
    format_with(t, true).into_string()
}

/// The ECS `date` form: `YYYY-MM-DDTHH:MM:SSZ`, or `.ffffffZ` when microseconds ≠ 0
/// (extra digits truncated).
pub fn format_ecs(t: Timestamp) -> String {
    format_with(t, false).into_string()
}

/// [`format_ecs`] as a compact string: without a fraction it fits inline (no
/// allocation).
pub fn format_ecs_str(t: Timestamp) -> crate::value::Str {
    format_with(t, false)
}

fn format_with(t: Timestamp, always_fraction: bool) -> crate::value::Str {
    let n = t.naive_utc();
    // Built on the stack, then one copy (inline when it fits, no fraction).
    let mut out = StackText::default();
    let year = n.year();
    if (0..=9999).contains(&year) {
        out.digits(year as u32, 4);
    } else {
        out.push(itoa::Buffer::new().format(year).as_bytes());
    }
    out.push(b"-");
    out.digits(n.month(), 2);
    out.push(b"-");
    out.digits(n.day(), 2);
    out.push(b"T");
    out.digits(n.hour(), 2);
    out.push(b":");
    out.digits(n.minute(), 2);
    out.push(b":");
    // chrono carries a leap second in the nanoseconds.
    let nanos = n.nanosecond();
    let (sec, nanos) = if nanos >= 1_000_000_000 {
        (60, nanos - 1_000_000_000)
    } else {
        (n.second(), nanos)
    };
    out.digits(sec, 2);
    let micros = nanos / 1000;
    if always_fraction || micros != 0 {
        out.push(b".");
        out.digits(micros, 6);
    }
    out.push(b"Z");
    // ASCII only: valid UTF-8.
    crate::value::Str::from(std::str::from_utf8(&out.buf[..out.len]).unwrap_or_default())
}

/// A small ASCII text built on the stack.
/// [`parse_auto`] then [`format_ecs_str`] for the most common shape of date, a
/// 10-digit epoch in seconds (a string of exactly ten ASCII digits, or an integer
/// with ten digits), without going through the general autodetection. `None` for
/// any other value: the caller then takes the general path.
pub fn epoch_seconds_ecs_str(value: &Value) -> Option<crate::value::Str> {
    let secs = match value {
        Value::Int(i) if (1_000_000_000..=9_999_999_999).contains(i) => *i,
        Value::Str(s) => ten_digit_epoch(s)?,
        _ => return None,
    };
    let text = epoch_seconds_ecs(secs);
    // ASCII only: valid UTF-8.
    Some(crate::value::Str::from(
        std::str::from_utf8(&text).unwrap_or_default(),
    ))
}

/// The value of text that is exactly ten ASCII digits (epoch seconds of years
/// 2001..=2286, or 1970.. with leading zeros).
#[inline(always)]
pub fn ten_digit_epoch(s: &str) -> Option<i64> {
    if s.len() != 10 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds in `0..10^10`.
pub fn epoch_seconds_ecs(secs: i64) -> [u8; 20] {
    // Below 10^10 seconds: years 1970..=2286, always in range, never a fraction.
    // Unsigned arithmetic: divisions by constants are cheaper than signed ones.
    let secs = secs.clamp(0, 9_999_999_999) as u64;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let sod = (secs % 86_400) as u32;
    let mut out = *b"0000-00-00T00:00:00Z";
    let two = |out: &mut [u8; 20], at: usize, v: u32| {
        let pair = &DIGIT_PAIRS[2 * v as usize..2 * v as usize + 2];
        out[at..at + 2].copy_from_slice(pair);
    };
    two(&mut out, 0, year / 100);
    two(&mut out, 2, year % 100);
    two(&mut out, 5, month);
    two(&mut out, 8, day);
    two(&mut out, 11, sod / 3600);
    two(&mut out, 14, sod / 60 % 60);
    two(&mut out, 17, sod % 60);
    out
}

/// `00`, `01`, … `99`.
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The proleptic Gregorian (year, month, day) of a non-negative count of days since
/// 1970-01-01. Years are counted from March (so that the leap day ends a year) in
/// 400-year cycles of 146097 days.
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let cycle = z / 146_097;
    let day_of_cycle = z % 146_097;
    // Each 4-year block has one leap day, except the last of each century (and the
    // last day of the 400-year cycle is its own leap day).
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months from March, with the 153-days-per-5-months pattern.
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    let year = cycle * 400 + year_of_cycle + u64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

struct StackText {
    buf: [u8; 40],
    len: usize,
}

impl Default for StackText {
    fn default() -> StackText {
        StackText {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl StackText {
    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(self.buf.len());
        self.buf[self.len..end].copy_from_slice(&bytes[..end - self.len]);
        self.len = end;
    }

    /// Appends `v` as exactly `width` zero-padded digits (`width` ≤ 10).
    fn digits(&mut self, mut v: u32, width: usize) {
        let mut d = [b'0'; 10];
        let width = width.min(d.len());
        for slot in d[..width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.push(&d[..width]);
    }
}

#[cfg(test)]
mod tests {
    use crate::value::Value;

    #[test]
    fn epoch_seconds_fast_path_matches_the_general_path() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let general = |v: &Value| super::parse_auto(v, now).map(super::format_ecs_str);
        // Day, month, leap-year and century boundaries, then a stride over the range.
        let mut secs: Vec<i64> = vec![
            1_000_000_000,
            9_999_999_999,
            951_782_400,
            951_868_800,
            4_107_542_400,
            4_107_628_800,
            4_102_444_799,
            4_102_444_800,
            1_709_164_800,
            1_709_251_199,
        ];
        secs.extend((1_000_000_000..10_000_000_000i64).step_by(7_777_777));
        for s in secs {
            // Below 10^9, only the zero-padded text has ten digits.
            let int = (s >= 1_000_000_000).then_some(Value::Int(s));
            for v in int.into_iter().chain([Value::from(format!("{s:010}"))]) {
                let fast = super::epoch_seconds_ecs_str(&v);
                assert!(fast.is_some(), "{v:?}");
                assert_eq!(fast, general(&v), "{v:?}");
            }
        }
        // Leading zeros still count as ten digits of seconds.
        let v = Value::from("0123456789");
        assert_eq!(super::epoch_seconds_ecs_str(&v), general(&v));
        // Anything else is left to the general path.
        for v in [
            Value::Int(999_999_999),
            Value::Int(10_000_000_000),
            Value::Int(-1_000_000_000),
            Value::from(" 1600220009"),
            Value::from("1600220009 "),
            Value::from("160022000x"),
            Value::from("16002200091"),
            Value::from("1600220009.5"),
            Value::from("٠١٢٣٤٥٦٧٨٩"),
            Value::Float(1_600_220_009.0),
        ] {
            assert_eq!(super::epoch_seconds_ecs_str(&v), None, "{v:?}");
        }
    }

    #[test]
    fn long_formats_neither_recurse_deeply_nor_overflow() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        // A small stack, as worker threads have: literal runs must not recurse.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let literal = "x".repeat(20_000);
                let lit = super::parse_with_format(&literal, &literal, super::Zone::Utc, now);
                let spaces = " %Y".repeat(2000);
                let dirs = super::parse_with_format("2020", &spaces, super::Zone::Utc, now);
                (lit, dirs)
            })
            .unwrap();
        let (lit, dirs) = handle.join().expect("no stack overflow");
        // Like Python's strptime, literals alone match (and give 1900-01-01).
        assert!(lit.is_some());
        assert!(dirs.is_none(), "too many directives is refused");
        assert!(!super::is_valid_format(&"%Y ".repeat(300)));
        assert!(super::is_valid_format("%d/%b/%Y:%H:%M:%S %z"));
    }

    use super::*;

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 2, 20, 0, 0, 0).unwrap()
    }

    fn auto(v: Value) -> Option<String> {
        parse_auto(&v, now()).map(format_micros)
    }

    fn auto_s(s: &str) -> Option<String> {
        auto(Value::from(s))
    }

    #[test]
    fn more_text_shapes_of_the_reference_parser() {
        // Day, month name and year joined by dashes (ESET exports).
        assert_eq!(
            auto_s("07-Mar-2023 16:45:09").as_deref(),
            Some("2023-03-07T16:45:09.000000Z")
        );
        // Year first, then the month's name (Cisco NX-OS).
        assert_eq!(
            auto_s("2022 Nov 03 08:10:59").as_deref(),
            Some("2022-11-03T08:10:59.000000Z")
        );
        // Numeric dates are month first (dateutil's default).
        assert_eq!(
            auto_s("11/03/2022 08:10:59").as_deref(),
            Some("2022-11-03T08:10:59.000000Z")
        );
        assert_eq!(
            auto_s("13/03/2022 08:10:59").as_deref(),
            Some("2022-03-13T08:10:59.000000Z")
        );
        assert_eq!(auto_s("13/13/2022 08:10:59"), None);
    }

    #[test]
    fn a_minus_sign_counts_as_a_digit() {
        // 14 digits and a sign: 15 characters, so seconds × 10^-5.
        assert_eq!(
            auto(Value::Int(-12_000_000_000_000)).as_deref(),
            Some("1966-03-14T02:40:00.000000Z")
        );
    }

    #[test]
    fn epoch_scaling_by_digit_count() {
        assert_eq!(
            auto_s("1599665193").as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
        assert_eq!(
            auto(Value::Int(1599665193)).as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
        assert_eq!(
            auto_s("1663146003599").as_deref(),
            Some("2022-09-14T09:00:03.599000Z")
        );
        assert_eq!(
            auto_s("1663146003599123").as_deref(),
            Some("2022-09-14T09:00:03.599123Z")
        );
        // Python's round(v / 1000): the rounded double, then ties to even.
        assert_eq!(
            auto_s("1637681708541881380").as_deref(),
            Some("2021-11-23T15:35:08.541882Z")
        );
        assert_eq!(
            auto(Value::Int(1637681708541881380)).as_deref(),
            Some("2021-11-23T15:35:08.541882Z")
        );
        // Odd lengths scale by 10^(digits-10), fraction included (a faithful bug).
        assert_eq!(
            auto_s("20241029112721.500").as_deref(),
            Some("2034-02-21T02:48:31.272150Z")
        );
        assert_eq!(
            auto(Value::Float(1663146003.599)).as_deref(),
            Some("2022-09-14T09:00:03.599000Z")
        );
        assert_eq!(
            auto(Value::Float(1599665193.0)).as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
    }

    #[test]
    fn ns_rounding_matches_python() {
        assert_eq!(ns_to_micros(1637681708541881380), 1637681708541882);
        assert_eq!(
            ns_to_micros(1_000_000_000_000_000_499),
            1_000_000_000_000_000
        );
        assert_eq!(
            ns_to_micros(1_000_000_000_000_000_500),
            1_000_000_000_000_000
        );
        assert_eq!(
            ns_to_micros(1_000_000_000_000_001_500),
            1_000_000_000_000_002
        );
    }

    #[test]
    fn iso_forms() {
        assert_eq!(
            auto_s("2024-03-18T13:21:42.6259228Z").as_deref(),
            Some("2024-03-18T13:21:42.625922Z")
        );
        assert_eq!(
            auto_s("2021-01-28 13:46:08").as_deref(),
            Some("2021-01-28T13:46:08.000000Z")
        );
        assert_eq!(
            auto_s("2021-01-28T13:46:08+02:00").as_deref(),
            Some("2021-01-28T11:46:08.000000Z")
        );
        assert_eq!(
            auto_s("2021-01-28T13:46:08.5-0130").as_deref(),
            Some("2021-01-28T15:16:08.500000Z")
        );
        assert_eq!(
            auto_s("2021-01-28T13:46:08.123456Z").as_deref(),
            Some("2021-01-28T13:46:08.123456Z")
        );
        assert_eq!(
            auto_s("2021-01-28").as_deref(),
            Some("2021-01-28T00:00:00.000000Z")
        );
        assert_eq!(
            auto_s("2021-01-28 13:46:08 CEST").as_deref(),
            Some("2021-01-28T11:46:08.000000Z")
        );
        assert_eq!(auto_s("2021-02-30T00:00:00Z"), None);
        assert_eq!(auto_s("2021-01-28T25:00:00Z"), None);
        assert_eq!(auto_s("2021-01-28T13:46:08Zjunk"), None);
    }

    #[test]
    fn http_syslog_and_month_first() {
        assert_eq!(
            auto_s("10/Oct/2000:13:55:36 -0700").as_deref(),
            Some("2000-10-10T20:55:36.000000Z")
        );
        assert_eq!(
            auto_s("Oct 21 12:12:05.185").as_deref(),
            Some("2026-10-21T12:12:05.185000Z")
        );
        assert_eq!(
            auto_s("Oct  1 12:12:05").as_deref(),
            Some("2026-10-01T12:12:05.000000Z")
        );
        assert_eq!(
            auto_s("Oct 21 12:12:05 PDT").as_deref(),
            Some("2026-10-21T19:12:05.000000Z")
        );
        assert_eq!(
            auto_s("Jan 02 2024 03:04:05").as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(
            auto_s("Tue Jan  2 03:04:05 2024").as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(
            auto_s("Tue, 02 Jan 2024 03:04:05 +0100").as_deref(),
            Some("2024-01-02T02:04:05.000000Z")
        );
        assert_eq!(auto_s("Feb 29 12:00:00"), None, "2026 is not a leap year");
        assert_eq!(auto_s("hello"), None);
        assert_eq!(auto_s(""), None);
    }

    #[test]
    fn zone_applies_only_without_offset() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        let v = Value::from("2021-07-01 12:00:00");
        assert_eq!(
            parse_auto_in(&v, paris, now())
                .map(format_micros)
                .as_deref(),
            Some("2021-07-01T10:00:00.000000Z")
        );
        let v = Value::from("2021-07-01T12:00:00Z");
        assert_eq!(
            parse_auto_in(&v, paris, now())
                .map(format_micros)
                .as_deref(),
            Some("2021-07-01T12:00:00.000000Z")
        );
        assert_eq!(
            Zone::parse("PDT"),
            Some(Zone::Fixed(FixedOffset::west_opt(7 * 3600).unwrap()))
        );
        assert_eq!(
            Zone::parse("+0100"),
            Some(Zone::Fixed(FixedOffset::east_opt(3600).unwrap()))
        );
        assert_eq!(
            Zone::parse("-07:00"),
            Some(Zone::Fixed(FixedOffset::west_opt(7 * 3600).unwrap()))
        );
        assert_eq!(Zone::parse("utc"), Some(Zone::Utc));
        assert_eq!(Zone::parse("Nowhere/Land"), None);
        assert_eq!(Zone::parse(""), None);
    }

    #[test]
    fn strptime_formats() {
        let p = |t: &str, f: &str| parse_with_format(t, f, Zone::Utc, now()).map(format_micros);
        assert_eq!(
            p("10/Oct/2000:13:55:36 -0700", "%d/%b/%Y:%H:%M:%S %z").as_deref(),
            Some("2000-10-10T20:55:36.000000Z")
        );
        assert_eq!(
            p("210128134608.12", "%y%m%d%H%M%S.%f").as_deref(),
            Some("2021-01-28T13:46:08.120000Z")
        );
        // Python's %m alternation takes one digit when two make no month.
        assert_eq!(
            p("202413", "%Y%m%d").as_deref(),
            Some("2024-01-03T00:00:00.000000Z")
        );
        assert_eq!(
            p("01/02/2024 03:04:05 PM", "%m/%d/%Y %I:%M:%S %p").as_deref(),
            Some("2024-01-02T15:04:05.000000Z")
        );
        assert_eq!(
            p("12:00:00 am", "%I:%M:%S %p").as_deref(),
            Some("2026-01-01T00:00:00.000000Z")
        );
        assert_eq!(
            p("Jan  2 03:04:05", "%b %d %H:%M:%S").as_deref(),
            Some("2026-01-02T03:04:05.000000Z")
        );
        assert_eq!(
            p("2024-060", "%Y-%j").as_deref(),
            Some("2024-02-29T00:00:00.000000Z")
        );
        assert_eq!(
            p("Tuesday 2 january 2024", "%A %d %B %Y").as_deref(),
            Some("2024-01-02T00:00:00.000000Z")
        );
        assert_eq!(
            p("2024-01-02T03:04:05+05:30", "%Y-%m-%dT%H:%M:%S%z").as_deref(),
            Some("2024-01-01T21:34:05.000000Z")
        );
        assert_eq!(
            p("1599665193", "%s").as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
        assert_eq!(
            p("2024-01-02 junk", "%Y-%m-%d"),
            None,
            "unconverted data remains"
        );
        assert_eq!(p("2024-02-30", "%Y-%m-%d"), None);
        assert_eq!(p("2024", "%Q"), None, "bad directive");
        assert_eq!(
            p("100%", "100%%").as_deref(),
            Some("2026-01-01T00:00:00.000000Z")
        );
    }

    #[test]
    fn output_forms() {
        let t = Utc.with_ymd_and_hms(2020, 9, 9, 15, 26, 33).unwrap();
        assert_eq!(format_micros(t), "2020-09-09T15:26:33.000000Z");
        assert_eq!(format_ecs(t), "2020-09-09T15:26:33Z");
        let t = t + chrono::Duration::nanoseconds(625_922_899);
        assert_eq!(format_ecs(t), "2020-09-09T15:26:33.625922Z");
        let y1 = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(format_ecs(y1), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn no_panics_on_odd_input() {
        for s in [
            "9",
            "99999999999999999999999999",
            "-1",
            "1.",
            ".5",
            "0000000000",
            "2024-",
            "2024-01-01T",
            "Oct",
            "Oct 21",
            "Oct 21 99:99:99",
            "10/Oct/",
            "é",
            "2024-01-01T00:00:00+99:99",
            "1e10",
            "Mon Mon",
            "2024-01-01T00:00:00.",
            "31/Foo/2024:00:00:00 +0000",
        ] {
            let _ = auto_s(s);
            let _ = parse_with_format(s, "%Y-%m-%dT%H:%M:%S.%f%z", Zone::Utc, now());
        }
        let _ = auto(Value::Float(f64::NAN));
        let _ = auto(Value::Float(1e300));
        let _ = auto(Value::Int(i64::MIN));
        let _ = auto(Value::Int(i64::MAX));
    }
}
