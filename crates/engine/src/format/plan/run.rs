//! Running a plan on one event: its steps, then its actions.

use crate::datetime::Timestamp;
use crate::externals::Failure;
use crate::format::compile::{Program, StepKind};
use crate::scan;
use crate::template::{self, Bound, Env, Registers, may_be_container, py_str};
use crate::value::{Map, Value};

use super::direct::{Computed, Step, compute};
use super::state::{Held, Out, STATE, Span, State};
use super::steps::{Direct, Named, PAction, PFilter, PInput, PKind, PStep};
use super::view::{View, copied_text, eval, passes};
use super::{Plan, Planned};

impl Plan {
    /// Normalizes `message` (an event whose only key is `message`) and appends it to
    /// `out` as JSON, or asks for the interpreter.
    pub(crate) fn run(
        &self,
        program: &Program,
        message: &str,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Planned {
        // Spans of the message are 32-bit.
        if u32::try_from(message.len()).is_err() {
            return Planned::Fallback;
        }
        STATE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut state) => self.run_in(&mut state, program, message, now, out),
            Err(_) => self.run_in(&mut State::default(), program, message, now, out),
        })
    }

    fn run_in(
        &self,
        state: &mut State,
        program: &Program,
        message: &str,
        now: Timestamp,
        out: &mut Vec<u8>,
    ) -> Planned {
        state.reset(
            self.regs.len(),
            self.slots as usize,
            (self.stages * self.slots) as usize,
        );
        let (comma, escape) = scan::comma_and_escape(message.as_bytes());
        state.comma = comma;
        state.plain = !escape;
        let whole = Span {
            lo: 0,
            hi: message.len() as u32,
        };
        state.set(self.message, Out::Text(whole));
        for &(reg, message_itself) in &self.originals {
            state.held[reg as usize] = if message_itself {
                Held::Text(whole)
            } else {
                Held::Undefined
            };
        }
        let mut parsed = false;
        let mut produced: u64 = 0;
        for pstep in &self.steps {
            match pstep {
                PStep::External {
                    step,
                    rebound,
                    filter,
                    input,
                    regs,
                    columns,
                    named,
                } => {
                    let step = &program.steps[*step];
                    let StepKind::External {
                        parser,
                        output_field,
                        empty_layer_on_no_match,
                        is_parser,
                        ..
                    } = &step.kind
                    else {
                        continue;
                    };
                    let parser = rebound.as_deref().unwrap_or(&**parser);
                    if !self.passes(filter, state, message, now) {
                        continue;
                    }
                    let bit = 1u64.checked_shl(step.slot as u32).unwrap_or(0);
                    // Fast path: text of the message split into named fields, straight
                    // into registers as spans.
                    if let (Some(by_column), PInput::Reg(r)) = (columns, input)
                        && let Held::Text(span) = state.held[*r as usize]
                    {
                        let text = span.of(message);
                        if text.is_empty() {
                            continue;
                        }
                        // Fields straight to their registers, as spans of the
                        // message; the columns after the last field are absent.
                        let mut spans = std::mem::take(&mut state.spans);
                        let fast = parser.split_spans(text, &mut spans).is_some();
                        if fast {
                            for &(c, r) in by_column {
                                state.held[r as usize] = match spans.get(c as usize) {
                                    Some(&(lo, hi)) => Held::Text(Span {
                                        lo: span.lo + lo,
                                        hi: span.lo + hi,
                                    }),
                                    None => Held::Undefined,
                                };
                            }
                            // As `State::hold` does, once for the whole split.
                            if state.cached.get() {
                                for &(_, r) in by_column {
                                    state.held_cache[r as usize].take();
                                }
                            }
                        }
                        state.spans = spans;
                        if fast {
                            produced |= bit;
                            parsed |= *is_parser;
                            continue;
                        }
                    }
                    // Fast path: fields of the message found by name, straight into
                    // registers as spans; the names not found are undefined.
                    if let (Some(named), PInput::Reg(r)) = (named, input)
                        && parser.finds_spans()
                        && let Held::Text(span) = state.held[*r as usize]
                    {
                        let Named {
                            names,
                            regs: by_reg,
                        } = &**named;
                        let text = span.of(message);
                        if text.is_empty() {
                            continue;
                        }
                        let mut found = std::mem::take(&mut state.found);
                        found.clear();
                        found.resize(names.len(), None);
                        let fast = parser.find_spans(text, names, &mut found).is_some();
                        if fast {
                            for &(at, r) in by_reg {
                                let held = match found[at as usize] {
                                    Some((lo, hi)) => Held::Text(Span {
                                        lo: span.lo + lo,
                                        hi: span.lo + hi,
                                    }),
                                    None => Held::Undefined,
                                };
                                state.hold(r, held);
                            }
                        }
                        state.found = found;
                        if fast {
                            produced |= bit;
                            parsed |= *is_parser;
                            continue;
                        }
                    }
                    // Buffers for splitting other text, taken out of the state so that
                    // the input may borrow it (a skipped step only costs new ones).
                    let mut spans = std::mem::take(&mut state.spans);
                    let mut fields = std::mem::take(&mut state.fields);
                    let view = View {
                        plan: self,
                        state,
                        message,
                    };
                    let env = Env {
                        slots: &[],
                        now,
                        regs: &view,
                    };
                    let owned;
                    let value = match input {
                        PInput::Reg(r) => match view.get(*r) {
                            Bound::Value(v) => Some(v),
                            _ => None,
                        },
                        PInput::Tpl(t) => match copied_text(t, view.state, message) {
                            // The register's own value: no copy to make.
                            Some(r) => match view.get(r) {
                                Bound::Value(v) => Some(v),
                                _ => None,
                            },
                            None => {
                                owned = eval(t, &env);
                                owned.as_ref()
                            }
                        },
                    };
                    let value = match value {
                        Some(v) if !matches!(v, Value::Null) && v.as_str() != Some("") => v,
                        _ => continue,
                    };
                    // Named fields of other text, as values.
                    fields.clear();
                    let fast = match (columns, value) {
                        (Some(by_column), Value::Str(text))
                            if parser.split_spans(text, &mut spans).is_some() =>
                        {
                            for &(c, r) in by_column {
                                fields.push((
                                    r,
                                    spans.get(c as usize).map(|&(lo, hi)| {
                                        Value::from(&text[lo as usize..hi as usize])
                                    }),
                                ));
                            }
                            true
                        }
                        _ => false,
                    };
                    if fast {
                        for (r, value) in fields.drain(..) {
                            let held = match value {
                                Some(value) => Held::Value(state.keep(value)),
                                None => Held::Undefined,
                            };
                            state.hold(r, held);
                        }
                        state.spans = spans;
                        state.fields = fields;
                        produced |= bit;
                        parsed |= *is_parser;
                        continue;
                    }
                    let layer = match parser.parse(value, &env) {
                        Ok(Value::Map(output)) if named.is_some() => {
                            parsed |= *is_parser;
                            state.spans = spans;
                            state.fields = fields;
                            // The fields read, moved to their registers; the others
                            // are undefined, as in the mapping.
                            let Some(Named {
                                names,
                                regs: by_reg,
                            }) = named.as_deref()
                            else {
                                continue;
                            };
                            for &(_, r) in by_reg {
                                state.hold(r, Held::Undefined);
                            }
                            for (key, value) in output {
                                let Some(at) = names.find(&key) else { continue };
                                let v = state.keep(value);
                                for &(a, r) in by_reg {
                                    if a as usize == at {
                                        state.hold(r, Held::Value(v));
                                    }
                                }
                            }
                            produced |= bit;
                            continue;
                        }
                        Ok(result) => {
                            parsed |= *is_parser;
                            let mut layer = Map::with_capacity(1);
                            layer.insert(output_field.clone(), result);
                            Value::Map(layer)
                        }
                        Err(Failure::NoMatch)
                            if *empty_layer_on_no_match && produced & bit == 0 =>
                        {
                            Value::Map(Map::new())
                        }
                        Err(_) => continue,
                    };
                    state.spans = spans;
                    state.fields = fields;
                    let root = state.keep(layer);
                    for &r in regs {
                        state.hold(r, Held::In(root));
                    }
                    produced |= bit;
                }
                PStep::Actions {
                    filter,
                    stage,
                    actions,
                } => {
                    if !self.passes(filter, state, message, now) {
                        continue;
                    }
                    if let Some(stage) = stage {
                        state.ran |= 1u64.checked_shl(*stage).unwrap_or(0);
                    }
                    for action in actions {
                        if self.action(program, action, state, message, now).is_none() {
                            return Planned::Fallback;
                        }
                    }
                }
            }
        }
        if program.has_parsers && !parsed {
            // The interpreter words the rejection.
            return Planned::Fallback;
        }
        self.enrich(state, message);
        // Keys and values: a span is at most the message, most fields are short.
        out.reserve(self.width_hint + 2 * message.len());
        self.write(state, message, out);
        Planned::Written
    }

    fn passes(
        &self,
        filter: &Option<PFilter>,
        state: &State,
        message: &str,
        now: Timestamp,
    ) -> bool {
        let view = View {
            plan: self,
            state,
            message,
        };
        passes(filter, &view, now)
    }

    /// Runs one action; `None` when a value takes a shape the plan does not hold.
    fn action(
        &self,
        program: &Program,
        action: &PAction,
        state: &mut State,
        message: &str,
        now: Timestamp,
    ) -> Option<()> {
        if !self.passes(&action.filter, state, message, now) {
            return Some(());
        }
        match &action.kind {
            PKind::Set(assigns) => {
                for assign in assigns {
                    // Message text to write through a shape, when the write comes to it.
                    let text = match &assign.direct {
                        Some(Direct::Const(None)) => continue,
                        &Some(Direct::Const(Some(i))) => {
                            state.write(&assign.target, Out::Const(i));
                            continue;
                        }
                        Some(Direct::Cut(cut, reg)) => match state.held[*reg as usize] {
                            // `split` of an absent or undefined register fails.
                            Held::Absent | Held::Undefined => continue,
                            Held::Value(_) | Held::In(_) => None,
                            Held::Text(span) => {
                                let (lo, hi) = cut.range(span.of(message));
                                let piece = Span {
                                    lo: span.lo + lo as u32,
                                    hi: span.lo + hi as u32,
                                };
                                let text = piece.of(message);
                                if !may_be_container(text, state.comma) {
                                    self.assign_text(
                                        program,
                                        state,
                                        &assign.target,
                                        (piece, text),
                                        now,
                                    )?;
                                    continue;
                                }
                                None
                            }
                        },
                        &Some(Direct::Text(op, reg)) => match state.held[reg as usize] {
                            // These shapes give nothing on an absent or undefined
                            // register (an error, Undefined or ""): nothing is written.
                            Held::Absent | Held::Undefined => continue,
                            Held::Value(_) | Held::In(_) => None,
                            Held::Text(span) => Some((op, span)),
                        },
                        // The other shapes, out of line.
                        Some(other) => {
                            let target = &assign.target;
                            match self.direct(program, other, state, target, message, now)? {
                                Step::Done => continue,
                                Step::Text(span) => Some((template::Direct::Copy, span)),
                                Step::Evaluate => None,
                            }
                        }
                        None => None,
                    };
                    if let Some((op, span)) = text {
                        let text = span.of(message);
                        match compute(op, text, state.comma) {
                            Computed::Same => {
                                self.assign_text(
                                    program,
                                    state,
                                    &assign.target,
                                    (span, text),
                                    now,
                                )?;
                                continue;
                            }
                            Computed::Cased(case) => {
                                self.assign_cased(
                                    program,
                                    state,
                                    &assign.target,
                                    (span, case),
                                    message,
                                    now,
                                )?;
                                continue;
                            }
                            Computed::Other(v) => {
                                self.assign(program, state, &assign.target, Some(v), now)?;
                                continue;
                            }
                            Computed::Evaluate => {}
                        }
                    }
                    let value = {
                        let view = View {
                            plan: self,
                            state,
                            message,
                        };
                        assign.value.eval(&Env {
                            slots: &[],
                            now,
                            regs: &view,
                        })
                    };
                    self.assign(program, state, &assign.target, value, now)?;
                }
            }
            PKind::Translate {
                dictionary,
                mappings,
                fallback,
            } => {
                for (source, target, table) in mappings {
                    let view = View {
                        plan: self,
                        state,
                        message,
                    };
                    // Text looked up in the typed outcomes: no value at all.
                    if let Some(table) = table
                        && let Some(text) = view.text(*source)
                    {
                        let hit = match table.hits.get(text) {
                            Some(hit) => *hit,
                            None => table.fallback,
                        };
                        if let Some(i) = hit {
                            state.write(target, Out::Const(i));
                        }
                        continue;
                    }
                    let value = {
                        let view = View {
                            plan: self,
                            state,
                            message,
                        };
                        let hit = match view.get(*source) {
                            Bound::Value(Value::Str(s)) => dictionary.get(s.as_str()),
                            Bound::Value(Value::Null) => None,
                            Bound::Value(other) => dictionary.get(&py_str(other)),
                            _ => None,
                        };
                        hit.or(fallback.as_ref()).and_then(|t| {
                            t.eval(&Env {
                                slots: &[],
                                now,
                                regs: &view,
                            })
                        })
                    };
                    self.assign(program, state, target, value, now)?;
                }
            }
            PKind::Delete(ranges) => {
                for &(range, parent) in ranges.iter().flatten() {
                    let held = parent.is_some_and(|p| state.any(p));
                    state.clear(range);
                    // The interpreter keeps the emptied object (`{}`); the plan writes
                    // only objects with fields, so the interpreter takes this event.
                    if held && parent.is_some_and(|p| !state.any(p)) {
                        return None;
                    }
                }
            }
        }
        Some(())
    }
}
