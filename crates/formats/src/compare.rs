//! How a test case's expected event is compared with the produced one (the rules
//! of the golden cases): keys in any order; lists in order, except those under
//! `related`, which compare as sets; numbers by type (`8080` ≠ `8080.0`, `"6"` ≠
//! `6`); timestamps as instants (`…00Z` = `…00.000Z`); the top-level `message`
//! must be present but is not compared.

use std::fmt;

use chrono::DateTime;
use intake_engine::Value;
use intake_engine::json::to_json_string;

/// One field where the produced event differs from the expected one.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Dotted path of the field (`source.port`, `related.ip`, `event.type[0]`).
    pub path: String,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| match v {
            Some(v) => to_json_string(v),
            None => "(absent)".to_string(),
        };
        write!(
            f,
            "{}: expected {}, got {}",
            self.path,
            show(&self.expected),
            show(&self.actual)
        )
    }
}

/// The differences between `expected` and `actual`, in path order.
pub fn compare(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    match (expected, actual) {
        (Value::Map(e), Value::Map(a)) => {
            if a.get("message").is_none() {
                out.push(Difference {
                    path: "message".into(),
                    expected: e
                        .get("message")
                        .cloned()
                        .or(Some(Value::from("(the raw event)"))),
                    actual: None,
                });
            }
            let mut e = e.clone();
            let mut a = a.clone();
            e.remove("message");
            a.remove("message");
            diff(&Value::Map(e), &Value::Map(a), "", &mut out);
        }
        _ => diff(expected, actual, "", &mut out),
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn diff(expected: &Value, actual: &Value, path: &str, out: &mut Vec<Difference>) {
    let mismatch = |out: &mut Vec<Difference>| {
        out.push(Difference {
            path: path.to_string(),
            expected: Some(expected.clone()),
            actual: Some(actual.clone()),
        })
    };
    match (expected, actual) {
        (Value::Map(e), Value::Map(a)) => {
            for (k, ev) in e.iter() {
                let p = join(path, k);
                match a.get(k) {
                    Some(av) => diff(ev, av, &p, out),
                    None => out.push(Difference {
                        path: p,
                        expected: Some(ev.clone()),
                        actual: None,
                    }),
                }
            }
            for (k, av) in a.iter() {
                if !e.contains_key(k) {
                    out.push(Difference {
                        path: join(path, k),
                        expected: None,
                        actual: Some(av.clone()),
                    });
                }
            }
        }
        (Value::List(e), Value::List(a)) if path.starts_with("related.") => {
            let key = |v: &Value| to_json_string(v);
            let mut es: Vec<String> = e.iter().map(key).collect();
            let mut as_: Vec<String> = a.iter().map(key).collect();
            es.sort();
            as_.sort();
            if es != as_ {
                mismatch(out);
            }
        }
        (Value::List(e), Value::List(a)) => {
            if e.len() != a.len() {
                mismatch(out);
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(ev, av, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Int(e), Value::Int(a)) if e == a => {}
        (Value::Float(e), Value::Float(a)) if e == a => {}
        (Value::Bool(e), Value::Bool(a)) if e == a => {}
        (Value::Null, Value::Null) => {}
        (Value::Str(e), Value::Str(a)) if e == a || same_instant(e, a) => {}
        _ => mismatch(out),
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_engine::json::parse_json;

    fn paths(e: &str, a: &str) -> Vec<String> {
        compare(&parse_json(e).unwrap(), &parse_json(a).unwrap())
            .into_iter()
            .map(|d| d.path)
            .collect()
    }

    #[test]
    fn numbers_compare_by_type() {
        assert_eq!(
            paths(
                r#"{"message":"m","p":8080}"#,
                r#"{"message":"m","p":8080.0}"#
            ),
            ["p"]
        );
        assert_eq!(
            paths(r#"{"message":"m","p":"6"}"#, r#"{"message":"m","p":6}"#),
            ["p"]
        );
    }

    #[test]
    fn related_lists_are_sets_other_lists_are_ordered() {
        assert!(
            paths(
                r#"{"message":"m","related":{"ip":["a","b"]}}"#,
                r#"{"message":"m","related":{"ip":["b","a"]}}"#
            )
            .is_empty()
        );
        assert_eq!(
            paths(
                r#"{"message":"m","t":["a","b"]}"#,
                r#"{"message":"m","t":["b","a"]}"#
            ),
            ["t[0]", "t[1]"]
        );
    }

    #[test]
    fn message_must_exist_but_is_not_compared() {
        assert!(paths(r#"{"message":"x"}"#, r#"{"message":"y"}"#).is_empty());
        assert_eq!(paths(r#"{"message":"x"}"#, r#"{}"#), ["message"]);
    }

    #[test]
    fn timestamps_compare_as_instants() {
        assert!(
            paths(
                r#"{"message":"m","t":"2016-10-31T11:37:00.000Z"}"#,
                r#"{"message":"m","t":"2016-10-31T11:37:00Z"}"#
            )
            .is_empty()
        );
        assert_eq!(
            paths(
                r#"{"message":"m","t":"2016-10-31T11:37:00Z"}"#,
                r#"{"message":"m","t":"2016-10-31T11:37:01Z"}"#
            ),
            ["t"]
        );
    }

    #[test]
    fn missing_and_extra_fields_are_reported() {
        assert_eq!(
            paths(
                r#"{"message":"m","a":{"b":1}}"#,
                r#"{"message":"m","a":{"c":1}}"#
            ),
            ["a.b", "a.c"]
        );
    }
}
