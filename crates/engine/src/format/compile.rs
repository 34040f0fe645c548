//! `parser.yml` + `fields.yml` → a [`Program`]: every template compiled, every
//! layer name resolved to a slot, every destination typed. Nothing about the
//! format is looked up by name or re-parsed per event.

use std::collections::HashMap;

use crate::externals::{self, Parser};
use crate::taxonomy::{FieldType, Taxonomy};
use crate::template::{Scope, Template};
use crate::value::{Hint, Str, Value};

use super::yaml::{Node, NodeKind};
use super::{LoadError, LoadOptions};

/// Slot of the raw input event.
pub const ORIGINAL: usize = 0;
/// Slot of the event under construction.
pub const FINAL: usize = 1;

pub struct Program {
    pub steps: Vec<Step>,
    pub slot_count: usize,
    pub ignored_values: Vec<Value>,
    pub taxonomy: Taxonomy,
    /// Whether any step parses (an external other than `date.parse`): if so, an
    /// event that none of them could read is rejected.
    pub has_parsers: bool,
    /// How many top-level keys the last event had (an allocation size hint).
    pub final_width: Hint,
}

pub struct Step {
    pub name: String,
    pub slot: usize,
    pub filter: Option<Tpl>,
    pub kind: StepKind,
}

pub enum StepKind {
    External {
        parser: Box<dyn Parser>,
        /// The external's name, e.g. `grok.match`.
        external: String,
        input: Input,
        output_field: Str,
        /// Only a non-matching `grok.match` leaves an (empty) layer behind.
        empty_layer_on_no_match: bool,
        /// Counts as reading the event (every external but `date.parse`).
        is_parser: bool,
    },
    Actions {
        actions: Vec<Action>,
        /// Whether some template reads this stage's own layer; if not, writes are not
        /// mirrored into it.
        keep_layer: bool,
    },
}

/// Where an external reads its input.
pub enum Input {
    Path(Path),
    Template(Tpl),
}

/// A path into a layer, resolved at compile time.
#[derive(Debug, Clone)]
pub struct Path {
    pub slot: usize,
    pub keys: Vec<Str>,
}

pub struct Action {
    pub filter: Option<Tpl>,
    pub kind: ActionKind,
}

pub enum ActionKind {
    Set(Vec<Assign>),
    Translate {
        dictionary: HashMap<String, ValueTpl>,
        mappings: Vec<(Path, Target)>,
        fallback: Option<ValueTpl>,
    },
    Delete(Vec<Vec<Str>>),
}

pub struct Assign {
    pub target: Target,
    pub value: ValueTpl,
}

/// A destination in the final event, typed once.
pub struct Target {
    pub dotted: String,
    pub keys: Vec<Str>,
    /// Where each key was last found (written), one per key.
    pub hints: Box<[Hint]>,
    pub ty: FieldType,
}

/// A template, or one that failed to compile and is accepted in lenient mode (it
/// then fails every time it runs, as an undefined value would).
pub enum Tpl {
    Ok(Template),
    Broken,
}

/// A `set` value: YAML lists and mappings are rendered element by element.
pub enum ValueTpl {
    Const(Value),
    Template(Tpl),
    List(Vec<ValueTpl>),
    Map(Vec<(Str, ValueTpl)>),
}

struct Layers {
    slots: HashMap<String, usize>,
}

impl Scope for Layers {
    fn slot(&self, name: &str) -> Option<usize> {
        self.slots.get(name).copied()
    }
}

struct Compiler<'a> {
    file: &'a str,
    options: &'a LoadOptions,
    layers: Layers,
    taxonomy: &'a Taxonomy,
    warnings: &'a mut Vec<LoadError>,
    /// Every template source of the format, to find which stage layers are read.
    template_sources: Vec<String>,
}

const PIPELINE_KEYS: &[&str] = &["name", "external", "filter", "description"];
const ACTION_KEYS: &[&str] = &[
    "set",
    "translate",
    "dictionary",
    "mapping",
    "fallback",
    "default",
    "filter",
    "name",
    "delete",
    "description",
];

pub fn compile(
    file: &str,
    root: &Node,
    taxonomy: Taxonomy,
    options: &LoadOptions,
    warnings: &mut Vec<LoadError>,
) -> Result<Program, LoadError> {
    let err = |node: &Node, message: String| LoadError {
        file: file.to_string(),
        line: Some(node.line),
        message,
    };
    let Some(top) = root.as_map() else {
        return Err(err(
            root,
            format!("expected a mapping at the top, found {}", root.kind_name()),
        ));
    };
    for (key, _) in top {
        let k = key.key_string();
        if ![
            "name",
            "pipeline",
            "stages",
            "ignored_values",
            "description",
        ]
        .contains(&k.as_str())
        {
            let e = err(key, format!("unknown top-level key {k:?}"));
            if options.lenient {
                warnings.push(e);
            } else {
                return Err(e);
            }
        }
    }
    let pipeline = root
        .get("pipeline")
        .ok_or_else(|| err(root, "missing `pipeline`".into()))?;
    let entries = pipeline.as_seq().ok_or_else(|| {
        err(
            pipeline,
            format!("`pipeline` must be a list, found {}", pipeline.kind_name()),
        )
    })?;
    let stages = root.get("stages").filter(|s| !s.is_null());
    if let Some(s) = stages
        && s.as_map().is_none()
    {
        return Err(err(
            s,
            format!("`stages` must be a mapping, found {}", s.kind_name()),
        ));
    }

    // Pass 1: every step name is a layer with a slot (names may repeat: one slot).
    let mut slots: HashMap<String, usize> = HashMap::new();
    slots.insert("original".into(), ORIGINAL);
    slots.insert("final".into(), FINAL);
    let mut names = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = entry
            .get("name")
            .and_then(Node::as_str)
            .ok_or_else(|| err(entry, "pipeline entry without a `name`".into()))?
            .to_string();
        let next = slots.len();
        slots.entry(name.clone()).or_insert(next);
        names.push(name);
    }
    let slot_count = slots.len();

    let ignored_values = match root.get("ignored_values") {
        None => Vec::new(),
        Some(n) if n.is_null() => Vec::new(),
        Some(n) => n
            .as_seq()
            .ok_or_else(|| err(n, "`ignored_values` must be a list".into()))?
            .iter()
            .map(Node::to_value)
            .collect(),
    };

    let mut c = Compiler {
        file,
        options,
        layers: Layers { slots },
        taxonomy: &taxonomy,
        warnings,
        template_sources: Vec::new(),
    };
    let mut steps = Vec::with_capacity(entries.len());
    for (entry, name) in entries.iter().zip(names) {
        steps.push(c.step(entry, name, stages)?);
    }
    // A stage layer is kept only if a template, input path or mapping mentions it.
    let sources = std::mem::take(&mut c.template_sources);
    for step in &mut steps {
        if let StepKind::Actions { keep_layer, .. } = &mut step.kind {
            *keep_layer = sources.iter().any(|s| mentions(s, &step.name));
        }
    }
    let has_parsers = steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::External {
                is_parser: true,
                ..
            }
        )
    });
    Ok(Program {
        steps,
        slot_count,
        ignored_values,
        taxonomy,
        has_parsers,
        final_width: Hint::default(),
    })
}

/// Whether `name` occurs in `text` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, m)| {
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

impl Compiler<'_> {
    fn err(&self, node: &Node, message: String) -> LoadError {
        LoadError {
            file: self.file.to_string(),
            line: Some(node.line),
            message,
        }
    }

    /// An unknown key: an error, or a warning in lenient mode.
    fn unknown_key(&mut self, key: &Node, context: &str) -> Result<(), LoadError> {
        let e = self.err(
            key,
            format!("unknown key {:?} in {context}", key.key_string()),
        );
        if self.options.lenient {
            self.warnings.push(e);
            Ok(())
        } else {
            Err(e)
        }
    }

    fn template(&mut self, node: &Node, source: &str) -> Result<Tpl, LoadError> {
        self.template_sources.push(source.to_string());
        match Template::compile(source, &self.layers) {
            Ok(t) => Ok(Tpl::Ok(t)),
            Err(e) => {
                let start = floor_char_boundary(source, e.offset.saturating_sub(20));
                let end = floor_char_boundary(source, (e.offset + 20).min(source.len()));
                let err = self.err(
                    node,
                    format!(
                        "template error: {} near {:?}",
                        e.message,
                        &source[start..end]
                    ),
                );
                if self.options.lenient {
                    self.warnings.push(err);
                    Ok(Tpl::Broken)
                } else {
                    Err(err)
                }
            }
        }
    }

    fn filter(&mut self, holder: &Node) -> Result<Option<Tpl>, LoadError> {
        match holder.get("filter") {
            None => Ok(None),
            Some(n) => match &n.kind {
                NodeKind::Null => Ok(None),
                NodeKind::Str(s) if s.trim().is_empty() => Ok(None),
                NodeKind::Str(s) => Ok(Some(self.template(n, &s.clone())?)),
                NodeKind::Bool(true) => Ok(None),
                _ => Err(self.err(
                    n,
                    format!(
                        "`filter` must be a template string, found {}",
                        n.kind_name()
                    ),
                )),
            },
        }
    }

    fn step(
        &mut self,
        entry: &Node,
        name: String,
        stages: Option<&Node>,
    ) -> Result<Step, LoadError> {
        for (key, _) in entry.as_map().unwrap_or_default() {
            if !PIPELINE_KEYS.contains(&key.key_string().as_str()) {
                self.unknown_key(key, &format!("pipeline entry {name:?}"))?;
            }
        }
        let slot = self.layers.slots[&name];
        let filter = self.filter(entry)?;
        let kind = match entry.get("external").filter(|e| !e.is_null()) {
            Some(external) => self.external(external, &name)?,
            None => {
                let stage = stages.and_then(|s| s.get(&name)).ok_or_else(|| {
                    self.err(
                        entry,
                        format!("pipeline step {name:?} names no stage and has no `external`"),
                    )
                })?;
                self.stage(stage, &name)?
            }
        };
        // A stage-level filter is folded into the step's filter.
        let filter = match (filter, &kind) {
            (None, StepKind::Actions { .. }) => stages
                .and_then(|s| s.get(&name))
                .map(|stage| self.filter(stage))
                .transpose()?
                .flatten(),
            (f, _) => f,
        };
        Ok(Step {
            name,
            slot,
            filter,
            kind,
        })
    }

    fn external(&mut self, node: &Node, step: &str) -> Result<StepKind, LoadError> {
        let external = node
            .get("name")
            .and_then(Node::as_str)
            .ok_or_else(|| self.err(node, format!("external of step {step:?} has no `name`")))?
            .to_string();
        for (key, _) in node.as_map().unwrap_or_default() {
            if !["name", "properties"].contains(&key.key_string().as_str()) {
                self.unknown_key(key, &format!("external of step {step:?}"))?;
            }
        }
        let props_node = node.get("properties").filter(|p| !p.is_null());
        let mut props = match props_node.map(Node::to_value) {
            None => crate::value::Map::new(),
            Some(Value::Map(m)) => m,
            Some(_) => {
                return Err(self.err(
                    node,
                    format!("`properties` of step {step:?} must be a mapping"),
                ));
            }
        };
        let line_node = props_node.unwrap_or(node);
        let input = match props.remove("input_field") {
            None | Some(Value::Null) => Input::Path(Path {
                slot: ORIGINAL,
                keys: vec![Str::from("message")],
            }),
            Some(Value::Str(s)) => self.input(line_node, &s)?,
            Some(other) => {
                return Err(self.err(
                    line_node,
                    format!(
                        "`input_field` must be a string, found {}",
                        other.type_name()
                    ),
                ));
            }
        };
        let output_field = match props.remove("output_field") {
            None | Some(Value::Null) => Str::from("message"),
            Some(Value::Str(s)) => s,
            Some(other) => {
                return Err(self.err(
                    line_node,
                    format!(
                        "`output_field` must be a string, found {}",
                        other.type_name()
                    ),
                ));
            }
        };
        // Template-valued properties (timezone, pattern_key) count as mentions too.
        for v in props.values() {
            if let Value::Str(s) = v
                && s.contains("{{")
            {
                self.template_sources.push(s.to_string());
            }
        }
        let mut warnings = Vec::new();
        let parser = externals::compile(&external, &props, &self.layers, &mut warnings)
            .map_err(|m| self.err(line_node, format!("step {step:?} ({external}): {m}")))?;
        for w in warnings {
            let e = self.err(line_node, format!("step {step:?} ({external}): {w}"));
            self.warnings.push(e);
        }
        Ok(StepKind::External {
            parser,
            empty_layer_on_no_match: external == "grok.match",
            is_parser: external != "date.parse",
            external,
            input,
            output_field,
        })
    }

    /// `input_field`: a template, or a bare dotted path whose first segment is a layer.
    fn input(&mut self, node: &Node, text: &str) -> Result<Input, LoadError> {
        // `{{ step.a.b }}` reads the value as it is: the reference engine does not
        // literal-parse an external's input (a JSON text with `\/` escapes must
        // reach `json.parse-json` as text, not as a Python literal).
        let text = match plain_path_template(text) {
            Some(path)
                if self
                    .layers
                    .slot(path.split('.').next().unwrap_or_default())
                    .is_some() =>
            {
                path
            }
            _ => text,
        };
        if text.contains("{{") || text.contains("{%") {
            return Ok(Input::Template(self.template(node, text)?));
        }
        self.template_sources.push(text.to_string());
        let mut keys = text.trim().split('.');
        let first = keys.next().unwrap_or_default();
        let slot = self.layers.slot(first).ok_or_else(|| {
            self.err(
                node,
                format!("`input_field` {text:?} refers to unknown step {first:?}"),
            )
        })?;
        Ok(Input::Path(Path {
            slot,
            keys: keys.map(Str::from).collect(),
        }))
    }

    fn stage(&mut self, stage: &Node, name: &str) -> Result<StepKind, LoadError> {
        for (key, _) in stage.as_map().unwrap_or_default() {
            if !["actions", "filter", "description"].contains(&key.key_string().as_str()) {
                self.unknown_key(key, &format!("stage {name:?}"))?;
            }
        }
        let list = match stage.get("actions") {
            None => &[][..],
            Some(n) if n.is_null() => &[][..],
            Some(n) => n.as_seq().ok_or_else(|| {
                self.err(n, format!("`actions` of stage {name:?} must be a list"))
            })?,
        };
        let mut actions = Vec::with_capacity(list.len());
        for action in list {
            actions.push(self.action(action, name)?);
        }
        Ok(StepKind::Actions {
            actions,
            keep_layer: true,
        })
    }

    fn action(&mut self, node: &Node, stage: &str) -> Result<Action, LoadError> {
        let Some(entries) = node.as_map() else {
            return Err(self.err(node, format!("action in stage {stage:?} must be a mapping")));
        };
        for (key, _) in entries {
            if !ACTION_KEYS.contains(&key.key_string().as_str()) {
                self.unknown_key(key, &format!("an action of stage {stage:?}"))?;
            }
        }
        let filter = self.filter(node)?;
        let kind = if let Some(set) = node.get("set") {
            let pairs = set
                .as_map()
                .ok_or_else(|| self.err(set, "`set` must be a mapping of field → value".into()))?;
            let mut assigns = Vec::with_capacity(pairs.len());
            for (key, value) in pairs {
                assigns.push(Assign {
                    target: self.target(&key.key_string()),
                    value: self.value(value)?,
                });
            }
            ActionKind::Set(assigns)
        } else if let (Some(dict), Some(mapping)) = (node.get("dictionary"), node.get("mapping")) {
            let dict_entries = dict
                .as_map()
                .ok_or_else(|| self.err(dict, "`dictionary` must be a mapping".into()))?;
            let mut dictionary = HashMap::with_capacity(dict_entries.len());
            for (k, v) in dict_entries {
                dictionary.insert(k.key_string(), self.value(v)?);
            }
            let map_entries = mapping.as_map().ok_or_else(|| {
                self.err(
                    mapping,
                    "`mapping` must be a mapping of source → destination".into(),
                )
            })?;
            let mut mappings = Vec::with_capacity(map_entries.len());
            for (src, dst) in map_entries {
                let dst = dst.as_str().ok_or_else(|| {
                    self.err(dst, "a `mapping` destination must be a field path".into())
                })?;
                let src = src.key_string();
                self.template_sources.push(src.clone());
                mappings.push((self.source_path(&src), self.target(dst)));
            }
            let fallback = match node.get("fallback").or_else(|| node.get("default")) {
                Some(n) if !n.is_null() => Some(self.value(n)?),
                _ => None,
            };
            ActionKind::Translate {
                dictionary,
                mappings,
                fallback,
            }
        } else if let Some(delete) = node.get("delete") {
            let paths = delete
                .as_seq()
                .ok_or_else(|| self.err(delete, "`delete` must be a list of field paths".into()))?;
            let mut keys = Vec::with_capacity(paths.len());
            for p in paths {
                let s = p
                    .as_str()
                    .ok_or_else(|| self.err(p, "`delete` entries must be field paths".into()))?;
                let s = s.strip_prefix("final.").unwrap_or(s);
                keys.push(s.split('.').map(Str::from).collect());
            }
            ActionKind::Delete(keys)
        } else {
            return Err(self.err(
                node,
                format!("action in stage {stage:?} has none of `set`, `translate` (dictionary + mapping), `delete`"),
            ));
        };
        Ok(Action { filter, kind })
    }

    /// A translate source: `final.x`, `<layer>.x`, or a bare path read in `final`.
    fn source_path(&self, text: &str) -> Path {
        let mut parts = text.split('.');
        let first = parts.next().unwrap_or_default();
        match self.layers.slot(first) {
            Some(slot) => Path {
                slot,
                keys: parts.map(Str::from).collect(),
            },
            None => Path {
                slot: FINAL,
                keys: text.split('.').map(Str::from).collect(),
            },
        }
    }

    fn target(&self, dotted: &str) -> Target {
        let keys: Vec<Str> = dotted.split('.').map(Str::from).collect();
        Target {
            dotted: dotted.to_string(),
            hints: keys.iter().map(|_| Hint::default()).collect(),
            keys,
            ty: self.taxonomy.type_of(dotted),
        }
    }

    fn value(&mut self, node: &Node) -> Result<ValueTpl, LoadError> {
        Ok(match &node.kind {
            NodeKind::Str(s) => match self.template(node, &s.clone())? {
                Tpl::Ok(t) => match t.constant() {
                    Some(v) => ValueTpl::Const(v.clone()),
                    None => ValueTpl::Template(Tpl::Ok(t)),
                },
                broken => ValueTpl::Template(broken),
            },
            NodeKind::Seq(items) => ValueTpl::List(
                items
                    .iter()
                    .map(|i| self.value(i))
                    .collect::<Result<_, _>>()?,
            ),
            NodeKind::Map(entries) => ValueTpl::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((Str::from(k.key_string()), self.value(v)?)))
                    .collect::<Result<_, LoadError>>()?,
            ),
            _ => ValueTpl::Const(node.to_value()),
        })
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i.min(s.len())
}

/// The `(name, type)` declarations of a `fields.yml`, in file order.
pub fn field_declarations(file: &str, root: &Node) -> Result<Vec<(String, FieldType)>, LoadError> {
    let mut declared: Vec<(String, FieldType)> = Vec::new();
    match &root.kind {
        NodeKind::Null => {}
        NodeKind::Map(entries) => {
            for (key, spec) in entries {
                let name = spec
                    .get("name")
                    .and_then(Node::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| key.key_string());
                let ty = spec
                    .get("type")
                    .and_then(Node::as_str)
                    .ok_or_else(|| LoadError {
                        file: file.to_string(),
                        line: Some(spec.line),
                        message: format!("field {name:?} has no `type`"),
                    })?;
                declared.push((name, FieldType::from_custom(ty)));
            }
        }
        _ => {
            return Err(LoadError {
                file: file.to_string(),
                line: Some(root.line),
                message: format!("expected a mapping of fields, found {}", root.kind_name()),
            });
        }
    }
    Ok(declared)
}

/// The dotted path of a template that is only `{{ name.key.key }}` (names only, no
/// index, filter or call), or `None`.
fn plain_path_template(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let ident = |seg: &str| {
        seg.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (inner.contains('.') && inner.split('.').all(ident)).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_whole_identifiers_only() {
        assert!(mentions("{{ stage.x }}", "stage"));
        assert!(!mentions("{{ my_stage.x }}", "stage"));
        assert!(!mentions("{{ stages }}", "stage"));
    }
}
