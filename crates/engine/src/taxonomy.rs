//! Field types and the typing of written values (SPEC §5.2–5.3).
//!
//! The taxonomy is ECS (a data file embedded at build time), a few SIEM base fields
//! that parsers write without declaring them, and the format's own `fields.yml`.
//! A `set` resolves its destination's type once, at compile time; the per-event
//! work is then a `match` on [`FieldType`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use crate::datetime::{self, Timestamp};
use crate::json::to_json_string;
use crate::value::{Map, Str, Value};

/// How values written to a field are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Strings kept, anything else JSON-encoded (lists element-wise).
    Keyword,
    /// Digit strings become integers (else floats); numbers kept.
    Long,
    /// Numeric strings become numbers; numbers kept.
    Float,
    /// `true`/`false`/`1`/`0` become booleans.
    Boolean,
    /// Any recognizable date becomes `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
    Date,
    /// IPv6 addresses are written in compressed form.
    Ip,
    /// A scalar becomes a one-element list.
    Array,
    /// Containers kept verbatim, with no filtering of their content.
    Object,
    /// `lat`/`lon` become floats.
    GeoPoint,
    /// Declared, but values are kept as written.
    Untyped,
}

impl FieldType {
    /// The type of an ECS column.
    fn from_ecs(name: &str) -> Option<FieldType> {
        Some(match name {
            "keyword" | "wildcard" | "match_only_text" | "constant_keyword" | "text" => {
                FieldType::Keyword
            }
            "long" | "integer" | "short" | "byte" | "unsigned_long" => FieldType::Long,
            "float" | "double" | "scaled_float" | "half_float" => FieldType::Float,
            "boolean" => FieldType::Boolean,
            "date" | "date_nanos" => FieldType::Date,
            "ip" => FieldType::Ip,
            "object" | "flattened" | "nested" => FieldType::Object,
            "geo_point" => FieldType::GeoPoint,
            _ => return None,
        })
    }

    /// The type of a `fields.yml` declaration. Some custom types are deliberately
    /// untyped (`integer`, `date`, `ip`): the catalog's expectations show no coercion.
    pub fn from_custom(name: &str) -> FieldType {
        match name {
            "keyword" | "text" | "string" | "keywords" | "wildcard" => FieldType::Keyword,
            "long" | "number" => FieldType::Long,
            "float" | "double" => FieldType::Float,
            "boolean" | "bool" => FieldType::Boolean,
            "datetime" | "date_nanos" => FieldType::Date,
            "array" | "list" => FieldType::Array,
            "object" | "flattened" | "nested" => FieldType::Object,
            "geo_point" => FieldType::GeoPoint,
            _ => FieldType::Untyped,
        }
    }

    /// Whether the field holds a container kept as written.
    pub fn is_container(self) -> bool {
        matches!(self, FieldType::Object | FieldType::GeoPoint)
    }
}

/// The field types a format writes to.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    fields: HashMap<String, FieldType>,
}

/// SIEM base fields that parsers write without declaring them.
const BASE_FIELDS: &[(&str, FieldType)] = &[
    ("action.name", FieldType::Keyword),
    ("action.type", FieldType::Keyword),
    ("action.outcome", FieldType::Keyword),
    ("action.outcome_reason", FieldType::Keyword),
    ("action.id", FieldType::Long),
    ("action.record_id", FieldType::Long),
    ("log.hostname", FieldType::Keyword),
    ("log.description", FieldType::Keyword),
    ("log.priority", FieldType::Long),
    ("os.family", FieldType::Keyword),
    ("os.platform", FieldType::Keyword),
    ("event.message", FieldType::Keyword),
    // The one `sekoiaio.*` number: every other `sekoiaio.*` field is a keyword.
    ("sekoiaio.repeat.count", FieldType::Long),
];

static ECS_TSV: &str = include_str!("../data/ecs_fields.tsv");

impl Taxonomy {
    /// ECS plus the base fields, built once per process.
    pub fn base() -> &'static Taxonomy {
        static BASE: OnceLock<Taxonomy> = OnceLock::new();
        BASE.get_or_init(|| {
            let mut fields = HashMap::with_capacity(2700);
            for line in ECS_TSV.lines().filter(|l| !l.starts_with('#')) {
                let mut cols = line.split('\t');
                if let (Some(name), Some(ty)) = (cols.next(), cols.next())
                    && let Some(ty) = FieldType::from_ecs(ty)
                {
                    fields.insert(name.to_string(), ty);
                }
            }
            for (name, ty) in BASE_FIELDS {
                fields.insert((*name).to_string(), *ty);
            }
            Taxonomy { fields }
        })
    }

    /// The base taxonomy with a format's declarations on top. A custom declaration
    /// replaces an ECS type only when it types values itself: declaring an ECS field
    /// with an untyped custom type (e.g. `date`) keeps the ECS typing.
    pub fn with_custom<'a>(declared: impl IntoIterator<Item = (&'a str, FieldType)>) -> Taxonomy {
        let mut fields = Taxonomy::base().fields.clone();
        for (name, ty) in declared {
            if ty == FieldType::Untyped && fields.contains_key(name) {
                continue;
            }
            fields.insert(name.to_string(), ty);
        }
        Taxonomy { fields }
    }

    /// The declared type of `path`, if any. `sekoiaio.*` is keyword by convention.
    /// A `geo_point`'s `lat` and `lon` written one by one are floats, as they are
    /// when the point is written whole.
    pub fn lookup(&self, path: &str) -> Option<FieldType> {
        self.fields
            .get(path)
            .copied()
            .or_else(|| path.starts_with("sekoiaio.").then_some(FieldType::Keyword))
            .or_else(|| {
                let (parent, key) = path.rsplit_once('.')?;
                (matches!(key, "lat" | "lon")
                    && self.fields.get(parent) == Some(&FieldType::GeoPoint))
                .then_some(FieldType::Float)
            })
    }

    /// The type used to write `path`: undeclared paths are written as they are.
    pub fn type_of(&self, path: &str) -> FieldType {
        self.lookup(path).unwrap_or(FieldType::Untyped)
    }

    /// Whether `path` or one of its parents is declared as a verbatim container.
    fn under_container(&self, path: &str) -> bool {
        let mut end = path.len();
        while let Some(dot) = path[..end].rfind('.') {
            if self
                .lookup(&path[..dot])
                .is_some_and(FieldType::is_container)
            {
                return true;
            }
            end = dot;
        }
        false
    }

    /// Types `value` for writing to `path` (declared as `ty`). Dict values written to
    /// a field that is neither a container nor a keyword are filtered by the
    /// taxonomy (SPEC §5.3): only declared leaves survive, each typed.
    pub fn coerce(&self, path: &str, ty: FieldType, value: Value, now: Timestamp) -> Value {
        match value {
            Value::Map(map) if !ty.is_container() && ty != FieldType::Keyword => {
                let mut prefix = String::with_capacity(path.len() + 16);
                prefix.push_str(path);
                Value::Map(self.filter_map(&mut prefix, map, now))
            }
            Value::List(items) if ty.is_container() => {
                let mut prefix = String::with_capacity(path.len() + 16);
                prefix.push_str(path);
                Value::List(self.type_objects(&mut prefix, items, now))
            }
            other => coerce_value(ty, other, now),
        }
    }

    /// A list of objects written to a container keeps all its content, but the
    /// leaves the taxonomy declares below the container are typed (SPEC §5.2:
    /// `dns.answers[].ttl` is a `long`).
    fn type_objects(&self, prefix: &mut String, items: Vec<Value>, now: Timestamp) -> Vec<Value> {
        items
            .into_iter()
            .map(|item| match item {
                Value::Map(map) => Value::Map(self.type_declared(prefix, map, now)),
                other => other,
            })
            .collect()
    }

    fn type_declared(&self, prefix: &mut String, mut map: Map, now: Timestamp) -> Map {
        for (key, value) in map.iter_mut() {
            let len = prefix.len();
            prefix.push('.');
            prefix.push_str(key);
            let taken = std::mem::take(value);
            *value = match (self.lookup(prefix), taken) {
                (Some(ty), Value::List(items)) if ty.is_container() => {
                    Value::List(self.type_objects(prefix, items, now))
                }
                (_, Value::Map(inner)) => Value::Map(self.type_declared(prefix, inner, now)),
                (Some(ty), v) if ty.is_container() => v,
                (Some(ty), v) => coerce_value(ty, v, now),
                (None, v) => v,
            };
            prefix.truncate(len);
        }
        map
    }

    fn filter_map(&self, prefix: &mut String, map: Map, now: Timestamp) -> Map {
        let mut out = Map::with_capacity(map.len());
        for (key, value) in map {
            let len = prefix.len();
            prefix.push('.');
            prefix.push_str(&key);
            let declared = self.lookup(prefix);
            let kept = match (declared, value) {
                (Some(ty), Value::List(items)) if ty.is_container() => {
                    Some(Value::List(self.type_objects(prefix, items, now)))
                }
                (Some(ty), v) if ty.is_container() => Some(v),
                (_, Value::Null) => None,
                (_, Value::Str(s)) if s.is_empty() => None,
                (None, Value::Map(inner)) => {
                    let inner = self.filter_map(prefix, inner, now);
                    (!inner.is_empty()).then_some(Value::Map(inner))
                }
                (Some(ty), v) => Some(self.coerce(prefix, ty, v, now)),
                (None, v) => self.under_container(prefix).then_some(v),
            };
            if let Some(v) = kept {
                out.insert(key, v);
            }
            prefix.truncate(len);
        }
        out
    }
}

/// Types a scalar or list for a field of type `ty`.
pub fn coerce_value(ty: FieldType, value: Value, now: Timestamp) -> Value {
    match ty {
        FieldType::Untyped | FieldType::Object => value,
        FieldType::Keyword => match value {
            Value::Str(_) => value,
            Value::List(items) => Value::List(items.into_iter().map(keyword_scalar).collect()),
            other => keyword_scalar(other),
        },
        FieldType::Array => match value {
            Value::List(_) => value,
            scalar => Value::List(vec![scalar]),
        },
        FieldType::GeoPoint => match value {
            Value::Map(mut map) => {
                for key in ["lat", "lon"] {
                    if let Some(v) = map.get_mut(key)
                        && let Some(f) = as_float(v)
                    {
                        *v = Value::Float(f);
                    }
                }
                Value::Map(map)
            }
            other => other,
        },
        _ => match value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|v| coerce_scalar(ty, v, now))
                    .collect(),
            ),
            other => coerce_scalar(ty, other, now),
        },
    }
}

fn keyword_scalar(value: Value) -> Value {
    match value {
        Value::Str(_) => value,
        other => Value::Str(Str::from(to_json_string_sorted_if_map(&other))),
    }
}

fn to_json_string_sorted_if_map(value: &Value) -> String {
    match value {
        Value::Map(_) | Value::List(_) => crate::json::to_json_string_sorted(value),
        other => to_json_string(other),
    }
}

fn coerce_scalar(ty: FieldType, value: Value, now: Timestamp) -> Value {
    match (ty, value) {
        (FieldType::Long, Value::Str(s)) => parse_number(&s).unwrap_or(Value::Str(s)),
        (FieldType::Float, Value::Str(s)) => parse_number(&s).unwrap_or(Value::Str(s)),
        (FieldType::Boolean, Value::Str(s)) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") || t == "1" {
                Value::Bool(true)
            } else if t.eq_ignore_ascii_case("false") || t == "0" {
                Value::Bool(false)
            } else {
                Value::Str(s)
            }
        }
        (FieldType::Boolean, Value::Int(i)) if i == 0 || i == 1 => Value::Bool(i == 1),
        (FieldType::Date, v @ (Value::Str(_) | Value::Int(_) | Value::Float(_))) => {
            if let Some(text) = datetime::epoch_seconds_ecs_str(&v) {
                return Value::Str(text);
            }
            match datetime::parse_auto(&v, now) {
                Some(t) => Value::Str(datetime::format_ecs_str(t)),
                None => v,
            }
        }
        // Only IPv6 text (with a colon) can have another canonical form.
        (FieldType::Ip, Value::Str(s)) if memchr::memchr(b':', s.as_bytes()).is_none() => {
            Value::Str(s)
        }
        (FieldType::Ip, Value::Str(s)) => match s.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => {
                let canonical = v6.to_string();
                if canonical == s.as_str() {
                    Value::Str(s)
                } else {
                    Value::from(canonical)
                }
            }
            _ => Value::Str(s),
        },
        (_, v) => v,
    }
}

/// Python's `int(s)`, else `float(s)`; integers beyond i64 clamp to its bounds.
fn parse_number(s: &str) -> Option<Value> {
    // Short ASCII digit strings (ports, counters) are the common case: no trimming,
    // no overflow (at most 18 digits), nothing else to try.
    if (1..=18).contains(&s.len()) {
        let mut v: i64 = 0;
        let mut all_digits = true;
        for &c in s.as_bytes() {
            if !c.is_ascii_digit() {
                all_digits = false;
                break;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        if all_digits {
            return Some(Value::Int(v));
        }
    }
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Value::Int(t.parse::<i64>().unwrap_or(
            if t.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            },
        )));
    }
    let lower = t.to_ascii_lowercase();
    // Rust accepts "inf"/"nan" spellings Python also accepts; both are fine as floats.
    if lower.bytes().any(|b| b.is_ascii_digit()) || lower.contains("inf") || lower.contains("nan") {
        return t.parse::<f64>().ok().map(Value::Float);
    }
    None
}

fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_json;

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn digit_strings_parse_like_the_general_path() {
        for s in [
            "0",
            "7",
            "007",
            "443",
            "65535",
            "123456789012345678",
            "999999999999999999",
            "1234567890123456789",
            "99999999999999999999",
            " 42",
            "42 ",
            "+42",
            "-42",
            "4_2",
            "4.2",
            "",
        ] {
            let general = {
                let t = s.trim();
                let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    Some(Value::Int(t.parse::<i64>().unwrap_or(
                        if t.starts_with('-') {
                            i64::MIN
                        } else {
                            i64::MAX
                        },
                    )))
                } else {
                    t.parse::<f64>().ok().map(Value::Float)
                }
            };
            assert_eq!(parse_number(s), general, "{s:?}");
        }
    }

    fn coerce_value(ty: FieldType, v: Value) -> Value {
        super::coerce_value(ty, v, now())
    }

    fn tax() -> &'static Taxonomy {
        Taxonomy::base()
    }

    #[test]
    fn ecs_types_are_loaded() {
        assert_eq!(tax().type_of("source.port"), FieldType::Long);
        assert_eq!(tax().type_of("network.iana_number"), FieldType::Keyword);
        assert_eq!(tax().type_of("@timestamp"), FieldType::Date);
        assert_eq!(tax().type_of("source.ip"), FieldType::Ip);
        assert_eq!(tax().type_of("action.outcome"), FieldType::Keyword);
        assert_eq!(tax().type_of("no.such.field"), FieldType::Untyped);
    }

    #[test]
    fn keyword_json_encodes_non_strings() {
        let k = FieldType::Keyword;
        assert_eq!(coerce_value(k, Value::Int(17)), Value::from("17"));
        assert_eq!(coerce_value(k, Value::Float(6.0)), Value::from("6.0"));
        assert_eq!(coerce_value(k, Value::Bool(false)), Value::from("false"));
        assert_eq!(
            coerce_value(k, parse_json(r#"{"b":1,"a":[true]}"#).unwrap()),
            Value::from(r#"{"a":[true],"b":1}"#)
        );
        assert_eq!(
            coerce_value(k, parse_json(r#"["x",1]"#).unwrap()),
            parse_json(r#"["x","1"]"#).unwrap()
        );
    }

    #[test]
    fn long_parses_strings_and_keeps_floats() {
        let l = FieldType::Long;
        assert!(matches!(
            coerce_value(l, Value::from("123")),
            Value::Int(123)
        ));
        assert!(matches!(coerce_value(l, Value::from("0.5")), Value::Float(f) if f == 0.5));
        assert!(matches!(
            coerce_value(l, Value::Float(8080.0)),
            Value::Float(_)
        ));
        assert_eq!(coerce_value(l, Value::from("abc")), Value::from("abc"));
        assert!(matches!(
            coerce_value(l, Value::from("99999999999999999999")),
            Value::Int(i64::MAX)
        ));
    }

    #[test]
    fn boolean_and_ip() {
        assert_eq!(
            coerce_value(FieldType::Boolean, Value::from("TRUE")),
            Value::Bool(true)
        );
        assert_eq!(
            coerce_value(FieldType::Boolean, Value::Int(0)),
            Value::Bool(false)
        );
        assert_eq!(
            coerce_value(FieldType::Ip, Value::from("0000:111:0:0:0:0:0:1")),
            Value::from("0:111::1")
        );
        assert_eq!(
            coerce_value(FieldType::Ip, Value::from("::ffff:1.2.3.4")),
            Value::from("::ffff:1.2.3.4")
        );
        assert_eq!(
            coerce_value(FieldType::Ip, Value::from("nope")),
            Value::from("nope")
        );
    }

    #[test]
    fn array_wraps_scalars() {
        assert_eq!(
            coerce_value(FieldType::Array, Value::from("a")),
            Value::List(vec![Value::from("a")])
        );
    }

    #[test]
    fn dicts_keep_only_declared_leaves() {
        let t = Taxonomy::with_custom([("wallix.user", FieldType::Keyword)]);
        let v = parse_json(r#"{"user":"bob","other":"x","nested":{"a":1},"empty":""}"#).unwrap();
        let out = t.coerce("wallix", FieldType::Untyped, v, now());
        assert_eq!(out, parse_json(r#"{"user":"bob"}"#).unwrap());
        // The written path itself stays, even when nothing survives.
        let out = t.coerce(
            "wallix",
            FieldType::Untyped,
            parse_json(r#"{"x":1}"#).unwrap(),
            now(),
        );
        assert_eq!(out, Value::Map(Map::new()));
    }

    #[test]
    fn leaves_in_lists_of_objects_follow_their_declared_types() {
        // A resolver's answers: `ttl` is a `long`, `class` a keyword, and an
        // undeclared key is kept as it is.
        let answers = parse_json(
            r#"[{"name":"a.example","ttl":"300","class":"IN","extra":7},{"ttl":"60"},"odd"]"#,
        )
        .unwrap();
        let typed = tax().coerce("dns.answers", FieldType::Object, answers, now());
        assert_eq!(
            typed,
            parse_json(
                r#"[{"name":"a.example","ttl":300,"class":"IN","extra":7},{"ttl":60},"odd"]"#
            )
            .unwrap()
        );
        // Through an object declared inside the list's items (`indicator`).
        let enrichments = parse_json(
            r#"[{"indicator":{"first_seen":"2024-02-01T10:00:00.000Z","sightings":"4"}}]"#,
        )
        .unwrap();
        let typed = tax().coerce("threat.enrichments", FieldType::Object, enrichments, now());
        assert_eq!(
            typed,
            parse_json(r#"[{"indicator":{"first_seen":"2024-02-01T10:00:00Z","sightings":4}}]"#)
                .unwrap()
        );
    }

    #[test]
    fn a_geo_points_coordinates_written_alone_are_floats() {
        assert_eq!(
            tax().lookup("client.geo.location.lat"),
            Some(FieldType::Float)
        );
        assert_eq!(
            coerce_value(
                tax().type_of("client.geo.location.lon"),
                Value::from("2.352200")
            ),
            Value::Float(2.3522)
        );
        assert_eq!(tax().lookup("client.geo.location.alt"), None);
    }

    #[test]
    fn a_repeat_count_is_a_number_other_sekoiaio_fields_text() {
        let t = tax();
        assert_eq!(
            coerce_value(t.type_of("sekoiaio.repeat.count"), Value::from("12")),
            Value::Int(12)
        );
        assert_eq!(
            coerce_value(t.type_of("sekoiaio.tags"), Value::Int(12)),
            Value::from("12")
        );
    }

    #[test]
    fn declared_objects_keep_their_content() {
        let t = Taxonomy::with_custom([("action.properties", FieldType::Object)]);
        let v = parse_json(r#"{"a":"","b":{"c":null}}"#).unwrap();
        assert_eq!(
            t.coerce("action.properties", FieldType::Object, v.clone(), now()),
            v
        );
    }

    #[test]
    fn ecs_redeclared_untyped_keeps_ecs_type() {
        let t = Taxonomy::with_custom([("@timestamp", FieldType::Untyped)]);
        assert_eq!(t.type_of("@timestamp"), FieldType::Date);
    }
}
