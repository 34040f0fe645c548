//! How a test case's expected event is compared with the produced one. Under both
//! [`Rules`], keys are in any order and the top-level `message` must be present but
//! is not compared. [`Rules::Strict`] (intake's own golden cases): lists in order,
//! except those under `related`, which compare as sets; numbers by type (`8080` ≠
//! `8080.0`, `"6"` ≠ `6`); timestamps as instants (`…00Z` = `…00.000Z`).
//! [`Rules::Catalog`] is the public catalog's harness (SPEC §0), see its variant.

use std::cmp::Ordering;
use std::fmt;

use chrono::DateTime;
use intake_engine::json::to_json_string;
use intake_engine::{Map, Value};

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

/// Which rules a comparison follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// intake's own golden cases: the rules of this module's header.
    Strict,
    /// The rules of the public catalog's harness: the fixed `sekoiaio.intake.*` and
    /// `event.id` values on both sides (the engine overwrites them), no
    /// `sekoiaio.intake.parsing_duration_ms` and no `event.created` in the produced
    /// event (the validation API drops it), every list of scalars compared sorted
    /// (a multiset), lists of objects in their order, numbers by value (`1` = `1.0`,
    /// and `true` = `1` as in Python), text exactly.
    Catalog,
}

/// The values the catalog's harness merges into both events.
const FIXED: [(&[&str], &str); 4] = [
    (&["sekoiaio", "intake", "parsing_status"], "success"),
    (&["sekoiaio", "intake", "dialect"], "test"),
    (
        &["sekoiaio", "intake", "dialect_uuid"],
        "00000000-0000-0000-0000-000000000000",
    ),
    (&["event", "id"], "00000000-0000-0000-0000-000000000000"),
];

/// The differences between `expected` and `actual` under `rules`, in path order.
pub fn compare(expected: &Value, actual: &Value, rules: Rules) -> Vec<Difference> {
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
            if rules == Rules::Catalog {
                for (path, value) in FIXED {
                    set_fixed(&mut e, path, value);
                    set_fixed(&mut a, path, value);
                }
                remove_duration(&mut a);
                // The catalog's validation API drops it: no expected event has one.
                if let Some(Value::Map(event)) = a.get_mut("event") {
                    event.remove("created");
                }
            }
            diff(
                &Value::Map(e),
                &Value::Map(a),
                "",
                Mode::of(rules),
                &mut out,
            );
        }
        _ => diff(expected, actual, "", Mode::of(rules), &mut out),
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

/// Writes a fixed value the way the harness merges it: intermediate objects are
/// created when absent and kept when present; a non-object in the way is replaced.
fn set_fixed(event: &mut Map, path: &[&str], value: &str) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = event;
    for seg in parents {
        let slot = cur.entry(seg);
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Map::new());
        }
        let Value::Map(m) = slot else { return };
        cur = m;
    }
    cur.insert(*last, Value::from(value));
}

fn remove_duration(event: &mut Map) {
    if let Some(Value::Map(s)) = event.get_mut("sekoiaio")
        && let Some(Value::Map(i)) = s.get_mut("intake")
    {
        i.remove("parsing_duration_ms");
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// How [`diff`] compares at one place: the catalog's harness sorts no list found
/// inside an item of a list of objects (it sorts that list by its items' keys and
/// leaves the items as they are).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Strict,
    Catalog { sort: bool },
}

impl Mode {
    fn of(rules: Rules) -> Mode {
        match rules {
            Rules::Strict => Mode::Strict,
            Rules::Catalog => Mode::Catalog { sort: true },
        }
    }
}

fn diff(expected: &Value, actual: &Value, path: &str, mode: Mode, out: &mut Vec<Difference>) {
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
                    Some(av) => diff(ev, av, &p, mode, out),
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
        (Value::List(e), Value::List(a)) if mode != Mode::Strict => {
            let (e, a) = match mode {
                Mode::Catalog { sort: true } => (catalog_order(e), catalog_order(a)),
                _ => (e.clone(), a.clone()),
            };
            if e.len() != a.len() {
                mismatch(out);
                return;
            }
            let inner = match (mode, e.first()) {
                (_, Some(Value::Map(_))) => Mode::Catalog { sort: false },
                _ => mode,
            };
            for (i, (ev, av)) in e.iter().zip(&a).enumerate() {
                diff(ev, av, &format!("{path}[{i}]"), inner, out);
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
                diff(ev, av, &format!("{path}[{i}]"), mode, out);
            }
        }
        (Value::Int(e), Value::Int(a)) if e == a => {}
        (Value::Float(e), Value::Float(a)) if e == a => {}
        (Value::Bool(e), Value::Bool(a)) if e == a => {}
        (Value::Null, Value::Null) => {}
        (Value::Str(e), Value::Str(a)) if e == a => {}
        (Value::Str(e), Value::Str(a)) if mode == Mode::Strict && same_instant(e, a) => {}
        (e, a) if mode != Mode::Strict && number(e).is_some() && number(e) == number(a) => {}
        _ => mismatch(out),
    }
}

/// A number as Python's `==` sees it: ints, floats and booleans compare by value.
/// Ints are compared exactly, through `i128`, when both sides are integral.
fn number(v: &Value) -> Option<Number> {
    match v {
        Value::Int(i) => Some(Number::Int(*i as i128)),
        Value::Bool(b) => Some(Number::Int(*b as i128)),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => Some(Number::Int(*f as i128)),
        Value::Float(f) => Some(Number::Float(*f)),
        _ => None,
    }
}

#[derive(PartialEq, PartialOrd)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
        }
    }
}

/// A list as the catalog's harness orders it before comparing: a list whose first
/// item is an object is sorted by the items' sets of keys (see [`python_sort`]);
/// any other list is sorted, its items sorted first.
fn catalog_order(items: &[Value]) -> Vec<Value> {
    if matches!(items.first(), Some(Value::Map(_))) {
        let mut items = items.to_vec();
        python_sort(&mut items, |a, b| match (a, b) {
            (Value::Map(a), Value::Map(b)) => {
                a.len() < b.len() && a.keys().all(|k| b.contains_key(k))
            }
            _ => false,
        });
        return items;
    }
    let mut sorted: Vec<Value> = items
        .iter()
        .map(|v| match v {
            Value::List(inner) => Value::List(catalog_order(inner)),
            other => other.clone(),
        })
        .collect();
    sorted.sort_by(catalog_cmp);
    sorted
}

/// Python's `list.sort` with a "less than" that may be only a partial order (key
/// sets compare by proper inclusion), so the result depends on the algorithm:
/// for lists under 64 items, timsort is one run found at the start (reversed when
/// strictly descending) followed by a binary insertion sort of the rest.
fn python_sort<T>(items: &mut [T], lt: impl Fn(&T, &T) -> bool) {
    let n = items.len();
    if n < 2 {
        return;
    }
    let mut run = 2;
    if lt(&items[1], &items[0]) {
        while run < n && lt(&items[run], &items[run - 1]) {
            run += 1;
        }
        items[..run].reverse();
    } else {
        while run < n && !lt(&items[run], &items[run - 1]) {
            run += 1;
        }
    }
    for start in run..n {
        let (mut lo, mut hi) = (0, start);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if lt(&items[start], &items[mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        items[lo..=start].rotate_right(1);
    }
}

/// Python's order on JSON scalars: numbers by value, text by code point. Values
/// Python cannot order together (text and a number) are put in a fixed order.
fn catalog_cmp(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => 1,
            Value::Str(_) => 2,
            Value::List(_) => 3,
            Value::Map(_) => 4,
        }
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.as_str().cmp(y.as_str()),
        (Value::List(x), Value::List(y)) => {
            for (i, j) in x.iter().zip(y) {
                let o = catalog_cmp(i, j);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => match (number(a), number(b)) {
            (Some(Number::Int(x)), Some(Number::Int(y))) => x.cmp(&y),
            (Some(x), Some(y)) => x.as_f64().total_cmp(&y.as_f64()),
            _ => rank(a).cmp(&rank(b)),
        },
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
        paths_under(Rules::Strict, e, a)
    }

    fn paths_under(rules: Rules, e: &str, a: &str) -> Vec<String> {
        compare(&parse_json(e).unwrap(), &parse_json(a).unwrap(), rules)
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

    fn catalog(e: &str, a: &str) -> Vec<String> {
        paths_under(Rules::Catalog, e, a)
    }

    #[test]
    fn catalog_fixes_the_harness_constants_on_both_sides() {
        // The expected event names none of them; the produced one has its own.
        assert!(
            catalog(
                r#"{"message":"m","event":{"kind":"alert"}}"#,
                r#"{"message":"m","event":{"kind":"alert","id":"7"},
                   "sekoiaio":{"intake":{"dialect":"x","parsing_duration_ms":3}}}"#
            )
            .is_empty()
        );
        assert!(
            catalog(
                r#"{"message":"m","event":{"kind":"alert"}}"#,
                r#"{"message":"m","event":{"kind":"alert","created":"2024-01-01T00:00:00Z"}}"#
            )
            .is_empty()
        );
        // Other `sekoiaio` keys are still compared.
        assert_eq!(
            catalog(
                r#"{"message":"m"}"#,
                r#"{"message":"m","sekoiaio":{"repeat":{"count":2}}}"#
            ),
            ["sekoiaio.repeat"]
        );
        // Strict rules compare them as any field.
        assert_eq!(
            paths(
                r#"{"message":"m"}"#,
                r#"{"message":"m","event":{"id":"7"}}"#
            ),
            ["event"]
        );
    }

    #[test]
    fn catalog_sorts_every_list_of_scalars_and_keeps_lists_of_objects() {
        assert!(
            catalog(
                r#"{"message":"m","event":{"type":["start","connection"]},"n":[[2,1],3]}"#,
                r#"{"message":"m","event":{"type":["connection","start"]},"n":[3,[1,2]]}"#
            )
            .is_empty()
        );
        // A multiset: duplicates count.
        assert_eq!(
            catalog(
                r#"{"message":"m","t":["a","b"]}"#,
                r#"{"message":"m","t":["a","a"]}"#
            ),
            ["t[1]"]
        );
        assert_eq!(
            catalog(
                r#"{"message":"m","l":[{"a":1},{"a":2}]}"#,
                r#"{"message":"m","l":[{"a":2},{"a":1}]}"#
            ),
            ["l[0].a", "l[1].a"]
        );
        // Objects with fewer keys (a subset) go first, as Python's sort puts
        // them; lists inside them stay in order.
        assert!(
            catalog(
                r#"{"message":"m","l":[{"k":"x","old":"1","new":"2"},{"k":"y","new":"3"}]}"#,
                r#"{"message":"m","l":[{"k":"y","new":"3"},{"k":"x","old":"1","new":"2"}]}"#
            )
            .is_empty()
        );
        assert_eq!(
            catalog(
                r#"{"message":"m","l":[{"t":["a","b"]}]}"#,
                r#"{"message":"m","l":[{"t":["b","a"]}]}"#
            ),
            ["l[0].t[0]", "l[0].t[1]"]
        );
    }

    #[test]
    fn catalog_compares_numbers_by_value_and_text_exactly() {
        assert!(
            catalog(
                r#"{"message":"m","p":8080}"#,
                r#"{"message":"m","p":8080.0}"#
            )
            .is_empty()
        );
        assert!(
            catalog(
                r#"{"message":"m","p":[2.0,1]}"#,
                r#"{"message":"m","p":[1,2]}"#
            )
            .is_empty()
        );
        assert_eq!(
            catalog(
                r#"{"message":"m","p":8080}"#,
                r#"{"message":"m","p":8080.5}"#
            ),
            ["p"]
        );
        assert_eq!(
            catalog(r#"{"message":"m","p":"6"}"#, r#"{"message":"m","p":6}"#),
            ["p"]
        );
        assert_eq!(
            catalog(
                r#"{"message":"m","t":"2016-10-31T11:37:00.000Z"}"#,
                r#"{"message":"m","t":"2016-10-31T11:37:00Z"}"#
            ),
            ["t"]
        );
    }
}
