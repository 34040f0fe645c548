//! One event's registers and output fields while it runs, kept per thread.

use std::cell::OnceCell;

use crate::datetime;
use crate::json;
use crate::value::{Str, Value};

use super::Plan;
use super::direct::Case;
use super::layout::Range;
use super::shape::{Shape, WIDTH};
use super::steps::PTarget;
use super::writer::{Epochs, Skeleton};

/// Bytes `lo..hi` of the event's message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) lo: u32,
    pub(super) hi: u32,
}

impl Span {
    pub(super) fn of(self, message: &str) -> &str {
        &message[self.lo as usize..self.hi as usize]
    }
}

/// A register's value while an event runs (layer registers only).
#[derive(Debug, Clone, Copy)]
pub(super) enum Held {
    Absent,
    Undefined,
    /// Text of the message, made a [`Value`] only when a template reads it.
    Text(Span),
    /// `State::values[i]`.
    Value(u32),
    /// The register's path inside the layer `State::values[i]`, looked up when
    /// read: a parser's output is kept whole instead of copied per register.
    In(u32),
}

/// An output field's value while an event runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Out {
    None,
    /// Text of the message, already typed (a keyword, or IPv4 text, which is its own
    /// canonical form); made a [`Value`] only when something reads it.
    Text(Span),
    /// `Plan::consts[i]`, typed when the format loaded.
    Const(u32),
    Int(i64),
    /// Epoch seconds (`0..10^10`) in a date field: `YYYY-MM-DDTHH:MM:SSZ` text.
    Epoch(i64),
    /// Text of the message in another case (a keyword).
    Cased(Span, Case),
    /// JSON text written by the plan (the enrichments' lists of text, a Community
    /// ID): `State::json[lo..hi]`.
    Json(u32, u32),
    /// `State::values[i]`.
    Value(u32),
}

impl Out {
    /// The field's value, for the reads that need one.
    pub(super) fn value(self, plan: &Plan, state: &State, message: &str) -> Value {
        match self {
            Out::None => Value::Null,
            Out::Text(span) => Value::from(span.of(message)),
            Out::Cased(span, case) => Value::from(case.of(span.of(message))),
            Out::Const(i) => plan.consts[i as usize].0.clone(),
            Out::Int(i) => Value::Int(i),
            Out::Epoch(secs) => epoch_value(secs),
            Out::Json(lo, hi) => std::str::from_utf8(&state.json[lo as usize..hi as usize])
                .ok()
                .and_then(|text| json::parse_json(text).ok())
                .unwrap_or_default(),
            Out::Value(i) => state.values[i as usize].clone(),
        }
    }
}

fn epoch_value(secs: i64) -> Value {
    let text = datetime::epoch_seconds_ecs(secs);
    Value::Str(Str::from_utf8(text).unwrap_or_default())
}

/// One event's registers and output fields. The buffers are kept per thread and
/// reused from event to event: registers and fields are small copies, the values
/// they point to live in `values` until the next event.
#[derive(Default)]
pub(super) struct State {
    pub(super) held: Vec<Held>,
    pub(super) outs: Vec<Out>,
    pub(super) values: Vec<Value>,
    /// JSON text of fields (`Out::Json`).
    pub(super) json: Vec<u8>,
    /// Whether the message has a comma.
    pub(super) comma: bool,
    /// Whether the message needs no JSON escape: then neither do its spans, which
    /// are copied as they are.
    pub(super) plain: bool,
    /// Fields of a split record, as byte ranges of its text.
    pub(super) spans: Vec<(u32, u32)>,
    /// Fields split from text other than the message, before they go to registers.
    pub(super) fields: Vec<(u32, Option<Value>)>,
    /// Bit `i` set: slot `i` holds a value (slots below 128; see [`Skeleton`]).
    pub(super) shape: Shape,
    /// The last epoch dates written: an event often writes one twice (a flow's
    /// start is also its `@timestamp`).
    pub(super) epochs: Epochs,
    /// Which address objects exist, while the enrichments run.
    pub(super) sides: Vec<bool>,
    /// Message text made a value because a template read it, per register and
    /// per field; `cached` tells whether any is set.
    pub(super) held_cache: Vec<OnceCell<Value>>,
    pub(super) out_cache: Vec<OnceCell<Value>>,
    pub(super) cached: std::cell::Cell<bool>,
    /// Each read stage layer's copy of the output fields, holding what the stage
    /// wrote (`Reg::Stage`), the values made of them when read, and bit `i` set
    /// once stage `i` ran (its layer exists).
    pub(super) mirrors: Vec<Out>,
    pub(super) mirror_cache: Vec<OnceCell<Value>>,
    pub(super) ran: u64,
    /// Field values found by name (`Parser::find_spans`).
    pub(super) found: Vec<Option<(u32, u32)>>,
    pub(super) skeletons: Vec<Skeleton>,
    /// The skeleton replaced next when all are taken.
    pub(super) victim: usize,
}

thread_local! {
    pub(super) static STATE: std::cell::RefCell<State> = std::cell::RefCell::default();
}

impl State {
    pub(super) fn reset(&mut self, regs: usize, slots: usize, mirrors: usize) {
        // The same plan runs event after event: the sizes rarely change.
        if self.held.len() == regs && self.outs.len() == slots {
            self.held.fill(Held::Absent);
            self.outs.fill(Out::None);
        } else {
            self.held.clear();
            self.held.resize(regs, Held::Absent);
            self.outs.clear();
            self.outs.resize(slots, Out::None);
        }
        self.values.clear();
        self.json.clear();
        self.shape = Shape::default();
        let cached = self.cached.replace(false);
        if cached || self.held_cache.len() != regs {
            self.held_cache.clear();
            self.held_cache.resize_with(regs, OnceCell::new);
        }
        if cached || self.out_cache.len() != slots {
            self.out_cache.clear();
            self.out_cache.resize_with(slots, OnceCell::new);
        }
        if mirrors > 0 || !self.mirrors.is_empty() {
            self.mirrors.clear();
            self.mirrors.resize(mirrors, Out::None);
            if cached || self.mirror_cache.len() != mirrors {
                self.mirror_cache.clear();
                self.mirror_cache.resize_with(mirrors, OnceCell::new);
            }
        }
        self.ran = 0;
    }

    /// Puts what a register holds. A value made earlier from the text it held (a
    /// layer produced again by a step of the same name) is dropped with it.
    #[inline(always)]
    pub(super) fn hold(&mut self, reg: u32, held: Held) {
        self.held[reg as usize] = held;
        if self.cached.get() {
            self.held_cache[reg as usize].take();
        }
    }

    /// Keeps `value` for this event; `Held::Value` and `Out::Value` point to it.
    pub(super) fn keep(&mut self, value: Value) -> u32 {
        self.values.push(value);
        (self.values.len() - 1) as u32
    }

    #[inline(always)]
    pub(super) fn set(&mut self, slot: u32, out: Out) {
        self.outs[slot as usize] = out;
        if let Out::None = out {
            self.shape.remove(slot);
        } else {
            self.shape.insert(slot);
        }
        if self.cached.get() {
            self.out_cache[slot as usize].take();
        }
    }

    /// Writes a field, and the copy of the stage writing it when there is one.
    #[inline(always)]
    pub(super) fn write(&mut self, target: &PTarget, out: Out) {
        self.set(target.out, out);
        if let Some(m) = target.mirror {
            self.mirrors[m as usize] = out;
            if self.cached.get() {
                self.mirror_cache[m as usize].take();
            }
        }
    }

    /// Whether a slot of stage `stage`'s copy of `range` holds a value.
    pub(super) fn mirror_any(&self, stage: u32, slots: u32, range: Range) -> bool {
        let base = (stage * slots) as usize;
        self.mirrors[base + range.lo as usize..base + range.hi as usize]
            .iter()
            .any(|o| !matches!(o, Out::None))
    }

    /// Whether the object `parent` exists in stage `stage`'s layer (`None`: the
    /// layer itself, which exists once the stage ran).
    pub(super) fn mirror_exists(&self, stage: u32, slots: u32, parent: Option<Range>) -> bool {
        self.ran & 1u64.checked_shl(stage).unwrap_or(0) != 0
            && parent.is_none_or(|r| self.mirror_any(stage, slots, r))
    }

    pub(super) fn put(&mut self, slot: u32, value: Value) {
        let i = self.keep(value);
        self.set(slot, Out::Value(i));
    }

    pub(super) fn clear(&mut self, range: Range) {
        for slot in range.lo..range.hi {
            self.set(slot, Out::None);
        }
    }

    pub(super) fn is_set(&self, slot: u32) -> bool {
        !matches!(self.outs[slot as usize], Out::None)
    }

    /// Whether any slot of `range` holds a value.
    pub(super) fn any(&self, range: Range) -> bool {
        if self.outs.len() <= WIDTH {
            return self.shape.any_in(range);
        }
        self.outs[range.lo as usize..range.hi as usize]
            .iter()
            .any(|o| !matches!(o, Out::None))
    }

    pub(super) fn exists(&self, parent: Option<Range>) -> bool {
        parent.is_none_or(|r| self.any(r))
    }
}
