//! YAML text → a small tree that remembers the line of every node, so that load
//! errors can point at the offending line.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::template::py_str;
use crate::value::{Map, Value};

#[derive(Debug, Clone)]
pub struct Node {
    /// 1-based line of the node in its file.
    pub line: usize,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error: line and message.
#[derive(Debug)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

/// Parses the first document of `text`. An empty file is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| YamlError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    match docs.into_iter().next() {
        Some(doc) => convert(&doc),
        None => Ok(Node {
            line: 1,
            kind: NodeKind::Null,
        }),
    }
}

fn convert(node: &MarkedYaml) -> Result<Node, YamlError> {
    let line = node.span.start.line();
    let kind = match &node.data {
        YamlData::Value(scalar) => scalar_kind(scalar),
        YamlData::Representation(text, style, tag) => {
            match Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref()) {
                Some(scalar) => scalar_kind(&scalar),
                None => NodeKind::Str(text.to_string()),
            }
        }
        YamlData::Sequence(items) => {
            NodeKind::Seq(items.iter().map(convert).collect::<Result<_, _>>()?)
        }
        YamlData::Mapping(entries) => NodeKind::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((convert(k)?, convert(v)?)))
                .collect::<Result<_, YamlError>>()?,
        ),
        YamlData::Tagged(_, inner) => return convert(inner),
        YamlData::Alias(_) => {
            return Err(YamlError {
                line,
                message: "YAML aliases are not supported in formats".into(),
            });
        }
        YamlData::BadValue => {
            return Err(YamlError {
                line,
                message: "invalid YAML value".into(),
            });
        }
    };
    Ok(Node { line, kind })
}

fn scalar_kind(scalar: &Scalar) -> NodeKind {
    match scalar {
        Scalar::Null => NodeKind::Null,
        Scalar::Boolean(b) => NodeKind::Bool(*b),
        Scalar::Integer(i) => NodeKind::Int(*i),
        Scalar::FloatingPoint(f) => NodeKind::Float(f.into_inner()),
        Scalar::String(s) => NodeKind::Str(s.to_string()),
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_string() == key)
            .map(|(_, v)| v)
    }

    /// A mapping key as text. YAML keys may be numbers or booleans (`17: udp`);
    /// they are compared by their Python string form.
    pub fn key_string(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            _ => py_str(&self.to_value()),
        }
    }

    /// A short description of the node's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::Int(*i),
            NodeKind::Float(f) => Value::Float(*f),
            NodeKind::Str(s) => Value::from(s.as_str()),
            NodeKind::Seq(items) => Value::List(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.key_string(), v.to_value());
                }
                Value::Map(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_key_order() {
        let n = parse("a: 1\nb:\n  - x\n  - 2\n17: udp\n").unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m[0].0.key_string(), "a");
        assert_eq!(m[1].1.line, 3);
        assert_eq!(m[2].0.key_string(), "17");
        assert!(matches!(m[0].1.kind, NodeKind::Int(1)));
    }

    #[test]
    fn reports_syntax_errors_with_line() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "line {}", e.line);
    }

    #[test]
    fn rejects_duplicate_keys() {
        assert!(parse("a: 1\na: 2\n").is_err());
    }
}
