//! The enrichment rules (`related.*`, addresses, copies) resolved to output slots,
//! and run on the slots at the end of an event.

use crate::enrich;
use crate::json::{self, write_json_str};
use crate::value::Value;

use super::Plan;
use super::layout::{Found, Layout, Range};
use super::state::{Out, State};
use super::view::View;

/// The enrichment rules, resolved to output slots.
pub(super) struct Enrichments {
    /// `related.<key>` slot and the slots it collects, per key.
    pub(super) related: Vec<(u32, Vec<u32>)>,
    /// Object range, `address` slot, then `domain` and `ip` slots.
    pub(super) addresses: Vec<(Range, u32, Option<u32>, Option<u32>)>,
    /// `(from, to)`: copied when `to` is absent.
    pub(super) copies: Vec<(u32, u32)>,
}

/// The enrichment rules as layout nodes, before slots are numbered.
pub(super) struct EnrichNodes {
    pub(super) related: Vec<(usize, Vec<usize>)>,
    pub(super) addresses: Vec<(usize, usize, Option<usize>, Option<usize>)>,
    pub(super) copies: Vec<(usize, usize)>,
}

/// Adds the fields the enrichments may write to the layout, or refuses when a
/// rule would read an object (the plan only holds fields) or split a file path.
pub(super) fn plan_enrichments(layout: &mut Layout) -> Option<EnrichNodes> {
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
    Some(EnrichNodes {
        related,
        addresses,
        copies,
    })
}

impl EnrichNodes {
    pub(super) fn resolve(self, layout: &Layout) -> Enrichments {
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
        }
    }
}

impl Plan {
    pub(super) fn enrich(&self, state: &mut State, message: &str) {
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
}
