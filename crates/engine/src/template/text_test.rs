//! Filters over the text of registers, compiled to direct string operations. The
//! commonest filter shapes (`x.lstrip().startswith('{')`, `x[:1].isdigit()`,
//! `x.count(' ') >= 13`, `x is defined`, `x == 'text'`, `x is string`,
//! `x | is_ipaddress`, `':' in x`, joined by `and`, `or`, `not`) then run
//! without the evaluator, values or allocations, whenever their registers hold
//! text. Every shape gives a boolean, so the filter's truth is the evaluator's.

use super::ast::{CmpOp, Expr};
use super::filters::{Filter, TestKind};
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
    /// `x is defined` (`true`) or `x is undefined` (`false`) on a register.
    Defined(u32, bool),
    StartsWith(Text, Str),
    EndsWith(Text, Str),
    /// `.isdigit()`, `.isnumeric()`, `.isdecimal()`.
    IsDigit(Text),
    /// `.count(sub) <op> n`.
    Count(Text, Str, CmpOp, i64),
    /// `== 'text'` (`true`) or `!= 'text'` (`false`).
    Equals(Text, Str, bool),
    /// `is string`: text is.
    IsString(Text),
    /// `| is_ipaddress`, `| is_ipv4`, `| is_ipv6`.
    Ip(Text, Filter),
    /// `'sub' in x` (`true`) or `'sub' not in x` (`false`).
    Contains(Text, Str, bool),
}

impl TextTest {
    pub(crate) fn of(e: &Expr) -> Option<TextTest> {
        Some(TextTest { root: pred(e)? })
    }

    /// The filter's truth, or `None` when a register it reads does not hold text
    /// (the evaluator then decides: Undefined, numbers and errors are its business).
    pub fn run(&self, regs: &dyn TextRegisters) -> Option<bool> {
        self.root.run(regs)
    }
}

/// What a [`TextTest`] reads from the registers.
pub trait TextRegisters {
    /// The register's text, when it holds text.
    fn text(&self, reg: u32) -> Option<&str>;
    /// Whether the register is defined; `None` when reading it is an error (a
    /// parent of its path is missing).
    fn defined(&self, reg: u32) -> Option<bool>;
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
            [None, Some(Expr::Const(Value::Int(n))), None] if *n >= 0 => {
                Some(Text::Prefix(Box::new(text(of)?), usize::try_from(*n).ok()?))
            }
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
        Expr::Test(call, negated) if call.kind == TestKind::String && no_args(&call.args) => {
            let is = Pred::IsString(text(&call.input)?);
            Some(if *negated {
                Pred::Not(Box::new(is))
            } else {
                is
            })
        }
        Expr::Test(call, negated) if no_args(&call.args) => {
            let Expr::Reg(r) = call.input else {
                return None;
            };
            let defined = match call.kind {
                TestKind::Defined => true,
                TestKind::Undefined => false,
                _ => return None,
            };
            Some(Pred::Defined(r, defined != *negated))
        }
        Expr::Method(call, _) => match call.kind {
            Method::Startswith => Some(Pred::StartsWith(text(&call.input)?, str_arg(&call.args)?)),
            Method::Endswith => Some(Pred::EndsWith(text(&call.input)?, str_arg(&call.args)?)),
            Method::Isdigit | Method::Isnumeric | Method::Isdecimal if no_args(&call.args) => {
                Some(Pred::IsDigit(text(&call.input)?))
            }
            _ => None,
        },
        Expr::Filter(call)
            if matches!(
                call.kind,
                Filter::IsIpaddress | Filter::IsIpv4 | Filter::IsIpv6
            ) && no_args(&call.args) =>
        {
            Some(Pred::Ip(text(&call.input)?, call.kind))
        }
        Expr::Cmp(left, ops) if matches!(ops.as_slice(), [(_, Expr::Const(Value::Str(_)))]) => {
            let [(op, Expr::Const(Value::Str(s)))] = ops.as_slice() else {
                return None;
            };
            let equal = match op {
                CmpOp::Eq => true,
                CmpOp::Ne => false,
                _ => return None,
            };
            Some(Pred::Equals(text(left)?, s.clone(), equal))
        }
        Expr::Cmp(left, ops) => {
            if let (Expr::Const(Value::Str(sub)), [(op @ (CmpOp::In | CmpOp::NotIn), hay)]) =
                (&**left, ops.as_slice())
            {
                return Some(Pred::Contains(text(hay)?, sub.clone(), *op == CmpOp::In));
            }
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
    fn get<'t>(&self, regs: &'t dyn TextRegisters) -> Option<&'t str> {
        Some(match self {
            Text::Reg(r) => regs.text(*r)?,
            Text::Strip { of, left, right } => {
                methods::strip_chars(of.get(regs)?, None, *left, *right)
            }
            Text::Prefix(of, n) => {
                let s = of.get(regs)?;
                s.char_indices().nth(*n).map_or(s, |(i, _)| &s[..i])
            }
        })
    }
}

impl Pred {
    fn run(&self, regs: &dyn TextRegisters) -> Option<bool> {
        Some(match self {
            // Short-circuits as the evaluator does: what is not run cannot fail.
            Pred::And(a, b) => a.run(regs)? && b.run(regs)?,
            Pred::Or(a, b) => a.run(regs)? || b.run(regs)?,
            Pred::Not(a) => !a.run(regs)?,
            Pred::Defined(r, defined) => regs.defined(*r)? == *defined,
            Pred::StartsWith(t, p) => t.get(regs)?.starts_with(p.as_str()),
            Pred::EndsWith(t, p) => t.get(regs)?.ends_with(p.as_str()),
            Pred::IsDigit(t) => methods::is_digit_text(t.get(regs)?),
            Pred::Contains(t, sub, inside) => {
                let text = t.get(regs)?;
                let found = match sub.as_bytes() {
                    // One ASCII byte is never inside a multi-byte character.
                    &[b] if b.is_ascii() => memchr::memchr(b, text.as_bytes()).is_some(),
                    _ => text.contains(sub.as_str()),
                };
                found == *inside
            }
            Pred::Equals(t, s, equal) => (t.get(regs)? == s.as_str()) == *equal,
            Pred::IsString(t) => {
                t.get(regs)?;
                true
            }
            Pred::Ip(t, kind) => {
                let ip = t.get(regs)?.parse::<std::net::IpAddr>();
                match kind {
                    Filter::IsIpv4 => matches!(ip, Ok(std::net::IpAddr::V4(_))),
                    Filter::IsIpv6 => matches!(ip, Ok(std::net::IpAddr::V6(_))),
                    _ => ip.is_ok(),
                }
            }
            Pred::Count(t, sub, op, n) => {
                let count = methods::count_text(t.get(regs)?, sub) as i64;
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
