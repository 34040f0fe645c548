//! The evaluator: walks the compiled tree over borrowed layer values and
//! returns borrowed results where it can (copies happen only at the boundary).

use std::cell::RefCell;
use std::rc::Rc;

use super::ast::*;
use super::val::*;
use super::{EvalError, filters, globals, methods};
use crate::datetime::Timestamp;
use crate::value::{Map, Value};

/// Total loop iterations allowed per evaluation (CPU guard).
const MAX_ITERATIONS: usize = 1 << 20;
/// Deepest container nesting a template may keep in a variable.
const MAX_NEST: usize = 256;

#[derive(Debug, Clone)]
enum Slot<'a> {
    V(V<'a>),
    /// A loop-body name that still refers to the outer variable (Python aliasing).
    Alias(usize),
}

/// Evaluated call arguments: positional, then keyword.
pub(crate) type Evaluated<'a> = (Vec<V<'a>>, Vec<(&'a str, V<'a>)>);

pub(crate) struct Ctx<'a> {
    slots: &'a [Option<Value>],
    regs: &'a dyn super::Registers,
    pub now: Timestamp,
    locals: Vec<Slot<'a>>,
    budget: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(env: &super::Env<'a>, nlocals: usize) -> Ctx<'a> {
        Ctx {
            slots: env.slots,
            regs: env.regs,
            now: env.now,
            locals: vec![Slot::V(V::Undef); nlocals],
            budget: MAX_ITERATIONS,
        }
    }

    fn layer(&self, s: usize) -> V<'a> {
        match self.slots.get(s) {
            Some(Some(v)) => V::Ref(v),
            _ => V::Undef,
        }
    }

    fn root(&self, mut s: usize) -> usize {
        for _ in 0..=self.locals.len() {
            match self.locals.get(s) {
                Some(Slot::Alias(t)) => s = *t,
                _ => return s,
            }
        }
        s
    }

    fn local(&self, s: usize) -> V<'a> {
        match self.locals.get(self.root(s)) {
            Some(Slot::V(v)) => v.clone(),
            _ => V::Undef,
        }
    }

    fn set_local(&mut self, s: usize, v: V<'a>) -> R<()> {
        check_nesting(&v)?;
        if let Some(slot) = self.locals.get_mut(s) {
            *slot = Slot::V(v);
        }
        Ok(())
    }

    pub fn run_inits(&mut self, inits: &[(usize, Init)]) {
        for &(slot, init) in inits {
            let v = match init {
                Init::Undef => Slot::V(V::Undef),
                Init::Alias(s) => Slot::Alias(self.root(s)),
                Init::Layer(l) => Slot::V(self.layer(l)),
            };
            if let Some(x) = self.locals.get_mut(slot) {
                *x = v;
            }
        }
    }

    pub fn expr(&mut self, e: &'a Expr) -> R<V<'a>> {
        match e {
            Expr::Const(v) => Ok(V::Ref(v)),
            Expr::Undef => Ok(V::Undef),
            Expr::Layer(s) => Ok(self.layer(*s)),
            Expr::Path(s, keys, hints) => {
                path(self.slots.get(*s).and_then(Option::as_ref), keys, hints)
            }
            Expr::Reg(r) => Ok(super::read_bound(self.regs.get(*r))?.map_or(V::Undef, V::Ref)),
            Expr::Local(s) => Ok(self.local(*s)),
            Expr::Loop(s, attr) => self.loop_attr(*s, *attr),
            Expr::Attr(b, name) => {
                let v = self.expr(b)?;
                get_attr(v, name)
            }
            Expr::Item(b, k) => {
                let v = self.expr(b)?;
                let k = self.expr(k)?;
                get_item(v, &k)
            }
            Expr::Slice(b, parts) => {
                let v = self.expr(b)?;
                let mut idx = [None; 3];
                for (i, p) in parts.iter().enumerate() {
                    if let Some(p) = p {
                        let x = self.expr(p)?;
                        idx[i] = match x.val() {
                            Some(Value::Null) => None,
                            Some(x) => match Num::of(x) {
                                Some(Num::I(i)) => Some(i),
                                _ => return fail("slice indices must be integers"),
                            },
                            None => return fail("slice index is undefined"),
                        };
                    }
                }
                match v.val() {
                    Some(x @ (Value::List(_) | Value::Str(_))) => {
                        Ok(V::Own(slice_value(x, idx[0], idx[1], idx[2])?))
                    }
                    Some(_) => Ok(V::Undef),
                    None if v.is_undef() => fail("slice of undefined value"),
                    None => Ok(V::Undef),
                }
            }
            Expr::List(items) => {
                let mut l = Vec::with_capacity(items.len());
                for x in items {
                    l.push(self.expr(x)?.into_stored());
                }
                Ok(V::Own(Value::List(l)))
            }
            Expr::Dict(items) => {
                let mut m = Map::with_capacity(items.len());
                for (k, x) in items {
                    let k = self.expr(k)?;
                    let key = match k.val() {
                        Some(Value::List(_) | Value::Map(_)) => return fail("unhashable type"),
                        Some(k) => key_of(k),
                        None => return fail("undefined dict key"),
                    };
                    let x = self.expr(x)?.into_stored();
                    m.insert(key, x);
                }
                Ok(V::Own(Value::Map(m)))
            }
            Expr::Neg(x) => {
                let v = self.expr(x)?;
                match v.val() {
                    Some(x) => Ok(V::Own(neg(x)?)),
                    None => fail("bad operand for unary -"),
                }
            }
            Expr::Pos(x) => {
                let v = self.expr(x)?;
                match v.val().and_then(Num::of) {
                    Some(n) => Ok(V::Own(n.value())),
                    None => fail("bad operand for unary +"),
                }
            }
            Expr::Not(x) => Ok(V::Own(Value::Bool(!self.expr(x)?.truthy()))),
            Expr::Bin(BinOp::Concat, a, b) => {
                let mut s = self.expr(a)?.to_py_str();
                self.expr(b)?.write_str(&mut s);
                if s.len() > MAX_STR {
                    return fail("string too large");
                }
                Ok(V::Own(Value::from(s)))
            }
            Expr::Bin(op, a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                match (x.val(), y.val()) {
                    (Some(x), Some(y)) => Ok(V::Own(arith(*op, x, y)?)),
                    _ => fail("unsupported operand for arithmetic"),
                }
            }
            Expr::And(a, b) => {
                let x = self.expr(a)?;
                if x.truthy() { self.expr(b) } else { Ok(x) }
            }
            Expr::Or(a, b) => {
                let x = self.expr(a)?;
                if x.truthy() { Ok(x) } else { self.expr(b) }
            }
            Expr::Cmp(first, ops) => {
                let mut left = self.expr(first)?;
                for (op, r) in ops {
                    // `x in [0, null]`: Python compares each item with `==`, and
                    // Undefined equals an Undefined item (`null` is one) and
                    // nothing else; a stored list would hold None instead.
                    if let (CmpOp::In | CmpOp::NotIn, Expr::List(items)) = (op, r) {
                        let mut found = false;
                        let mut list = Vec::with_capacity(items.len());
                        for item in items {
                            let item = self.expr(item)?;
                            found |= match (left.is_undef(), item.is_undef()) {
                                (true, true) => true,
                                (false, false) => py_eq(&left, &item),
                                _ => false,
                            };
                            list.push(item.into_stored());
                        }
                        if found != (*op == CmpOp::In) {
                            return Ok(V::Own(Value::Bool(false)));
                        }
                        // A chained comparison goes on from the list.
                        left = V::Own(Value::List(list));
                        continue;
                    }
                    let right = self.expr(r)?;
                    if !compare(*op, &left, &right)? {
                        return Ok(V::Own(Value::Bool(false)));
                    }
                    left = right;
                }
                Ok(V::Own(Value::Bool(true)))
            }
            Expr::Cond(ct, other) => {
                let [cond, then] = &**ct;
                if self.expr(cond)?.truthy() {
                    self.expr(then)
                } else {
                    match other {
                        Some(o) => self.expr(o),
                        None => Ok(V::Undef),
                    }
                }
            }
            Expr::Filter(call) => filters::apply(self, call),
            Expr::Test(call, negated) => {
                let r = filters::test(self, call)?;
                Ok(V::Own(Value::Bool(r != *negated)))
            }
            Expr::Method(call, place) => self.method(call, place.as_deref()),
            Expr::Global(call) => globals::call(self, call),
            Expr::GlobalRef(g) => Ok(V::Global(*g)),
            Expr::Fail(inner, msg) => {
                self.expr(inner)?;
                Err(EvalError(msg))
            }
        }
    }

    fn loop_attr(&self, s: usize, attr: LoopAttr) -> R<V<'a>> {
        let int = |v: V| v.val().and_then(Num::of).map_or(0, |n| n.f() as i64);
        let i = int(self.local(s));
        let n = int(self.local(s + 1));
        Ok(V::Own(match attr {
            LoopAttr::Index => Value::Int(i + 1),
            LoopAttr::Index0 => Value::Int(i),
            LoopAttr::RevIndex => Value::Int(n - i),
            LoopAttr::RevIndex0 => Value::Int(n - i - 1),
            LoopAttr::First => Value::Bool(i == 0),
            LoopAttr::Last => Value::Bool(i == n - 1),
            LoopAttr::Length => Value::Int(n),
        }))
    }

    pub fn args(&mut self, args: &'a Args) -> R<Evaluated<'a>> {
        let mut pos = Vec::with_capacity(args.pos.len());
        for a in &args.pos {
            pos.push(self.expr(a)?);
        }
        let mut kw = Vec::with_capacity(args.kw.len());
        for (k, a) in &args.kw {
            kw.push((k.as_str(), self.expr(a)?));
        }
        Ok((pos, kw))
    }

    fn method(&mut self, call: &'a Call<methods::Method>, place: Option<&'a Place>) -> R<V<'a>> {
        let Some(place) = place else {
            let recv = self.expr(&call.input)?;
            let (pos, kw) = self.args(&call.args)?;
            if call.kind.mutating() {
                // Mutating a temporary (or a layer value): work on a copy.
                let Some(mut v) = recv.into_value() else {
                    return fail("method of undefined value");
                };
                return methods::call_mut(call.kind, &mut v, pos, &kw).map(V::Own);
            }
            return methods::call(self, call.kind, recv, pos, &kw);
        };
        let mut keys = Vec::with_capacity(place.keys.len());
        for k in &place.keys {
            match self.expr(k)?.into_value() {
                Some(k) => keys.push(k),
                None => return fail("undefined key"),
            }
        }
        let (pos, kw) = self.args(&call.args)?;
        for a in &pos {
            check_nesting(a)?;
        }
        let root = self.root(place.slot);
        let slot = match self.locals.get_mut(root) {
            Some(Slot::V(v)) => v,
            _ => return fail("undefined variable"),
        };
        if let V::Ref(r) = slot {
            // Copy-on-write: the layer value itself is never mutated.
            *slot = V::Own((*r).clone());
        }
        match slot {
            V::Own(v) => {
                let target = walk_mut(v, &keys)?;
                methods::call_mut(call.kind, target, pos, &kw).map(V::Own)
            }
            V::Ns(ns) => {
                let Some((first, rest)) = keys.split_first() else {
                    return fail("namespace has no such method");
                };
                let mut m = ns.borrow_mut();
                let Some(v) = m.get_mut(&key_of(first)) else {
                    return fail("undefined attribute");
                };
                let target = walk_mut(v, rest)?;
                methods::call_mut(call.kind, target, pos, &kw).map(V::Own)
            }
            _ => fail("method of undefined value"),
        }
    }

    pub fn render(&mut self, nodes: &'a [Node], out: &mut String) -> R<()> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Out(e) => {
                    self.expr(e)?.write_str(out);
                }
                Node::If(branches, else_) => {
                    let mut done = false;
                    for (c, body) in branches {
                        if self.expr(c)?.truthy() {
                            self.render(body, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.render(else_, out)?;
                    }
                }
                Node::For(f) => self.run_for(f, out)?,
                Node::Set(target, e) => {
                    let v = self.expr(e)?;
                    self.assign(target, v)?;
                }
                Node::SetBlock(slot, body) => {
                    let mut s = String::new();
                    self.render(body, &mut s)?;
                    self.set_local(*slot, V::Own(Value::from(s)))?;
                }
                Node::Do(e) => {
                    self.expr(e)?;
                }
            }
            if out.len() > MAX_STR {
                return fail("output too large");
            }
        }
        Ok(())
    }

    fn assign(&mut self, target: &'a Target, v: V<'a>) -> R<()> {
        match target {
            Target::Local(s) => self.set_local(*s, v),
            Target::Unpack(slots) => {
                let items = v.into_items()?;
                if items.len() != slots.len() {
                    return fail("wrong number of values to unpack");
                }
                for (s, x) in slots.iter().zip(items) {
                    self.set_local(*s, x)?;
                }
                Ok(())
            }
            Target::Attr(obj, name) => match self.expr(obj)? {
                V::Ns(ns) => {
                    check_nesting(&v)?;
                    ns.borrow_mut().insert(name.clone(), v.into_stored());
                    Ok(())
                }
                _ => fail("can only assign attributes of namespaces"),
            },
        }
    }

    fn run_for(&mut self, f: &'a ForNode, out: &mut String) -> R<()> {
        let mut items = self.expr(&f.iter)?.into_items()?;
        if let Some(cond) = &f.cond {
            let mut kept = Vec::with_capacity(items.len());
            for item in items {
                self.tick()?;
                self.bind(f, item.clone())?;
                if self.expr(cond)?.truthy() {
                    kept.push(item);
                }
            }
            items = kept;
        }
        if items.is_empty() {
            return self.render(&f.else_, out);
        }
        let n = items.len() as i64;
        for (i, item) in items.into_iter().enumerate() {
            self.tick()?;
            self.set_local(f.loop_slot, V::Own(Value::Int(i as i64)))?;
            self.set_local(f.loop_slot + 1, V::Own(Value::Int(n)))?;
            self.run_inits(&f.inits);
            self.bind(f, item)?;
            self.render(&f.body, out)?;
        }
        Ok(())
    }

    fn bind(&mut self, f: &ForNode, item: V<'a>) -> R<()> {
        if f.unpack {
            let parts = item.into_items()?;
            if parts.len() != f.targets.len() {
                return fail("wrong number of values to unpack");
            }
            for (s, x) in f.targets.iter().zip(parts) {
                self.set_local(*s, x)?;
            }
            Ok(())
        } else {
            match f.targets.first() {
                Some(s) => self.set_local(*s, item),
                None => Ok(()),
            }
        }
    }

    pub fn tick(&mut self) -> R<()> {
        if self.budget == 0 {
            return fail("too many loop iterations");
        }
        self.budget -= 1;
        Ok(())
    }

    pub fn new_namespace(&self, m: Map) -> V<'a> {
        V::Ns(Rc::new(RefCell::new(m)))
    }
}

/// Walks a layer path over borrowed values.
pub(crate) fn path<'a>(
    root: Option<&'a Value>,
    keys: &[crate::value::Str],
    hints: &[crate::value::Hint],
) -> R<V<'a>> {
    let Some(mut cur) = root else {
        return if keys.is_empty() {
            Ok(V::Undef)
        } else {
            fail("attribute of undefined value")
        };
    };
    let last = keys.len().saturating_sub(1);
    for (i, (k, h)) in keys.iter().zip(hints).enumerate() {
        match cur {
            Value::Map(m) => match m.get_hinted(k, h) {
                Some(v) => cur = v,
                None if i == last => return Ok(V::Undef),
                None => return fail("attribute of undefined value"),
            },
            _ if i == last => return Ok(V::Undef),
            _ => return fail("attribute of undefined value"),
        }
    }
    Ok(V::Ref(cur))
}

fn walk_mut<'v>(mut cur: &'v mut Value, keys: &[Value]) -> R<&'v mut Value> {
    for k in keys {
        cur = match cur {
            Value::Map(m) => match m.get_mut(&key_of(k)) {
                Some(v) => v,
                None => return fail("undefined key"),
            },
            Value::List(l) => {
                let len = l.len();
                match Num::of(k).and_then(|n| match n {
                    Num::I(i) => norm_index(i, len),
                    Num::F(_) => None,
                }) {
                    Some(i) => &mut l[i],
                    None => return fail("list index out of range"),
                }
            }
            _ => return fail("object is not subscriptable"),
        };
    }
    Ok(cur)
}

/// Python comparison operators on evaluator values.
pub(crate) fn compare(op: CmpOp, a: &V, b: &V) -> R<bool> {
    use std::cmp::Ordering::*;
    Ok(match op {
        CmpOp::Eq => py_eq(a, b),
        CmpOp::Ne => !py_eq(a, b),
        CmpOp::Lt => py_cmp(a, b)? == Less,
        CmpOp::Le => py_cmp(a, b)? != Greater,
        CmpOp::Gt => py_cmp(a, b)? == Greater,
        CmpOp::Ge => py_cmp(a, b)? != Less,
        CmpOp::In => contains(b, a)?,
        CmpOp::NotIn => !contains(b, a)?,
    })
}

/// Rejects owned values nested deeper than [`MAX_NEST`] (stack guard for the
/// recursive printers, comparisons and drops). Borrowed values come from parsers,
/// which bound their depth already.
fn check_nesting(v: &V) -> R<()> {
    fn deep(v: &Value, budget: usize) -> bool {
        if budget == 0 {
            return true;
        }
        match v {
            Value::List(l) => l.iter().any(|x| deep(x, budget - 1)),
            Value::Map(m) => m.values().any(|x| deep(x, budget - 1)),
            _ => false,
        }
    }
    match v {
        V::Own(x @ (Value::List(_) | Value::Map(_))) if deep(x, MAX_NEST) => {
            fail("value nested too deeply")
        }
        _ => Ok(()),
    }
}

/// Whether an expression can be computed at compile time.
pub(crate) fn foldable(e: &Expr) -> bool {
    let args_const =
        |a: &Args| a.pos.iter().all(Expr::is_const) && a.kw.iter().all(|(_, x)| x.is_const());
    match e {
        Expr::Attr(b, _) | Expr::Neg(b) | Expr::Pos(b) | Expr::Not(b) => b.is_const(),
        Expr::Item(a, b) | Expr::Bin(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            a.is_const() && b.is_const()
        }
        Expr::Slice(b, parts) => b.is_const() && parts.iter().flatten().all(Expr::is_const),
        // A list holding an Undefined stays a list expression: `x in [0, null]`
        // must still see the Undefined item (a folded list would hold None).
        Expr::List(items) => items
            .iter()
            .all(|i| i.is_const() && !matches!(i, Expr::Undef)),
        Expr::Dict(items) => items.iter().all(|(k, v)| k.is_const() && v.is_const()),
        Expr::Cmp(a, ops) => a.is_const() && ops.iter().all(|(_, x)| x.is_const()),
        Expr::Cond(ct, other) => {
            ct.iter().all(Expr::is_const) && other.as_ref().is_none_or(|o| o.is_const())
        }
        Expr::Filter(c) => c.input.is_const() && args_const(&c.args) && !c.kind.is_clock(),
        Expr::Test(c, _) => c.input.is_const() && args_const(&c.args),
        Expr::Method(c, None) => c.input.is_const() && args_const(&c.args),
        Expr::Global(c) => args_const(&c.args) && c.kind.foldable(),
        _ => false,
    }
}

/// Evaluates a constant expression: `Some(Some(v))` a value, `Some(None)` Undefined,
/// `None` when it fails or is not a plain value (left for runtime).
pub(crate) fn eval_const(e: &Expr) -> Option<Option<Value>> {
    let epoch = Timestamp::default();
    let env = super::Env::new(&[], epoch);
    let mut ctx = Ctx::new(&env, 0);
    match ctx.expr(e) {
        Ok(V::Undef) => Some(None),
        Ok(V::Ref(v)) => Some(Some(v.clone())),
        Ok(V::Own(v)) => Some(Some(v)),
        _ => None,
    }
}
