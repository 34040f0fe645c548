//! A second, faster executor for the formats whose shape allows it: the program's
//! steps run over a flat register file and a flat table of output fields instead of
//! layer maps and a nested event, and the event is serialized straight from that
//! table.
//!
//! Everything is resolved when the format loads: every layer path a template reads
//! becomes a register, every destination an output slot, every enrichment rule the
//! slots it reads and writes. The interpreter (`format/run.rs`) stays the reference:
//! the plan only accepts formats whose every construct it can mirror exactly (see
//! [`Plan::compile`]), and hands an event back ([`Planned::Fallback`]) whenever a
//! value takes a shape it does not model (a mapping written to a field, an event that
//! is rejected). Tests compare both executors on every format and corpus sample.

mod assign;
mod compile;
mod direct;
mod enrichments;
mod layout;
mod lowering;
mod registers;
mod run;
mod shape;
mod state;
mod steps;
mod view;
mod writer;

use crate::value::Value;

use enrichments::Enrichments;
use layout::Layout;
use lowering::Ignored;
use registers::Reg;
use steps::PStep;

/// What the plan did with one event.
pub(crate) enum Planned {
    /// The event was normalized and appended to the output as one JSON object.
    Written,
    /// The interpreter must run this event (output untouched).
    Fallback,
}

pub(crate) struct Plan {
    /// The registers of `original`, and whether each is the message itself (else it
    /// is Undefined).
    originals: Vec<(u32, bool)>,
    /// Tells this plan's skeletons from other plans' in the per-thread cache.
    id: u64,
    /// Constant values written to fields, typed for their field, and their JSON.
    consts: Vec<(Value, Box<[u8]>)>,
    ignored: Ignored,
    /// Room reserved in the output per event.
    width_hint: usize,
    regs: Vec<Reg>,
    steps: Vec<PStep>,
    layout: Layout,
    slots: u32,
    /// How many stage layers are read (each a copy of the slots).
    stages: u32,
    message: u32,
    enrichments: Enrichments,
    /// Per slot, the constant every write to it is (see [`fixed_slots`]): the
    /// skeletons carry its JSON, so the event writer skips it.
    fixed: Vec<Option<u32>>,
}
