//! Compiling a program into a plan, and the rules by which a format is refused
//! (left to the interpreter).

use std::collections::HashMap;

use crate::externals::{Names, Rebound};
use crate::format::compile::{
    Action, ActionKind, Input, ORIGINAL, Program, StepKind, Target, ValueTpl,
};
use crate::template::PathUse;
use crate::value::Str;

use super::Plan;
use super::enrichments::{Enrichments, plan_enrichments};
use super::layout::{Found, Layout, ROOT};
use super::lowering::{Ignored, Lowering};
use super::registers::{Binder, Reg};
use super::steps::{Direct, Named, PAction, PAssign, PInput, PKind, PStep, PValue};

impl Plan {
    /// The plan of `program`, or why not, when the program uses something the plan
    /// does not mirror: a whole layer or a mutating method in a template (or in a
    /// parser's templated property), a path through a field, a mapping written to a
    /// field, fields that overlap, or a `file.path` (split into name and directory
    /// by the enrichments). A stage layer that is read is a copy of the fields the
    /// stage writes (`Reg::Stage`).
    pub(crate) fn compile(program: &Program) -> Result<Plan, &'static str> {
        // Produced layers are tracked in a 64-bit set.
        if program.slot_count > 64 {
            return Err("more than 64 layers");
        }
        let mut layout = Layout::new();
        let message = layout.insert(&["message"]).ok_or("no message field")?;
        // Destinations first, in program order, then what the enrichments add.
        for step in &program.steps {
            match &step.kind {
                StepKind::External { .. } => {}
                StepKind::Actions { actions, .. } => {
                    for (target, value) in actions.iter().flat_map(targets) {
                        let keys: Vec<&str> = target.keys.iter().map(Str::as_str).collect();
                        let node = layout
                            .insert(&keys)
                            .ok_or("two destinations overlap (one is inside the other)")?;
                        if value.is_some_and(nests) {
                            layout.nested.push(node);
                        }
                    }
                }
            }
        }
        let enrich_plan =
            plan_enrichments(&mut layout).ok_or("an enrichment reads an object or a file path")?;
        let slots = layout.number();
        let enrichments = enrich_plan.resolve(&layout);

        let mut layers = vec![ORIGINAL];
        layers.extend(program.steps.iter().filter_map(|s| match s.kind {
            StepKind::External { .. } => Some(s.slot),
            StepKind::Actions { .. } => None,
        }));
        // The stage layers some template names (a step name may repeat: one layer).
        let mut stages = Vec::new();
        for step in &program.steps {
            if let StepKind::Actions {
                keep_layer: true, ..
            } = step.kind
                && !stages.contains(&step.slot)
            {
                if layers.contains(&step.slot) {
                    return Err("a parser and a stage whose layer is read share a name");
                }
                stages.push(step.slot);
            }
        }
        let mut binder = Binder {
            layout: &layout,
            regs: Vec::new(),
            index: HashMap::new(),
            layers,
            stages,
            stage: None,
            slots,
        };
        let mut lowering = Lowering {
            program,
            ignored: Ignored::of(&program.ignored_values),
            consts: Vec::new(),
        };
        let mut steps = Vec::with_capacity(program.steps.len());
        for (index, step) in program.steps.iter().enumerate() {
            let filter = binder.filter(&step.filter).ok_or(REBIND)?;
            steps.push(match &step.kind {
                StepKind::External { input, parser, .. } => PStep::External {
                    step: index,
                    rebound: match parser
                        .rebind(&mut |slot, keys, usage| binder.bind(slot, keys, usage))
                    {
                        Rebound::Unchanged => None,
                        Rebound::Copy(p) => Some(p),
                        Rebound::Refused => return Err(PROPERTY),
                    },
                    filter,
                    input: match input {
                        Input::Path(p) => PInput::Reg(
                            binder
                                .bind(p.slot, &p.keys, PathUse::Value)
                                .ok_or("a parser reads a whole layer")?,
                        ),
                        Input::Template(t) => PInput::Tpl(binder.tpl(t).ok_or(REBIND)?),
                    },
                    regs: Vec::new(),
                    columns: None,
                    named: None,
                },
                StepKind::Actions { actions, .. } => {
                    binder.stage = binder
                        .stages
                        .iter()
                        .position(|&s| s == step.slot)
                        .map(|s| s as u32);
                    PStep::Actions {
                        filter,
                        stage: binder.stage,
                        actions: actions
                            .iter()
                            .map(|a| plan_action(&mut binder, &mut lowering, a))
                            .collect::<Option<_>>()
                            .ok_or(
                                "an action reads a whole layer or an object, or writes a mapping",
                            )?,
                    }
                }
            });
            binder.stage = None;
        }
        let stages = binder.stages.len() as u32;
        let regs = binder.regs;
        // Each layer's registers, and the column shortcut where every one is a column.
        for pstep in &mut steps {
            let PStep::External {
                step,
                regs: own,
                columns,
                named,
                ..
            } = pstep
            else {
                continue;
            };
            let step = &program.steps[*step];
            let StepKind::External {
                parser,
                output_field,
                ..
            } = &step.kind
            else {
                continue;
            };
            own.extend(regs.iter().enumerate().filter_map(|(i, r)| match r {
                Reg::Layer { slot, .. } if *slot == step.slot => Some(i as u32),
                _ => None,
            }));
            *columns = parser.field_names().and_then(|names| {
                let mut by_column = Vec::with_capacity(own.len());
                for &r in own.iter() {
                    let Reg::Layer { keys, .. } = &regs[r as usize] else {
                        return None;
                    };
                    let [field, name] = keys.as_slice() else {
                        return None;
                    };
                    let column = names.iter().position(|n| n.as_ref() == Some(name));
                    match column {
                        Some(c) if field == output_field => by_column.push((c as u32, r)),
                        _ => return None,
                    }
                }
                by_column.sort_unstable();
                Some(by_column)
            });
            *named = (|| {
                // A field read both as a value and for presence has two registers.
                let mut names: Vec<Str> = Vec::with_capacity(own.len());
                let mut by_reg = Vec::with_capacity(own.len());
                for &r in own.iter() {
                    let Reg::Layer { keys, .. } = &regs[r as usize] else {
                        return None;
                    };
                    let [field, name] = keys.as_slice() else {
                        return None;
                    };
                    if field != output_field {
                        return None;
                    }
                    let at = names.iter().position(|n| n == name).unwrap_or_else(|| {
                        names.push(name.clone());
                        names.len() - 1
                    });
                    by_reg.push((u32::try_from(at).ok()?, r));
                }
                Some(Box::new(Named {
                    names: Names::new(names),
                    regs: by_reg,
                }))
            })();
        }
        let width_hint = layout.nodes.iter().map(|n| n.key_json.len() + 24).sum();
        // The event is only a message: `original.message` is its text, another key
        // of `original` or a key below the message is Undefined, anything deeper is
        // an error (Absent, which every register starts as).
        let originals = regs
            .iter()
            .enumerate()
            .filter_map(|(i, reg)| match reg {
                Reg::Layer {
                    slot: ORIGINAL,
                    keys,
                    ..
                } => match keys.as_slice() {
                    [key] => Some((i as u32, key == "message")),
                    [key, _] if key == "message" => Some((i as u32, false)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let fixed = fixed_slots(&steps, slots as usize, layout.out(message), &enrichments);
        static PLANS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Plan {
            fixed,
            originals,
            id: PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            consts: lowering.consts,
            ignored: lowering.ignored,
            width_hint,
            regs,
            steps,
            message: layout.out(message),
            layout,
            slots,
            stages,
            enrichments,
        })
    }
}

/// Per slot, the constant written to it when every write to it writes that same
/// constant; `None` when some write may put anything else there. The message and
/// whatever a translation or an enrichment writes are never fixed.
fn fixed_slots(
    steps: &[PStep],
    slots: usize,
    message: u32,
    enrichments: &Enrichments,
) -> Vec<Option<u32>> {
    // Per slot: not written yet, written only with this constant, or anything.
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        Nothing,
        Only(u32),
        Any,
    }
    let mut seen = vec![Seen::Nothing; slots];
    let mut any = |slot: u32| seen[slot as usize] = Seen::Any;
    any(message);
    for (to, _) in &enrichments.related {
        any(*to);
    }
    for &(_, address, _, _) in &enrichments.addresses {
        any(address);
    }
    for &(_, to) in &enrichments.copies {
        any(to);
    }
    for step in steps {
        let PStep::Actions { actions, .. } = step else {
            continue;
        };
        for action in actions {
            match &action.kind {
                PKind::Set(assigns) => {
                    for assign in assigns {
                        let slot = &mut seen[assign.target.out as usize];
                        *slot = match (assign.direct.as_ref(), *slot) {
                            // Writes nothing.
                            (Some(Direct::Const(None)), s) => s,
                            (Some(Direct::Const(Some(i))), Seen::Nothing) => Seen::Only(*i),
                            (Some(Direct::Const(Some(i))), Seen::Only(j)) if *i == j => {
                                Seen::Only(j)
                            }
                            _ => Seen::Any,
                        };
                    }
                }
                PKind::Translate { mappings, .. } => {
                    for (_, target, _) in mappings {
                        seen[target.out as usize] = Seen::Any;
                    }
                }
                PKind::Delete(_) => {}
            }
        }
    }
    seen.into_iter()
        .map(|s| match s {
            Seen::Only(i) => Some(i),
            Seen::Nothing | Seen::Any => None,
        })
        .collect()
}

const REBIND: &str = "a template reads a whole layer or an object of the event as a value";
const PROPERTY: &str =
    "a parser's templated property reads a whole layer or an object of the event as a value";

/// The destinations of an action, with the value a `set` writes there.
fn targets(action: &Action) -> Vec<(&Target, Option<&ValueTpl>)> {
    match &action.kind {
        ActionKind::Set(assigns) => assigns
            .iter()
            .map(|a| (&a.target, Some(&a.value)))
            .collect(),
        ActionKind::Translate { mappings, .. } => mappings.iter().map(|(_, t)| (t, None)).collect(),
        ActionKind::Delete(_) => Vec::new(),
    }
}

/// Whether a value written by `set` is or holds a mapping.
pub(super) fn nests(value: &ValueTpl) -> bool {
    match value {
        ValueTpl::Map(_) => true,
        ValueTpl::List(items) => items.iter().any(nests),
        ValueTpl::Const(_) | ValueTpl::Template(_) => false,
    }
}

fn plan_action(binder: &mut Binder, lowering: &mut Lowering, action: &Action) -> Option<PAction> {
    let filter = binder.filter(&action.filter)?;
    let kind = match &action.kind {
        ActionKind::Set(assigns) => PKind::Set(
            assigns
                .iter()
                .map(|a| {
                    let target = binder.target(&a.target)?;
                    let value = binder.value(&a.value)?;
                    let direct = lowering.direct(&binder.regs, &target, &value);
                    Some(PAssign {
                        target,
                        value,
                        direct,
                    })
                })
                .collect::<Option<_>>()?,
        ),
        ActionKind::Translate {
            dictionary,
            mappings,
            fallback,
        } => {
            let dictionary: HashMap<String, PValue> = dictionary
                .iter()
                .map(|(k, v)| Some((k.clone(), binder.value(v)?)))
                .collect::<Option<_>>()?;
            let fallback = match fallback {
                Some(f) => Some(binder.value(f)?),
                None => None,
            };
            let mappings = mappings
                .iter()
                .map(|(source, target)| {
                    let target = binder.target(target)?;
                    let table = lowering.table(&target, &dictionary, fallback.as_ref());
                    Some((
                        binder.bind(source.slot, &source.keys, PathUse::Value)?,
                        target,
                        table,
                    ))
                })
                .collect::<Option<_>>()?;
            PKind::Translate {
                dictionary,
                mappings,
                fallback,
            }
        }
        ActionKind::Delete(paths) => PKind::Delete(
            paths
                .iter()
                .map(|keys| match binder.layout.find(keys) {
                    Found::Leaf(n) | Found::Object(n) if n != ROOT => {
                        let parent = match binder.layout.find(&keys[..keys.len() - 1]) {
                            Found::Object(p) if p != ROOT => Some(binder.layout.nodes[p].range),
                            _ => None,
                        };
                        Some(Some((binder.layout.nodes[n].range, parent)))
                    }
                    // Inside a field that may hold a mapping: not modelled.
                    Found::ThroughLeaf(n) if binder.layout.nests(n) => None,
                    Found::Missing { .. } | Found::ThroughLeaf(_) => Some(None),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
    };
    Some(PAction { filter, kind })
}
