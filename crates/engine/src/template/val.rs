//! The evaluator's value (Undefined, borrowed or owned values, regex match
//! objects, namespaces) and Python's operators on it.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

pub(crate) use super::EvalError;
use super::globals::Global;
use super::pyfmt;
use crate::value::{Map, Str, Value};

/// Largest list or string a template may build (memory guard).
pub(crate) const MAX_LEN: usize = 1 << 20;
/// Largest string (bytes) a template may build.
pub(crate) const MAX_STR: usize = 4 << 20;

pub(crate) type R<T> = Result<T, EvalError>;

pub(crate) fn fail<T>(msg: &'static str) -> R<T> {
    Err(EvalError(msg))
}

/// A Python `re.Match`.
#[derive(Debug)]
pub(crate) struct MatchObj {
    pub text: Str,
    pub spans: Vec<Option<(usize, usize)>>,
    pub names: Vec<(String, usize)>,
}

impl MatchObj {
    pub fn group(&self, i: usize) -> Option<Value> {
        let span = self.spans.get(i)?;
        Some(match span {
            Some((s, e)) => Value::from(self.text.get(*s..*e).unwrap_or("")),
            None => Value::Null,
        })
    }

    pub fn group_index(&self, key: &Value) -> Option<usize> {
        match key {
            Value::Int(i) => usize::try_from(*i).ok().filter(|i| *i < self.spans.len()),
            Value::Str(s) => self
                .names
                .iter()
                .find(|(n, _)| n.as_str() == s.as_str())
                .map(|(_, i)| *i),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum V<'a> {
    Undef,
    Ref(&'a Value),
    Own(Value),
    Match(Rc<MatchObj>),
    Ns(Rc<RefCell<Map>>),
    Global(Global),
}

pub(crate) const NONE: V<'static> = V::Own(Value::Null);

impl<'a> V<'a> {
    pub fn val(&self) -> Option<&Value> {
        match self {
            V::Ref(v) => Some(v),
            V::Own(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_undef(&self) -> bool {
        matches!(self, V::Undef)
    }

    pub fn as_str(&self) -> Option<&str> {
        self.val().and_then(Value::as_str)
    }

    /// Converts to an owned value at the API boundary (`None` = Undefined).
    pub fn into_value(self) -> Option<Value> {
        match self {
            V::Undef => None,
            V::Ref(v) => Some(v.clone()),
            V::Own(v) => Some(v),
            V::Ns(m) => Some(Value::Map(m.borrow().clone())),
            other => Some(Value::from(other.to_py_str())),
        }
    }

    /// An owned value to store in a container (Undefined becomes None).
    pub fn into_stored(self) -> Value {
        self.into_value().unwrap_or(Value::Null)
    }

    pub fn truthy(&self) -> bool {
        match self {
            V::Undef => false,
            V::Ref(v) => v.truthy(),
            V::Own(v) => v.truthy(),
            _ => true,
        }
    }

    /// Python `str()` (Undefined renders as "").
    pub fn write_str(&self, out: &mut String) {
        match self {
            V::Undef => {}
            V::Ref(v) => pyfmt::write_str(out, v),
            V::Own(v) => pyfmt::write_str(out, v),
            V::Match(m) => {
                let (s, e) = m.spans.first().copied().flatten().unwrap_or((0, 0));
                out.push_str(&format!("<re.Match object; span=({s}, {e}), match="));
                pyfmt::write_str_repr(out, m.text.get(s..e).unwrap_or(""));
                out.push('>');
            }
            V::Ns(m) => {
                out.push_str("<Namespace ");
                pyfmt::write_repr(out, &Value::Map(m.borrow().clone()));
                out.push('>');
            }
            V::Global(g) => out.push_str(&format!("<built-in function {}>", g.name())),
        }
    }

    pub fn to_py_str(&self) -> String {
        let mut s = String::new();
        self.write_str(&mut s);
        s
    }

    /// The elements of an iterable: list items, string characters, dict keys.
    /// Undefined iterates as empty (Jinja).
    pub fn into_items(self) -> R<Vec<V<'a>>> {
        match self {
            V::Undef => Ok(Vec::new()),
            V::Ref(v) => match v {
                Value::List(l) => Ok(l.iter().map(V::Ref).collect()),
                other => items_of(other),
            },
            V::Own(Value::List(l)) => Ok(l.into_iter().map(V::Own).collect()),
            V::Own(other) => items_of(&other),
            V::Ns(_) | V::Match(_) | V::Global(_) => fail("object is not iterable"),
        }
    }
}

fn items_of<'a>(v: &Value) -> R<Vec<V<'a>>> {
    match v {
        Value::Str(s) => Ok(s
            .chars()
            .map(|c| V::Own(Value::from(c.to_string())))
            .collect()),
        Value::Map(m) => Ok(m.keys().map(|k| V::Own(Value::Str(k.clone()))).collect()),
        Value::List(l) => Ok(l.iter().cloned().map(V::Own).collect()),
        _ => fail("object is not iterable"),
    }
}

/// A Python number view of a value (bools are ints).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    I(i64),
    F(f64),
}

impl Num {
    pub fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Bool(b) => Some(Num::I(i64::from(*b))),
            Value::Int(i) => Some(Num::I(*i)),
            Value::Float(f) => Some(Num::F(*f)),
            _ => None,
        }
    }

    pub fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }

    pub fn value(self) -> Value {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Float(f),
        }
    }
}

/// Python `==` on values: `1 == 1.0 == True`, str vs int is false.
pub(crate) fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| value_eq(v, w)))
        }
        _ => match (Num::of(a), Num::of(b)) {
            (Some(Num::I(x)), Some(Num::I(y))) => x == y,
            (Some(x), Some(y)) => x.f() == y.f(),
            _ => false,
        },
    }
}

pub(crate) fn py_eq(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Undef, V::Undef) => true,
        (V::Undef, _) | (_, V::Undef) => false,
        (V::Match(x), V::Match(y)) => Rc::ptr_eq(x, y),
        (V::Ns(x), V::Ns(y)) => Rc::ptr_eq(x, y),
        (V::Global(x), V::Global(y)) => x == y,
        _ => match (a.val(), b.val()) {
            (Some(x), Some(y)) => value_eq(x, y),
            _ => false,
        },
    }
}

/// Python ordering; incompatible types are an error.
pub(crate) fn value_cmp(a: &Value, b: &Value) -> R<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.as_str().cmp(y.as_str())),
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !value_eq(p, q) {
                    return value_cmp(p, q);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => match (Num::of(a), Num::of(b)) {
            (Some(Num::I(x)), Some(Num::I(y))) => Ok(x.cmp(&y)),
            (Some(x), Some(y)) => x.f().partial_cmp(&y.f()).ok_or(EvalError("nan comparison")),
            _ => fail("'<' not supported between these types"),
        },
    }
}

pub(crate) fn py_cmp(a: &V, b: &V) -> R<Ordering> {
    match (a.val(), b.val()) {
        (Some(x), Some(y)) => value_cmp(x, y),
        _ => fail("'<' not supported for undefined values"),
    }
}

/// Python `needle in hay`.
pub(crate) fn contains(hay: &V, needle: &V) -> R<bool> {
    let h = match hay {
        V::Undef => return Ok(false),
        V::Ns(m) => {
            return Ok(needle.as_str().is_some_and(|k| m.borrow().contains_key(k)));
        }
        V::Match(_) | V::Global(_) => return fail("argument is not iterable"),
        V::Ref(v) => *v,
        V::Own(v) => v,
    };
    match h {
        Value::Str(s) => match needle.as_str() {
            Some(n) => Ok(s.contains(n)),
            None => fail("'in <string>' requires string as left operand"),
        },
        Value::List(l) => match needle.val() {
            Some(n) => Ok(l.iter().any(|x| value_eq(x, n))),
            None => Ok(false),
        },
        Value::Map(m) => match needle.val() {
            Some(Value::Str(k)) => Ok(m.contains_key(k)),
            Some(Value::Int(i)) => Ok(m.contains_key(itoa::Buffer::new().format(*i))),
            Some(Value::List(_)) | Some(Value::Map(_)) => fail("unhashable type"),
            _ => Ok(false),
        },
        _ => fail("argument is not iterable"),
    }
}

fn num_pair(a: &Value, b: &Value) -> Option<(Num, Num)> {
    Some((Num::of(a)?, Num::of(b)?))
}

fn check_str(s: String) -> R<Value> {
    if s.len() > MAX_STR {
        return fail("string too large");
    }
    Ok(Value::from(s))
}

fn repeat<T: Clone>(items: &[T], n: i64) -> R<Vec<T>> {
    let n = usize::try_from(n.max(0)).unwrap_or(0);
    if items.len().saturating_mul(n) > MAX_LEN {
        return fail("list too large");
    }
    let mut out = Vec::with_capacity(items.len() * n);
    for _ in 0..n {
        out.extend_from_slice(items);
    }
    Ok(out)
}

fn repeat_str(s: &str, n: i64) -> R<Value> {
    let n = usize::try_from(n.max(0)).unwrap_or(0);
    if s.len().saturating_mul(n) > MAX_STR {
        return fail("string too large");
    }
    Ok(Value::from(s.repeat(n)))
}

const OVERFLOW: EvalError = EvalError("integer overflow");

/// Python binary arithmetic.
pub(crate) fn arith(op: super::ast::BinOp, a: &Value, b: &Value) -> R<Value> {
    use super::ast::BinOp::*;
    match op {
        Add => match (a, b) {
            (Value::Str(x), Value::Str(y)) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                check_str(s)
            }
            (Value::List(x), Value::List(y)) => {
                if x.len() + y.len() > MAX_LEN {
                    return fail("list too large");
                }
                let mut l = x.clone();
                l.extend(y.iter().cloned());
                Ok(Value::List(l))
            }
            _ => match num_pair(a, b) {
                Some((Num::I(x), Num::I(y))) => x.checked_add(y).map(Value::Int).ok_or(OVERFLOW),
                Some((x, y)) => Ok(Value::Float(x.f() + y.f())),
                None => fail("unsupported operand types for +"),
            },
        },
        Sub => match num_pair(a, b) {
            Some((Num::I(x), Num::I(y))) => x.checked_sub(y).map(Value::Int).ok_or(OVERFLOW),
            Some((x, y)) => Ok(Value::Float(x.f() - y.f())),
            None => fail("unsupported operand types for -"),
        },
        Mul => match (a, b) {
            (Value::Str(s), n) | (n, Value::Str(s)) if !matches!(n, Value::Str(_)) => {
                match Num::of(n) {
                    Some(Num::I(n)) => repeat_str(s, n),
                    _ => fail("can't multiply sequence by non-int"),
                }
            }
            (Value::List(l), n) | (n, Value::List(l)) if !matches!(n, Value::List(_)) => {
                match Num::of(n) {
                    Some(Num::I(n)) => Ok(Value::List(repeat(l, n)?)),
                    _ => fail("can't multiply sequence by non-int"),
                }
            }
            _ => match num_pair(a, b) {
                Some((Num::I(x), Num::I(y))) => x.checked_mul(y).map(Value::Int).ok_or(OVERFLOW),
                Some((x, y)) => Ok(Value::Float(x.f() * y.f())),
                None => fail("unsupported operand types for *"),
            },
        },
        Div => match num_pair(a, b) {
            Some((x, y)) => {
                if y.f() == 0.0 {
                    fail("division by zero")
                } else {
                    Ok(Value::Float(x.f() / y.f()))
                }
            }
            None => fail("unsupported operand types for /"),
        },
        FloorDiv => match num_pair(a, b) {
            Some((Num::I(x), Num::I(y))) => {
                if y == 0 {
                    return fail("division by zero");
                }
                let q = x.checked_div(y).ok_or(OVERFLOW)?;
                // Python floors toward negative infinity.
                Ok(Value::Int(if (x % y != 0) && ((x < 0) != (y < 0)) {
                    q - 1
                } else {
                    q
                }))
            }
            Some((x, y)) => {
                if y.f() == 0.0 {
                    fail("division by zero")
                } else {
                    Ok(Value::Float((x.f() / y.f()).floor()))
                }
            }
            None => fail("unsupported operand types for //"),
        },
        Mod => match num_pair(a, b) {
            Some((Num::I(x), Num::I(y))) => {
                if y == 0 {
                    return fail("modulo by zero");
                }
                let r = x.checked_rem(y).ok_or(OVERFLOW)?;
                Ok(Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                    r + y
                } else {
                    r
                }))
            }
            Some((x, y)) => {
                let (x, y) = (x.f(), y.f());
                if y == 0.0 {
                    return fail("modulo by zero");
                }
                let r = x % y;
                Ok(Value::Float(if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                    r + y
                } else {
                    r
                }))
            }
            None => match a {
                Value::Str(fmt) => {
                    let args = match b {
                        Value::List(l) => l.clone(),
                        other => vec![other.clone()],
                    };
                    super::strfmt::percent_format(fmt, &args).map(Value::from)
                }
                _ => fail("unsupported operand types for %"),
            },
        },
        Pow => match num_pair(a, b) {
            Some((Num::I(x), Num::I(y))) => {
                if y < 0 {
                    if x == 0 {
                        return fail("zero to a negative power");
                    }
                    return Ok(Value::Float((x as f64).powf(y as f64)));
                }
                let e = u32::try_from(y).map_err(|_| OVERFLOW)?;
                x.checked_pow(e).map(Value::Int).ok_or(OVERFLOW)
            }
            Some((x, y)) => Ok(Value::Float(x.f().powf(y.f()))),
            None => fail("unsupported operand types for **"),
        },
        Concat => unreachable_concat(),
    }
}

// `~` is handled by the evaluator on `V` (it stringifies Undefined as "").
fn unreachable_concat() -> R<Value> {
    fail("concat is not arithmetic")
}

/// Python `-x`.
pub(crate) fn neg(v: &Value) -> R<Value> {
    match Num::of(v) {
        Some(Num::I(i)) => i.checked_neg().map(Value::Int).ok_or(OVERFLOW),
        Some(Num::F(f)) => Ok(Value::Float(-f)),
        None => fail("bad operand type for unary -"),
    }
}

/// A map key from any scalar (our maps are keyed by strings).
pub(crate) fn key_of(v: &Value) -> Str {
    match v {
        Value::Str(s) => s.clone(),
        other => Str::from(pyfmt::str_of(other)),
    }
}

/// Python-style index normalisation (negative counts from the end).
pub(crate) fn norm_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let j = if i < 0 { i.checked_add(len)? } else { i };
    if (0..len).contains(&j) {
        usize::try_from(j).ok()
    } else {
        None
    }
}

/// Jinja attribute access: Undefined raises, anything else missing is Undefined.
pub(crate) fn get_attr<'a>(v: V<'a>, name: &str) -> R<V<'a>> {
    match v {
        V::Undef => fail("attribute of undefined value"),
        V::Ref(Value::Map(m)) => Ok(m.get(name).map_or(V::Undef, V::Ref)),
        V::Own(Value::Map(mut m)) => Ok(m.remove(name).map_or(V::Undef, V::Own)),
        V::Ns(m) => Ok(m.borrow().get(name).cloned().map_or(V::Undef, V::Own)),
        V::Match(m) => Ok(match name {
            "string" => V::Own(Value::Str(m.text.clone())),
            "lastindex" => V::Own(
                m.spans
                    .iter()
                    .rposition(Option::is_some)
                    .filter(|i| *i > 0)
                    .map_or(Value::Null, |i| Value::Int(i as i64)),
            ),
            _ => V::Undef,
        }),
        _ => Ok(V::Undef),
    }
}

/// Jinja item access `x[k]`.
pub(crate) fn get_item<'a>(v: V<'a>, key: &V) -> R<V<'a>> {
    let k = match key {
        V::Undef => {
            return if v.is_undef() {
                fail("item of undefined value")
            } else {
                Ok(V::Undef)
            };
        }
        other => other.val(),
    };
    let Some(k) = k else {
        return match v {
            V::Undef => fail("item of undefined value"),
            _ => Ok(V::Undef),
        };
    };
    match v {
        V::Undef => fail("item of undefined value"),
        V::Ref(x) => Ok(item_ref(x, k)),
        V::Own(x) => Ok(match item_ref(&x, k) {
            V::Ref(r) => V::Own(r.clone()),
            V::Own(v) => V::Own(v),
            _ => V::Undef,
        }),
        V::Match(m) => Ok(m
            .group_index(k)
            .and_then(|i| m.group(i))
            .map_or(V::Undef, V::Own)),
        V::Ns(m) => Ok(k
            .as_str()
            .and_then(|s| m.borrow().get(s).cloned())
            .map_or(V::Undef, V::Own)),
        V::Global(_) => Ok(V::Undef),
    }
}

fn item_ref<'a>(x: &'a Value, k: &Value) -> V<'a> {
    match (x, k) {
        (Value::Map(m), Value::Str(s)) => m.get(s).map_or(V::Undef, V::Ref),
        (Value::Map(m), Value::Int(i)) => m
            .get(itoa::Buffer::new().format(*i))
            .map_or(V::Undef, V::Ref),
        (Value::List(l), _) => match Num::of(k) {
            Some(Num::I(i)) => norm_index(i, l.len()).map_or(V::Undef, |j| V::Ref(&l[j])),
            _ => V::Undef,
        },
        (Value::Str(s), _) => match Num::of(k) {
            Some(Num::I(i)) => {
                let n = s.chars().count();
                norm_index(i, n)
                    .and_then(|j| s.chars().nth(j))
                    .map_or(V::Undef, |c| V::Own(Value::from(c.to_string())))
            }
            _ => V::Undef,
        },
        _ => V::Undef,
    }
}

/// Python slice index resolution for a sequence of `len` items.
pub(crate) fn slice_indices(
    len: usize,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> R<Vec<usize>> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return fail("slice step cannot be zero");
    }
    let n = len as i64;
    let clamp = |v: i64, lo: i64, hi: i64| v.clamp(lo, hi);
    let adj = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map_or(0, |v| clamp(adj(v), 0, n));
        let e = stop.map_or(n, |v| clamp(adj(v), 0, n));
        let mut i = s;
        while i < e {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    } else {
        let s = start.map_or(n - 1, |v| clamp(adj(v), -1, n - 1));
        let e = stop.map_or(-1, |v| clamp(adj(v), -1, n - 1));
        let mut i = s;
        while i > e {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    }
    Ok(out)
}

/// The bounds of a step-1 slice `[start:stop]` of a sequence of `len` items
/// (negative indices count from the end; out-of-range ones are clamped).
fn unit_slice(len: usize, start: Option<i64>, stop: Option<i64>) -> (usize, usize) {
    let n = len as i64;
    let at = |v: i64| if v < 0 { v.saturating_add(n) } else { v }.clamp(0, n);
    let a = start.map_or(0, at);
    let z = stop.map_or(n, at).max(a);
    (a as usize, z as usize)
}

pub(crate) fn slice_value(
    v: &Value,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> R<Value> {
    // The common step-1 slices, without building the index list.
    if step.unwrap_or(1) == 1 {
        match v {
            Value::List(l) => {
                let (a, z) = unit_slice(l.len(), start, stop);
                return Ok(Value::List(l[a..z].to_vec()));
            }
            Value::Str(s) if s.is_ascii() => {
                let (a, z) = unit_slice(s.len(), start, stop);
                return Ok(Value::from(&s[a..z]));
            }
            _ => {}
        }
    }
    match v {
        Value::List(l) => {
            let idx = slice_indices(l.len(), start, stop, step)?;
            Ok(Value::List(idx.into_iter().map(|i| l[i].clone()).collect()))
        }
        Value::Str(s) => {
            if s.is_ascii() {
                let b = s.as_bytes();
                if step.unwrap_or(1) == 1 {
                    let idx = slice_indices(b.len(), start, stop, None)?;
                    return Ok(match (idx.first(), idx.last()) {
                        (Some(&a), Some(&z)) => Value::from(&s[a..=z]),
                        _ => Value::from(""),
                    });
                }
                let idx = slice_indices(b.len(), start, stop, step)?;
                return Ok(Value::from(
                    idx.into_iter().map(|i| b[i] as char).collect::<String>(),
                ));
            }
            let chars: Vec<char> = s.chars().collect();
            let idx = slice_indices(chars.len(), start, stop, step)?;
            Ok(Value::from(
                idx.into_iter().map(|i| chars[i]).collect::<String>(),
            ))
        }
        _ => fail("object is not subscriptable"),
    }
}
