//! Writing an event as JSON from the output slots, through per-thread skeletons
//! of the shapes seen before.

use crate::append::{append, append_quoted};
use crate::datetime;
use crate::json::{write_json, write_json_str};

use super::Plan;
use super::layout::{NodeKind, ROOT};
use super::shape::{Shape, WIDTH};
use super::state::{Out, State};

impl Plan {
    /// Writes the event from the output slots. Events of a shape (the set of fields
    /// present) seen before on this thread are written from that shape's skeleton.
    pub(super) fn write(&self, state: &mut State, message: &str, out: &mut Vec<u8>) {
        let plain = state.plain;
        let Some(shape) = (state.outs.len() <= WIDTH).then_some(state.shape) else {
            self.write_object(ROOT, state, message, plain, out);
            return;
        };
        let found = state
            .skeletons
            .iter()
            .position(|s| s.plan == self.id && s.shape == shape);
        let index = match found {
            Some(i) => i,
            None => {
                let skeleton = self.skeleton(shape);
                if state.skeletons.len() < SKELETONS {
                    state.skeletons.push(skeleton);
                    state.skeletons.len() - 1
                } else {
                    // Replaced in turn: a stream of ever-new shapes stays bounded.
                    let victim = state.victim % SKELETONS;
                    state.victim = state.victim.wrapping_add(1);
                    state.skeletons[victim] = skeleton;
                    victim
                }
            }
        };
        let skeleton = &state.skeletons[index];
        for (before, slot) in &skeleton.fields {
            append(out, &skeleton.text[before.clone()]);
            self.write_value(state, state.outs[*slot as usize], message, plain, out);
        }
        append(out, &skeleton.text[skeleton.tail.clone()]);
    }

    // Inlined into the skeleton loop: a call per field cost more than its body.
    #[inline(always)]
    fn write_value(
        &self,
        state: &State,
        value: Out,
        message: &str,
        plain: bool,
        out: &mut Vec<u8>,
    ) {
        match value {
            Out::None => {}
            Out::Text(span) if plain => {
                // Spans were cut at character boundaries: the bytes are enough.
                append_quoted(out, &message.as_bytes()[span.lo as usize..span.hi as usize]);
            }
            Out::Text(span) => write_json_str(span.of(message), out),
            Out::Cased(span, case) if plain => {
                // A case change adds no byte that needs an escape.
                out.push(b'"');
                out.extend(span.of(message).bytes().map(|b| case.apply(b)));
                out.push(b'"');
            }
            Out::Cased(span, case) => write_json_str(&case.of(span.of(message)), out),
            Out::Const(i) => append(out, &self.consts[i as usize].1),
            Out::Int(i) => append(out, itoa::Buffer::new().format(i).as_bytes()),
            Out::Epoch(secs) => append_quoted(out, &state.epochs.text(secs)),
            Out::Json(lo, hi) => append(out, &state.json[lo as usize..hi as usize]),
            Out::Value(i) => write_json(&state.values[i as usize], out),
        }
    }

    /// The skeleton of the events whose present fields are the bits of `shape`.
    fn skeleton(&self, shape: Shape) -> Skeleton {
        let mut skeleton = Skeleton {
            plan: self.id,
            shape,
            fields: Vec::new(),
            text: Vec::new(),
            tail: 0..0,
        };
        let mut start = 0;
        self.skeleton_of(ROOT, &mut skeleton, &mut start);
        skeleton.tail = start..skeleton.text.len();
        skeleton
    }

    fn skeleton_of(&self, node: usize, skeleton: &mut Skeleton, start: &mut usize) {
        let NodeKind::Object(children) = &self.layout.nodes[node].kind else {
            return;
        };
        skeleton.text.push(b'{');
        let mut first = true;
        for &c in children {
            let child = &self.layout.nodes[c];
            if !skeleton.shape.any_in(child.range) {
                continue;
            }
            if !first {
                skeleton.text.push(b',');
            }
            first = false;
            skeleton.text.extend_from_slice(&child.key_json);
            match child.kind {
                NodeKind::Leaf(slot) => match self.fixed[slot as usize] {
                    Some(i) => skeleton.text.extend_from_slice(&self.consts[i as usize].1),
                    None => {
                        skeleton.fields.push((*start..skeleton.text.len(), slot));
                        *start = skeleton.text.len();
                    }
                },
                NodeKind::Object(_) => self.skeleton_of(c, skeleton, start),
            }
        }
        skeleton.text.push(b'}');
    }

    /// Writes the object `node` walking the layout (events with more fields than a
    /// shape holds); returns whether it had any field. An object's key is written
    /// first and taken back when it stays empty.
    fn write_object(
        &self,
        node: usize,
        state: &State,
        message: &str,
        plain: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let NodeKind::Object(children) = &self.layout.nodes[node].kind else {
            return false;
        };
        out.push(b'{');
        let mut first = true;
        for &c in children {
            let child = &self.layout.nodes[c];
            let mark = out.len();
            if !first {
                out.push(b',');
            }
            match child.kind {
                NodeKind::Leaf(slot) => {
                    let value = state.outs[slot as usize];
                    if let Out::None = value {
                        out.truncate(mark);
                        continue;
                    }
                    append(out, &child.key_json);
                    self.write_value(state, value, message, plain, out);
                }
                NodeKind::Object(_) => {
                    append(out, &child.key_json);
                    if !self.write_object(c, state, message, plain, out) {
                        out.truncate(mark);
                        continue;
                    }
                }
            }
            first = false;
        }
        out.push(b'}');
        !first
    }
}

/// The last two epochs formatted, and their text.
pub(super) struct Epochs(std::cell::Cell<[(i64, [u8; 20]); 2]>);

impl Default for Epochs {
    fn default() -> Epochs {
        // No epoch the plan writes is negative.
        Epochs(std::cell::Cell::new([(-1, [0; 20]); 2]))
    }
}

impl Epochs {
    pub(super) fn text(&self, secs: i64) -> [u8; 20] {
        let [newer, older] = self.0.get();
        if newer.0 == secs {
            return newer.1;
        }
        if older.0 == secs {
            return older.1;
        }
        let text = datetime::epoch_seconds_ecs(secs);
        self.0.set([(secs, text), newer]);
        text
    }
}

/// Skeletons kept per thread.
const SKELETONS: usize = 16;

/// The JSON text around the values of one event shape: keys, braces and commas.
pub(super) struct Skeleton {
    pub(super) plan: u64,
    /// Bit `i` set: slot `i` holds a value.
    pub(super) shape: Shape,
    /// The text before each present field's value, and the field's slot.
    pub(super) fields: Vec<(std::ops::Range<usize>, u32)>,
    pub(super) text: Vec<u8>,
    tail: std::ops::Range<usize>,
}
