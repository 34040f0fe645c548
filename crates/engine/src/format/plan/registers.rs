//! Registers: every layer or final path a template reads, resolved to one number
//! when the format loads.

use std::collections::HashMap;

use crate::format::compile::{FINAL, Target, Tpl, ValueTpl};
use crate::template::{PathUse, Template};
use crate::value::{Hint, Str};

use super::layout::{Found, Layout, ROOT, Range};
use super::steps::{PFilter, PTarget, PTpl, PValue};

/// What a register reads.
pub(super) enum Reg {
    /// A path into a step's layer (or `original`): filled when the layer is produced.
    Layer {
        slot: usize,
        keys: Vec<Str>,
        /// Where each key was found last time (see [`Hint`]).
        hints: Box<[Hint]>,
    },
    /// A field of the final event.
    Leaf { out: u32, parent: Option<Range> },
    /// An object of the final event, asked only whether it exists.
    Object { range: Range, parent: Option<Range> },
    /// A final path no write creates: Undefined when its last key is the missing
    /// one and the parent exists, an error otherwise.
    Missing {
        parent: Option<Range>,
        last_is_missing: bool,
    },
    /// A path into the layer of action stage `stage`, which holds what the stage
    /// wrote: `reg` is a `Leaf`, `Object` or `Missing` read from the stage's copy of
    /// the fields (`State::mirrors`) instead of the event's.
    Stage { stage: u32, reg: Box<Reg> },
}

/// Builds the plan's registers while templates are rebound.
pub(super) struct Binder<'l> {
    pub(super) layout: &'l Layout,
    pub(super) regs: Vec<Reg>,
    pub(super) index: HashMap<(usize, Vec<Str>, bool), u32>,
    /// Slots of layers produced by steps (and `original`).
    pub(super) layers: Vec<usize>,
    /// Slots of the action stages whose layers are read, by stage number.
    pub(super) stages: Vec<usize>,
    /// The stage whose actions are being planned, if its layer is read.
    pub(super) stage: Option<u32>,
    /// Output slots of the event (the size of one stage's copy of them).
    pub(super) slots: u32,
}

impl Binder<'_> {
    fn parent_range(&self, parent: Option<usize>) -> Option<Range> {
        parent.map(|p| self.layout.nodes[p].range)
    }

    pub(super) fn bind(&mut self, slot: usize, keys: &[Str], usage: PathUse) -> Option<u32> {
        let presence = usage == PathUse::Presence;
        if let Some(&r) = self.index.get(&(slot, keys.to_vec(), presence)) {
            return Some(r);
        }
        let reg = if slot == FINAL {
            self.field(keys, presence)?
        } else if let Some(stage) = self.stages.iter().position(|&s| s == slot) {
            // A stage layer has the event's shape, holding only the stage's writes.
            if keys.is_empty() {
                return None;
            }
            Reg::Stage {
                stage: u32::try_from(stage).ok()?,
                reg: Box::new(self.field(keys, presence)?),
            }
        } else {
            // Whole layers are maps the plan does not build.
            if keys.is_empty() || !self.layers.contains(&slot) {
                return None;
            }
            Reg::Layer {
                slot,
                keys: keys.to_vec(),
                hints: vec![Hint::default(); keys.len()].into_boxed_slice(),
            }
        };
        let id = u32::try_from(self.regs.len()).ok()?;
        self.regs.push(reg);
        self.index.insert((slot, keys.to_vec(), presence), id);
        Some(id)
    }

    /// The register of a final path.
    fn field(&self, keys: &[Str], presence: bool) -> Option<Reg> {
        Some(match self.layout.find(keys) {
            Found::Leaf(node) => Reg::Leaf {
                out: self.layout.out(node),
                parent: self.parent_of(keys),
            },
            Found::Object(node) if presence && node != ROOT => Reg::Object {
                range: self.layout.nodes[node].range,
                parent: self.parent_of(keys),
            },
            Found::Object(_) | Found::ThroughLeaf(_) => return None,
            Found::Missing { parent, depth } => Reg::Missing {
                parent: self.parent_range(parent),
                last_is_missing: depth + 1 == keys.len(),
            },
        })
    }

    /// The object holding the last key of a final path (`None`: the event itself).
    fn parent_of(&self, keys: &[Str]) -> Option<Range> {
        if keys.len() < 2 {
            return None;
        }
        match self.layout.find(&keys[..keys.len() - 1]) {
            Found::Object(node) => Some(self.layout.nodes[node].range),
            _ => None,
        }
    }

    pub(super) fn tpl(&mut self, t: &Tpl) -> Option<PTpl> {
        match t {
            Tpl::Ok(t) => {
                Some(Some(t.rebind(&mut |slot, keys, usage| {
                    self.bind(slot, keys, usage)
                })?))
            }
            Tpl::Broken => Some(None),
        }
    }

    pub(super) fn filter(&mut self, f: &Option<Tpl>) -> Option<Option<PFilter>> {
        match f {
            Some(t) => {
                let tpl = self.tpl(t)?;
                let text = tpl.as_ref().and_then(Template::text_test);
                Some(Some(PFilter { tpl, text }))
            }
            None => Some(None),
        }
    }

    pub(super) fn value(&mut self, v: &ValueTpl) -> Option<PValue> {
        Some(match v {
            ValueTpl::Const(c) => PValue::Const(c.clone()),
            ValueTpl::Template(t) => PValue::Tpl(self.tpl(t)?),
            ValueTpl::List(items) => {
                PValue::List(items.iter().map(|i| self.value(i)).collect::<Option<_>>()?)
            }
            ValueTpl::Map(entries) => PValue::Map(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.clone(), self.value(v)?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }

    pub(super) fn target(&self, t: &Target) -> Option<PTarget> {
        match self.layout.find(&t.keys) {
            Found::Leaf(node) => Some(PTarget {
                out: self.layout.out(node),
                mirror: self
                    .stage
                    .map(|stage| stage * self.slots + self.layout.out(node)),
                dotted: t.dotted.clone(),
                ty: t.ty,
                nested: self.layout.nests(node),
            }),
            _ => None,
        }
    }
}
