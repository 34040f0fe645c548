//! The template language: Jinja expressions and statements with Python object
//! semantics (SPEC §4), compiled once and evaluated per event.
//!
//! PUBLIC API CONTRACT (used by the format executor and the externals):
//! - [`Template::compile`] parses a template source once; names of layers are
//!   resolved to slot numbers through a [`Scope`] at compile time.
//! - [`Template::eval`] returns the template's value per SPEC §4.3 (single
//!   expression → native value; otherwise rendered text, then Python
//!   `literal_eval` kept only for list/tuple/dict). `Ok(None)` is Jinja's Undefined.
//! - [`Template::test`] evaluates it as a filter (SPEC §4.6).

mod ast;
mod cut;
mod eval;
mod filters;
mod flow;
mod globals;
mod lexer;
mod literal;
mod methods;
mod parser;
mod pyfmt;
mod rebind;
mod strfmt;
#[cfg(test)]
mod tests;
mod text_test;
mod val;

pub(crate) use cut::Cut;
pub use rebind::Binder;
pub use text_test::{TextRegisters, TextTest};

use crate::datetime::Timestamp;
use crate::value::{Hint, Str, Value};

use ast::{Expr, Init, Node};
use eval::Ctx;
use val::V;

/// Compile-time name resolution: which names are layers, and their slot numbers.
pub trait Scope {
    /// The slot of a layer name (`original`, `final`, a step name), if it is one.
    fn slot(&self, name: &str) -> Option<usize>;
}

/// What a template sees while it runs: the layers by slot (`None` = never produced,
/// so Undefined) and the clock used for year-less dates.
pub struct Env<'a> {
    pub slots: &'a [Option<Value>],
    pub now: Timestamp,
    /// Values of the registers a rebound template reads (see [`Template::rebind`]).
    pub regs: &'a dyn Registers,
}

impl<'a> Env<'a> {
    /// An environment without registers.
    pub fn new(slots: &'a [Option<Value>], now: Timestamp) -> Env<'a> {
        Env {
            slots,
            now,
            regs: &NoRegisters,
        }
    }
}

/// What a register holds while a rebound template runs.
pub enum Bound<'a> {
    /// A parent of the path is missing: reading it is an error, as for a path.
    Absent,
    /// The parent exists but not the last key: Jinja's Undefined.
    Undefined,
    Value(&'a Value),
}

/// Register values by number, supplied by whoever rebound the template.
pub trait Registers {
    fn get(&self, reg: u32) -> Bound<'_>;
}

struct NoRegisters;

impl Registers for NoRegisters {
    fn get(&self, _: u32) -> Bound<'_> {
        Bound::Absent
    }
}

/// A register's value as a path gives it: `Ok(None)` for Undefined, an error when
/// a parent is missing.
pub(crate) fn read_bound(b: Bound<'_>) -> Result<Option<&Value>, EvalError> {
    match b {
        Bound::Value(v) => Ok(Some(v)),
        Bound::Undefined => Ok(None),
        Bound::Absent => Err(EvalError("attribute of undefined value")),
    }
}

/// The value at `keys` below `root` (a layer, `None` when never produced), as a
/// template path reads it: `Ok(None)` when only the last key is missing
/// (Undefined), an error when a parent is. `hints` holds one entry per key.
pub(crate) fn read_path<'v>(
    root: Option<&'v Value>,
    keys: &[Str],
    hints: &[Hint],
) -> Result<Option<&'v Value>, EvalError> {
    // The walk only ever gives a borrowed value or Undefined.
    match eval::path(root, keys, hints)? {
        V::Ref(v) => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// How a rebound path is used, so that the binder can refuse what it cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathUse {
    /// Only whether it is defined matters (`x is defined`, `x is undefined`).
    Presence,
    /// Its value is read.
    Value,
}

/// A template syntax error, with the byte offset in the template source.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

/// A runtime error while evaluating a template (undefined attribute, bad method…).
/// Frequent in normal operation (it means "do not set"), so it is cheap to build.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub &'static str);

/// What a compiled template does per event.
#[derive(Debug, Clone)]
enum Kind {
    /// Independent of the event: the result, computed once.
    Const(Result<Option<Value>, EvalError>),
    /// `{{ layer.a.b }}`: a borrowed walk and one clone.
    Path(usize, Box<[Str]>, Box<[Hint]>),
    /// `{{ layer.a.b }}` rebound to a register.
    Reg(u32),
    /// A single expression: its native value.
    Expr(Expr),
    /// A single expression of a common shape, run without the evaluator on the
    /// values the shape covers (and by `expr` otherwise).
    Shaped(Shape, Operand, Expr),
    /// Text and statements: rendered to a string.
    Render {
        nodes: Vec<Node>,
        nlocals: usize,
        inits: Vec<(usize, Init)>,
    },
}

#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    kind: Kind,
}

/// Expression shapes common enough in formats to skip the evaluator for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// `x | int if x is number else x`: numbers from JSON, text from text records.
    IntIfNumber,
    /// `x | lower`
    Lower,
    /// `x | upper`
    Upper,
}

/// What a [`Template::direct`] template gives when its register holds text `s`:
/// `s` itself for `Copy`, its ASCII case change for `Lower` and `Upper` (the
/// evaluator's result for non-ASCII text), and in every case a list or dict instead
/// when the result is a container literal ([`may_be_container`] rules that out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Direct {
    Copy,
    Lower,
    Upper,
}

pub(crate) use flow::RegArg;
pub(crate) use literal::may_be_container;

/// The path a shaped expression reads.
#[derive(Debug, Clone)]
enum Operand {
    Path(usize, Box<[Str]>, Box<[Hint]>),
    Reg(u32),
}

impl Operand {
    fn of(e: &Expr) -> Option<Operand> {
        match e {
            Expr::Path(slot, keys, hints) => {
                Some(Operand::Path(*slot, keys.clone(), hints.clone()))
            }
            Expr::Reg(r) => Some(Operand::Reg(*r)),
            _ => None,
        }
    }

    fn same(&self, e: &Expr) -> bool {
        match (self, e) {
            (Operand::Path(s, k, _), Expr::Path(t, l, _)) => s == t && k == l,
            (Operand::Reg(r), Expr::Reg(q)) => r == q,
            _ => false,
        }
    }

    /// The operand's value: `Ok(None)` for Undefined, an error when a parent is missing.
    fn get<'e>(&'e self, env: &'e Env) -> Result<Option<&'e Value>, EvalError> {
        match self {
            Operand::Reg(r) => read_bound(env.regs.get(*r)),
            Operand::Path(slot, keys, hints) => {
                read_path(env.slots.get(*slot).and_then(Option::as_ref), keys, hints)
            }
        }
    }
}

fn no_args(a: &ast::Args) -> bool {
    a.pos.is_empty() && a.kw.is_empty()
}

/// Recognizes the [`Shape`]s.
fn shape_of(e: &Expr) -> Option<(Shape, Operand)> {
    use filters::{Filter, TestKind};
    match e {
        Expr::Filter(c) if no_args(&c.args) => {
            let shape = match c.kind {
                Filter::Lower => Shape::Lower,
                Filter::Upper => Shape::Upper,
                _ => return None,
            };
            Some((shape, Operand::of(&c.input)?))
        }
        Expr::Cond(pair, Some(otherwise)) => {
            let [Expr::Test(test, false), Expr::Filter(int)] = &**pair else {
                return None;
            };
            let operand = Operand::of(otherwise)?;
            let shaped = test.kind == TestKind::Number
                && no_args(&test.args)
                && operand.same(&test.input)
                && int.kind == Filter::Int
                && no_args(&int.args)
                && operand.same(&int.input);
            shaped.then_some((Shape::IntIfNumber, operand))
        }
        _ => None,
    }
}

fn expr_kind(e: Expr) -> Kind {
    match shape_of(&e) {
        Some((shape, operand)) => Kind::Shaped(shape, operand, e),
        None => Kind::Expr(e),
    }
}

impl Template {
    pub fn compile(source: &str, scope: &dyn Scope) -> Result<Template, TemplateError> {
        let toks = lexer::lex_template(source)?;
        let parsed = parser::Parser::new(toks, scope).parse_template()?;
        let single = single_expression(&parsed.nodes);
        let mut kind = match single {
            Some(Expr::Path(slot, keys, hints)) => Kind::Path(*slot, keys.clone(), hints.clone()),
            Some(Expr::Layer(slot)) => Kind::Path(*slot, Box::default(), Box::default()),
            Some(e) => expr_kind(e.clone()),
            None => Kind::Render {
                nodes: parsed.nodes,
                nlocals: parsed.nlocals,
                inits: parsed.root_inits,
            },
        };
        if !parsed.uses_env {
            // Nothing reads the event or the clock: fold the whole template.
            let t = Template {
                source: String::new(),
                kind,
            };
            let env = Env::new(&[], Timestamp::default());
            kind = Kind::Const(t.eval(&env));
        }
        Ok(Template {
            source: source.to_string(),
            kind,
        })
    }

    /// The template's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value when it does not depend on the event (a constant), if so.
    pub fn constant(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Const(Ok(Some(v))) => Some(v),
            _ => None,
        }
    }

    /// For a template that only reads one register, directly or through a
    /// [`Direct`] shape: the shape and the register. Executors that keep text outside
    /// of [`Value`]s run these themselves; see [`Direct`] for the results to give.
    pub(crate) fn direct(&self) -> Option<(Direct, u32)> {
        match &self.kind {
            Kind::Reg(r) => Some((Direct::Copy, *r)),
            Kind::Shaped(shape, Operand::Reg(r), _) => Some((
                match shape {
                    Shape::IntIfNumber => Direct::Copy,
                    Shape::Lower => Direct::Lower,
                    Shape::Upper => Direct::Upper,
                },
                *r,
            )),
            _ => None,
        }
    }

    /// For `{{ a if <text test> else b }}` with constant `a` and `b`: the test and
    /// both results as the template gives them.
    pub(crate) fn choice(&self) -> Option<(TextTest, Value, Value)> {
        let Kind::Expr(Expr::Cond(pair, Some(otherwise))) = &self.kind else {
            return None;
        };
        let ([cond, Expr::Const(yes)], Expr::Const(no)) = (&**pair, &**otherwise) else {
            return None;
        };
        Some((TextTest::of(cond)?, finish_value(yes), finish_value(no)))
    }

    /// For `{{ a | community_id(b, c, d, e) }}` over registers (each maybe with a
    /// constant default): the arguments. The result is the filter's on their values.
    pub(crate) fn community_id(&self) -> Option<[RegArg; 5]> {
        match &self.kind {
            Kind::Expr(e) => flow::community_id(e),
            _ => None,
        }
    }

    /// The template as a [`TextTest`], when it is a single expression of the shapes
    /// that runs over register text (a rebound template's).
    pub fn text_test(&self) -> Option<TextTest> {
        match &self.kind {
            Kind::Expr(e) | Kind::Shaped(_, _, e) => TextTest::of(e),
            _ => None,
        }
    }

    /// For a plain `{{ layer.a.b }}` template: the layer slot and the key path.
    pub fn is_plain_path(&self) -> Option<(usize, &[Str])> {
        match &self.kind {
            Kind::Path(slot, keys, _) => Some((*slot, keys)),
            _ => None,
        }
    }

    pub fn eval(&self, env: &Env) -> Result<Option<Value>, EvalError> {
        match &self.kind {
            Kind::Const(r) => r.clone(),
            Kind::Path(slot, keys, hints) => {
                Ok(
                    read_path(env.slots.get(*slot).and_then(Option::as_ref), keys, hints)?
                        .map(finish_value),
                )
            }
            Kind::Reg(r) => Ok(read_bound(env.regs.get(*r))?.map(finish_value)),
            Kind::Shaped(shape, operand, e) => {
                // The shapes' results on text and integers, as the evaluator gives them.
                match (shape, operand.get(env)?) {
                    (Shape::IntIfNumber, Some(v @ (Value::Str(_) | Value::Int(_)))) => {
                        return Ok(Some(finish_value(v)));
                    }
                    (Shape::IntIfNumber, None) => return Ok(None),
                    (Shape::Lower, Some(Value::Str(s))) if s.is_ascii() => {
                        return Ok(finish(V::Own(Value::from(s.to_ascii_lowercase()))));
                    }
                    (Shape::Upper, Some(Value::Str(s))) if s.is_ascii() => {
                        return Ok(finish(V::Own(Value::from(s.to_ascii_uppercase()))));
                    }
                    _ => {}
                }
                let mut ctx = Ctx::new(env, 0);
                Ok(finish(ctx.expr(e)?))
            }
            Kind::Expr(e) => {
                let mut ctx = Ctx::new(env, 0);
                Ok(finish(ctx.expr(e)?))
            }
            Kind::Render {
                nodes,
                nlocals,
                inits,
            } => {
                let mut ctx = Ctx::new(env, *nlocals);
                ctx.run_inits(inits);
                let mut out = String::with_capacity(64);
                ctx.render(nodes, &mut out)?;
                Ok(Some(match literal::container_literal(&out) {
                    Some(v) => v,
                    None => Value::from(out),
                }))
            }
        }
    }

    pub fn test(&self, env: &Env) -> bool {
        match self.eval(env) {
            Ok(Some(Value::Str(s))) => !matches!(s.trim(), "" | "False" | "false" | "None" | "0"),
            Ok(Some(v)) => v.truthy(),
            Ok(None) | Err(_) => false,
        }
    }
}

/// The expression of a template that is only `{{ expr }}` (surrounding whitespace allowed).
fn single_expression(nodes: &[Node]) -> Option<&Expr> {
    let mut found = None;
    for n in nodes {
        match n {
            Node::Text(t) if t.trim().is_empty() => {}
            Node::Out(e) if found.is_none() => found = Some(e),
            _ => return None,
        }
    }
    found
}

/// SPEC §4.3 step 4 on a native result.
fn finish(v: V) -> Option<Value> {
    match v {
        V::Ref(x) => Some(finish_value(x)),
        other => other.into_value().map(|x| match x {
            Value::Str(s) => literal::container_literal(&s).unwrap_or(Value::Str(s)),
            x => x,
        }),
    }
}

fn finish_value(v: &Value) -> Value {
    match v {
        Value::Str(s) => literal::container_literal(s).unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}

/// Python's `str()` of a value (`None`, `True`, `['a', 1]`, `{'k': 'v'}`, `6.0`).
pub fn py_str(v: &Value) -> String {
    pyfmt::str_of(v)
}

/// Python's `repr()` of a value (`'a'`, `['a', 1]`).
pub fn py_repr(v: &Value) -> String {
    pyfmt::repr_of(v)
}

/// Python's `ast.literal_eval` on text: the parsed value, if the text is a literal.
pub fn literal_eval(text: &str) -> Option<Value> {
    literal::literal_eval(text)
}
