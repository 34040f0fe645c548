//! Rebinding a compiled template's layer paths to registers, for an executor that
//! keeps the fields it reads in a flat register file instead of layer maps.
//!
//! The binder sees every layer path (slot, keys) and how it is used, and either
//! gives a register number or refuses; one refusal refuses the whole template.

use super::ast::{Args, Call, Expr, ForNode, Init, Node, Place, Target};
use super::filters::TestKind;
use super::{Kind, PathUse, Template};
use crate::value::Str;

/// Maps a layer path to a register, or `None` to refuse.
pub type Binder<'b> = dyn FnMut(usize, &[Str], PathUse) -> Option<u32> + 'b;

impl Template {
    /// A copy of this template whose layer paths read registers, or `None` when the
    /// binder refuses one of them or the template binds a whole layer to a variable.
    pub fn rebind(&self, bind: &mut Binder) -> Option<Template> {
        let kind = match &self.kind {
            Kind::Const(r) => Kind::Const(r.clone()),
            Kind::Path(slot, keys, _) => Kind::Reg(bind(*slot, keys, PathUse::Value)?),
            Kind::Reg(r) => Kind::Reg(*r),
            Kind::Expr(e) | Kind::Shaped(_, _, e) => {
                super::expr_kind(expr(e, bind, PathUse::Value)?)
            }
            Kind::Render {
                nodes: n,
                nlocals,
                inits,
            } => Kind::Render {
                nodes: nodes(n, bind)?,
                nlocals: *nlocals,
                inits: plain_inits(inits)?,
            },
        };
        Some(Template {
            source: self.source.clone(),
            kind,
        })
    }
}

fn plain_inits(inits: &[(usize, Init)]) -> Option<Vec<(usize, Init)>> {
    let layer_bound = inits.iter().any(|(_, i)| matches!(i, Init::Layer(_)));
    (!layer_bound).then(|| inits.to_vec())
}

fn nodes(list: &[Node], bind: &mut Binder) -> Option<Vec<Node>> {
    list.iter().map(|n| node(n, bind)).collect()
}

fn node(n: &Node, bind: &mut Binder) -> Option<Node> {
    Some(match n {
        Node::Text(t) => Node::Text(t.clone()),
        Node::Out(e) => Node::Out(value(e, bind)?),
        Node::If(branches, otherwise) => Node::If(
            branches
                .iter()
                .map(|(c, body)| Some((value(c, bind)?, nodes(body, bind)?)))
                .collect::<Option<_>>()?,
            nodes(otherwise, bind)?,
        ),
        Node::For(f) => Node::For(Box::new(ForNode {
            targets: f.targets.clone(),
            unpack: f.unpack,
            iter: value(&f.iter, bind)?,
            cond: match &f.cond {
                Some(c) => Some(value(c, bind)?),
                None => None,
            },
            body: nodes(&f.body, bind)?,
            else_: nodes(&f.else_, bind)?,
            loop_slot: f.loop_slot,
            inits: plain_inits(&f.inits)?,
        })),
        Node::Set(target, e) => Node::Set(
            match target {
                Target::Attr(base, name) => Target::Attr(value(base, bind)?, name.clone()),
                other => other.clone(),
            },
            value(e, bind)?,
        ),
        Node::SetBlock(slot, body) => Node::SetBlock(*slot, nodes(body, bind)?),
        Node::Do(e) => Node::Do(value(e, bind)?),
    })
}

fn value(e: &Expr, bind: &mut Binder) -> Option<Expr> {
    expr(e, bind, PathUse::Value)
}

fn boxed(e: &Expr, bind: &mut Binder) -> Option<Box<Expr>> {
    value(e, bind).map(Box::new)
}

fn args(a: &Args, bind: &mut Binder) -> Option<Args> {
    Some(Args {
        pos: a
            .pos
            .iter()
            .map(|e| value(e, bind))
            .collect::<Option<_>>()?,
        kw: a
            .kw
            .iter()
            .map(|(k, e)| Some((k.clone(), value(e, bind)?)))
            .collect::<Option<_>>()?,
    })
}

fn call<K: Clone>(c: &Call<K>, bind: &mut Binder, input_use: PathUse) -> Option<Box<Call<K>>> {
    Some(Box::new(Call {
        kind: c.kind.clone(),
        input: expr(&c.input, bind, input_use)?,
        args: args(&c.args, bind)?,
        regex: c.regex.clone(),
    }))
}

fn expr(e: &Expr, bind: &mut Binder, usage: PathUse) -> Option<Expr> {
    Some(match e {
        Expr::Const(_) | Expr::Undef | Expr::Local(_) | Expr::Loop(..) | Expr::Reg(_) => e.clone(),
        Expr::GlobalRef(g) => Expr::GlobalRef(*g),
        Expr::Layer(slot) => Expr::Reg(bind(*slot, &[], usage)?),
        Expr::Path(slot, keys, _) => Expr::Reg(bind(*slot, keys, usage)?),
        Expr::Attr(base, name) => Expr::Attr(boxed(base, bind)?, name.clone()),
        Expr::Item(base, key) => Expr::Item(boxed(base, bind)?, boxed(key, bind)?),
        Expr::Slice(base, parts) => {
            let mut out: [Option<Expr>; 3] = [None, None, None];
            for (o, p) in out.iter_mut().zip(parts.iter()) {
                if let Some(p) = p {
                    *o = Some(value(p, bind)?);
                }
            }
            Expr::Slice(boxed(base, bind)?, Box::new(out))
        }
        Expr::List(items) => Expr::List(
            items
                .iter()
                .map(|i| value(i, bind))
                .collect::<Option<_>>()?,
        ),
        Expr::Dict(items) => Expr::Dict(
            items
                .iter()
                .map(|(k, v)| Some((value(k, bind)?, value(v, bind)?)))
                .collect::<Option<_>>()?,
        ),
        Expr::Neg(x) => Expr::Neg(boxed(x, bind)?),
        Expr::Pos(x) => Expr::Pos(boxed(x, bind)?),
        Expr::Not(x) => Expr::Not(boxed(x, bind)?),
        Expr::Bin(op, a, b) => Expr::Bin(*op, boxed(a, bind)?, boxed(b, bind)?),
        Expr::And(a, b) => Expr::And(boxed(a, bind)?, boxed(b, bind)?),
        Expr::Or(a, b) => Expr::Or(boxed(a, bind)?, boxed(b, bind)?),
        Expr::Cmp(first, rest) => Expr::Cmp(
            boxed(first, bind)?,
            rest.iter()
                .map(|(op, x)| Some((*op, value(x, bind)?)))
                .collect::<Option<_>>()?,
        ),
        Expr::Cond(pair, otherwise) => Expr::Cond(
            Box::new([value(&pair[0], bind)?, value(&pair[1], bind)?]),
            match otherwise {
                Some(o) => Some(boxed(o, bind)?),
                None => None,
            },
        ),
        Expr::Filter(c) => Expr::Filter(call(c, bind, PathUse::Value)?),
        Expr::Test(c, negated) => {
            let input_use = match c.kind {
                TestKind::Defined | TestKind::Undefined => PathUse::Presence,
                _ => PathUse::Value,
            };
            Expr::Test(call(c, bind, input_use)?, *negated)
        }
        Expr::Method(c, place) => Expr::Method(
            call(c, bind, PathUse::Value)?,
            match place {
                // The place a mutating method updates is always a local variable.
                Some(p) => Some(Box::new(Place {
                    slot: p.slot,
                    keys: p
                        .keys
                        .iter()
                        .map(|k| value(k, bind))
                        .collect::<Option<_>>()?,
                })),
                None => None,
            },
        ),
        Expr::Global(c) => Expr::Global(call(c, bind, PathUse::Value)?),
        Expr::Fail(x, why) => Expr::Fail(boxed(x, bind)?, why),
    })
}
