//! Built-in parsers ("externals") that a pipeline step calls, e.g. `grok.match`.
//!
//! API CONTRACT (used by the format executor): [`compile`] builds a parser from the
//! step's `properties` once; [`Parser::parse`] runs it on one input value.
//! `input_field` and `output_field` are handled by the executor and are not passed.

mod case_match;
mod cef;
mod date;
mod dict;
mod dsv;
pub mod grok;
mod json;
mod kv;
mod kv_groups;
mod leef;
mod names;
mod windows_event;
mod xml;

pub use names::Names;

use crate::template::{Binder, Env, Scope};
use crate::value::{Map, Str, Value};

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

    /// Whether parsing reads layers through templated properties (a time zone or a
    /// key given as a template).
    fn reads_layers(&self) -> bool {
        false
    }

    /// This parser for an executor that keeps the paths templates read in registers
    /// instead of layer maps: its templated properties rebound through `bind` (see
    /// [`crate::template::Template::rebind`]). The default suits parsers without any.
    fn rebind(&self, _bind: &mut Binder) -> Rebound {
        if self.reads_layers() {
            Rebound::Refused
        } else {
            Rebound::Unchanged
        }
    }

    /// The field names of a parser whose output is always a flat mapping of text
    /// fields (dsv columns), by position; `None` for other parsers.
    fn field_names(&self) -> Option<&[Option<Str>]> {
        None
    }

    /// The output fields of `text` as byte ranges of it, by their position in
    /// [`Parser::field_names`], instead of building the mapping: `spans[i]` is field
    /// `i`, and the fields after the last span are absent. `None` when this input
    /// needs the general path ([`Parser::parse`]); `spans` is left empty then.
    fn split_spans(&self, _text: &str, _spans: &mut Vec<(u32, u32)>) -> Option<()> {
        None
    }

    /// Whether [`Parser::find_spans`] can answer: the output is always a flat mapping
    /// of text fields, each a slice of the input text (kv pairs).
    fn finds_spans(&self) -> bool {
        false
    }

    /// The fields `names` of the output for `text`, as byte ranges of it, instead of
    /// building the mapping: `spans[i]` for name `i`, `None` when absent. `None`
    /// when this input needs the general path ([`Parser::parse`]), e.g. to fail.
    fn find_spans(
        &self,
        _text: &str,
        _names: &Names,
        _spans: &mut [Option<(u32, u32)>],
    ) -> Option<()> {
        None
    }
}

/// What [`Parser::rebind`] gives.
pub enum Rebound {
    /// The parser reads no layer: it runs as it is.
    Unchanged,
    /// A copy whose templated properties read registers.
    Copy(Box<dyn Parser>),
    /// A property reads a path the binder refused.
    Refused,
}

/// Compiles the external `name` (e.g. `kv.parse-kv`) with its properties. Unknown
/// properties are reported in `warnings`; an unknown name or a bad property is an error.
pub fn compile(
    name: &str,
    properties: &Map,
    scope: &dyn Scope,
    warnings: &mut Vec<String>,
) -> Result<Box<dyn Parser>, String> {
    let mut props = Props::new(name, properties);
    let parser: Box<dyn Parser> = match name {
        "json.parse-json" => Box::new(json::Json::compile(&mut props)?),
        "kv.parse-kv" => Box::new(kv::Kv::compile(&mut props, warnings)?),
        "grok.match" => Box::new(grok::GrokMatch::compile(&mut props)?),
        "grok.case_match" => Box::new(case_match::CaseMatch::compile(&mut props, scope)?),
        "date.parse" => Box::new(date::DateParse::compile(&mut props, scope)?),
        "cef.parse-cef" => Box::new(cef::Cef::compile(&mut props)?),
        "leef.parse-leef" => Box::new(leef::Leef::compile(&mut props)?),
        "xml.parse-xml" => Box::new(xml::Xml::compile(&mut props)?),
        "xml.parse-windows-event" => Box::new(windows_event::WindowsEvent::compile(&mut props)?),
        "dict.parse" => Box::new(dict::Dict::compile(&mut props)?),
        "dsv.parse-dsv" => Box::new(dsv::Dsv::compile(&mut props, warnings)?),
        _ => return Err(format!("unknown external {name:?}")),
    };
    props.finish(warnings);
    Ok(parser)
}

/// Reads a step's properties, remembering which keys were looked at so that the
/// others can be reported as unknown.
pub(crate) struct Props<'a> {
    external: &'a str,
    map: &'a Map,
    seen: Vec<&'static str>,
}

impl<'a> Props<'a> {
    fn new(external: &'a str, map: &'a Map) -> Props<'a> {
        // Accepted by every external and handled (or ignored) elsewhere.
        let seen = vec!["input_field", "output_field", "raise_errors", "description"];
        Props {
            external,
            map,
            seen,
        }
    }

    /// The value of `key`; a YAML `null` counts as absent.
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string property. Numbers and booleans are accepted in their text form.
    pub(crate) fn string(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.to_string())),
            Some(v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_))) => {
                Ok(Some(crate::template::py_str(v)))
            }
            Some(v) => Err(self.bad(key, &format!("must be a string, not a {}", v.type_name()))),
        }
    }

    /// A map of string → string (grok `custom_patterns`, `patterns`).
    pub(crate) fn string_map(
        &mut self,
        key: &'static str,
    ) -> Result<Vec<(String, String)>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::Str(s) => Ok((k.to_string(), s.to_string())),
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                        Ok((k.to_string(), crate::template::py_str(v)))
                    }
                    _ => Err(self.bad(
                        key,
                        &format!("entry {k:?} must be a string, not a {}", v.type_name()),
                    )),
                })
                .collect(),
            Some(v) => Err(self.bad(key, &format!("must be a map, not a {}", v.type_name()))),
        }
    }

    /// An error message naming the external and the property.
    pub(crate) fn bad(&self, key: &str, what: &str) -> String {
        format!("{}: property `{key}` {what}", self.external)
    }

    pub(crate) fn external(&self) -> &str {
        self.external
    }

    fn finish(self, warnings: &mut Vec<String>) {
        for key in self.map.keys() {
            if !self.seen.contains(&key.as_str()) {
                warnings.push(format!(
                    "{}: unknown property `{key}` ignored",
                    self.external
                ));
            }
        }
    }
}

/// The text a parser works on: strings as they are, other scalars in Python's
/// `str()` form; containers are not text.
pub(crate) fn input_text(input: &Value) -> Result<std::borrow::Cow<'_, str>, Failure> {
    match input {
        Value::Str(s) => Ok(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            Ok(std::borrow::Cow::Owned(crate::template::py_str(input)))
        }
        other => Err(Failure::Invalid(format!(
            "input is a {}, not text",
            other.type_name()
        ))),
    }
}

/// Whether a property value is a template rather than a plain constant.
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::datetime::Timestamp;
    use chrono::TimeZone;

    /// A scope that knows no layers.
    pub struct NoScope;
    impl Scope for NoScope {
        fn slot(&self, _name: &str) -> Option<usize> {
            None
        }
    }

    pub fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 2, 20, 0, 0, 0).unwrap()
    }

    pub fn props(pairs: &[(&str, Value)]) -> Map {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Compiles an external, returning it with the warnings.
    pub fn build(
        name: &str,
        pairs: &[(&str, Value)],
    ) -> Result<(Box<dyn Parser>, Vec<String>), String> {
        let mut warnings = Vec::new();
        let p = compile(name, &props(pairs), &NoScope, &mut warnings)?;
        Ok((p, warnings))
    }

    pub fn run(p: &dyn Parser, input: &str) -> Result<Value, Failure> {
        let slots = [];
        let env = Env::new(&slots, now());
        p.parse(&Value::from(input), &env)
    }

    /// A map from pairs of key and string (`None` → null).
    pub fn strs(pairs: &[(&str, Option<&str>)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (*k, v.map_or(Value::Null, Value::from)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn unknown_external_and_unknown_property() {
        assert!(build("nope.parse", &[]).unwrap_err().contains("nope.parse"));
        let (_, w) = build(
            "json.parse-json",
            &[
                ("colour", Value::from("red")),
                ("raise_errors", false.into()),
            ],
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("colour"), "{w:?}");
    }
}
