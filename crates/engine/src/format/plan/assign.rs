//! Typing and storing one written value, as the interpreter's `assign` does.

use crate::datetime::{self, Timestamp};
use crate::format::compile::Program;
use crate::format::run::is_empty;
use crate::taxonomy::FieldType;
use crate::value::Value;

use super::Plan;
use super::direct::Case;
use super::state::{Out, Span, State};
use super::steps::PTarget;

/// Values the flat output holds: scalars and lists of scalars.
pub(super) fn is_flat(v: &Value) -> bool {
    match v {
        Value::Map(_) => false,
        Value::List(items) => items
            .iter()
            .all(|i| !matches!(i, Value::Map(_) | Value::List(_))),
        _ => true,
    }
}

impl Plan {
    /// Types and stores one value, as the interpreter's `assign` does.
    pub(super) fn assign(
        &self,
        program: &Program,
        state: &mut State,
        target: &PTarget,
        value: Option<Value>,
        now: Timestamp,
    ) -> Option<()> {
        let Some(value) = value else { return Some(()) };
        if is_empty(&value) {
            return Some(());
        }
        if self.ignored.value(&value) {
            return Some(());
        }
        let value = match (target.ty, value) {
            // Text to a keyword field stays as it is: the commonest write.
            (FieldType::Keyword, v @ Value::Str(_)) => v,
            (ty, v) => program.taxonomy.coerce(&target.dotted, ty, v, now),
        };
        if !target.nested && !is_flat(&value) {
            return None;
        }
        let i = state.keep(value);
        state.write(target, Out::Value(i));
        Some(())
    }

    /// [`Plan::assign`] of text of the message, typed without a [`Value`] where the
    /// field's type allows.
    #[inline(always)]
    pub(super) fn assign_text(
        &self,
        program: &Program,
        state: &mut State,
        target: &PTarget,
        (span, text): (Span, &str),
        now: Timestamp,
    ) -> Option<()> {
        if text.is_empty() || text == "None" || self.ignored.text(text) {
            return Some(());
        }
        let typed = match target.ty {
            FieldType::Keyword => Out::Text(span),
            // Only IPv6 text (with a colon) can have another canonical form.
            FieldType::Ip if !text.bytes().any(|b| b == b':') => Out::Text(span),
            FieldType::Long if (1..=18).contains(&text.len()) => match digits_value(text) {
                Some(i) => Out::Int(i),
                None => return self.assign(program, state, target, Some(Value::from(text)), now),
            },
            FieldType::Date => match datetime::ten_digit_epoch(text) {
                Some(secs) => Out::Epoch(secs),
                None => return self.assign(program, state, target, Some(Value::from(text)), now),
            },
            _ => return self.assign(program, state, target, Some(Value::from(text)), now),
        };
        state.write(target, typed);
        Some(())
    }

    /// [`Plan::assign`] of message text in another case.
    pub(super) fn assign_cased(
        &self,
        program: &Program,
        state: &mut State,
        target: &PTarget,
        (span, case): (Span, Case),
        message: &str,
        now: Timestamp,
    ) -> Option<()> {
        let text = span.of(message);
        // The text has a letter the case changes: never empty.
        if case.gives(text, "None") || self.ignored.texts.iter().any(|i| case.gives(text, i)) {
            return Some(());
        }
        if target.ty == FieldType::Keyword {
            state.write(target, Out::Cased(span, case));
            return Some(());
        }
        let value = Value::from(case.of(text));
        self.assign(program, state, target, Some(value), now)
    }
}

/// The value of text of at most 18 ASCII digits (no overflow); `None` when some
/// character is not a digit.
fn digits_value(text: &str) -> Option<i64> {
    let mut value: i64 = 0;
    for b in text.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + i64::from(digit);
    }
    Some(value)
}
