//! The plan's program: the format's steps and actions with their paths resolved
//! to registers and output slots.

use std::collections::HashMap;

use crate::externals::{Names, Parser};
use crate::taxonomy::FieldType;
use crate::template::{self, Template, TextTest};
use crate::value::{Str, Value};

use super::layout::Range;

/// A template of the plan; `None` stands for a template that failed to compile
/// (lenient loading), which fails every time.
pub(super) type PTpl = Option<Template>;

pub(super) enum PValue {
    Const(Value),
    Tpl(PTpl),
    List(Vec<PValue>),
    Map(Vec<(Str, PValue)>),
}

pub(super) struct PTarget {
    pub(super) out: u32,
    /// The field's slot in the copy of the stage writing it, when that stage's layer
    /// is read (see `Reg::Stage`).
    pub(super) mirror: Option<u32>,
    pub(super) dotted: String,
    pub(super) ty: FieldType,
    /// The field may hold a mapping (see `Layout::nested`).
    pub(super) nested: bool,
}

/// A translation's outcomes typed for one target (see [`Direct::Const`]).
pub(super) struct Table {
    /// Keyed by the dictionary's own keys, fixed at load: a fast hash is safe.
    pub(super) hits: rustc_hash::FxHashMap<String, Option<u32>>,
    pub(super) fallback: Option<u32>,
}

/// A write whose value the plan computes without the evaluator when it can.
pub(super) enum Direct {
    /// A constant, typed when the format loaded; `None` when it writes nothing
    /// (empty or an ignored value).
    Const(Option<u32>),
    /// A template that reads one register, applied by the plan itself when the
    /// register holds text of the message (see [`template::Direct`]).
    Text(template::Direct, u32),
    /// A piece of a register's text ([`template::Cut`]), likewise.
    Cut(template::Cut, u32),
    /// `{{ final.x }}`: a copy of output slot `.0`, kept as it is when it holds a
    /// number for a number field or text of the message.
    Field(u32),
    /// `{{ a if <text test> else b }}` with constants typed as [`Direct::Const`].
    Choice(Box<TextTest>, Option<u32>, Option<u32>),
    /// `community_id` over registers, computed from their text and numbers.
    CommunityId(Box<[template::RegArg; 5]>),
}

pub(super) struct PAssign {
    pub(super) target: PTarget,
    pub(super) value: PValue,
    pub(super) direct: Option<Direct>,
}

pub(super) enum PKind {
    Set(Vec<PAssign>),
    Translate {
        dictionary: HashMap<String, PValue>,
        /// Source register, target, and the typed outcomes when all are constants.
        mappings: Vec<(u32, PTarget, Option<Table>)>,
        fallback: Option<PValue>,
    },
    /// Output ranges to clear (`None`: the path names nothing the plan writes).
    ///
    /// With each, the range of the object holding it (`None`: the event), which the
    /// interpreter keeps even when the delete leaves it empty.
    Delete(Vec<Option<(Range, Option<Range>)>>),
}

/// A filter, and its direct form when it only tests register text.
pub(super) struct PFilter {
    pub(super) tpl: PTpl,
    pub(super) text: Option<TextTest>,
}

pub(super) struct PAction {
    pub(super) filter: Option<PFilter>,
    pub(super) kind: PKind,
}

pub(super) enum PInput {
    Reg(u32),
    Tpl(PTpl),
}

pub(super) enum PStep {
    External {
        /// Index of the step in the program (parser, output field, flags).
        step: usize,
        /// The parser with its templated properties reading registers, if it has any.
        rebound: Option<Box<dyn Parser>>,
        filter: Option<PFilter>,
        input: PInput,
        /// The layer's registers (all `Reg::Layer` of its slot).
        regs: Vec<u32>,
        /// (column position, register) of every register of the layer, when the
        /// parser splits into named fields and each register reads one of them (a
        /// field read both as a value and for presence has two registers).
        columns: Option<Vec<(u32, u32)>>,
        /// When every register of the layer reads a field of the output (`[output
        /// field, name]`): the names, and each register with its name's position.
        /// The fields then go to their registers as the parser gives them (spans
        /// from `Parser::find_spans`, or the values of an output mapping).
        named: Option<Box<Named>>,
    },
    Actions {
        filter: Option<PFilter>,
        /// The stage's number when its layer is read (`Reg::Stage`).
        stage: Option<u32>,
        actions: Vec<PAction>,
    },
}

/// The fields of a parser's output that a layer's registers read.
pub(super) struct Named {
    pub(super) names: Names,
    /// Each register, after the position of its name.
    pub(super) regs: Vec<(u32, u32)>,
}
