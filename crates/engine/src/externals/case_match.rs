//! `grok.case_match` (SPEC §2.3): render `pattern_key`, pick `patterns[key]` and
//! match it like `grok.match`. Every pattern is compiled once, up front. A key
//! without a pattern is a silent failure that creates no layer.

use std::sync::Arc;

use super::grok::Grok;
use super::{Failure, Parser, Props, Rebound, input_text, is_template};
use crate::template::{Binder, Env, Scope, Template, py_str};
use crate::value::{Str, Value};

#[derive(Debug)]
pub(crate) struct CaseMatch {
    key: Key,
    /// Shared with rebound copies (see [`Parser::rebind`]).
    patterns: Arc<[(String, Grok)]>,
}

#[derive(Debug)]
enum Key {
    Constant(String),
    Template(Template),
}

impl CaseMatch {
    pub(crate) fn compile(props: &mut Props, scope: &dyn Scope) -> Result<CaseMatch, String> {
        let custom = props.string_map("custom_patterns")?;
        let source = props
            .string("pattern_key")?
            .ok_or_else(|| props.bad("pattern_key", "is required"))?;
        let key = if is_template(&source) {
            Key::Template(
                Template::compile(&source, scope)
                    .map_err(|e| props.bad("pattern_key", &format!("has a bad template: {e}")))?,
            )
        } else {
            Key::Constant(source)
        };
        let mut patterns = Vec::new();
        for (k, p) in props.string_map("patterns")? {
            let grok = Grok::compile(&p, &custom)
                .map_err(|e| props.bad("patterns", &format!("entry {k:?}: {e}")))?;
            patterns.push((k, grok));
        }
        Ok(CaseMatch {
            key,
            patterns: patterns.into(),
        })
    }

    fn key(&self, env: &Env) -> Result<Str, Failure> {
        match &self.key {
            Key::Constant(k) => Ok(Str::from(k.as_str())),
            Key::Template(t) => {
                let v = match t.constant() {
                    Some(v) => v.clone(),
                    None => match t.eval(env) {
                        Ok(Some(v)) => v,
                        Ok(None) => {
                            return Err(Failure::Invalid("pattern_key is undefined".to_string()));
                        }
                        Err(e) => return Err(Failure::Invalid(format!("pattern_key: {}", e.0))),
                    },
                };
                // Text is its own `str()`: kept as it is.
                Ok(match v {
                    Value::Str(s) => s,
                    v => Str::from(py_str(&v)),
                })
            }
        }
    }
}

impl Parser for CaseMatch {
    fn reads_layers(&self) -> bool {
        matches!(self.key, Key::Template(_))
    }

    fn rebind(&self, bind: &mut Binder) -> Rebound {
        let Key::Template(t) = &self.key else {
            return Rebound::Unchanged;
        };
        match t.rebind(bind) {
            Some(t) => Rebound::Copy(Box::new(CaseMatch {
                key: Key::Template(t),
                patterns: self.patterns.clone(),
            })),
            None => Rebound::Refused,
        }
    }

    fn parse(&self, input: &Value, env: &Env) -> Result<Value, Failure> {
        let key = self.key(env)?;
        let Some((_, grok)) = self.patterns.iter().find(|(k, _)| *k == key.as_str()) else {
            return Err(Failure::Invalid(format!("no pattern for key {key:?}")));
        };
        let text = input_text(input)?;
        grok.matches(&text).map(Value::Map).ok_or(Failure::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;
    use crate::value::{Map, Value};

    fn patterns(pairs: &[(&str, &str)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (*k, Value::from(*v)))
                .collect::<Map>(),
        )
    }

    #[test]
    fn picks_the_pattern_of_the_key() {
        let props = [
            ("pattern_key", Value::from("AUT24604")),
            (
                "patterns",
                patterns(&[
                    ("AUT24604", "%{WORD:a} %{INT:n}"),
                    ("SYS20704", "%{GREEDYDATA:all}"),
                ]),
            ),
        ];
        let (p, w) = build("grok.case_match", &props).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            run(&*p, "x 12").unwrap(),
            strs(&[("a", Some("x")), ("n", Some("12"))])
        );
        assert_eq!(run(&*p, "x y"), Err(Failure::NoMatch));
    }

    #[test]
    fn missing_key_is_invalid_not_nomatch() {
        let props = [
            ("pattern_key", Value::from("AUT23457")),
            ("patterns", patterns(&[("X", "%{GREEDYDATA}")])),
        ];
        let (p, _) = build("grok.case_match", &props).unwrap();
        assert!(matches!(run(&*p, "anything"), Err(Failure::Invalid(m)) if m.contains("AUT23457")));
    }

    #[test]
    fn custom_patterns_are_shared_and_bad_patterns_name_their_key() {
        let props = [
            ("pattern_key", Value::from("k")),
            ("patterns", patterns(&[("k", "%{HOST_ADDRESS}")])),
            (
                "custom_patterns",
                patterns(&[("HOST_ADDRESS", "%{IP:host_ip}|%{HOSTNAME:host_name}")]),
            ),
        ];
        let (p, _) = build("grok.case_match", &props).unwrap();
        let v = run(&*p, "176.134.164.62").unwrap();
        let m = v.as_map().unwrap();
        assert_eq!(m.get("host_ip"), Some(&Value::from("176.134.164.62")));
        assert_eq!(m.get("host_name"), Some(&Value::Null));
        assert_eq!(m.get("HOST_ADDRESS"), Some(&Value::from("176.134.164.62")));
        let bad = [
            ("pattern_key", Value::from("k")),
            ("patterns", patterns(&[("k", "%{NOPE:x}")])),
        ];
        let e = build("grok.case_match", &bad).unwrap_err();
        assert!(e.contains("\"k\"") && e.contains("NOPE"), "{e}");
    }

    #[test]
    fn template_key_that_cannot_render_is_invalid() {
        let props = [
            (
                "pattern_key",
                Value::from("{{field_extraction.event.code}}"),
            ),
            ("patterns", patterns(&[("X", "%{GREEDYDATA}")])),
        ];
        let (p, _) = build("grok.case_match", &props).unwrap();
        assert!(matches!(run(&*p, "x"), Err(Failure::Invalid(_))));
    }
}
