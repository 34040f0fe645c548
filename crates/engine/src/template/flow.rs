//! The `community_id` call over registers (`a | community_id(b, c | default(0), …)`),
//! recognized so that an executor holding the registers' text and numbers computes
//! it without the evaluator (see [`super::Template::community_id`]).

use super::ast::{Args, Expr};
use super::filters::Filter;
use crate::value::Value;

/// One argument of the call: a register, and the constant `k` of `| default(k)`
/// given when the register is Undefined.
#[derive(Debug, Clone)]
pub(crate) struct RegArg {
    pub reg: u32,
    pub default: Option<Value>,
}

/// The call's five arguments (source, destination, their ports, the protocol), in
/// the order the filter reads them, when each is a register with at most a default.
pub(crate) fn community_id(e: &Expr) -> Option<[RegArg; 5]> {
    let Expr::Filter(call) = e else {
        return None;
    };
    if call.kind != Filter::CommunityId || !call.args.kw.is_empty() {
        return None;
    }
    let [b, c, d, e] = call.args.pos.as_slice() else {
        return None;
    };
    Some([arg(&call.input)?, arg(b)?, arg(c)?, arg(d)?, arg(e)?])
}

fn arg(e: &Expr) -> Option<RegArg> {
    match e {
        Expr::Reg(reg) => Some(RegArg {
            reg: *reg,
            default: None,
        }),
        Expr::Filter(call) if call.kind == Filter::Default => {
            let (Expr::Reg(reg), Some(k)) = (&call.input, one_const(&call.args)) else {
                return None;
            };
            Some(RegArg {
                reg: *reg,
                default: Some(k.clone()),
            })
        }
        _ => None,
    }
}

/// The one positional constant of `default(k)` (no `boolean` argument).
fn one_const(args: &Args) -> Option<&Value> {
    match (args.pos.as_slice(), args.kw.is_empty()) {
        ([Expr::Const(k)], true) => Some(k),
        _ => None,
    }
}
