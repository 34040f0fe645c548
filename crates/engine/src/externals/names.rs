//! The field names an executor reads from a parser's output, looked up by key
//! once per key found (see [`super::Parser::find_spans`]).

use crate::value::Str;

/// Field names, each tagged with its length and first and last bytes so that a
/// key is compared in full only with the names that share its tag. A table by
/// hash of the tag gives the one name to compare, or says to look at all.
#[derive(Debug, Clone)]
pub struct Names {
    names: Vec<Str>,
    tags: Vec<u32>,
    /// Per bucket: 0 no name, `i + 1` name `i` only, [`SHARED`] several.
    table: [u8; BUCKETS],
}

const BUCKETS: usize = 64;
const SHARED: u8 = u8::MAX;

impl Default for Names {
    fn default() -> Names {
        Names::new(Vec::new())
    }
}

fn bucket(tag: u32) -> usize {
    (tag.wrapping_mul(0x9e37_79b1) >> 26) as usize
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
        let tags: Vec<u32> = names.iter().map(|n| tag(n)).collect();
        let mut table = [0; BUCKETS];
        for (i, &t) in tags.iter().enumerate() {
            let b = &mut table[bucket(t)];
            *b = match u8::try_from(i + 1) {
                Ok(id) if *b == 0 && id != SHARED => id,
                _ => SHARED,
            };
        }
        Names { names, tags, table }
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
        match self.table[bucket(t)] {
            0 => return None,
            SHARED => {}
            id => {
                let i = usize::from(id - 1);
                return (self.tags[i] == t && self.names[i].as_str() == key).then_some(i);
            }
        }
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
        // More names than the table has buckets: every one is still found.
        let many: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
        let names = Names::new(many.iter().map(|s| Str::from(s.as_str())).collect());
        for (i, n) in many.iter().enumerate() {
            assert_eq!(names.find(n), Some(i), "{n}");
        }
        assert_eq!(names.find("f300"), None);
    }
}
