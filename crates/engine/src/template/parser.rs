//! Recursive-descent parser for Jinja statements and expressions (Jinja's
//! precedence), resolving names as it goes: Jinja's scoping is static, so a
//! single pass knows whether a name is a local, a layer or a builtin.

use std::sync::Arc;

use super::ast::*;
use super::filters::{Filter, TestKind};
use super::globals::Global;
use super::lexer::{Tok, Token};
use super::methods::Method;
use super::{Scope, TemplateError};
use crate::regex::Pattern;
use crate::value::{Hint, Str, Value};

/// Nesting limit for expressions and statements.
const MAX_DEPTH: usize = 128;

struct Frame {
    names: Vec<(Str, usize)>,
    inits: Vec<(usize, Init)>,
    loop_slot: Option<usize>,
}

pub(crate) struct Parser<'s> {
    toks: Vec<Token>,
    i: usize,
    scope: &'s dyn Scope,
    frames: Vec<Frame>,
    pub nlocals: usize,
    depth: usize,
    /// Whether the template reads layers or the clock (else it is a constant).
    pub uses_env: bool,
}

pub(crate) struct Parsed {
    pub nodes: Vec<Node>,
    pub nlocals: usize,
    pub root_inits: Vec<(usize, Init)>,
    pub uses_env: bool,
}

type PResult<T> = Result<T, TemplateError>;

impl<'s> Parser<'s> {
    pub fn new(toks: Vec<Token>, scope: &'s dyn Scope) -> Parser<'s> {
        Parser {
            toks,
            i: 0,
            scope,
            frames: vec![Frame {
                names: Vec::new(),
                inits: Vec::new(),
                loop_slot: None,
            }],
            nlocals: 0,
            depth: 0,
            uses_env: false,
        }
    }

    pub fn parse_template(mut self) -> PResult<Parsed> {
        let (nodes, end) = self.parse_nodes(&[])?;
        if let Some(kw) = end {
            return Err(self.err_at(format!("unexpected '{kw}'")));
        }
        let root = self.frames.pop().map(|f| f.inits).unwrap_or_default();
        Ok(Parsed {
            nodes,
            nlocals: self.nlocals,
            root_inits: root,
            uses_env: self.uses_env,
        })
    }

    // ---- token helpers ----

    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.i + n).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(0, |t| t.pos)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err_at(&self, message: impl Into<String>) -> TemplateError {
        TemplateError {
            message: message.into(),
            offset: self.pos(),
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn skip_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.skip_op(op) {
            Ok(())
        } else {
            Err(self.err_at(format!("expected '{op}'")))
        }
    }

    fn is_name(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn skip_name(&mut self, kw: &str) -> bool {
        if self.is_name(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_name(&mut self) -> PResult<Str> {
        match self.bump() {
            Tok::Name(n) => Ok(n),
            _ => {
                self.i = self.i.saturating_sub(1);
                Err(self.err_at("expected a name"))
            }
        }
    }

    fn expect_block_end(&mut self) -> PResult<()> {
        // Tolerate Python-style trailing colons: `{%- else: -%}`.
        self.skip_op(":");
        match self.bump() {
            Tok::BlockEnd => Ok(()),
            _ => {
                self.i = self.i.saturating_sub(1);
                Err(self.err_at("expected end of statement"))
            }
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_at("template nested too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn leave_n(&mut self, n: usize) {
        self.depth -= n;
    }

    // ---- names ----

    fn lookup_local(&self, name: &str) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| {
            f.names
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, s)| *s)
        })
    }

    fn load(&mut self, name: &str) -> Expr {
        if let Some(s) = self.lookup_local(name) {
            return Expr::Local(s);
        }
        if let Some(s) = self.scope.slot(name) {
            self.uses_env = true;
            return Expr::Layer(s);
        }
        match Global::from_name(name) {
            Some(g) => Expr::GlobalRef(g),
            None => Expr::Undef,
        }
    }

    fn new_slot(&mut self, n: usize) -> usize {
        let s = self.nlocals;
        self.nlocals += n;
        s
    }

    /// The slot a `set name` / loop target writes in the current frame.
    fn store(&mut self, name: &str) -> usize {
        if let Some(f) = self.frames.last()
            && let Some((_, s)) = f.names.iter().find(|(n, _)| n == name)
        {
            return *s;
        }
        // The initial value each time the frame starts: the outer binding.
        let init = match self.load(name) {
            Expr::Local(s) => Init::Alias(s),
            Expr::Layer(l) => Init::Layer(l),
            _ => Init::Undef,
        };
        let slot = self.new_slot(1);
        if let Some(f) = self.frames.last_mut() {
            f.names.push((Str::from(name), slot));
            f.inits.push((slot, init));
        }
        slot
    }

    // ---- statements ----

    /// Parses nodes until a block whose keyword is in `ends` (consumed, returned).
    fn parse_nodes(&mut self, ends: &[&str]) -> PResult<(Vec<Node>, Option<Str>)> {
        let mut nodes = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Eof => return Ok((nodes, None)),
                Tok::Text(t) => {
                    self.i += 1;
                    nodes.push(Node::Text(Str::from(t)));
                }
                Tok::VarBegin => {
                    self.i += 1;
                    let e = self.parse_tuple()?;
                    match self.bump() {
                        Tok::VarEnd => {}
                        _ => {
                            self.i = self.i.saturating_sub(1);
                            return Err(self.err_at("expected '}}'"));
                        }
                    }
                    nodes.push(Node::Out(e));
                }
                Tok::BlockBegin => {
                    self.i += 1;
                    let kw = self.expect_name()?;
                    if ends.contains(&kw.as_str()) {
                        return Ok((nodes, Some(kw)));
                    }
                    self.enter()?;
                    let node = self.parse_statement(&kw)?;
                    self.leave();
                    if let Some(n) = node {
                        nodes.push(n);
                    }
                }
                _ => return Err(self.err_at("unexpected token")),
            }
        }
    }

    fn parse_statement(&mut self, kw: &str) -> PResult<Option<Node>> {
        match kw {
            "if" => self.parse_if().map(Some),
            "for" => self.parse_for().map(Some),
            "set" => self.parse_set().map(Some),
            "do" => {
                let e = self.parse_tuple()?;
                self.expect_block_end()?;
                Ok(Some(Node::Do(e)))
            }
            _ => Err(self.err_at(format!("unknown tag '{kw}'"))),
        }
    }

    fn parse_if(&mut self) -> PResult<Node> {
        let mut branches = Vec::new();
        let mut cond = self.parse_expr()?;
        self.expect_block_end()?;
        loop {
            let (body, end) = self.parse_nodes(&["elif", "else", "endif"])?;
            branches.push((cond, body));
            match end.as_deref() {
                Some("elif") => {
                    cond = self.parse_expr()?;
                    self.expect_block_end()?;
                }
                Some("else") => {
                    self.expect_block_end()?;
                    let (else_, end) = self.parse_nodes(&["endif"])?;
                    if end.is_none() {
                        return Err(self.err_at("missing endif"));
                    }
                    self.expect_block_end()?;
                    return Ok(Node::If(branches, else_));
                }
                Some(_) => {
                    self.expect_block_end()?;
                    return Ok(Node::If(branches, Vec::new()));
                }
                None => return Err(self.err_at("missing endif")),
            }
        }
    }

    fn parse_for(&mut self) -> PResult<Node> {
        let mut names = Vec::new();
        let paren = self.skip_op("(");
        loop {
            names.push(self.expect_name()?);
            if !self.skip_op(",") {
                break;
            }
            if self.is_name("in") || self.is_op(")") {
                break;
            }
        }
        if paren {
            self.expect_op(")")?;
        }
        let unpack = names.len() > 1;
        if !self.skip_name("in") {
            return Err(self.err_at("expected 'in'"));
        }
        // The iterable is evaluated in the outer frame.
        let iter = self.parse_tuple_no_cond()?;
        let loop_slot = self.new_slot(2);
        self.frames.push(Frame {
            names: Vec::new(),
            inits: Vec::new(),
            loop_slot: Some(loop_slot),
        });
        let mut targets = Vec::new();
        for n in &names {
            let s = self.new_slot(1);
            if let Some(f) = self.frames.last_mut() {
                f.names.push((n.clone(), s));
            }
            targets.push(s);
        }
        let cond = if self.skip_name("if") {
            Some(self.parse_expr()?)
        } else {
            None
        };
        self.skip_name("recursive");
        self.expect_block_end()?;
        let (body, end) = self.parse_nodes(&["else", "endfor"])?;
        let frame = self.frames.pop();
        let inits = frame.map(|f| f.inits).unwrap_or_default();
        let else_ = match end.as_deref() {
            Some("else") => {
                self.expect_block_end()?;
                let (e, end) = self.parse_nodes(&["endfor"])?;
                if end.is_none() {
                    return Err(self.err_at("missing endfor"));
                }
                e
            }
            Some(_) => Vec::new(),
            None => return Err(self.err_at("missing endfor")),
        };
        self.expect_block_end()?;
        Ok(Node::For(Box::new(ForNode {
            targets,
            unpack,
            iter,
            cond,
            body,
            else_,
            loop_slot,
            inits,
        })))
    }

    fn parse_set(&mut self) -> PResult<Node> {
        let first = self.expect_name()?;
        // `set ns.attr = value`
        if self.skip_op(".") {
            let attr = self.expect_name()?;
            self.expect_op("=")?;
            let obj = self.load(&first);
            let e = self.parse_tuple()?;
            self.expect_block_end()?;
            return Ok(Node::Set(Target::Attr(obj, attr), e));
        }
        let mut names = vec![first];
        while self.skip_op(",") {
            if self.is_op("=") {
                break;
            }
            names.push(self.expect_name()?);
        }
        if names.len() == 1 && !self.is_op("=") {
            // Block set: `{% set x %}…{% endset %}`.
            self.expect_block_end()?;
            let (body, end) = self.parse_nodes(&["endset"])?;
            if end.is_none() {
                return Err(self.err_at("missing endset"));
            }
            self.expect_block_end()?;
            let slot = self.store(&names[0]);
            return Ok(Node::SetBlock(slot, body));
        }
        self.expect_op("=")?;
        // The value is evaluated before the names are bound.
        let e = self.parse_tuple()?;
        self.expect_block_end()?;
        let target = if names.len() == 1 {
            Target::Local(self.store(&names[0]))
        } else {
            Target::Unpack(names.iter().map(|n| self.store(n)).collect())
        };
        Ok(Node::Set(target, e))
    }

    // ---- expressions ----

    fn at_tuple_end(&self) -> bool {
        matches!(
            self.peek(),
            Tok::VarEnd | Tok::BlockEnd | Tok::Eof | Tok::Op(")") | Tok::Op("]") | Tok::Op("}")
        ) || self.is_name("if")
            || self.is_name("recursive")
    }

    /// An expression or a bare tuple `a, b` (as in `{{ a, b }}`).
    pub fn parse_tuple(&mut self) -> PResult<Expr> {
        self.tuple_with(true)
    }

    fn parse_tuple_no_cond(&mut self) -> PResult<Expr> {
        self.tuple_with(false)
    }

    fn tuple_with(&mut self, cond: bool) -> PResult<Expr> {
        let first = if cond {
            self.parse_expr()?
        } else {
            self.parse_or()?
        };
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.skip_op(",") {
            if self.at_tuple_end() {
                break;
            }
            items.push(if cond {
                self.parse_expr()?
            } else {
                self.parse_or()?
            });
        }
        Ok(fold(Expr::List(items)))
    }

    /// A conditional expression (`a if c else b`).
    pub fn parse_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut e = self.parse_or()?;
        let mut n = 0;
        while self.skip_name("if") {
            self.enter()?;
            n += 1;
            let cond = self.parse_or()?;
            let other = if self.skip_name("else") {
                Some(Box::new(self.parse_expr()?))
            } else {
                None
            };
            e = fold(Expr::Cond(Box::new([cond, e]), other));
        }
        self.leave_n(n + 1);
        Ok(e)
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        let mut e = self.parse_and()?;
        let mut n = 0;
        while self.skip_name("or") {
            self.enter()?;
            n += 1;
            let r = self.parse_and()?;
            e = fold(Expr::Or(Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        let mut e = self.parse_not()?;
        let mut n = 0;
        while self.skip_name("and") {
            self.enter()?;
            n += 1;
            let r = self.parse_not()?;
            e = fold(Expr::And(Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        if self.is_name("not") && !matches!(self.peek_at(1), Tok::Name(n) if n == "in") {
            self.i += 1;
            self.enter()?;
            let e = self.parse_not()?;
            self.leave();
            return Ok(fold(Expr::Not(Box::new(e))));
        }
        self.parse_compare()
    }

    fn parse_compare(&mut self) -> PResult<Expr> {
        let first = self.parse_math1()?;
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Name(n) if n == "in" => CmpOp::In,
                Tok::Name(n)
                    if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") =>
                {
                    self.i += 1;
                    CmpOp::NotIn
                }
                _ => break,
            };
            self.i += 1;
            self.enter()?;
            ops.push((op, self.parse_math1()?));
        }
        self.leave_n(ops.len());
        if ops.is_empty() {
            Ok(first)
        } else {
            Ok(fold(Expr::Cmp(Box::new(first), ops)))
        }
    }

    fn parse_math1(&mut self) -> PResult<Expr> {
        let mut n = 0;
        let mut e = self.parse_concat()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => break,
            };
            self.i += 1;
            self.enter()?;
            n += 1;
            let r = self.parse_concat()?;
            e = fold(Expr::Bin(op, Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_concat(&mut self) -> PResult<Expr> {
        let mut e = self.parse_math2()?;
        let mut n = 0;
        while self.skip_op("~") {
            self.enter()?;
            n += 1;
            let r = self.parse_math2()?;
            e = fold(Expr::Bin(BinOp::Concat, Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_math2(&mut self) -> PResult<Expr> {
        let mut n = 0;
        let mut e = self.parse_pow()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("//") => BinOp::FloorDiv,
                Tok::Op("%") => BinOp::Mod,
                _ => break,
            };
            self.i += 1;
            self.enter()?;
            n += 1;
            let r = self.parse_pow()?;
            e = fold(Expr::Bin(op, Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_pow(&mut self) -> PResult<Expr> {
        let mut e = self.parse_unary(true)?;
        let mut n = 0;
        while self.skip_op("**") {
            self.enter()?;
            n += 1;
            let r = self.parse_unary(true)?;
            e = fold(Expr::Bin(BinOp::Pow, Box::new(e), Box::new(r)));
        }
        self.leave_n(n);
        Ok(e)
    }

    fn parse_unary(&mut self, with_filter: bool) -> PResult<Expr> {
        self.enter()?;
        let mut e = if self.skip_op("-") {
            fold(Expr::Neg(Box::new(self.parse_unary(false)?)))
        } else if self.skip_op("+") {
            fold(Expr::Pos(Box::new(self.parse_unary(false)?)))
        } else {
            self.parse_primary()?
        };
        e = self.parse_postfix(e)?;
        if with_filter {
            e = self.parse_filter_expr(e)?;
        }
        self.leave();
        Ok(e)
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        match self.bump() {
            Tok::Name(n) => Ok(match n.as_str() {
                "true" | "True" => Expr::Const(Value::Bool(true)),
                "false" | "False" => Expr::Const(Value::Bool(false)),
                "none" | "None" => Expr::Const(Value::Null),
                "loop" if self.lookup_local("loop").is_none() => self.parse_loop_attr(),
                _ => self.load(&n),
            }),
            Tok::Str(s) => {
                let mut s = s;
                while let Tok::Str(more) = self.peek() {
                    s.push_str(more);
                    self.i += 1;
                }
                Ok(Expr::Const(Value::from(s)))
            }
            Tok::Int(i) => Ok(Expr::Const(Value::Int(i))),
            Tok::Float(f) => Ok(Expr::Const(Value::Float(f))),
            Tok::Op("(") => {
                if self.skip_op(")") {
                    return Ok(Expr::Const(Value::List(Vec::new())));
                }
                let first = self.parse_expr()?;
                if !self.is_op(",") {
                    self.expect_op(")")?;
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.skip_op(",") {
                    if self.is_op(")") {
                        break;
                    }
                    items.push(self.parse_expr()?);
                }
                self.expect_op(")")?;
                Ok(fold(Expr::List(items)))
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.skip_op("]") {
                    items.push(self.parse_expr()?);
                    if !self.skip_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                Ok(fold(Expr::List(items)))
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.skip_op("}") {
                    let k = self.parse_expr()?;
                    self.expect_op(":")?;
                    let v = self.parse_expr()?;
                    items.push((k, v));
                    if !self.skip_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                Ok(fold(Expr::Dict(items)))
            }
            _ => Err(TemplateError {
                message: "unexpected token in expression".into(),
                offset: pos,
            }),
        }
    }

    /// `loop.index` and friends, in the innermost loop.
    fn parse_loop_attr(&mut self) -> Expr {
        let Some(slot) = self.frames.iter().rev().find_map(|f| f.loop_slot) else {
            return Expr::Undef;
        };
        if !self.is_op(".") {
            return Expr::Undef;
        }
        let attr = match self.peek_at(1) {
            Tok::Name(n) => match n.as_str() {
                "index" => LoopAttr::Index,
                "index0" => LoopAttr::Index0,
                "revindex" => LoopAttr::RevIndex,
                "revindex0" => LoopAttr::RevIndex0,
                "first" => LoopAttr::First,
                "last" => LoopAttr::Last,
                "length" => LoopAttr::Length,
                _ => return Expr::Undef,
            },
            _ => return Expr::Undef,
        };
        self.i += 2;
        Expr::Loop(slot, attr)
    }

    fn parse_postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        let mut n = 0;
        loop {
            self.enter()?;
            n += 1;
            if self.skip_op(".") {
                match self.bump() {
                    Tok::Name(n) => {
                        e = make_attr(e, n);
                        // Fold `const.attr` only when it is not a method call.
                        if !self.is_op("(") {
                            e = fold(e);
                        }
                    }
                    Tok::Int(i) => {
                        e = fold(Expr::Item(
                            Box::new(e),
                            Box::new(Expr::Const(Value::Int(i))),
                        ))
                    }
                    _ => return Err(self.err_at("expected attribute name")),
                }
            } else if self.is_op("[") {
                self.i += 1;
                e = self.parse_subscript(e)?;
            } else if self.is_op("(") {
                self.i += 1;
                let args = self.parse_args()?;
                e = self.make_call(e, args)?;
            } else {
                self.leave_n(n);
                return Ok(e);
            }
        }
    }

    fn parse_subscript(&mut self, base: Expr) -> PResult<Expr> {
        let mut parts: [Option<Expr>; 3] = [None, None, None];
        if !self.is_op(":") {
            let k = self.parse_expr()?;
            if self.skip_op("]") {
                return Ok(make_item(base, k));
            }
            parts[0] = Some(k);
        }
        self.expect_op(":")?;
        if !self.is_op("]") && !self.is_op(":") {
            parts[1] = Some(self.parse_expr()?);
        }
        if self.skip_op(":") && !self.is_op("]") {
            parts[2] = Some(self.parse_expr()?);
        }
        self.expect_op("]")?;
        Ok(fold(Expr::Slice(Box::new(base), Box::new(parts))))
    }

    fn parse_args(&mut self) -> PResult<Args> {
        let mut args = Args::default();
        while !self.skip_op(")") {
            if let (Tok::Name(n), Tok::Op("=")) = (self.peek(), self.peek_at(1)) {
                let n = n.clone();
                self.i += 2;
                let v = self.parse_expr()?;
                args.kw.push((n, v));
            } else {
                if !args.kw.is_empty() {
                    return Err(self.err_at("positional argument after keyword argument"));
                }
                args.pos.push(self.parse_expr()?);
            }
            if !self.skip_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(args)
    }

    fn make_call(&mut self, callee: Expr, args: Args) -> PResult<Expr> {
        if let Expr::GlobalRef(g) = callee {
            if g.is_clock() {
                self.uses_env = true;
            }
            let regex = const_regex(&args, 0, g.regex_anchor());
            return Ok(fold(Expr::Global(Box::new(Call {
                kind: g,
                input: Expr::Undef,
                args,
                regex,
            }))));
        }
        let Some((recv, name)) = split_attr(callee.clone()) else {
            return Ok(Expr::Fail(Box::new(callee), "object is not callable"));
        };
        let Some(m) = Method::from_name(&name) else {
            return Ok(Expr::Fail(Box::new(recv), "unknown method"));
        };
        let place = if m.mutating() {
            place_of(&recv).map(Box::new)
        } else {
            None
        };
        let call = Expr::Method(
            Box::new(Call {
                kind: m,
                input: recv,
                args,
                regex: None,
            }),
            place,
        );
        Ok(fold(call))
    }

    fn parse_filter_expr(&mut self, mut e: Expr) -> PResult<Expr> {
        let mut n = 0;
        loop {
            self.enter()?;
            n += 1;
            if self.skip_op("|") {
                let mut name = self.expect_name()?.to_string();
                while self.is_op(".") && matches!(self.peek_at(1), Tok::Name(_)) {
                    self.i += 1;
                    name.push('.');
                    name.push_str(&self.expect_name()?);
                }
                let Some(f) = Filter::from_name(&name) else {
                    return Err(self.err_at(format!("no filter named '{name}'")));
                };
                let args = if self.skip_op("(") {
                    self.parse_args()?
                } else {
                    Args::default()
                };
                if f.is_clock() {
                    self.uses_env = true;
                }
                let regex = match f {
                    Filter::ReMatch | Filter::ReSearch => const_regex(&args, 0, None),
                    _ => None,
                };
                e = fold(Expr::Filter(Box::new(Call {
                    kind: f,
                    input: e,
                    args,
                    regex,
                })));
            } else if self.skip_name("is") {
                let negated = self.skip_name("not");
                let name = self.expect_name()?;
                let Some(t) = TestKind::from_name(&name) else {
                    return Err(self.err_at(format!("no test named '{name}'")));
                };
                let args = if self.skip_op("(") {
                    self.parse_args()?
                } else if self.starts_test_arg() {
                    let a = self.parse_primary()?;
                    let a = self.parse_postfix(a)?;
                    Args {
                        pos: vec![a],
                        kw: Vec::new(),
                    }
                } else {
                    Args::default()
                };
                e = fold(Expr::Test(
                    Box::new(Call {
                        kind: t,
                        input: e,
                        args,
                        regex: None,
                    }),
                    negated,
                ));
            } else {
                self.leave_n(n);
                return Ok(e);
            }
        }
    }

    fn starts_test_arg(&self) -> bool {
        match self.peek() {
            Tok::Name(n) => !matches!(
                n.as_str(),
                "else" | "or" | "and" | "if" | "not" | "in" | "is"
            ),
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => true,
            Tok::Op(o) => matches!(*o, "(" | "[" | "{"),
            _ => false,
        }
    }
}

/// Compiles a constant regex argument once.
fn const_regex(args: &Args, idx: usize, anchor: Option<&str>) -> Regex {
    match args.pos.get(idx) {
        Some(Expr::Const(Value::Str(p))) => Some(compile_regex(p, anchor).map(Arc::new)),
        _ => None,
    }
}

/// `anchor` wraps the pattern (`re.match` anchors at the start).
pub(crate) fn compile_regex(p: &str, anchor: Option<&str>) -> Result<Pattern, ()> {
    match anchor {
        Some(prefix) => Pattern::new(&format!("{prefix}(?:{p})")).map_err(|_| ()),
        None => Pattern::new(p).map_err(|_| ()),
    }
}

/// One position hint per key of a layer path.
fn hints(n: usize) -> Box<[Hint]> {
    (0..n).map(|_| Hint::default()).collect()
}

fn make_attr(base: Expr, name: Str) -> Expr {
    match base {
        Expr::Layer(s) => Expr::Path(s, vec![name].into_boxed_slice(), hints(1)),
        Expr::Path(s, keys, _) => {
            let mut k = keys.into_vec();
            k.push(name);
            let n = k.len();
            Expr::Path(s, k.into_boxed_slice(), hints(n))
        }
        Expr::GlobalRef(g) => match g.attr(&name) {
            Some(g) => Expr::GlobalRef(g),
            None => Expr::Undef,
        },
        other => Expr::Attr(Box::new(other), name),
    }
}

fn make_item(base: Expr, key: Expr) -> Expr {
    match (base, key) {
        // `layer['k']` on a map walks like an attribute.
        (b @ (Expr::Layer(_) | Expr::Path(..)), Expr::Const(Value::Str(k))) => make_attr(b, k),
        (b @ Expr::GlobalRef(_), k) => Expr::Item(Box::new(b), Box::new(k)),
        (b, k) => fold(Expr::Item(Box::new(b), Box::new(k))),
    }
}

/// Splits `recv.name` (also a layer path) into receiver and method name.
fn split_attr(e: Expr) -> Option<(Expr, Str)> {
    match e {
        Expr::Attr(recv, name) => Some((*recv, name)),
        Expr::Path(s, keys, _) => {
            let mut k = keys.into_vec();
            let name = k.pop()?;
            let recv = if k.is_empty() {
                Expr::Layer(s)
            } else {
                let n = k.len();
                Expr::Path(s, k.into_boxed_slice(), hints(n))
            };
            Some((recv, name))
        }
        _ => None,
    }
}

fn place_of(e: &Expr) -> Option<Place> {
    match e {
        Expr::Local(s) => Some(Place {
            slot: *s,
            keys: Vec::new(),
        }),
        Expr::Attr(inner, name) => {
            let mut p = place_of(inner)?;
            p.keys.push(Expr::Const(Value::Str(name.clone())));
            Some(p)
        }
        Expr::Item(inner, k) => {
            let mut p = place_of(inner)?;
            p.keys.push((**k).clone());
            Some(p)
        }
        _ => None,
    }
}

/// Folds an expression whose operands are all constants.
fn fold(e: Expr) -> Expr {
    if !super::eval::foldable(&e) {
        return e;
    }
    match super::eval::eval_const(&e) {
        Some(Some(v)) => Expr::Const(v),
        Some(None) => Expr::Undef,
        None => e,
    }
}
