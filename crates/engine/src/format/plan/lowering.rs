//! What the plan computes ahead for the writes of `set` actions: constants typed
//! once for their field, and the direct forms of simple templates.

use std::collections::HashMap;

use crate::datetime::Timestamp;
use crate::format::compile::Program;
use crate::format::run::{is_empty, list_value};
use crate::json::write_json;
use crate::taxonomy::FieldType;
use crate::template;
use crate::value::Value;

use super::assign::is_flat;
use super::registers::Reg;
use super::steps::{Direct, PTarget, PValue, Table};

/// The format's ignored values, split as the interpreter's `assign` compares them:
/// text equals only text (Value's equality), containers are never ignored.
pub(super) struct Ignored {
    pub(super) texts: Vec<Box<str>>,
    others: Vec<Value>,
}

impl Ignored {
    pub(super) fn of(values: &[Value]) -> Ignored {
        let mut ignored = Ignored {
            texts: Vec::new(),
            others: Vec::new(),
        };
        for v in values {
            match v {
                Value::Str(s) => ignored.texts.push(Box::from(s.as_str())),
                v => ignored.others.push(v.clone()),
            }
        }
        ignored
    }

    pub(super) fn text(&self, text: &str) -> bool {
        self.texts.iter().any(|i| **i == *text)
    }

    pub(super) fn value(&self, value: &Value) -> bool {
        match value {
            Value::Str(s) => self.text(s),
            Value::List(_) | Value::Map(_) => false,
            other => self.others.contains(other),
        }
    }
}

/// What the plan computes itself for the writes of `set` actions.
pub(super) struct Lowering<'p> {
    pub(super) program: &'p Program,
    pub(super) ignored: Ignored,
    pub(super) consts: Vec<(Value, Box<[u8]>)>,
}

impl Lowering<'_> {
    pub(super) fn direct(
        &mut self,
        regs: &[Reg],
        target: &PTarget,
        value: &PValue,
    ) -> Option<Direct> {
        let PValue::Tpl(Some(t)) = value else {
            return Some(Direct::Const(self.constant(target, value)?));
        };
        if let Some((cut, reg)) = t.cut() {
            return matches!(regs.get(reg as usize), Some(Reg::Layer { .. }))
                .then_some(Direct::Cut(cut, reg));
        }
        if let Some((op, reg)) = t.direct() {
            return match regs.get(reg as usize)? {
                Reg::Layer { .. } => Some(Direct::Text(op, reg)),
                Reg::Leaf { out, .. } if op == template::Direct::Copy => Some(Direct::Field(*out)),
                _ => None,
            };
        }
        if let Some((test, yes, no)) = t.choice() {
            let yes = self.constant(target, &PValue::Const(yes))?;
            let no = self.constant(target, &PValue::Const(no))?;
            return Some(Direct::Choice(Box::new(test), yes, no));
        }
        t.community_id()
            .map(|args| Direct::CommunityId(Box::new(args)))
    }

    /// A constant value typed for `target` once: `Some(None)` when it writes
    /// nothing, `None` when it is not a constant the plan types ahead.
    fn constant(&mut self, target: &PTarget, value: &PValue) -> Option<Option<u32>> {
        let v = match value {
            PValue::Const(v) => v.clone(),
            PValue::List(items) => {
                let items = items.iter().map(|i| match i {
                    PValue::Const(c) => Some(Some(c.clone())),
                    _ => None,
                });
                // As `PValue::eval` builds it.
                match list_value(items.collect::<Option<Vec<_>>>()?.into_iter()) {
                    Some(list) => list,
                    None => return Some(None),
                }
            }
            PValue::Tpl(_) | PValue::Map(_) => return None,
        };
        match v {
            // A date constant may be year-less text, which depends on the clock; a
            // mapping is typed field by field: both are left to `assign`.
            v if target.ty != FieldType::Date && is_flat(&v) => {
                if is_empty(&v) || self.ignored.value(&v) {
                    return Some(None);
                }
                let typed = self.program.taxonomy.coerce(
                    &target.dotted,
                    target.ty,
                    v,
                    Timestamp::default(),
                );
                if !is_flat(&typed) {
                    return None;
                }
                let mut json = Vec::new();
                write_json(&typed, &mut json);
                let index = u32::try_from(self.consts.len()).ok()?;
                self.consts.push((typed, json.into_boxed_slice()));
                Some(Some(index))
            }
            _ => None,
        }
    }

    /// A translation's outcomes typed for `target` once, when every one is a
    /// constant: per dictionary key, and for the fallback.
    pub(super) fn table(
        &mut self,
        target: &PTarget,
        dictionary: &HashMap<String, PValue>,
        fallback: Option<&PValue>,
    ) -> Option<Table> {
        let mut hits = rustc_hash::FxHashMap::default();
        for (key, value) in dictionary {
            hits.insert(key.clone(), self.constant(target, value)?);
        }
        let fallback = match fallback {
            Some(f) => self.constant(target, f)?,
            None => None,
        };
        Some(Table { hits, fallback })
    }
}
