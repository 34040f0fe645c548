//! The output layout: the final event's objects and fields as a tree of nodes,
//! numbered so that every object covers a contiguous range of output slots.

use crate::value::Str;

/// Output slots `lo..hi`: an object of the event and everything below it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range {
    pub(super) lo: u32,
    pub(super) hi: u32,
}

/// One node of the output layout.
pub(super) struct Node {
    /// `"key":`, escaped once.
    pub(super) key_json: Box<[u8]>,
    pub(super) key: Str,
    pub(super) kind: NodeKind,
    pub(super) range: Range,
}

pub(super) enum NodeKind {
    Leaf(u32),
    Object(Vec<usize>),
}

/// The output layout: the final event's objects and fields, in first-written order.
pub(super) struct Layout {
    pub(super) nodes: Vec<Node>,
    /// Fields a `set` writes a mapping to: the value is written whole, and nothing
    /// reads, deletes or enriches inside it.
    pub(super) nested: Vec<usize>,
}

/// Where a dotted path lands in the layout.
pub(super) enum Found {
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

pub(super) const ROOT: usize = 0;

impl Layout {
    pub(super) fn new() -> Layout {
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

    pub(super) fn nests(&self, node: usize) -> bool {
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
    pub(super) fn insert(&mut self, keys: &[&str]) -> Option<usize> {
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

    pub(super) fn push(&mut self, parent: usize, key: &str, kind: NodeKind) -> usize {
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

    pub(super) fn find(&self, keys: &[impl AsRef<str>]) -> Found {
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
    pub(super) fn number(&mut self) -> u32 {
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

    pub(super) fn out(&self, node: usize) -> u32 {
        match self.nodes[node].kind {
            NodeKind::Leaf(out) => out,
            NodeKind::Object(_) => u32::MAX,
        }
    }
}
