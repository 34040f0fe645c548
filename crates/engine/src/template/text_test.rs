//! Filters over the text of registers, compiled to direct string operations. The
//! commonest filter shapes (`x.lstrip().startswith('{')`, `x[:1].isdigit()`,
//! `x.count(' ') >= 13`, joined by `and`, `or`, `not`) then run without the
//! evaluator, values or allocations, whenever their registers hold text. Every
//! shape gives a boolean, so the filter's truth is the evaluator's.

use super::ast::{CmpOp, Expr};
use super::methods::{self, Method};
use crate::value::{Str, Value};

/// A compiled filter over register text (see [`super::Template::text_test`]).
#[derive(Debug, Clone)]
pub struct TextTest {
    root: Pred,
}

/// Text derived from a register.
#[derive(Debug, Clone)]
enum Text {
    Reg(u32),
    /// `.strip()`, `.lstrip()`, `.rstrip()` without arguments.
    Strip {
        of: Box<Text>,
        left: bool,
        right: bool,
    },
    /// `[:n]` with `n >= 0`: the first `n` characters.
    Prefix(Box<Text>, usize),
}

#[derive(Debug, Clone)]
enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    StartsWith(Text, Str),
    EndsWith(Text, Str),
    /// `.isdigit()`, `.isnumeric()`, `.isdecimal()`.
    IsDigit(Text),
    /// `.count(sub) <op> n`.
    Count(Text, Str, CmpOp, i64),
}

impl TextTest {
    pub(crate) fn of(e: &Expr) -> Option<TextTest> {
        Some(TextTest { root: pred(e)? })
    }

    /// The filter's truth, or `None` when a register it reads does not hold text
    /// (the evaluator then decides: Undefined, numbers and errors are its business).
    pub fn run<'t>(&self, text: &dyn Fn(u32) -> Option<&'t str>) -> Option<bool> {
        self.root.run(text)
    }
}

fn no_args(args: &super::ast::Args) -> bool {
    args.pos.is_empty() && args.kw.is_empty()
}

/// The one constant text argument of a call.
fn str_arg(args: &super::ast::Args) -> Option<Str> {
    match (args.pos.as_slice(), args.kw.is_empty()) {
        ([Expr::Const(Value::Str(s))], true) => Some(s.clone()),
        _ => None,
    }
}

fn text(e: &Expr) -> Option<Text> {
    match e {
        Expr::Reg(r) => Some(Text::Reg(*r)),
        Expr::Method(call, _) if no_args(&call.args) => {
            let (left, right) = match call.kind {
                Method::Strip => (true, true),
                Method::Lstrip => (true, false),
                Method::Rstrip => (false, true),
                _ => return None,
            };
            Some(Text::Strip {
                of: Box::new(text(&call.input)?),
                left,
                right,
            })
        }
        Expr::Slice(of, bounds) => match &**bounds {
            [None, Some(Expr::Const(Value::Int(n))), None] if *n >= 0 => Some(Text::Prefix(
                Box::new(text(of)?),
                usize::try_from(*n).ok()?,
            )),
            _ => None,
        },
        _ => None,
    }
}

fn pred(e: &Expr) -> Option<Pred> {
    match e {
        Expr::And(a, b) => Some(Pred::And(Box::new(pred(a)?), Box::new(pred(b)?))),
        Expr::Or(a, b) => Some(Pred::Or(Box::new(pred(a)?), Box::new(pred(b)?))),
        Expr::Not(a) => Some(Pred::Not(Box::new(pred(a)?))),
        Expr::Method(call, _) => match call.kind {
            Method::Startswith => Some(Pred::StartsWith(text(&call.input)?, str_arg(&call.args)?)),
            Method::Endswith => Some(Pred::EndsWith(text(&call.input)?, str_arg(&call.args)?)),
            Method::Isdigit | Method::Isnumeric | Method::Isdecimal if no_args(&call.args) => {
                Some(Pred::IsDigit(text(&call.input)?))
            }
            _ => None,
        },
        Expr::Cmp(left, ops) => {
            let [(op, Expr::Const(Value::Int(n)))] = ops.as_slice() else {
                return None;
            };
            let Expr::Method(call, _) = &**left else {
                return None;
            };
            if call.kind != Method::Count || matches!(op, CmpOp::In | CmpOp::NotIn) {
                return None;
            }
            Some(Pred::Count(
                text(&call.input)?,
                str_arg(&call.args)?,
                *op,
                *n,
            ))
        }
        _ => None,
    }
}

impl Text {
    fn get<'t>(&self, text: &dyn Fn(u32) -> Option<&'t str>) -> Option<&'t str> {
        Some(match self {
            Text::Reg(r) => text(*r)?,
            Text::Strip { of, left, right } => methods::strip_chars(of.get(text)?, None, *left, *right),
            Text::Prefix(of, n) => {
                let s = of.get(text)?;
                s.char_indices().nth(*n).map_or(s, |(i, _)| &s[..i])
            }
        })
    }
}

impl Pred {
    fn run<'t>(&self, text: &dyn Fn(u32) -> Option<&'t str>) -> Option<bool> {
        Some(match self {
            // Short-circuits as the evaluator does: what is not run cannot fail.
            Pred::And(a, b) => a.run(text)? && b.run(text)?,
            Pred::Or(a, b) => a.run(text)? || b.run(text)?,
            Pred::Not(a) => !a.run(text)?,
            Pred::StartsWith(t, p) => t.get(text)?.starts_with(p.as_str()),
            Pred::EndsWith(t, p) => t.get(text)?.ends_with(p.as_str()),
            Pred::IsDigit(t) => methods::is_digit_text(t.get(text)?),
            Pred::Count(t, sub, op, n) => {
                let count = methods::count_text(t.get(text)?, sub) as i64;
                match op {
                    CmpOp::Eq => count == *n,
                    CmpOp::Ne => count != *n,
                    CmpOp::Lt => count < *n,
                    CmpOp::Le => count <= *n,
                    CmpOp::Gt => count > *n,
                    CmpOp::Ge => count >= *n,
                    CmpOp::In | CmpOp::NotIn => return None,
                }
            }
        })
    }
}
