//! The registers and fields as the template evaluator reads them.

use std::cell::OnceCell;

use crate::datetime::Timestamp;
use crate::format::run::{list_value, map_value};
use crate::network;
use crate::template::{self, Bound, Env, Registers, TextRegisters, may_be_container, read_path};
use crate::value::Value;

use super::Plan;
use super::registers::Reg;
use super::state::{Held, Out, State};
use super::steps::{PFilter, PTpl, PValue};

/// The registers and fields as values, made from message text when first read.
pub(super) struct View<'a> {
    pub(super) plan: &'a Plan,
    pub(super) state: &'a State,
    pub(super) message: &'a str,
}

static PRESENT: Value = Value::Null;

impl<'a> View<'a> {
    pub(super) fn out(&self, slot: u32) -> Option<&'a Value> {
        let state = self.state;
        self.value_of(state.outs[slot as usize], &state.out_cache[slot as usize])
    }

    /// An output's value (the event's field or a stage's copy of it), made once from
    /// message text into `cache` when it is not a value already.
    fn value_of(&self, out: Out, cache: &'a OnceCell<Value>) -> Option<&'a Value> {
        let state = self.state;
        match out {
            Out::None => None,
            Out::Const(i) => Some(&self.plan.consts[i as usize].0),
            Out::Value(i) => Some(&state.values[i as usize]),
            out => Some(cache.get_or_init(|| {
                state.cached.set(true);
                out.value(self.plan, state, self.message)
            })),
        }
    }

    /// An output's text, when it holds text.
    fn text_of(&self, out: Out) -> Option<&'a str> {
        match out {
            Out::Text(span) => Some(span.of(self.message)),
            Out::Value(i) => self.state.values[i as usize].as_str(),
            Out::Const(i) => self.plan.consts[i as usize].0.as_str(),
            Out::None | Out::Cased(..) | Out::Int(_) | Out::Epoch(_) | Out::Json(..) => None,
        }
    }
}

/// A path to an object of the output: any value when a field in it is set, else
/// Undefined when its parent exists, else an error.
fn object_bound(any: bool, parent_exists: impl FnOnce() -> bool) -> Bound<'static> {
    if any {
        // Only asked whether it is defined: any value answers yes.
        Bound::Value(&PRESENT)
    } else if parent_exists() {
        Bound::Undefined
    } else {
        Bound::Absent
    }
}

/// A path the output never has: Undefined when only its last key is missing and
/// the object holding it exists, else an error.
fn missing_bound(last_is_missing: bool, parent_exists: impl FnOnce() -> bool) -> Bound<'static> {
    if last_is_missing && parent_exists() {
        Bound::Undefined
    } else {
        Bound::Absent
    }
}

impl TextRegisters for View<'_> {
    fn text(&self, reg: u32) -> Option<&str> {
        View::text(self, reg)
    }

    fn defined(&self, reg: u32) -> Option<bool> {
        let state = self.state;
        match &self.plan.regs[reg as usize] {
            Reg::Layer { .. } => match state.held[reg as usize] {
                Held::Absent => None,
                Held::Undefined => Some(false),
                Held::Text(_) | Held::Value(_) => Some(true),
                Held::In(_) => match self.lookup(reg) {
                    Bound::Absent => None,
                    Bound::Undefined => Some(false),
                    Bound::Value(_) => Some(true),
                },
            },
            Reg::Leaf { out, parent } => {
                if state.is_set(*out) {
                    Some(true)
                } else {
                    state.exists(*parent).then_some(false)
                }
            }
            Reg::Object { range, parent } => {
                if state.any(*range) {
                    Some(true)
                } else {
                    state.exists(*parent).then_some(false)
                }
            }
            Reg::Missing {
                parent,
                last_is_missing,
            } => (*last_is_missing && state.exists(*parent)).then_some(false),
            Reg::Stage { stage, reg } => match self.staged(*stage, reg) {
                Bound::Absent => None,
                Bound::Undefined => Some(false),
                Bound::Value(_) => Some(true),
            },
        }
    }
}

impl<'a> View<'a> {
    /// The value of a register held as [`Held::In`], as a template path reads it.
    fn lookup(&self, reg: u32) -> Bound<'a> {
        let (Reg::Layer { keys, hints, .. }, Held::In(root)) =
            (&self.plan.regs[reg as usize], self.state.held[reg as usize])
        else {
            return Bound::Absent;
        };
        match read_path(Some(&self.state.values[root as usize]), keys, hints) {
            Ok(Some(v)) => Bound::Value(v),
            Ok(None) => Bound::Undefined,
            Err(_) => Bound::Absent,
        }
    }

    /// A register's text, when it holds text.
    pub(super) fn text(&self, reg: u32) -> Option<&'a str> {
        let message = self.message;
        match &self.plan.regs[reg as usize] {
            Reg::Layer { .. } => match self.state.held[reg as usize] {
                Held::Text(span) => Some(span.of(message)),
                Held::Value(i) => self.state.values[i as usize].as_str(),
                Held::In(_) => match self.lookup(reg) {
                    Bound::Value(v) => v.as_str(),
                    _ => None,
                },
                Held::Absent | Held::Undefined => None,
            },
            Reg::Leaf { out, .. } => self.text_of(self.state.outs[*out as usize]),
            Reg::Stage { stage, reg } => match &**reg {
                Reg::Leaf { out, .. } => {
                    self.text_of(self.state.mirrors[self.mirror(*stage, *out)])
                }
                _ => None,
            },
            Reg::Object { .. } | Reg::Missing { .. } => None,
        }
    }

    fn mirror(&self, stage: u32, out: u32) -> usize {
        (stage * self.plan.slots + out) as usize
    }

    /// A path of stage `stage`'s layer (`reg` as described in `Reg::Stage`).
    fn staged(&self, stage: u32, reg: &Reg) -> Bound<'a> {
        let state = self.state;
        let slots = self.plan.slots;
        match reg {
            Reg::Leaf { out, parent } => {
                let m = self.mirror(stage, *out);
                match self.value_of(state.mirrors[m], &state.mirror_cache[m]) {
                    Some(v) => Bound::Value(v),
                    None if state.mirror_exists(stage, slots, *parent) => Bound::Undefined,
                    None => Bound::Absent,
                }
            }
            Reg::Object { range, parent } => {
                object_bound(state.mirror_any(stage, slots, *range), || {
                    state.mirror_exists(stage, slots, *parent)
                })
            }
            Reg::Missing {
                parent,
                last_is_missing,
            } => missing_bound(*last_is_missing, || {
                state.mirror_exists(stage, slots, *parent)
            }),
            _ => Bound::Absent,
        }
    }
}

/// A register's value as the plan holds it, for the direct writes that read
/// addresses and numbers without making values.
#[derive(Clone, Copy)]
pub(super) enum Scalar<'a> {
    Undefined,
    Text(&'a str),
    Int(i64),
    Value(&'a Value),
}

impl Scalar<'_> {
    pub(super) fn ip(self) -> Option<std::net::IpAddr> {
        match self {
            Scalar::Text(t) => t.parse().ok(),
            Scalar::Value(v) => v.as_str()?.parse().ok(),
            Scalar::Int(_) | Scalar::Undefined => None,
        }
    }

    pub(super) fn port(self) -> Option<u16> {
        match self {
            Scalar::Text(t) => network::port_of_text(t),
            Scalar::Int(i) => network::port_of(&Value::Int(i)),
            Scalar::Value(v) => network::port_of(v),
            Scalar::Undefined => None,
        }
    }

    pub(super) fn protocol(self) -> Option<u8> {
        match self {
            Scalar::Text(t) => network::protocol_of_text(t),
            Scalar::Int(i) => network::protocol_of(&Value::Int(i)),
            Scalar::Value(v) => network::protocol_of(v),
            Scalar::Undefined => None,
        }
    }
}

impl<'a> View<'a> {
    /// A register's value without making one: `None` when reading it is an error
    /// or it holds something else (a cased text, a date, JSON text).
    pub(super) fn scalar(&self, reg: u32) -> Option<Scalar<'a>> {
        let state = self.state;
        Some(match &self.plan.regs[reg as usize] {
            Reg::Layer { .. } => match state.held[reg as usize] {
                Held::Absent => return None,
                Held::Undefined => Scalar::Undefined,
                Held::Text(span) => Scalar::Text(span.of(self.message)),
                Held::Value(i) => Scalar::Value(&state.values[i as usize]),
                Held::In(_) => match self.lookup(reg) {
                    Bound::Value(v) => Scalar::Value(v),
                    Bound::Undefined => Scalar::Undefined,
                    Bound::Absent => return None,
                },
            },
            Reg::Leaf { out, parent } => match state.outs[*out as usize] {
                Out::None if state.exists(*parent) => Scalar::Undefined,
                Out::Text(span) => Scalar::Text(span.of(self.message)),
                Out::Int(i) => Scalar::Int(i),
                Out::Const(i) => Scalar::Value(&self.plan.consts[i as usize].0),
                Out::Value(i) => Scalar::Value(&state.values[i as usize]),
                Out::None | Out::Cased(..) | Out::Epoch(_) | Out::Json(..) => return None,
            },
            // A stage's copy: the evaluator reads it.
            Reg::Object { .. } | Reg::Missing { .. } | Reg::Stage { .. } => return None,
        })
    }
}

impl Registers for View<'_> {
    fn get(&self, reg: u32) -> Bound<'_> {
        let state = self.state;
        match &self.plan.regs[reg as usize] {
            Reg::Layer { .. } => match state.held[reg as usize] {
                Held::Absent => Bound::Absent,
                Held::Undefined => Bound::Undefined,
                Held::Text(span) => {
                    Bound::Value(state.held_cache[reg as usize].get_or_init(|| {
                        state.cached.set(true);
                        Value::from(span.of(self.message))
                    }))
                }
                Held::Value(i) => Bound::Value(&state.values[i as usize]),
                Held::In(_) => self.lookup(reg),
            },
            Reg::Leaf { out, parent } => match self.out(*out) {
                Some(v) => Bound::Value(v),
                None if state.exists(*parent) => Bound::Undefined,
                None => Bound::Absent,
            },
            Reg::Object { range, parent } => {
                object_bound(state.any(*range), || state.exists(*parent))
            }
            Reg::Missing {
                parent,
                last_is_missing,
            } => missing_bound(*last_is_missing, || state.exists(*parent)),
            Reg::Stage { stage, reg } => self.staged(*stage, reg),
        }
    }
}

/// The register a template copies, when it holds message text that is no container
/// literal: the template's value is then the register's (see [`template::Direct`]).
pub(super) fn copied_text(t: &PTpl, state: &State, message: &str) -> Option<u32> {
    let (template::Direct::Copy, r) = t.as_ref()?.direct()? else {
        return None;
    };
    match state.held.get(r as usize)? {
        Held::Text(span) if !may_be_container(span.of(message), state.comma) => Some(r),
        _ => None,
    }
}

pub(super) fn eval(t: &PTpl, env: &Env) -> Option<Value> {
    t.as_ref()?.eval(env).ok().flatten()
}

pub(super) fn passes(filter: &Option<PFilter>, view: &View, now: Timestamp) -> bool {
    let Some(filter) = filter else { return true };
    if let Some(direct) = &filter.text
        && let Some(truth) = direct.run(view)
    {
        return truth;
    }
    match &filter.tpl {
        Some(t) => t.test(&Env {
            slots: &[],
            now,
            regs: view,
        }),
        None => false,
    }
}

impl PValue {
    pub(super) fn eval(&self, env: &Env) -> Option<Value> {
        match self {
            PValue::Const(v) => Some(v.clone()),
            PValue::Tpl(t) => eval(t, env),
            PValue::List(items) => list_value(items.iter().map(|i| i.eval(env))),
            PValue::Map(entries) => Some(map_value(
                entries.len(),
                entries.iter().map(|(k, v)| (k, v.eval(env))),
            )),
        }
    }
}
