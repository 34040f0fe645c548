//! `json.parse-json` (SPEC §2.1): decode a JSON document into native values. A
//! dict input (a layer already decoded upstream) passes through unchanged.

use super::{Failure, Parser, Props};
use crate::template::Env;
use crate::value::Value;

#[derive(Debug)]
pub(crate) struct Json;

impl Json {
    pub(crate) fn compile(_props: &mut Props) -> Result<Json, String> {
        Ok(Json)
    }
}

impl Parser for Json {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        match input {
            // serde_json accepts surrounding whitespace, so a trailing `\n` is fine.
            Value::Str(s) => crate::json::parse_json(s)
                .map_err(|e| Failure::Invalid(format!("invalid JSON: {e}"))),
            Value::Map(_) | Value::List(_) => Ok(input.clone()),
            other => Err(Failure::Invalid(format!(
                "JSON input is a {}, not text",
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::template::Env;
    use crate::value::{Map, Value};

    #[test]
    fn decodes_native_types_and_tolerates_trailing_newline() {
        let (p, w) = build("json.parse-json", &[]).unwrap();
        assert!(w.is_empty());
        let v = run(&*p, "{\"a\": 1, \"b\": 6.0, \"c\": null, \"d\": [\"x\"]}\n").unwrap();
        let m = v.as_map().unwrap();
        assert!(matches!(m.get("a"), Some(Value::Int(1))));
        assert!(matches!(m.get("b"), Some(Value::Float(f)) if *f == 6.0));
        assert_eq!(m.get("c"), Some(&Value::Null));
        assert_eq!(m.get("d"), Some(&Value::List(vec!["x".into()])));
    }

    #[test]
    fn dict_passes_through_and_garbage_fails() {
        let (p, _) = build("json.parse-json", &[]).unwrap();
        let mut m = Map::new();
        m.insert("k", Value::from("v"));
        let env = Env::new(&[], now());
        assert_eq!(p.parse(&Value::Map(m.clone()), &env), Ok(Value::Map(m)));
        assert!(run(&*p, "{not json").is_err());
        assert!(run(&*p, "{} trailing").is_err());
        assert!(p.parse(&Value::Int(3), &env).is_err());
    }
}
