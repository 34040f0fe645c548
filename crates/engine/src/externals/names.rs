//! The field names an executor reads from a parser's output, looked up by key
//! once per key found (see [`super::Parser::find_spans`]).

use crate::value::Str;

/// Field names, each tagged with its length and first and last bytes so that a
/// key is compared in full only with the names that share its tag.
#[derive(Debug, Clone, Default)]
pub struct Names {
    names: Vec<Str>,
    tags: Vec<u32>,
}

fn tag(key: &str) -> u32 {
    let b = key.as_bytes();
    let (first, last) = (b.first().copied(), b.last().copied());
    (b.len().min(0xffff) as u32) << 16
        | u32::from(first.unwrap_or(0)) << 8
        | u32::from(last.unwrap_or(0))
}

impl Names {
    pub fn new(names: Vec<Str>) -> Names {
        let tags = names.iter().map(|n| tag(n)).collect();
        Names { names, tags }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The position of `key` among the names (the first, if repeated).
    pub fn find(&self, key: &str) -> Option<usize> {
        let t = tag(key);
        self.tags
            .iter()
            .zip(&self.names)
            .position(|(&u, n)| u == t && n.as_str() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_name_and_nothing_else() {
        let list = ["msg", "mkg", "m", "", "msgs", "é", "msg"];
        let names = Names::new(list.iter().map(|s| Str::from(*s)).collect());
        assert_eq!(names.len(), list.len());
        for (i, n) in list.iter().enumerate().take(6) {
            assert_eq!(names.find(n), Some(i), "{n:?}");
        }
        for other in ["mag", "ms", "sg", "MSG", "è", "msgss"] {
            assert_eq!(names.find(other), None, "{other:?}");
        }
        assert!(Names::default().is_empty());
        assert_eq!(Names::default().find("x"), None);
    }
}
