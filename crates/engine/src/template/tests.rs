//! End-to-end tests of the template language (SPEC §4 examples).

use super::*;
use crate::json::parse_json;

/// Layers `original`, `final`, `ev` (slots 0, 1, 2), plus `parsed_flow_0` (3).
struct Layers;

impl Scope for Layers {
    fn slot(&self, name: &str) -> Option<usize> {
        ["original", "final", "ev", "parsed_flow_0"]
            .iter()
            .position(|n| *n == name)
    }
}

fn now() -> Timestamp {
    "2026-02-20T00:00:00Z".parse().unwrap()
}

/// Evaluates `src` with `ev` bound to the JSON `ev`.
fn run(src: &str, ev: &str) -> Result<Option<Value>, EvalError> {
    let t = Template::compile(src, &Layers).unwrap_or_else(|e| panic!("{src}: {e}"));
    let slots = vec![None, None, Some(parse_json(ev).unwrap()), None];
    t.eval(&Env::new(&slots, now()))
}

fn val(src: &str, ev: &str) -> Value {
    run(src, ev)
        .unwrap_or_else(|e| panic!("{src}: {e:?}"))
        .unwrap_or_else(|| panic!("{src}: undefined"))
}

fn json(s: &str) -> Value {
    parse_json(s).unwrap()
}

fn text(src: &str, ev: &str) -> String {
    match val(src, ev) {
        Value::Str(s) => s.to_string(),
        other => panic!("{src}: not a string: {other:?}"),
    }
}

fn filter(src: &str, ev: &str) -> bool {
    let t = Template::compile(src, &Layers).unwrap();
    let slots = vec![None, None, Some(parse_json(ev).unwrap()), None];
    t.test(&Env::new(&slots, now()))
}

const EV: &str = r#"{"msg": "a: b: c", "roles": "", "n": 5, "f": 6.0, "l": [1, 2, 3],
  "s": "Hello", "d": {"k": "v", "n": null}, "ip": "10.0.0.1", "none": null,
  "items": [{"name": "x", "v": 1}, {"name": "y", "v": 2}, {"name": "X", "v": 3}],
  "mac": "aa-bb-cc-dd-ee-ff", "path": "C:\\Windows\\System32\\cmd.exe", "empty": ""}"#;

#[test]
fn split_slice_join_keeps_leading_space() {
    assert_eq!(text("{{ ev.msg.split(':')[1:] | join(':') }}", EV), " b: c");
}

#[test]
fn conditional_without_else_is_undefined() {
    assert_eq!(run("{{ ev.roles.split(',') if ev.roles }}", EV), Ok(None));
    assert_eq!(
        val("{{ ev.msg.split(':') if ev.msg }}", EV),
        json(r#"["a", " b", " c"]"#)
    );
}

#[test]
fn null_is_undefined() {
    let src = "{{ final.action.outcome == null and final.action.name != null }}";
    let t = Template::compile(src, &Layers).unwrap();
    let fin = json(r#"{"action": {"name": "x"}}"#);
    let slots = vec![None, Some(fin), None, None];
    let env = Env::new(&slots, now());
    assert_eq!(t.eval(&env), Ok(Some(Value::Bool(true))));
    assert_eq!(val("{{ ev.none == null }}", EV), Value::Bool(false));
    assert_eq!(val("{{ ev.none != null }}", EV), Value::Bool(true));
    assert_eq!(val("{{ undefined == null }}", EV), Value::Bool(true));
    assert_eq!(val("{{ ev.none == None }}", EV), Value::Bool(true));
}

#[test]
fn or_uses_python_truthiness() {
    let src = "{{ ev.empty or parsed_flow_0.result.source_ip }}";
    let t = Template::compile(src, &Layers).unwrap();
    let slots = vec![
        None,
        None,
        Some(json(EV)),
        Some(json(r#"{"result": {"source_ip": "1.2.3.4"}}"#)),
    ];
    let env = Env::new(&slots, now());
    assert_eq!(t.eval(&env), Ok(Some(Value::from("1.2.3.4"))));
    assert_eq!(val("{{ ev.n or 3 }}", EV), Value::Int(5));
    assert_eq!(val("{{ 0 or [] }}", EV), json("[]"));
    assert_eq!(val("{{ ev.n and ev.s }}", EV), Value::from("Hello"));
}

#[test]
fn string_results_become_containers() {
    assert_eq!(val("{{ ['XSS'] | list | string }}", EV), json(r#"["XSS"]"#));
    assert_eq!(
        val("{{ ev.d | string }}", EV),
        json(r#"{"k": "v", "n": null}"#)
    );
    assert_eq!(val(r#"["network"]"#, EV), json(r#"["network"]"#));
    assert_eq!(val("['info']", EV), json(r#"["info"]"#));
    assert_eq!(val("457215664", EV), Value::from("457215664"));
    assert_eq!(val("{{ '457215664' }}", EV), Value::from("457215664"));
    assert_eq!(val("0x0", EV), Value::from("0x0"));
    assert_eq!(val("  \t[1, 2]", EV), json("[1, 2]"));
    let geo = val(r#"{ "lon": "{{ ev.n }}","lat": "2" }"#, EV);
    assert_eq!(geo, json(r#"{"lon": "5", "lat": "2"}"#));
}

#[test]
fn for_loop_trailing_comma_dict() {
    let src = r#"{%- for k, v in ev.d.items() -%}"{{k}}": "{{v}}",{%- endfor -%}}"#;
    let src = format!("{{ {src}");
    assert_eq!(val(&src, EV), json(r#"{"k": "v", "n": "None"}"#));
}

#[test]
fn filter_truthiness() {
    assert!(!filter(
        "{% if ev.empty %}True{% else %}False{% endif %}",
        EV
    ));
    assert!(filter("{% if ev.s %}True{% else %}False{% endif %}", EV));
    assert!(!filter(
        "{%- if ev.empty -%}True{%- else: -%}False{%- endif -%}",
        EV
    ));
    assert!(!filter("{{ ev.missing }}", EV));
    assert!(!filter("{{ ev.missing.x }}", EV));
    assert!(!filter(" 0 ", EV));
    assert!(!filter("None", EV));
    assert!(filter("{{ ev.n > 3 }}", EV));
    assert!(!filter("{{ [] }}", EV));
    assert!(filter(
        "{{ 'LEEF:' not in ev.msg and ev.d.get('zz') == None }}",
        EV
    ));
    assert!(!filter("", EV));
}

#[test]
fn undefined_semantics() {
    assert!(run("{{ nothing.x }}", EV).is_err());
    assert_eq!(run("{{ ev.missing }}", EV), Ok(None));
    assert!(run("{{ ev.missing.x }}", EV).is_err());
    assert_eq!(val("{{ ev.d.get('zz') }}", EV), Value::Null);
    assert_eq!(val("{{ ev.d.get('zz', 'dflt') }}", EV), Value::from("dflt"));
    assert_eq!(val("a{{ nothing }}b", EV), Value::from("ab"));
    assert_eq!(val("{{ ev.missing is defined }}", EV), Value::Bool(false));
    assert_eq!(val("{{ ev.none is defined }}", EV), Value::Bool(true));
    assert_eq!(val("{{ ev.none is none }}", EV), Value::Bool(true));
    assert_eq!(val("{{ nothing is not defined }}", EV), Value::Bool(true));
    assert_eq!(val("{{ ev.none | default('x') }}", EV), Value::Null);
    assert_eq!(val("{{ ev.missing | default('x') }}", EV), Value::from("x"));
    assert_eq!(
        val("{{ ev.empty | default('x', true) }}", EV),
        Value::from("x")
    );
    assert_eq!(
        val("{{ (ev.d.category|default([])) + ['authentication'] }}", EV),
        json(r#"["authentication"]"#)
    );
    // `int`/`float` of Undefined fail, whatever the default (a port a record
    // lacks is left unset, not 0); of None or bad text they give the default.
    assert!(run("{{ ev.missing | int }}", EV).is_err());
    assert!(run("{{ nothing | int(5) }}", EV).is_err());
    assert!(run("{{ ev.missing | float }}", EV).is_err());
    assert_eq!(val("{{ ev.none | int }}", EV), Value::Int(0));
    assert_eq!(val("{{ ev.none | float(1.5) }}", EV), Value::Float(1.5));
    assert_eq!(val("{{ 'n/a' | int(5) }}", EV), Value::Int(5));
    assert_eq!(val("{{ nothing | lower }}", EV), Value::from(""));
    assert_eq!(run("{{ nothing | first }}", EV), Ok(None));
    assert!(run("{{ ev.none | length }}", EV).is_err());
    assert_eq!(val("{{ nothing | length }}", EV), Value::Int(0));
    assert_eq!(val("{{ 'a' in nothing }}", EV), Value::Bool(false));
    // An interface id a flow record lacks is "in [0, null]": Undefined equals the
    // undefined name `null`, so the filter is false and the field stays unset.
    assert_eq!(
        val("{{ ev.missing not in [0, null] }}", EV),
        Value::Bool(false)
    );
    assert_eq!(val("{{ ev.missing in [0, null] }}", EV), Value::Bool(true));
    assert_eq!(val("{{ ev.missing in [0, 1] }}", EV), Value::Bool(false));
    assert_eq!(val("{{ ev.none in [0, null] }}", EV), Value::Bool(false));
    // Item access on None is Undefined (Jinja), on Undefined an error.
    assert_eq!(run("{{ ev.none.x }}", EV), Ok(None));
    assert!(run("{{ nothing[0] }}", EV).is_err());
}

#[test]
fn indexing_and_slicing() {
    assert_eq!(val("{{ ev.l[-1] }}", EV), Value::Int(3));
    assert_eq!(val("{{ ev.l.0 }}", EV), Value::Int(1));
    assert_eq!(val("{{ ev['items'].1.name }}", EV), Value::from("y"));
    assert_eq!(val("{{ ev.s[:-2] }}", EV), Value::from("Hel"));
    assert_eq!(val("{{ ev.s[::-1] }}", EV), Value::from("olleH"));
    assert_eq!(val("{{ ev.l[1:] }}", EV), json("[2, 3]"));
    assert_eq!(val("{{ ev.l[::2] }}", EV), json("[1, 3]"));
    assert_eq!(run("{{ ev.l[10] }}", EV), Ok(None));
    assert_eq!(val("{{ 'héllo'[1:3] }}", EV), Value::from("él"));
    assert_eq!(val("{{ ev.d['k'] }}", EV), Value::from("v"));
    assert_eq!(
        val("{% set key = 'k' %}{{ ev.d[key] }}", EV),
        Value::from("v")
    );
}

#[test]
fn rendering_python_str() {
    assert_eq!(text("x={{ ev.f }}", EV), "x=6.0");
    assert_eq!(
        text("{{ ev.none }}|{{ True }}|{{ ev.l }}", EV),
        "None|True|[1, 2, 3]"
    );
    assert_eq!(
        text("{{ 1e16 }} {{ 0.00001 }} {{ 10 / 4 }}", EV),
        "1e+16 1e-05 2.5"
    );
    assert_eq!(val("{{ ev.f }}", EV), Value::Float(6.0));
    assert_eq!(text("{{ 'a' ~ 1 ~ nothing ~ None }}", EV), "a1None");
    assert_eq!(text("{{ ev.d }}!", EV), "{'k': 'v', 'n': None}!");
}

#[test]
fn whitespace_control_and_trailing_newline() {
    assert_eq!(text("a  {%- if true %} b {% endif -%}  c\n", EV), "a b c");
    assert_eq!(text("x\n\n", EV), "x\n");
    assert_eq!(text("a {# note #} b", EV), "a  b");
    assert_eq!(text("a {#- note -#} b", EV), "ab");
}

#[test]
fn statements() {
    let src =
        "{% for x in ev.l %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}";
    assert_eq!(text(src, EV), "1:1,2:2,3:3");
    assert_eq!(
        text("{% for x in [] %}a{% else %}empty{% endfor %}", EV),
        "empty"
    );
    assert_eq!(
        text(
            "{% if ev.n > 10 %}big{% elif ev.n > 3 %}mid{% else %}small{% endif %}",
            EV
        ),
        "mid"
    );
    assert_eq!(text("{% set a, b = 1, 2 %}{{ a + b }}", EV), "3");
    assert_eq!(
        text("{% set x %}in{{ 1 }}{% endset %}[{{ x }}]", EV),
        "[in1]"
    );
    assert_eq!(
        text(
            "{% for x in ev.l if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}",
            EV
        ),
        "2/2 3/2 "
    );
}

#[test]
fn mutation_of_locals() {
    let src = "{% set l = [] %}{% for i in ev['items'] %}{% set _ = l.append(i.name) %}{% endfor %}{{ l }}";
    assert_eq!(val(src, EV), json(r#"["x", "y", "X"]"#));
    // `set x = x.append(…)` inside a loop: the outer list is the same object.
    let src = "{% set x = [] %}{% for i in range(len(ev.l)) %}{% set x = x.append(ev.l[i] * 2) %}{% endfor %}{{ x }}";
    assert_eq!(val(src, EV), json("[2, 4, 6]"));
    let src = "{% set d = {} %}{% set _ = d.update({'a': 1}) %}{% set _ = d.update(b=2) %}{{ d }}";
    assert_eq!(val(src, EV), json(r#"{"a": 1, "b": 2}"#));
    let src = "{% set d = {'l': []} %}{% set _ = d['l'].append(1) %}{% set _ = d.l.extend([2, 3]) %}{{ d }}";
    assert_eq!(val(src, EV), json(r#"{"l": [1, 2, 3]}"#));
    // A layer value is copied, never mutated.
    let src = "{% set l = ev.l %}{% set _ = l.append(4) %}{{ l }}{{ ev.l }}";
    assert_eq!(text(src, EV), "[1, 2, 3, 4][1, 2, 3]");
    assert_eq!(val("{{ [1, 2].append(3) }}", EV), Value::Null);
    assert_eq!(
        val("{% set l = [1, 2] %}{{ l.pop() }}{{ l }}", EV),
        Value::from("2[1]")
    );
}

#[test]
fn jinja_loop_scoping() {
    let src = "{% set c = 0 %}{% for x in ev.l %}{% set c = c + 1 %}{{ c }}{% endfor %}/{{ c }}";
    assert_eq!(text(src, EV), "111/0");
    let src = "{% set ns = namespace(c=0) %}{% for x in ev.l %}{% set ns.c = ns.c + x %}{% endfor %}{{ ns.c }}";
    // Rendered (not a single expression): a string.
    assert_eq!(val(src, EV), Value::from("6"));
    let src = "{% set ns = namespace(l=[]) %}{% for x in ev.l %}{% set _ = ns.l.append(x) %}{% endfor %}{{ ns.l }}";
    assert_eq!(val(src, EV), json("[1, 2, 3]"));
}

#[test]
fn python_semantics() {
    assert_eq!(val("{{ 1 == 1.0 }}", EV), Value::Bool(true));
    assert_eq!(val("{{ True == 1 }}", EV), Value::Bool(true));
    assert_eq!(val("{{ '1' == 1 }}", EV), Value::Bool(false));
    assert!(run("{{ 'a' < 1 }}", EV).is_err());
    assert!(run("{{ 9223372036854775807 + 1 }}", EV).is_err());
    assert!(run("{{ 1 / 0 }}", EV).is_err());
    assert!(run("{{ 1 // 0 }}", EV).is_err());
    assert_eq!(val("{{ 7 / 2 }}", EV), Value::Float(3.5));
    assert_eq!(val("{{ -7 // 2 }}", EV), Value::Int(-4));
    assert_eq!(val("{{ -7 % 3 }}", EV), Value::Int(2));
    assert_eq!(val("{{ 2 ** 10 }}", EV), Value::Int(1024));
    assert_eq!(val("{{ [1] + [2] }}", EV), json("[1, 2]"));
    assert_eq!(val("{{ 'ab' * 2 }}", EV), Value::from("abab"));
    assert_eq!(val("{{ 1 < 2 < 3 }}", EV), Value::Bool(true));
    assert_eq!(val("{{ 3 > 2 > 2 }}", EV), Value::Bool(false));
    assert_eq!(
        val("{{ 'b' in 'abc' and 2 in ev.l and 'k' in ev.d }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ 'z' not in ev.d }}", EV), Value::Bool(true));
    assert_eq!(val("{{ -ev.n }}", EV), Value::Int(-5));
    assert_eq!(val("{{ not ev.l }}", EV), Value::Bool(false));
    assert_eq!(val("{{ '%s-%d' % ('a', 3) }}", EV), Value::from("a-3"));
    assert_eq!(val("{{ (1, 2) }}", EV), json("[1, 2]"));
    // Outside a loop, `set x = x.append(…)` rebinds x to None, as in Python.
    assert_eq!(
        val("{% set x = [] %}{% set x = x.append(1) %}{{ x }}", EV),
        Value::from("None")
    );
    assert_eq!(
        val("{{ {6: 'tcp', 17: 'udp'}[17] }}", EV),
        Value::from("udp")
    );
}

#[test]
fn string_methods() {
    assert_eq!(val("{{ '  a  b '.split() }}", EV), json(r#"["a", "b"]"#));
    assert_eq!(
        val("{{ 'a,b,c'.split(',', 1) }}", EV),
        json(r#"["a", "b,c"]"#)
    );
    assert_eq!(
        val("{{ 'a,b,c'.rsplit(',', 1) }}", EV),
        json(r#"["a,b", "c"]"#)
    );
    assert_eq!(val("{{ 'xxaxx'.strip('x') }}", EV), Value::from("a"));
    assert_eq!(val("{{ ' a '.lstrip() }}", EV), Value::from("a "));
    assert_eq!(
        val("{{ ev.s.lower() ~ ev.s.upper() }}", EV),
        Value::from("helloHELLO")
    );
    assert_eq!(
        val("{{ ev.s.startswith(('x', 'He')) }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ ev.s.endswith('lo') }}", EV), Value::Bool(true));
    assert_eq!(
        val("{{ '123'.isdigit() and not '12a'.isdigit() }}", EV),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ 'DOM\\\\user'.removeprefix('DOM\\\\') }}", EV),
        Value::from("user")
    );
    assert_eq!(
        val("{{ ev.s.replace('l', 'L') }}", EV),
        Value::from("HeLLo")
    );
    assert_eq!(
        val("{{ ev.s.index('l') }} {{ ev.s.find('z') }}", EV),
        Value::from("2 -1")
    );
    assert_eq!(val("{{ '-'.join(['a', 'b']) }}", EV), Value::from("a-b"));
    assert_eq!(
        val("{{ '{}-{x}'.format(1, x='y') }}", EV),
        Value::from("1-y")
    );
    assert_eq!(
        val("{{ 'hELLO wORLD'.capitalize() }}", EV),
        Value::from("Hello world")
    );
    assert_eq!(
        val("{{ 'hello world'.title() }}", EV),
        Value::from("Hello World")
    );
    assert_eq!(val("{{ 'aaa'.count('a') }}", EV), Value::Int(3));
    // One-byte needles (memchr), multi-byte needles, non-ASCII text.
    assert_eq!(val("{{ ev.msg.count(' ') }}", EV), Value::Int(2));
    assert_eq!(val("{{ ev.msg.count(': ') }}", EV), Value::Int(2));
    assert_eq!(
        val("{{ 'éaé'.count('é') }} {{ 'aaaa'.count('aa') }}", EV),
        Value::from("2 2")
    );
    // Strip of a layer string with nothing to strip (borrowed), and with something.
    assert_eq!(val("{{ ev.s.strip() }}", EV), Value::from("Hello"));
    assert_eq!(val("{{ ev.s.lstrip('H') }}", EV), Value::from("ello"));
    assert_eq!(val("{{ ev.s.rstrip('x') }}", EV), Value::from("Hello"));
    assert_eq!(
        val("{{ ev.msg.lstrip().startswith('a') }}", EV),
        Value::Bool(true)
    );
    assert!(run("{{ ev.s.strip(1) }}", EV).is_err());
    assert_eq!(val("{{ '42'.zfill(5) }}", EV), Value::from("00042"));
    assert!(run("{{ ev.s.toUpperCase() }}", EV).is_err());
}

#[test]
fn dict_and_list_methods() {
    assert_eq!(val("{{ ev.d.keys() | list }}", EV), json(r#"["k", "n"]"#));
    assert_eq!(
        val("{{ ev.d.items() | list }}", EV),
        json(r#"[["k", "v"], ["n", null]]"#)
    );
    assert_eq!(val("{{ ev.l.index(2) }}", EV), Value::Int(1));
    assert_eq!(val("{{ ev.l.count(2) }}", EV), Value::Int(1));
    assert_eq!(
        val("{{ ev.d.copy() }}", EV),
        json(r#"{"k": "v", "n": null}"#)
    );
}

#[test]
fn filters_basic() {
    assert_eq!(val("{{ ev.s | lower }}", EV), Value::from("hello"));
    assert_eq!(val("{{ ev.none | lower }}", EV), Value::from("none"));
    assert_eq!(val("{{ ev.l | length }}", EV), Value::Int(3));
    assert_eq!(
        val("{{ ev.l | first }}{{ ev.l | last }}", EV),
        Value::from("13")
    );
    assert_eq!(val("{{ '42' | int }}", EV), Value::Int(42));
    assert_eq!(val("{{ '4.7' | int }}", EV), Value::Int(4));
    assert_eq!(val("{{ 'zz' | int }}", EV), Value::Int(0));
    assert_eq!(val("{{ 'ff' | int('ff', 16) }}", EV), Value::Int(255));
    assert_eq!(val("{{ '0x1A' | int(0, 16) }}", EV), Value::Int(26));
    assert_eq!(val("{{ 'zz' | int('zz', 16) }}", EV), Value::from("zz"));
    assert_eq!(val("{{ '1.5' | float }}", EV), Value::Float(1.5));
    assert_eq!(val("{{ 5 | string }}", EV), Value::from("5"));
    assert_eq!(val("{{ ev.l | join('-') }}", EV), Value::from("1-2-3"));
    // "1,2,3" is a tuple literal for Python's literal_eval (SPEC §4.3 step 4).
    assert_eq!(val("{{ ev.l | join(',') }}", EV), json("[1, 2, 3]"));
    assert_eq!(val("{{ ' a ' | trim }}", EV), Value::from("a"));
    assert_eq!(val("{{ 'a&b' | e }}", EV), Value::from("a&amp;b"));
    assert_eq!(
        val("{{ '%s=%s' | format('a', 1) }}", EV),
        Value::from("a=1")
    );
    assert_eq!(val("{{ [3, 1, 2] | sort }}", EV), json("[1, 2, 3]"));
    assert_eq!(
        val("{{ ['b', 'A', 'a'] | unique }}", EV),
        json(r#"["b", "A"]"#)
    );
    assert_eq!(val("{{ ev.l | sum }}", EV), Value::Int(6));
    assert_eq!(val("{{ ev.l | reverse }}", EV), json("[3, 2, 1]"));
    assert_eq!(
        val("{{ ev.l | max }} {{ ev.l | min }}", EV),
        Value::from("3 1")
    );
    assert_eq!(val("{{ -3 | abs }}", EV), Value::Int(3));
    assert_eq!(
        val("{{ 2.5 | round }} {{ 2.567 | round(2) }}", EV),
        Value::from("2.0 2.57")
    );
    assert_eq!(
        val("{{ ev.l | batch(2) | list }}", EV),
        json("[[1, 2], [3]]")
    );
    assert_eq!(
        val("{{ ev.d | dictsort }}", EV),
        json(r#"[["k", "v"], ["n", null]]"#)
    );
    assert_eq!(
        val("{{ ev.d | items | list }}", EV),
        json(r#"[["k", "v"], ["n", null]]"#)
    );
    assert_eq!(val("{{ 'ab' | list }}", EV), json(r#"["a", "b"]"#));
    assert_eq!(
        val("{{ 'hello world' | title }}", EV),
        Value::from("Hello World")
    );
}

#[test]
fn filters_on_lists_of_dicts() {
    assert_eq!(
        val("{{ ev['items'] | map(attribute='name') | list }}", EV),
        json(r#"["x", "y", "X"]"#)
    );
    assert_eq!(
        val(
            "{{ ev['items'] | map(attribute='name') | map('upper') | unique | list }}",
            EV
        ),
        json(r#"["X", "Y"]"#)
    );
    assert_eq!(
        val(
            "{{ ev['items'] | selectattr('v', 'gt', 1) | map(attribute='name') | list }}",
            EV
        ),
        json(r#"["y", "X"]"#)
    );
    assert_eq!(
        val(
            "{{ ev['items'] | rejectattr('name', 'equalto', 'x') | list | length }}",
            EV
        ),
        Value::Int(2)
    );
    assert_eq!(
        val("{{ [0, 1, None, 2] | select | list }}", EV),
        json("[1, 2]")
    );
    assert_eq!(
        val("{{ [1, 'a', 2] | select('number') | list }}", EV),
        json("[1, 2]")
    );
    assert_eq!(
        val("{{ [1, 2, 3] | reject('odd') | list }}", EV),
        json("[2]")
    );
    assert_eq!(
        val("{{ ev['items'] | sum(attribute='v') }}", EV),
        Value::Int(6)
    );
    assert_eq!(
        val("{{ (ev['items'] | sort(attribute='name') | first).v }}", EV),
        Value::Int(1)
    );
    assert_eq!(
        val(
            "{{ ev['items'] | selectattr('name', 'in', ['x', 'y']) | list | length }}",
            EV
        ),
        Value::Int(2)
    );
}

#[test]
fn tests_jinja() {
    assert_eq!(
        val(
            "{{ ev.n is number and ev.s is string and ev.d is mapping }}",
            EV
        ),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ ev.l is iterable and ev.n is not iterable }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ 'a' is in ['a'] }}", EV), Value::Bool(true));
    assert_eq!(val("{{ 6 is divisibleby 3 }}", EV), Value::Bool(true));
    assert_eq!(val("{{ 6 is divisibleby(4) }}", EV), Value::Bool(false));
    assert_eq!(
        val(
            "{{ ev.f is float and ev.n is integer and true is boolean }}",
            EV
        ),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ 'abc' is lower and 'ABC' is upper }}", EV),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ 3 is odd and 4 is even and 2 is eq 2 }}", EV),
        Value::Bool(true)
    );
}

#[test]
fn custom_filters() {
    assert_eq!(
        val("{{ ev.ip is defined and ev.ip | is_ipaddress }}", EV),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ '::1' | is_ipv6 and not ('::1' | is_ipv4) }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ nothing | is_ipaddress }}", EV), Value::Bool(false));
    assert_eq!(val("{{ ev.none | is_ipaddress }}", EV), Value::Bool(false));
    assert_eq!(
        val("{{ 'https://x.org/a' | is_url }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ ev.path | basename }}", EV), Value::from("cmd.exe"));
    assert_eq!(
        val("{{ ev.path | dirname }}", EV),
        Value::from("C:\\Windows\\System32")
    );
    assert_eq!(
        val("{{ '/usr/bin/env' | dirname }}", EV),
        Value::from("/usr/bin")
    );
    assert_eq!(
        val("{{ '/usr/bin/env' | basename }}", EV),
        Value::from("env")
    );
    assert_eq!(
        val("{{ ev.mac | to_mac_address }}", EV),
        Value::from("AA:BB:CC:DD:EE:FF")
    );
    assert_eq!(
        val("{{ 'aabb.ccdd.eeff' | to_mac_address }}", EV),
        Value::from("AA:BB:CC:DD:EE:FF")
    );
    assert_eq!(run("{{ '192.0.2.1' | to_mac_address }}", EV), Ok(None));
    assert_eq!(
        val("{{ ev.d | tojson }}", EV),
        Value::from(r#"{"k": "v", "n": null}"#)
    );
    // `to_json` is compact and keeps the keys' order (a CloudTrail record's
    // elements flattened to text).
    assert_eq!(
        val("={{ {'z': [1, 2], 'a': ev.d} | to_json }}", EV),
        Value::from(r#"={"z":[1,2],"a":{"k":"v","n":null}}"#)
    );
    assert_eq!(
        val("{{ '{\"a\": [1]}' | from_json }}", EV),
        json(r#"{"a": [1]}"#)
    );
    assert_eq!(
        val("{{ 'nope' | from_json == None }}", EV),
        Value::Bool(true)
    );
    assert_eq!(
        val(
            "{{ ev.ip | re_match('^\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+$') }}",
            EV
        ),
        Value::Bool(true)
    );
    assert_eq!(
        val("{{ ev.ip | re_match('\\\\d+') }}", EV),
        Value::Bool(false)
    );
    assert_eq!(
        val("{{ ev.ip | re_search('\\\\d+') }}", EV),
        Value::Bool(true)
    );
    assert_eq!(val("{{ ev.n | re_search('5') }}", EV), Value::Bool(false));
}

#[test]
fn re_module() {
    let src = r#"{{ re.search('(\w+)=(\d+)', 'a x=12 b').groups() }}"#;
    assert_eq!(val(src, EV), json(r#"["x", "12"]"#));
    let src = r#"{{ re.search('(?P<k>\w+)=(?P<v>\d+)', ev.msg ~ ' x=1').groupdict() }}"#;
    assert_eq!(val(src, EV), json(r#"{"k": "x", "v": "1"}"#));
    assert_eq!(val(r#"{{ re.match('b', 'ab') }}"#, EV), Value::Null);
    assert_eq!(
        val(r#"{{ re.match('a', 'ab').group(0) }}"#, EV),
        Value::from("a")
    );
    assert_eq!(
        val(r#"{{ re.findall('\d', 'a1b22') }}"#, EV),
        json(r#"["1", "2", "2"]"#)
    );
    assert_eq!(
        val(r#"{{ re.sub('(\d)', '<\\1>', 'a1b2') }}"#, EV),
        Value::from("a<1>b<2>")
    );
    assert_eq!(
        val(r#"{{ re.split(',\s*', 'a, b,c') }}"#, EV),
        json(r#"["a", "b", "c"]"#)
    );
    assert_eq!(
        val(r#"{{ re.search('l+', ev.s).start() }}"#, EV),
        Value::Int(2)
    );
}

#[test]
fn globals() {
    assert_eq!(val("{{ len(ev.l) }}", EV), Value::Int(3));
    assert_eq!(val("{{ range(3) | list }}", EV), json("[0, 1, 2]"));
    assert_eq!(val("{{ range(5, 0, -2) | list }}", EV), json("[5, 3, 1]"));
    assert_eq!(val("{{ dict(a=1) }}", EV), json(r#"{"a": 1}"#));
    assert!(run("{{ range(10000000) }}", EV).is_err());
}

#[test]
fn constants_are_folded() {
    let t = Template::compile("{{ 'a,b'.split(',') | join('-') }}", &Layers).unwrap();
    assert_eq!(t.constant(), Some(&Value::from("a-b")));
    let t = Template::compile("authentication", &Layers).unwrap();
    assert_eq!(t.constant(), Some(&Value::from("authentication")));
    let t = Template::compile("['a', 'b']", &Layers).unwrap();
    assert_eq!(t.constant(), Some(&json(r#"["a", "b"]"#)));
    let t = Template::compile("{{ ev.x }}", &Layers).unwrap();
    assert!(t.constant().is_none());
    assert_eq!(t.source(), "{{ ev.x }}");
}

#[test]
fn plain_paths() {
    let t = Template::compile("{{ ev.d.k }}", &Layers).unwrap();
    let (slot, keys) = t.is_plain_path().unwrap();
    assert_eq!(slot, 2);
    assert_eq!(
        keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["d", "k"]
    );
    assert_eq!(val("{{ ev.d.k }}", EV), Value::from("v"));
    assert_eq!(val(" {{ ev['d']['k'] }} ", EV), Value::from("v"));
    assert!(
        Template::compile("{{ ev.d.get('k') }}", &Layers)
            .unwrap()
            .is_plain_path()
            .is_none()
    );
    assert_eq!(run("{{ ev.d.zz }}", EV), Ok(None));
    assert!(run("{{ ev.zz.k }}", EV).is_err());
    assert!(run("{{ original.message }}", EV).is_err());
    assert_eq!(run("{{ original }}", EV), Ok(None));
}

#[test]
fn syntax_errors() {
    for bad in [
        "{{ (x * 1000 }}",
        "{{ x | nosuchfilter }}",
        "{% if x %}",
        "{% for %}",
        "{{ 'abc }}",
        "{% endif %}",
        "{{ x is nosuchtest }}",
        "{% macro m() %}{% endmacro %}",
    ] {
        assert!(Template::compile(bad, &Layers).is_err(), "{bad}");
    }
}

#[test]
fn robustness_limits() {
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    assert!(Template::compile(&deep, &Layers).is_err());
    let chain = format!("{{{{ ev.n{} }}}}", " + ev.n".repeat(5000));
    assert!(Template::compile(&chain, &Layers).is_err());
    assert!(run("{{ 'x' * 100000000 }}", EV).is_err());
    assert!(run("{{ [1] * 100000000 }}", EV).is_err());
    assert!(
        run(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            EV
        )
        .is_err()
    );
    let nest = "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}";
    assert!(run(nest, EV).is_err());
    assert!(run("{{ 2 ** 100 }}", EV).is_err());
    assert!(run("{{ -9223372036854775807 - 1 // -1 }}", EV).is_ok());
    assert!(run("{{ (-9223372036854775807 - 1) // -1 }}", EV).is_err());
    assert!(
        run("{{ (-9223372036854775807 - 1) % -1 }}", EV).is_err()
            || run("{{ (-9223372036854775807 - 1) % -1 }}", EV).is_ok()
    );
}

#[test]
fn no_panics_on_garbage() {
    // A tiny deterministic fuzz over template fragments.
    let frags = [
        "{{", "}}", "{%", "%}", "{#", "#}", "-", "x", "ev", ".", "[", "]", "(", ")", "'", "\"",
        "|", "if", "else", "for", "in", "endfor", "endif", "set", "=", "1", "-1", ":", ",", "é",
        "\\", "~", "*", "**", "is", "not", "none", "loop", "{", "}", "l", "0", "split", "join",
        "append", " ",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20000 {
        let mut s = String::new();
        let n = (seed % 12) as usize + 1;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(frags[(seed % frags.len() as u64) as usize]);
        }
        if let Ok(t) = Template::compile(&s, &Layers) {
            let slots = vec![None, None, Some(json(EV)), None];
            let env = Env::new(&slots, now());
            let _ = t.eval(&env);
            let _ = t.test(&env);
        }
        let _ = literal_eval(&s);
    }
}

#[test]
fn py_str_and_literal_eval_api() {
    assert_eq!(
        py_str(&json(r#"["a", 1, null, true, 1.0]"#)),
        "['a', 1, None, True, 1.0]"
    );
    assert_eq!(py_str(&Value::from("x")), "x");
    assert_eq!(py_repr(&Value::from("x")), "'x'");
    assert_eq!(
        literal_eval("{'a': [1, 2]}"),
        Some(json(r#"{"a": [1, 2]}"#))
    );
    assert_eq!(literal_eval("'x'"), Some(Value::from("x")));
}

// --- Depend on crate::datetime / crate::network being implemented (stubs today). ---

#[test]
fn to_rfc3339_filter() {
    assert_eq!(
        val("{{ '2020-09-09T15:26:33Z' | to_rfc3339 }}", EV),
        Value::from("2020-09-09T15:26:33.000000Z")
    );
    assert_eq!(
        val("{{ 1663146003599 | to_iso8601 }}", EV),
        Value::from("2022-09-14T09:00:03.599000Z")
    );
    assert_eq!(
        val(
            "{{ '09/Sep/2020:15:26:33 +0000' | to_rfc3339('%d/%b/%Y:%H:%M:%S %z') }}",
            EV
        ),
        Value::from("2020-09-09T15:26:33.000000Z")
    );
}

#[test]
fn community_id_filter() {
    // Community ID v1 reference vector (TCP 128.232.110.120:34855 → 66.35.250.204:80).
    assert_eq!(
        val(
            "{{ '128.232.110.120' | community_id('66.35.250.204', 34855, '80', 6) }}",
            EV
        ),
        Value::from("1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
    );
    assert_eq!(
        run("{{ 'x' | community_id('66.35.250.204', 1, 2, 6) }}", EV),
        Ok(None)
    );
}

/// Filters run as [`TextTest`]s give the evaluator's truth on every text they
/// cover, and step aside (`None`) where a register does not hold text.
#[test]
fn text_tests_agree_with_the_evaluator() {
    // `ev.a` and `ev.b` become registers 0 and 1; `ev.c` is never set.
    let filters = [
        "{{ ev.a.lstrip().startswith('{') }}",
        "{{ ev.a[:1].isdigit() and ev.a.count(' ') >= 2 }}",
        "{{ not ev.a.strip().endswith('z') or ev.b.isnumeric() }}",
        "{{ ev.a.rstrip()[:3].startswith('ab') }}",
        "{{ ev.a.count('ab') == 2 or ev.a.count('') > 4 }}",
        "{{ ev.a.count(' ') < 1 and ev.b.count(' ') != 0 }}",
        "{{ ev.a is defined or ev.c is defined }}",
        "{{ ev.c is undefined and ev.b is not undefined }}",
        "{{ ev.a is not defined }}",
        "{{ ev.a == 'xyz' or ev.b != '7' }}",
        "{{ ev.a is string and ev.b is not string }}",
        "{{ ev.a | is_ipaddress }}",
        "{{ ev.a | is_ipv4 or ev.b.strip() | is_ipv6 }}",
        "{{ ev.a | is_ipv4 or ev.b | is_ipv6 }}",
        "{{ not ev.a.strip() | is_ipv6 }}",
        "{{ ':' in ev.a and 'y' not in ev.b }}",
        "{{ 'ab' in ev.a or 'é' in ev.a or '' in ev.b }}",
    ];
    let texts = [
        "",
        " ",
        "{x",
        "  {x",
        "1 2 3",
        "12 3",
        "٣ 4 5",
        "abab ab",
        "xyz",
        " z ",
        "ab c",
        "é 1 2",
        "\t{",
        "0",
        "²",
        "10.0.0.1",
        " 10.0.0.1",
        "10.0.0.01",
        "01.2.3.4",
        "256.1.1.1",
        "1.2.3",
        "::1",
        "2001:db8::1",
        "2001:DB8::1",
        "fe80::1%eth0",
        "::ffff:1.2.3.4",
        "1::2::3",
        "١٠.0.0.1",
    ];
    let mut covered = 0;
    for src in filters {
        let t = Template::compile(src, &Layers).unwrap();
        let mut bind = |slot: usize, keys: &[Str], _: PathUse| match (slot, keys) {
            (2, [k]) if k == "a" => Some(0),
            (2, [k]) if k == "b" => Some(1),
            (2, [k]) if k == "c" => Some(2),
            _ => None,
        };
        let t = t
            .rebind(&mut bind)
            .unwrap_or_else(|| panic!("{src}: not rebound"));
        let direct = t
            .text_test()
            .unwrap_or_else(|| panic!("{src}: not a text test"));
        for a in texts {
            for b in ["", "7", "x y", "¾", "::", "1.2.3.4", " ::ffff:1.2.3.4 "] {
                for regs in [
                    Regs(vec![Some(Value::from(a)), Some(Value::from(b)), None]),
                    Regs(vec![Some(Value::Int(3)), Some(Value::from(b)), None]),
                ] {
                    let env = Env {
                        slots: &[],
                        now: now(),
                        regs: &regs,
                    };
                    if let Some(truth) = direct.run(&regs) {
                        covered += 1;
                        assert_eq!(truth, t.test(&env), "{src} on {a:?}, {b:?}");
                    }
                }
            }
        }
    }
    // Most combinations run directly (the integer register is left to the evaluator).
    assert!(covered > 1500, "only {covered} combinations ran directly");
}

/// Binds `ev.a`, `ev.b`, `ev.c`, `ev.d`, `ev.e` to registers 0 to 4.
fn rebound(src: &str) -> Template {
    let t = Template::compile(src, &Layers).unwrap();
    let mut bind = |slot: usize, keys: &[Str], _: PathUse| match (slot, keys) {
        (2, [k]) => ["a", "b", "c", "d", "e"]
            .iter()
            .position(|n| *n == k.as_str())
            .map(|i| i as u32),
        _ => None,
    };
    t.rebind(&mut bind)
        .unwrap_or_else(|| panic!("{src}: not rebound"))
}

/// Register values by number; `None` is Undefined.
struct Regs(Vec<Option<Value>>);

impl Registers for Regs {
    fn get(&self, reg: u32) -> Bound<'_> {
        match &self.0[reg as usize] {
            Some(v) => Bound::Value(v),
            None => Bound::Undefined,
        }
    }
}

impl TextRegisters for Regs {
    fn text(&self, reg: u32) -> Option<&str> {
        self.0[reg as usize].as_ref().and_then(Value::as_str)
    }
    fn defined(&self, reg: u32) -> Option<bool> {
        Some(self.0[reg as usize].is_some())
    }
}

/// A choice gives the evaluator's value whenever its test runs directly, the
/// results finished as the evaluator finishes them (a container literal is parsed).
#[test]
fn choices_agree_with_the_evaluator() {
    let t = rebound("{{ 'ipv6' if ':' in ev.a else '[1, 2]' }}");
    let (test, yes, no) = t.choice().expect("a choice");
    assert_eq!((&yes, &no), (&Value::from("ipv6"), &json("[1, 2]")));
    let mut covered = 0;
    for a in ["::1", "10.0.0.1", "", "a:b"] {
        let regs = Regs(vec![Some(Value::from(a))]);
        let env = Env {
            slots: &[],
            now: now(),
            regs: &regs,
        };
        if let Some(truth) = test.run(&regs) {
            covered += 1;
            let direct = if truth { yes.clone() } else { no.clone() };
            assert_eq!(Some(direct), t.eval(&env).unwrap(), "{a:?}");
        }
    }
    assert_eq!(covered, 4);
    // Not a choice: a branch that reads the event, no `else`, a test of numbers.
    for src in [
        "{{ ev.b if ':' in ev.a else 'x' }}",
        "{{ 'x' if ':' in ev.a }}",
        "{{ 'x' if ev.a > 3 else 'y' }}",
    ] {
        assert!(rebound(src).choice().is_none(), "{src}");
    }
}

/// The `community_id` call is recognized over registers, with constant defaults;
/// anything else is left to the evaluator.
#[test]
fn community_id_calls_over_registers() {
    let t = rebound("{{ ev.a | community_id(ev.b, ev.c | default(0), ev.d | d('7'), ev.e) }}");
    let args = t.community_id().expect("recognized");
    let regs: Vec<u32> = args.iter().map(|a| a.reg).collect();
    assert_eq!(regs, [0, 1, 2, 3, 4]);
    let defaults: Vec<Option<Value>> = args.iter().map(|a| a.default.clone()).collect();
    assert_eq!(
        defaults,
        [
            None,
            None,
            Some(Value::Int(0)),
            Some(Value::from("7")),
            None
        ]
    );
    for src in [
        "{{ ev.a | community_id(ev.b, ev.c, ev.d) }}",
        "{{ ev.a | community_id(ev.b, ev.c, ev.d, ev.e, 1) }}",
        "{{ ev.a | community_id(ev.b, ev.c | default(0, true), ev.d, ev.e) }}",
        "{{ ev.a | community_id(ev.b, ev.c | int, ev.d, ev.e) }}",
        "{{ ev.a | community_id(ev.b, ev.c, ev.d, 6) }}",
        "{{ ev.a | community_id(ev.b, ev.c, ev.d, ev.e) ~ '' }}",
    ] {
        assert!(rebound(src).community_id().is_none(), "{src}");
    }
}
