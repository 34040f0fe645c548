//! Direct writes: templates of a few simple shapes applied by the plan itself,
//! without the evaluator.

use crate::datetime::Timestamp;
use crate::format::compile::Program;
use crate::network;
use crate::taxonomy::FieldType;
use crate::template::{self, may_be_container};
use crate::value::Value;

use super::Plan;
use super::state::{Out, Span, State};
use super::steps::{Direct, PTarget};
use super::view::{Scalar, View};

/// An ASCII case change of message text, applied as it is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Case {
    Lower,
    Upper,
}

impl Case {
    pub(super) fn apply(self, b: u8) -> u8 {
        match self {
            Case::Lower => b.to_ascii_lowercase(),
            Case::Upper => b.to_ascii_uppercase(),
        }
    }

    pub(super) fn of(self, text: &str) -> String {
        match self {
            Case::Lower => text.to_ascii_lowercase(),
            Case::Upper => text.to_ascii_uppercase(),
        }
    }

    /// Whether `candidate` is `text` changed by this case.
    pub(super) fn gives(self, text: &str, candidate: &str) -> bool {
        text.len() == candidate.len()
            && text
                .bytes()
                .zip(candidate.bytes())
                .all(|(t, c)| self.apply(t) == c)
    }
}

/// What a [`Direct::Text`] write gives on text of the message.
pub(super) enum Computed {
    /// The text itself.
    Same,
    /// The text in another case (ASCII only; the message has no comma).
    Cased(Case),
    /// Other text (a case change of text with commas).
    Other(Value),
    /// Anything else (non-ASCII case changes, container literals): the template's.
    Evaluate,
}

/// What is left of a [`Direct`] write after [`Plan::direct`].
pub(super) enum Step {
    Done,
    /// Text of the message, written as a copy would write it.
    Text(Span),
    /// The template must be evaluated.
    Evaluate,
}

/// `comma`: whether `text` may hold a comma (a bare tuple literal needs one).
pub(super) fn compute(op: template::Direct, text: &str, comma: bool) -> Computed {
    // Without a comma only a leading bracket makes a container literal, and case
    // changes keep brackets: the test on the text itself holds for the result.
    if !comma && op != template::Direct::Copy && text.is_ascii() {
        let case = match op {
            template::Direct::Upper => Case::Upper,
            _ => Case::Lower,
        };
        return if may_be_container(text, false) {
            Computed::Evaluate
        } else if text.bytes().any(|b| case.apply(b) != b) {
            Computed::Cased(case)
        } else {
            Computed::Same
        };
    }
    let changed = match op {
        template::Direct::Copy => None,
        template::Direct::Lower if !text.is_ascii() => return Computed::Evaluate,
        template::Direct::Upper if !text.is_ascii() => return Computed::Evaluate,
        template::Direct::Lower => text
            .bytes()
            .any(|b| b.is_ascii_uppercase())
            .then(|| text.to_ascii_lowercase()),
        template::Direct::Upper => text
            .bytes()
            .any(|b| b.is_ascii_lowercase())
            .then(|| text.to_ascii_uppercase()),
    };
    let result = changed.as_deref().unwrap_or(text);
    if may_be_container(result, comma) {
        return Computed::Evaluate;
    }
    match changed {
        None => Computed::Same,
        Some(other) => Computed::Other(Value::from(other)),
    }
}

impl Plan {
    /// Runs a [`Direct`] write of the shapes the action loop does not run itself;
    /// `None` when a value takes a shape the plan does not hold.
    // Out of line: inlined, it slowed down the loop's own shapes.
    #[inline(never)]
    pub(super) fn direct(
        &self,
        program: &Program,
        direct: &Direct,
        state: &mut State,
        target: &PTarget,
        message: &str,
        now: Timestamp,
    ) -> Option<Step> {
        match *direct {
            // Run by the action loop itself.
            Direct::Const(_) | Direct::Text(..) | Direct::Cut(..) => return Some(Step::Evaluate),
            Direct::Field(from) => match state.outs[from as usize] {
                // Undefined, or an error when its object is missing: nothing either way.
                Out::None => {}
                // Typing a number for a number field keeps it.
                Out::Int(i) if target.ty == FieldType::Long => {
                    if !self.ignored.value(&Value::Int(i)) {
                        state.write(target, Out::Int(i));
                    }
                }
                Out::Text(span) => return Some(Step::Text(span)),
                _ => return Some(Step::Evaluate),
            },
            Direct::Choice(ref test, yes, no) => {
                let view = View {
                    plan: self,
                    state,
                    message,
                };
                let Some(truth) = test.run(&view) else {
                    return Some(Step::Evaluate);
                };
                if let Some(i) = if truth { yes } else { no } {
                    state.write(target, Out::Const(i));
                }
            }
            Direct::CommunityId(ref args) => {
                return self.community_id(program, args, state, target, message, now);
            }
        }
        Some(Step::Done)
    }

    /// [`Direct::CommunityId`], as [`Plan::direct`]: the evaluator decides when a
    /// register is absent or holds a value of another shape.
    pub(super) fn community_id(
        &self,
        program: &Program,
        args: &[template::RegArg; 5],
        state: &mut State,
        target: &PTarget,
        message: &str,
        now: Timestamp,
    ) -> Option<Step> {
        let view = View {
            plan: self,
            state,
            message,
        };
        let mut flow = [Scalar::Undefined; 5];
        for (scalar, arg) in flow.iter_mut().zip(args.iter()) {
            *scalar = match (view.scalar(arg.reg), &arg.default) {
                (None, _) => return Some(Step::Evaluate),
                (Some(Scalar::Undefined), Some(default)) => Scalar::Value(default),
                (Some(s), _) => s,
            };
        }
        let [src, dst, sp, dp, protocol] = flow;
        let id = || {
            network::community_id(
                src.ip()?,
                dst.ip()?,
                sp.port()?,
                dp.port()?,
                protocol.protocol()?,
                0,
            )
        };
        // An argument that is no address, port or protocol: Undefined, nothing written.
        let Some(id) = id() else {
            return Some(Step::Done);
        };
        if target.ty != FieldType::Keyword {
            self.assign(program, state, target, Some(Value::from(id.as_str())), now)?;
            return Some(Step::Done);
        }
        // Never empty, `None` or a container literal: only an ignored value is
        // left to rule out.
        let bytes = id.as_bytes();
        if self.ignored.texts.iter().any(|i| i.as_bytes() == bytes) {
            return Some(Step::Done);
        }
        // Kept as JSON text, which it is quoted: no value to allocate.
        let lo = state.json.len() as u32;
        state.json.push(b'"');
        state.json.extend_from_slice(bytes);
        state.json.push(b'"');
        let hi = state.json.len() as u32;
        state.write(target, Out::Json(lo, hi));
        Some(Step::Done)
    }
}
