//! The compiled form of a template: statements and expressions with names
//! already resolved to layer slots, local slots or builtins.

use std::sync::Arc;

use crate::regex::Pattern;
use crate::value::{Hint, Str, Value};

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(Str),
    Out(Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    For(Box<ForNode>),
    Set(Target, Expr),
    /// `{% set x %}…{% endset %}`: the rendered body as a string.
    SetBlock(usize, Vec<Node>),
    Do(Expr),
}

#[derive(Debug, Clone)]
pub(crate) enum Target {
    Local(usize),
    Unpack(Vec<usize>),
    /// `set ns.attr = …` on a namespace object.
    Attr(Expr, Str),
}

/// How a loop-body local starts each iteration (Jinja re-reads the outer name).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    Undef,
    Alias(usize),
    Layer(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct ForNode {
    pub targets: Vec<usize>,
    pub unpack: bool,
    pub iter: Expr,
    pub cond: Option<Expr>,
    pub body: Vec<Node>,
    pub else_: Vec<Node>,
    /// Two hidden slots: index0 and length.
    pub loop_slot: usize,
    pub inits: Vec<(usize, Init)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LoopAttr {
    Index,
    Index0,
    RevIndex,
    RevIndex0,
    First,
    Last,
    Length,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Concat,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Args {
    pub pos: Vec<Expr>,
    pub kw: Vec<(Str, Expr)>,
}

/// A compiled regex argument: compiled once when the pattern is a constant.
pub(crate) type Regex = Option<Result<Arc<Pattern>, ()>>;

#[derive(Debug, Clone)]
pub(crate) struct Call<K> {
    pub kind: K,
    pub input: Expr,
    pub args: Args,
    pub regex: Regex,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(Value),
    Undef,
    Layer(usize),
    /// `layer.a.b`: a layer and constant keys (with a position hint each), walked
    /// without copies.
    Path(usize, Box<[Str]>, Box<[Hint]>),
    /// A path bound to a register by [`super::Template::rebind`].
    Reg(u32),
    Local(usize),
    Loop(usize, LoopAttr),
    Attr(Box<Expr>, Str),
    Item(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Box<[Option<Expr>; 3]>),
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, Vec<(CmpOp, Expr)>),
    Cond(Box<[Expr; 2]>, Option<Box<Expr>>),
    Filter(Box<Call<super::filters::Filter>>),
    Test(Box<Call<super::filters::TestKind>>, bool),
    /// A method call; `place` is set when the receiver is a local (mutation allowed).
    Method(Box<Call<super::methods::Method>>, Option<Box<Place>>),
    Global(Box<Call<super::globals::Global>>),
    /// A bare builtin name used as a value (`re`, `len`).
    GlobalRef(super::globals::Global),
    /// Fails at runtime (calling something that is not callable, unknown method).
    Fail(Box<Expr>, &'static str),
}

/// A mutable location: a local slot and the keys leading into it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub slot: usize,
    pub keys: Vec<Expr>,
}

impl Expr {
    pub fn is_const(&self) -> bool {
        matches!(self, Expr::Const(_) | Expr::Undef)
    }
}
