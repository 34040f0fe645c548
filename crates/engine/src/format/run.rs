//! Running a [`Program`] on one event (SPEC §8).

use crate::datetime::Timestamp;
use crate::enrich::enrich;
use crate::externals::Failure;
use crate::template::{Env, py_str};
use crate::value::{Hint, Map, Str, Value};

use super::Rejection;
use super::compile::{
    Action, ActionKind, FINAL, Input, ORIGINAL, Path, Program, StepKind, Target, Tpl, ValueTpl,
};

impl Tpl {
    fn eval(&self, env: &Env) -> Option<Value> {
        match self {
            Tpl::Ok(t) => t.eval(env).ok().flatten(),
            Tpl::Broken => None,
        }
    }

    fn test(&self, env: &Env) -> bool {
        match self {
            Tpl::Ok(t) => t.test(env),
            Tpl::Broken => false,
        }
    }
}

fn passes(filter: &Option<Tpl>, env: &Env) -> bool {
    filter.as_ref().is_none_or(|f| f.test(env))
}

/// "No value": such results are never written.
pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Str(s) => s.is_empty() || s == "None",
        _ => false,
    }
}

/// A YAML mapping value from its rendered entries: the keys without a value left
/// out (the mapping itself is always written, even empty).
pub(super) fn map_value<'k>(
    len: usize,
    entries: impl Iterator<Item = (&'k Str, Option<Value>)>,
) -> Value {
    let mut out = Map::with_capacity(len);
    for (k, v) in entries {
        if let Some(v) = v {
            out.insert(k.clone(), v);
        }
    }
    Value::Map(out)
}

/// A YAML list value from its rendered items: the empty ones left out, and no
/// value at all when none is left.
pub(super) fn list_value(items: impl Iterator<Item = Option<Value>>) -> Option<Value> {
    let out: Vec<Value> = items.flatten().filter(|v| !is_empty(v)).collect();
    (!out.is_empty()).then_some(Value::List(out))
}

impl ValueTpl {
    /// The value to write, or `None` when there is nothing to write.
    fn eval(&self, env: &Env) -> Option<Value> {
        match self {
            ValueTpl::Const(v) => Some(v.clone()),
            ValueTpl::Template(t) => t.eval(env),
            ValueTpl::List(items) => list_value(items.iter().map(|i| i.eval(env))),
            ValueTpl::Map(entries) => Some(map_value(
                entries.len(),
                entries.iter().map(|(k, v)| (k, v.eval(env))),
            )),
        }
    }
}

fn lookup<'a>(slots: &'a [Option<Value>], path: &Path) -> Option<&'a Value> {
    let mut cur = slots.get(path.slot)?.as_ref()?;
    for key in &path.keys {
        cur = cur.as_map()?.get(key)?;
    }
    Some(cur)
}

/// Writes `value` at `keys` in `root`, creating (or replacing non-map) parents.
/// `hints` (one per key) remember where each key was found last time.
fn write(root: &mut Value, keys: &[Str], hints: &[Hint], value: Value) {
    let (Some((last, parents)), Some((last_hint, parent_hints))) =
        (keys.split_last(), hints.split_last())
    else {
        return;
    };
    let mut cur = root;
    for (key, hint) in parents.iter().zip(parent_hints) {
        if !matches!(cur, Value::Map(_)) {
            *cur = Value::Map(Map::new());
        }
        let Value::Map(map) = cur else { return };
        cur = map.entry_hinted(key, hint);
    }
    if !matches!(cur, Value::Map(_)) {
        *cur = Value::Map(Map::new());
    }
    if let Value::Map(map) = cur {
        map.insert_hinted(last, value, last_hint);
    }
}

fn remove(root: &mut Value, keys: &[Str]) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut cur = root;
    for key in parents {
        match cur.as_map_mut().and_then(|m| m.get_mut(key)) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(map) = cur.as_map_mut() {
        map.remove(last);
    }
}

struct Run<'p> {
    program: &'p Program,
    slots: Vec<Option<Value>>,
    now: Timestamp,
}

impl Run<'_> {
    fn env(&self) -> Env<'_> {
        Env::new(&self.slots, self.now)
    }

    /// Types and writes one value to `final` (and the stage layer when kept).
    fn assign(&mut self, target: &Target, value: Option<Value>, layer: Option<usize>) {
        let Some(value) = value else { return };
        if is_empty(&value) {
            return;
        }
        let scalar = !matches!(value, Value::List(_) | Value::Map(_));
        if scalar && self.program.ignored_values.contains(&value) {
            return;
        }
        let value = self
            .program
            .taxonomy
            .coerce(&target.dotted, target.ty, value, self.now);
        if let Some(slot) = layer
            && let Some(layer) = self.slots[slot].as_mut()
        {
            write(layer, &target.keys, &target.hints, value.clone());
        }
        if let Some(fin) = self.slots[FINAL].as_mut() {
            write(fin, &target.keys, &target.hints, value);
        }
    }

    fn action(&mut self, action: &Action, layer: Option<usize>) {
        if !passes(&action.filter, &self.env()) {
            return;
        }
        match &action.kind {
            ActionKind::Set(assigns) => {
                for a in assigns {
                    // Each write is visible to the next key of the same `set`.
                    let value = a.value.eval(&self.env());
                    self.assign(&a.target, value, layer);
                }
            }
            ActionKind::Translate {
                dictionary,
                mappings,
                fallback,
            } => {
                for (source, target) in mappings {
                    let hit = lookup(&self.slots, source).and_then(|v| match v {
                        Value::Str(s) => dictionary.get(s.as_str()),
                        Value::Null => None,
                        other => dictionary.get(&py_str(other)),
                    });
                    let value = hit.or(fallback.as_ref()).and_then(|t| t.eval(&self.env()));
                    self.assign(target, value, layer);
                }
            }
            ActionKind::Delete(paths) => {
                if let Some(fin) = self.slots[FINAL].as_mut() {
                    for keys in paths {
                        remove(fin, keys);
                    }
                }
            }
        }
    }
}

impl Program {
    pub fn run(&self, input: Map, now: Timestamp) -> Result<Value, Rejection> {
        let mut run = Run {
            program: self,
            slots: vec![None; self.slot_count],
            now,
        };
        // The final event starts as a copy of the input, with room for the top-level
        // keys the previous event ended with (no regrowth while fields are set).
        let mut fin = Map::with_capacity(input.len().max(self.final_width.get()));
        for (k, v) in input.iter() {
            fin.push_unique(k.clone(), v.clone());
        }
        run.slots[FINAL] = Some(Value::Map(fin));
        run.slots[ORIGINAL] = Some(Value::Map(input));
        let mut parsed = false;
        // Why parsing steps did not read the event, for the rejection message. Skips
        // are common on accepted events too, so they are bits, not strings.
        let mut skipped: u64 = 0;
        let mut no_input: u64 = 0;
        let mut failures: Vec<String> = Vec::new();

        for (index, step) in self.steps.iter().enumerate() {
            let bit = 1u64.checked_shl(index as u32).unwrap_or(0);
            if !passes(&step.filter, &run.env()) {
                skipped |= bit;
                continue;
            }
            match &step.kind {
                StepKind::External {
                    parser,
                    input,
                    output_field,
                    empty_layer_on_no_match,
                    is_parser,
                    external,
                } => {
                    let owned;
                    let value = match input {
                        Input::Path(p) => lookup(&run.slots, p),
                        Input::Template(t) => {
                            owned = t.eval(&run.env());
                            owned.as_ref()
                        }
                    };
                    let value = match value {
                        Some(v) if !matches!(v, Value::Null) && v.as_str() != Some("") => v,
                        _ => {
                            no_input |= bit;
                            continue;
                        }
                    };
                    match parser.parse(value, &run.env()) {
                        Ok(result) => {
                            let mut layer = Map::with_capacity(1);
                            layer.insert(output_field.clone(), result);
                            run.slots[step.slot] = Some(Value::Map(layer));
                            parsed |= *is_parser;
                        }
                        Err(failure) => {
                            if *empty_layer_on_no_match
                                && failure == Failure::NoMatch
                                && run.slots[step.slot].is_none()
                            {
                                run.slots[step.slot] = Some(Value::Map(Map::new()));
                            }
                            if *is_parser {
                                failures.push(match failure {
                                    Failure::NoMatch => {
                                        format!("{} ({external}): no match", step.name)
                                    }
                                    Failure::Invalid(why) => {
                                        format!("{} ({external}): {why}", step.name)
                                    }
                                });
                            }
                        }
                    }
                }
                StepKind::Actions {
                    actions,
                    keep_layer,
                } => {
                    let layer = keep_layer.then_some(step.slot);
                    if *keep_layer && run.slots[step.slot].is_none() {
                        run.slots[step.slot] = Some(Value::Map(Map::new()));
                    }
                    for action in actions {
                        run.action(action, layer);
                    }
                }
            }
        }

        if self.has_parsers && !parsed {
            return Err(self.rejection(skipped, no_input, failures));
        }
        let Some(Value::Map(mut event)) = run.slots[FINAL].take() else {
            return Err(Rejection {
                reason: "the final event is not a mapping".into(),
            });
        };
        enrich(&mut event);
        if event.len() != self.final_width.get() {
            self.final_width.set(event.len());
        }
        Ok(Value::Map(event))
    }
}

impl Program {
    fn rejection(&self, skipped: u64, no_input: u64, mut notes: Vec<String>) -> Rejection {
        for (index, step) in self.steps.iter().enumerate() {
            let StepKind::External {
                is_parser: true, ..
            } = step.kind
            else {
                continue;
            };
            let bit = 1u64.checked_shl(index as u32).unwrap_or(0);
            if skipped & bit != 0 {
                notes.push(format!("{}: skipped by its filter", step.name));
            } else if no_input & bit != 0 {
                notes.push(format!("{}: empty input", step.name));
            }
        }
        Rejection {
            reason: format!(
                "no parsing step could read the event ({})",
                notes.join("; ")
            ),
        }
    }
}
