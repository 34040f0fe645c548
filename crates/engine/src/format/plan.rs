//! A second, faster executor for the formats whose shape allows it: the program's
//! steps run over a flat register file and a flat table of output fields instead of
//! layer maps and a nested event, and the event is serialized straight from that
//! table.
//!
//! Everything is resolved when the format loads: every layer path a template reads
//! becomes a register, every destination an output slot, every enrichment rule the
//! slots it reads and writes. The interpreter in `run.rs` stays the reference: the
//! plan only accepts formats whose every construct it can mirror exactly (see
//! [`Plan::compile`]), and hands an event back ([`Planned::Fallback`]) whenever a
//! value takes a shape it does not model (a mapping written to a field, an event that
//! is rejected). Tests compare both executors on every format and corpus sample.

use std::cell::OnceCell;
use std::collections::HashMap;

use crate::append::{append, append_quoted};
use crate::datetime::{self, Timestamp};
use crate::enrich;
use crate::externals::{Failure, Names, Parser, Rebound};
use crate::json::{self, write_json, write_json_str};
use crate::network;
use crate::scan;
use crate::taxonomy::FieldType;
use crate::template::{
    self, Bound, Env, PathUse, Registers, Template, TextRegisters, TextTest, may_be_container,
    py_str, read_path,
};
use crate::value::{Hint, Map, Str, Value};

use super::compile::{
    Action, ActionKind, FINAL, Input, ORIGINAL, Program, StepKind, Target, Tpl, ValueTpl,
};
use super::run::{is_empty, list_value, map_value};

/// What the plan did with one event.
pub(crate) enum Planned {
    /// The event was normalized and appended to the output as one JSON object.
    Written,
    /// The interpreter must run this event (output untouched).
    Fallback,
}

/// Output slots `lo..hi`: an object of the event and everything below it.
#[derive(Debug, Clone, Copy)]
struct Range {
    lo: u32,
    hi: u32,
}

/// What a register reads.
enum Reg {
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

/// Bytes `lo..hi` of the event's message.
#[derive(Debug, Clone, Copy)]
struct Span {
    lo: u32,
    hi: u32,
}

impl Span {
    fn of(self, message: &str) -> &str {
        &message[self.lo as usize..self.hi as usize]
    }
}

/// A register's value while an event runs (layer registers only).
#[derive(Debug, Clone, Copy)]
enum Held {
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
enum Out {
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
    fn value(self, plan: &Plan, state: &State, message: &str) -> Value {
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

/// A template of the plan; `None` stands for a template that failed to compile
/// (lenient loading), which fails every time.
type PTpl = Option<Template>;

enum PValue {
    Const(Value),
    Tpl(PTpl),
    List(Vec<PValue>),
    Map(Vec<(Str, PValue)>),
}

struct PTarget {
    out: u32,
    /// The field's slot in the copy of the stage writing it, when that stage's layer
    /// is read (see `Reg::Stage`).
    mirror: Option<u32>,
    dotted: String,
    ty: FieldType,
    /// The field may hold a mapping (see `Layout::nested`).
    nested: bool,
}

/// A translation's outcomes typed for one target (see [`Direct::Const`]).
struct Table {
    /// Keyed by the dictionary's own keys, fixed at load: a fast hash is safe.
    hits: rustc_hash::FxHashMap<String, Option<u32>>,
    fallback: Option<u32>,
}

/// A write whose value the plan computes without the evaluator when it can.
enum Direct {
    /// A constant, typed when the format loaded; `None` when it writes nothing
    /// (empty or an ignored value).
    Const(Option<u32>),
    /// A template that reads one register, applied by the plan itself when the
    /// register holds text of the message (see [`template::Direct`]).
    Text(template::Direct, u32),
    /// A piece of a register's text ([`template::Cut`]), likewise.
    Cut(template::Cut, u32),
    /// `{{ final.x }}`: a copy of output slot `.0`, kept as it is when it holds a
    /// number for a number field or text of the message.
    Field(u32),
    /// `{{ a if <text test> else b }}` with constants typed as [`Direct::Const`].
    Choice(Box<TextTest>, Option<u32>, Option<u32>),
    /// `community_id` over registers, computed from their text and numbers.
    CommunityId(Box<[template::RegArg; 5]>),
}

struct PAssign {
    target: PTarget,
    value: PValue,
    direct: Option<Direct>,
}

enum PKind {
    Set(Vec<PAssign>),
    Translate {
        dictionary: HashMap<String, PValue>,
        /// Source register, target, and the typed outcomes when all are constants.
        mappings: Vec<(u32, PTarget, Option<Table>)>,
        fallback: Option<PValue>,
    },
    /// Output ranges to clear (`None`: the path names nothing the plan writes).
    ///
    /// With each, the range of the object holding it (`None`: the event), which the
    /// interpreter keeps even when the delete leaves it empty.
    Delete(Vec<Option<(Range, Option<Range>)>>),
}

/// A filter, and its direct form when it only tests register text.
struct PFilter {
    tpl: PTpl,
    text: Option<TextTest>,
}

struct PAction {
    filter: Option<PFilter>,
    kind: PKind,
}

enum PInput {
    Reg(u32),
    Tpl(PTpl),
}

enum PStep {
    External {
        /// Index of the step in the program (parser, output field, flags).
        step: usize,
        /// The parser with its templated properties reading registers, if it has any.
        rebound: Option<Box<dyn Parser>>,
        filter: Option<PFilter>,
        input: PInput,
        /// The layer's registers (all `Reg::Layer` of its slot).
        regs: Vec<u32>,
        /// (column position, register) of every register of the layer, when the
        /// parser splits into named fields and each register reads one of them (a
        /// field read both as a value and for presence has two registers).
        columns: Option<Vec<(u32, u32)>>,
        /// When every register of the layer reads a field of the output (`[output
        /// field, name]`): the names, and each register with its name's position.
        /// The fields then go to their registers as the parser gives them (spans
        /// from `Parser::find_spans`, or the values of an output mapping).
        named: Option<Box<Named>>,
    },
    Actions {
        filter: Option<PFilter>,
        /// The stage's number when its layer is read (`Reg::Stage`).
        stage: Option<u32>,
        actions: Vec<PAction>,
    },
}

/// The fields of a parser's output that a layer's registers read.
struct Named {
    names: Names,
    /// Each register, after the position of its name.
    regs: Vec<(u32, u32)>,
}

/// One node of the output layout.
struct Node {
    /// `"key":`, escaped once.
    key_json: Box<[u8]>,
    key: Str,
    kind: NodeKind,
    range: Range,
}

enum NodeKind {
    Leaf(u32),
    Object(Vec<usize>),
}

/// The output layout: the final event's objects and fields, in first-written order.
struct Layout {
    nodes: Vec<Node>,
    /// Fields a `set` writes a mapping to: the value is written whole, and nothing
    /// reads, deletes or enriches inside it.
    nested: Vec<usize>,
}

/// Where a dotted path lands in the layout.
enum Found {
    Leaf(usize),
    Object(usize),
    /// Key `depth` is absent below node `parent` (`None`: the root).
    Missing {
        parent: Option<usize>,
        depth: usize,
    },
    /// The path runs through a field (node `.0`).
    ThroughLeaf(usize),
}

const ROOT: usize = 0;

impl Layout {
    fn new() -> Layout {
        Layout {
            nested: Vec::new(),
            nodes: vec![Node {
                key_json: Box::default(),
                key: Str::default(),
                kind: NodeKind::Object(Vec::new()),
                range: Range { lo: 0, hi: 0 },
            }],
        }
    }

    fn nests(&self, node: usize) -> bool {
        self.nested.contains(&node)
    }

    fn child(&self, node: usize, key: &str) -> Option<usize> {
        match &self.nodes[node].kind {
            NodeKind::Object(children) => children
                .iter()
                .copied()
                .find(|&c| self.nodes[c].key.as_str() == key),
            NodeKind::Leaf(_) => None,
        }
    }

    /// Adds a field at `keys`; `None` when it would overlap another field (a path
    /// through a field, or a field where an object is).
    fn insert(&mut self, keys: &[&str]) -> Option<usize> {
        let (last, parents) = keys.split_last()?;
        let mut node = ROOT;
        for key in parents {
            node = match self.child(node, key) {
                Some(c) if matches!(self.nodes[c].kind, NodeKind::Object(_)) => c,
                Some(_) => return None,
                None => self.push(node, key, NodeKind::Object(Vec::new())),
            };
        }
        match self.child(node, last) {
            Some(c) if matches!(self.nodes[c].kind, NodeKind::Leaf(_)) => Some(c),
            Some(_) => None,
            None => Some(self.push(node, last, NodeKind::Leaf(0))),
        }
    }

    fn push(&mut self, parent: usize, key: &str, kind: NodeKind) -> usize {
        let mut key_json = Vec::with_capacity(key.len() + 3);
        crate::json::write_json_str(key, &mut key_json);
        key_json.push(b':');
        let id = self.nodes.len();
        self.nodes.push(Node {
            key_json: key_json.into_boxed_slice(),
            key: Str::from(key),
            kind,
            range: Range { lo: 0, hi: 0 },
        });
        if let NodeKind::Object(children) = &mut self.nodes[parent].kind {
            children.push(id);
        }
        id
    }

    fn find(&self, keys: &[impl AsRef<str>]) -> Found {
        let mut node = ROOT;
        for (depth, key) in keys.iter().enumerate() {
            if let NodeKind::Leaf(_) = self.nodes[node].kind {
                return Found::ThroughLeaf(node);
            }
            match self.child(node, key.as_ref()) {
                Some(c) => node = c,
                None => {
                    return Found::Missing {
                        parent: (node != ROOT).then_some(node),
                        depth,
                    };
                }
            }
        }
        match self.nodes[node].kind {
            NodeKind::Leaf(_) => Found::Leaf(node),
            NodeKind::Object(_) => Found::Object(node),
        }
    }

    /// Numbers the fields depth-first, so that every object covers a contiguous
    /// range of slots. Returns the number of slots.
    fn number(&mut self) -> u32 {
        fn walk(nodes: &mut [Node], id: usize, next: &mut u32) {
            let lo = *next;
            let children = match &mut nodes[id].kind {
                NodeKind::Leaf(out) => {
                    *out = *next;
                    *next += 1;
                    Vec::new()
                }
                NodeKind::Object(children) => children.clone(),
            };
            for c in children {
                walk(nodes, c, next);
            }
            nodes[id].range = Range { lo, hi: *next };
        }
        let mut next = 0;
        walk(&mut self.nodes, ROOT, &mut next);
        next
    }

    fn out(&self, node: usize) -> u32 {
        match self.nodes[node].kind {
            NodeKind::Leaf(out) => out,
            NodeKind::Object(_) => u32::MAX,
        }
    }
}

/// The enrichment rules, resolved to output slots.
struct Enrichments {
    /// `related.<key>` slot and the slots it collects, per key.
    related: Vec<(u32, Vec<u32>)>,
    /// Object range, `address` slot, then `domain` and `ip` slots.
    addresses: Vec<(Range, u32, Option<u32>, Option<u32>)>,
    /// `(from, to)`: copied when `to` is absent.
    copies: Vec<(u32, u32)>,
    /// `(from, to)`: copied whenever `from` is set.
    overwrites: Vec<(u32, u32)>,
    /// Slots of [`enrich::SHARED_ONLY_SOURCES`]: an event with any of them set
    /// goes to the interpreter, whose enrichment has those rules.
    shared_only: Vec<u32>,
}

pub(crate) struct Plan {
    /// The registers of `original`, and whether each is the message itself (else it
    /// is Undefined).
    originals: Vec<(u32, bool)>,
    /// Tells this plan's skeletons from other plans' in the per-thread cache.
    id: u64,
    /// Constant values written to fields, typed for their field, and their JSON.
    consts: Vec<(Value, Box<[u8]>)>,
    ignored: Ignored,
    /// Room reserved in the output per event.
    width_hint: usize,
    regs: Vec<Reg>,
    steps: Vec<PStep>,
    layout: Layout,
    slots: u32,
    /// How many stage layers are read (each a copy of the slots).
    stages: u32,
    message: u32,
    enrichments: Enrichments,
    /// Per slot, the constant every write to it is (see [`fixed_slots`]): the
    /// skeletons carry its JSON, so the event writer skips it.
    fixed: Vec<Option<u32>>,
}

/// Builds the plan's registers while templates are rebound.
struct Binder<'l> {
    layout: &'l Layout,
    regs: Vec<Reg>,
    index: HashMap<(usize, Vec<Str>, bool), u32>,
    /// Slots of layers produced by steps (and `original`).
    layers: Vec<usize>,
    /// Slots of the action stages whose layers are read, by stage number.
    stages: Vec<usize>,
    /// The stage whose actions are being planned, if its layer is read.
    stage: Option<u32>,
    /// Output slots of the event (the size of one stage's copy of them).
    slots: u32,
}

impl Binder<'_> {
    fn parent_range(&self, parent: Option<usize>) -> Option<Range> {
        parent.map(|p| self.layout.nodes[p].range)
    }

    fn bind(&mut self, slot: usize, keys: &[Str], usage: PathUse) -> Option<u32> {
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

    fn tpl(&mut self, t: &Tpl) -> Option<PTpl> {
        match t {
            Tpl::Ok(t) => {
                Some(Some(t.rebind(&mut |slot, keys, usage| {
                    self.bind(slot, keys, usage)
                })?))
            }
            Tpl::Broken => Some(None),
        }
    }

    fn filter(&mut self, f: &Option<Tpl>) -> Option<Option<PFilter>> {
        match f {
            Some(t) => {
                let tpl = self.tpl(t)?;
                let text = tpl.as_ref().and_then(Template::text_test);
                Some(Some(PFilter { tpl, text }))
            }
            None => Some(None),
        }
    }

    fn value(&mut self, v: &ValueTpl) -> Option<PValue> {
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

    fn target(&self, t: &Target) -> Option<PTarget> {
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
    for &(_, to) in enrichments.copies.iter().chain(&enrichments.overwrites) {
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
fn nests(value: &ValueTpl) -> bool {
    match value {
        ValueTpl::Map(_) => true,
        ValueTpl::List(items) => items.iter().any(nests),
        ValueTpl::Const(_) | ValueTpl::Template(_) => false,
    }
}

/// The format's ignored values, split as the interpreter's `assign` compares them:
/// text equals only text (Value's equality), containers are never ignored.
struct Ignored {
    texts: Vec<Box<str>>,
    others: Vec<Value>,
}

impl Ignored {
    fn of(values: &[Value]) -> Ignored {
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

    fn text(&self, text: &str) -> bool {
        self.texts.iter().any(|i| **i == *text)
    }

    fn value(&self, value: &Value) -> bool {
        match value {
            Value::Str(s) => self.text(s),
            Value::List(_) | Value::Map(_) => false,
            other => self.others.contains(other),
        }
    }
}

/// What the plan computes itself for the writes of `set` actions.
struct Lowering<'p> {
    program: &'p Program,
    ignored: Ignored,
    consts: Vec<(Value, Box<[u8]>)>,
}

impl Lowering<'_> {
    fn direct(&mut self, regs: &[Reg], target: &PTarget, value: &PValue) -> Option<Direct> {
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
    fn table(
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

/// The enrichment rules as layout nodes, before slots are numbered.
struct EnrichNodes {
    related: Vec<(usize, Vec<usize>)>,
    addresses: Vec<(usize, usize, Option<usize>, Option<usize>)>,
    copies: Vec<(usize, usize)>,
    overwrites: Vec<(usize, usize)>,
    shared_only: Vec<usize>,
}

/// Adds the fields the enrichments may write to the layout, or refuses when a
/// rule would read an object (the plan only holds fields) or split a file path.
fn plan_enrichments(layout: &mut Layout) -> Option<EnrichNodes> {
    if !matches!(layout.find(&["file", "path"]), Found::Missing { .. }) {
        return None;
    }
    let leaf = |layout: &Layout, path: &[&str]| -> Option<Option<usize>> {
        match layout.find(path) {
            Found::Leaf(n) => Some(Some(n)),
            Found::ThroughLeaf(n) if layout.nests(n) => None,
            Found::Missing { .. } | Found::ThroughLeaf(_) => Some(None),
            Found::Object(_) => None,
        }
    };
    let mut related = Vec::new();
    for (key, paths) in enrich::related_sources() {
        let mut sources = Vec::new();
        for path in &paths {
            sources.extend(leaf(layout, path)?);
        }
        if !sources.is_empty() {
            related.push((layout.insert(&["related", key])?, sources));
        }
    }
    let mut addresses = Vec::new();
    for side in enrich::ADDRESS_SIDES {
        let domain = leaf(layout, &[side, "domain"])?;
        let ip = leaf(layout, &[side, "ip"])?;
        if domain.is_some() || ip.is_some() {
            let address = layout.insert(&[side, "address"])?;
            let Found::Object(object) = layout.find(&[side]) else {
                return None;
            };
            addresses.push((object, address, domain, ip));
        }
    }
    let mut copies = Vec::new();
    for (from, to) in enrich::COPIES {
        if let Some(from) = leaf(layout, from)? {
            copies.push((from, layout.insert(to)?));
        }
    }
    let mut overwrites = Vec::new();
    for (from, to) in enrich::OVERWRITES {
        if let Some(from) = leaf(layout, from)? {
            overwrites.push((from, layout.insert(to)?));
        }
    }
    let mut shared_only = Vec::new();
    for path in enrich::SHARED_ONLY_SOURCES {
        shared_only.extend(leaf(layout, path)?);
    }
    Some(EnrichNodes {
        related,
        addresses,
        copies,
        overwrites,
        shared_only,
    })
}

impl EnrichNodes {
    fn resolve(self, layout: &Layout) -> Enrichments {
        let out = |n: usize| layout.out(n);
        Enrichments {
            related: self
                .related
                .into_iter()
                .map(|(to, from)| (out(to), from.into_iter().map(out).collect()))
                .collect(),
            addresses: self
                .addresses
                .into_iter()
                .map(|(object, address, domain, ip)| {
                    (
                        layout.nodes[object].range,
                        out(address),
                        domain.map(out),
                        ip.map(out),
                    )
                })
                .collect(),
            copies: self
                .copies
                .into_iter()
                .map(|(from, to)| (out(from), out(to)))
                .collect(),
            overwrites: self
                .overwrites
                .into_iter()
                .map(|(from, to)| (out(from), out(to)))
                .collect(),
            shared_only: self.shared_only.into_iter().map(out).collect(),
        }
    }
}

/// One event's registers and output fields. The buffers are kept per thread and
/// reused from event to event: registers and fields are small copies, the values
/// they point to live in `values` until the next event.
#[derive(Default)]
struct State {
    held: Vec<Held>,
    outs: Vec<Out>,
    values: Vec<Value>,
    /// JSON text of fields (`Out::Json`).
    json: Vec<u8>,
    /// Whether the message has a comma.
    comma: bool,
    /// Whether the message needs no JSON escape: then neither do its spans, which
    /// are copied as they are.
    plain: bool,
    /// Fields of a split record, as byte ranges of its text.
    spans: Vec<(u32, u32)>,
    /// Fields split from text other than the message, before they go to registers.
    fields: Vec<(u32, Option<Value>)>,
    /// Bit `i` set: slot `i` holds a value (slots below 128; see [`Skeleton`]).
    shape: u128,
    /// The last epoch dates written: an event often writes one twice (a flow's
    /// start is also its `@timestamp`).
    epochs: Epochs,
    /// Which address objects exist, while the enrichments run.
    sides: Vec<bool>,
    /// Message text made a value because a template read it, per register and
    /// per field; `cached` tells whether any is set.
    held_cache: Vec<OnceCell<Value>>,
    out_cache: Vec<OnceCell<Value>>,
    cached: std::cell::Cell<bool>,
    /// Each read stage layer's copy of the output fields, holding what the stage
    /// wrote (`Reg::Stage`), the values made of them when read, and bit `i` set
    /// once stage `i` ran (its layer exists).
    mirrors: Vec<Out>,
    mirror_cache: Vec<OnceCell<Value>>,
    ran: u64,
    /// Field values found by name (`Parser::find_spans`).
    found: Vec<Option<(u32, u32)>>,
    skeletons: Vec<Skeleton>,
    /// The skeleton replaced next when all are taken.
    victim: usize,
}

thread_local! {
    static STATE: std::cell::RefCell<State> = std::cell::RefCell::default();
}

impl State {
    fn reset(&mut self, regs: usize, slots: usize, mirrors: usize) {
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
        self.shape = 0;
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
    fn hold(&mut self, reg: u32, held: Held) {
        self.held[reg as usize] = held;
        if self.cached.get() {
            self.held_cache[reg as usize].take();
        }
    }

    /// Keeps `value` for this event; `Held::Value` and `Out::Value` point to it.
    fn keep(&mut self, value: Value) -> u32 {
        self.values.push(value);
        (self.values.len() - 1) as u32
    }

    #[inline(always)]
    fn set(&mut self, slot: u32, out: Out) {
        self.outs[slot as usize] = out;
        if let Some(bit) = 1u128.checked_shl(slot) {
            if let Out::None = out {
                self.shape &= !bit;
            } else {
                self.shape |= bit;
            }
        }
        if self.cached.get() {
            self.out_cache[slot as usize].take();
        }
    }

    /// Writes a field, and the copy of the stage writing it when there is one.
    #[inline(always)]
    fn write(&mut self, target: &PTarget, out: Out) {
        self.set(target.out, out);
        if let Some(m) = target.mirror {
            self.mirrors[m as usize] = out;
            if self.cached.get() {
                self.mirror_cache[m as usize].take();
            }
        }
    }

    /// Whether a slot of stage `stage`'s copy of `range` holds a value.
    fn mirror_any(&self, stage: u32, slots: u32, range: Range) -> bool {
        let base = (stage * slots) as usize;
        self.mirrors[base + range.lo as usize..base + range.hi as usize]
            .iter()
            .any(|o| !matches!(o, Out::None))
    }

    /// Whether the object `parent` exists in stage `stage`'s layer (`None`: the
    /// layer itself, which exists once the stage ran).
    fn mirror_exists(&self, stage: u32, slots: u32, parent: Option<Range>) -> bool {
        self.ran & 1u64.checked_shl(stage).unwrap_or(0) != 0
            && parent.is_none_or(|r| self.mirror_any(stage, slots, r))
    }

    fn put(&mut self, slot: u32, value: Value) {
        let i = self.keep(value);
        self.set(slot, Out::Value(i));
    }

    fn clear(&mut self, range: Range) {
        for slot in range.lo..range.hi {
            self.set(slot, Out::None);
        }
    }

    fn is_set(&self, slot: u32) -> bool {
        !matches!(self.outs[slot as usize], Out::None)
    }

    /// Whether any slot of `range` holds a value.
    fn any(&self, range: Range) -> bool {
        if self.outs.len() <= 128 {
            return self.shape & bits(range) != 0;
        }
        self.outs[range.lo as usize..range.hi as usize]
            .iter()
            .any(|o| !matches!(o, Out::None))
    }

    fn exists(&self, parent: Option<Range>) -> bool {
        parent.is_none_or(|r| self.any(r))
    }
}

/// The registers and fields as values, made from message text when first read.
struct View<'a> {
    plan: &'a Plan,
    state: &'a State,
    message: &'a str,
}

static PRESENT: Value = Value::Null;

impl<'a> View<'a> {
    fn out(&self, slot: u32) -> Option<&'a Value> {
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
    fn text(&self, reg: u32) -> Option<&'a str> {
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
enum Scalar<'a> {
    Undefined,
    Text(&'a str),
    Int(i64),
    Value(&'a Value),
}

impl Scalar<'_> {
    fn ip(self) -> Option<std::net::IpAddr> {
        match self {
            Scalar::Text(t) => t.parse().ok(),
            Scalar::Value(v) => v.as_str()?.parse().ok(),
            Scalar::Int(_) | Scalar::Undefined => None,
        }
    }

    fn port(self) -> Option<u16> {
        match self {
            Scalar::Text(t) => network::port_of_text(t),
            Scalar::Int(i) => network::port_of(&Value::Int(i)),
            Scalar::Value(v) => network::port_of(v),
            Scalar::Undefined => None,
        }
    }

    fn protocol(self) -> Option<u8> {
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
    fn scalar(&self, reg: u32) -> Option<Scalar<'a>> {
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
fn copied_text(t: &PTpl, state: &State, message: &str) -> Option<u32> {
    let (template::Direct::Copy, r) = t.as_ref()?.direct()? else {
        return None;
    };
    match state.held.get(r as usize)? {
        Held::Text(span) if !may_be_container(span.of(message), state.comma) => Some(r),
        _ => None,
    }
}

fn eval(t: &PTpl, env: &Env) -> Option<Value> {
    t.as_ref()?.eval(env).ok().flatten()
}

fn passes(filter: &Option<PFilter>, view: &View, now: Timestamp) -> bool {
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
    fn eval(&self, env: &Env) -> Option<Value> {
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

/// Values the flat output holds: scalars and lists of scalars.
fn is_flat(v: &Value) -> bool {
    match v {
        Value::Map(_) => false,
        Value::List(items) => items
            .iter()
            .all(|i| !matches!(i, Value::Map(_) | Value::List(_))),
        _ => true,
    }
}

/// An ASCII case change of message text, applied as it is written.
#[derive(Debug, Clone, Copy)]
enum Case {
    Lower,
    Upper,
}

impl Case {
    fn apply(self, b: u8) -> u8 {
        match self {
            Case::Lower => b.to_ascii_lowercase(),
            Case::Upper => b.to_ascii_uppercase(),
        }
    }

    fn of(self, text: &str) -> String {
        match self {
            Case::Lower => text.to_ascii_lowercase(),
            Case::Upper => text.to_ascii_uppercase(),
        }
    }

    /// Whether `candidate` is `text` changed by this case.
    fn gives(self, text: &str, candidate: &str) -> bool {
        text.len() == candidate.len()
            && text
                .bytes()
                .zip(candidate.bytes())
                .all(|(t, c)| self.apply(t) == c)
    }
}

/// What a [`Direct::Text`] write gives on text of the message.
enum Computed {
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
enum Step {
    Done,
    /// Text of the message, written as a copy would write it.
    Text(Span),
    /// The template must be evaluated.
    Evaluate,
}

/// `comma`: whether `text` may hold a comma (a bare tuple literal needs one).
fn compute(op: template::Direct, text: &str, comma: bool) -> Computed {
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
        if self
            .enrichments
            .shared_only
            .iter()
            .any(|&s| state.is_set(s))
        {
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

    /// Runs a [`Direct`] write of the shapes the action loop does not run itself;
    /// `None` when a value takes a shape the plan does not hold.
    // Out of line: inlined, it slowed down the loop's own shapes.
    #[inline(never)]
    fn direct(
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
    fn community_id(
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

    fn enrich(&self, state: &mut State, message: &str) {
        let e = &self.enrichments;
        let mut values = Vec::new();
        for (to, from) in &e.related {
            if state.is_set(*to) {
                continue;
            }
            if self.related_text(state, *to, from, message) {
                continue;
            }
            values.clear();
            let mut any = false;
            for &f in from {
                let view = View {
                    plan: self,
                    state,
                    message,
                };
                if let Some(v) = view.out(f) {
                    any = true;
                    enrich::push_value(v, &mut values);
                }
            }
            if any && !state.is_set(*to) {
                values.sort();
                state.put(*to, Value::List(values.drain(..).map(Value::Str).collect()));
            }
        }
        // Which objects exist is read before any address is added, as the
        // interpreter's enrichment does.
        let mut sides = std::mem::take(&mut state.sides);
        sides.clear();
        sides.extend(e.addresses.iter().map(|a| state.any(a.0)));
        for (&(_, address, domain, ip), &exists) in e.addresses.iter().zip(&sides) {
            if !exists || state.is_set(address) {
                continue;
            }
            let from = [domain, ip]
                .into_iter()
                .flatten()
                .find(|&s| state.is_set(s));
            if let Some(from) = from {
                state.set(address, state.outs[from as usize]);
            }
        }
        state.sides = sides;
        for &(from, to) in &e.copies {
            if !state.is_set(to) && state.is_set(from) {
                state.set(to, state.outs[from as usize]);
            }
        }
        for &(from, to) in &e.overwrites {
            if state.is_set(from) {
                state.set(to, state.outs[from as usize]);
            }
        }
    }

    /// A `related.*` list when its sources are all text (the common case): sorted,
    /// without repeats, written straight to JSON. `false` when some source is not
    /// text, or there are too many, or none is set: the general way then decides.
    fn related_text(&self, state: &mut State, to: u32, from: &[u32], message: &str) -> bool {
        const MOST: usize = 8;
        // Each text, and whether it is known to need no JSON escape.
        let mut texts = [("", false); MOST];
        let mut n = 0;
        for &f in from {
            let text = match state.outs[f as usize] {
                Out::None => continue,
                Out::Text(span) => (span.of(message), state.plain),
                Out::Value(i) => match &state.values[i as usize] {
                    Value::Str(s) => (s.as_str(), false),
                    _ => return false,
                },
                Out::Const(i) => match &self.consts[i as usize].0 {
                    Value::Str(s) => (s.as_str(), false),
                    _ => return false,
                },
                Out::Cased(..) | Out::Int(_) | Out::Epoch(_) | Out::Json(..) => return false,
            };
            if text.0.is_empty() || texts[..n].iter().any(|t| t.0 == text.0) {
                continue;
            }
            if n == MOST {
                return false;
            }
            texts[n] = text;
            n += 1;
        }
        if n == 0 {
            return false;
        }
        let texts = &mut texts[..n];
        texts.sort_unstable();
        let lo = state.json.len();
        state.json.push(b'[');
        for (i, &(text, plain)) in texts.iter().enumerate() {
            if i > 0 {
                state.json.push(b',');
            }
            if plain {
                json::write_json_plain_str(text, &mut state.json);
            } else {
                write_json_str(text, &mut state.json);
            }
        }
        state.json.push(b']');
        let hi = state.json.len();
        state.set(to, Out::Json(lo as u32, hi as u32));
        true
    }

    /// Writes the event from the output slots. Events of a shape (the set of fields
    /// present) seen before on this thread are written from that shape's skeleton.
    fn write(&self, state: &mut State, message: &str, out: &mut Vec<u8>) {
        let plain = state.plain;
        let Some(shape) = (state.outs.len() <= 128).then_some(state.shape) else {
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
    fn skeleton(&self, shape: u128) -> Skeleton {
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
            if skeleton.shape & bits(child.range) == 0 {
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
struct Epochs(std::cell::Cell<[(i64, [u8; 20]); 2]>);

impl Default for Epochs {
    fn default() -> Epochs {
        // No epoch the plan writes is negative.
        Epochs(std::cell::Cell::new([(-1, [0; 20]); 2]))
    }
}

impl Epochs {
    fn text(&self, secs: i64) -> [u8; 20] {
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
struct Skeleton {
    plan: u64,
    /// Bit `i` set: slot `i` holds a value.
    shape: u128,
    /// The text before each present field's value, and the field's slot.
    fields: Vec<(std::ops::Range<usize>, u32)>,
    text: Vec<u8>,
    tail: std::ops::Range<usize>,
}

/// The bits of slots `range.lo..range.hi`.
fn bits(range: Range) -> u128 {
    let width = range.hi - range.lo;
    if width >= 128 {
        u128::MAX
    } else {
        ((1u128 << width) - 1) << range.lo
    }
}

impl Plan {
    /// Types and stores one value, as the interpreter's `assign` does.
    fn assign(
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
    fn assign_text(
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
}

impl Plan {
    /// [`Plan::assign`] of message text in another case.
    fn assign_cased(
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
