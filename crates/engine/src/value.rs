//! The event value model: what parsers produce, templates read and sinks serialize.
//!
//! Strings are `CompactString` so that the short values that dominate log fields
//! (addresses, ports, ids) live inline, without a heap allocation per field.
//! Maps keep insertion order and are small vectors searched linearly: events have
//! a few keys per level, where a linear scan beats hashing.

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;

use compact_str::CompactString;

/// An owned string, inline up to 24 bytes.
pub type Str = CompactString;

#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str),
    List(Vec<Value>),
    Map(Map),
}

impl Value {
    pub fn str(s: impl Into<Str>) -> Value {
        Value::Str(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Follows a path of map keys; `None` when a segment is missing or not a map.
    pub fn pointer<'a, S: AsRef<str>>(&'a self, path: &[S]) -> Option<&'a Value> {
        let mut cur = self;
        for seg in path {
            cur = cur.as_map()?.get(seg.as_ref())?;
        }
        Some(cur)
    }

    /// Python-style truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }
}

/// Structural equality with Python's number semantics: `1 == 1.0`, `true != 1`.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(Str::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Str::from(s))
    }
}
impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::List(l)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Map(m)
    }
}

/// Where a key was found in a map the last time: compiled paths keep one per
/// segment, so that looking a key up in a map of the usual shape is one comparison.
/// Shared between threads (relaxed atomics: a stale hint only costs a scan).
#[derive(Default)]
pub struct Hint(AtomicU32);

impl Hint {
    #[inline]
    pub fn get(&self) -> usize {
        self.0.load(Relaxed) as usize
    }

    #[inline]
    pub fn set(&self, i: usize) {
        self.0.store(i as u32, Relaxed);
    }
}

impl Clone for Hint {
    fn clone(&self) -> Hint {
        Hint(AtomicU32::new(self.0.load(Relaxed)))
    }
}

impl std::fmt::Debug for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hint({})", self.get())
    }
}

/// An insertion-ordered map with unique keys.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(Str, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn position(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        self.entries
            .iter()
            .position(|(k, _)| key_eq(k.as_bytes(), key))
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// The entry at position `index` (insertion order).
    #[inline]
    pub fn get_index(&self, index: usize) -> Option<(&Str, &Value)> {
        self.entries.get(index).map(|(k, v)| (k, v))
    }

    /// [`Map::get`], looking first where `hint` says the key was last time (maps
    /// built by the same format have the same shape from one event to the next).
    #[inline(always)]
    pub fn get_hinted(&self, key: &str, hint: &Hint) -> Option<&Value> {
        let h = hint.get();
        if let Some((k, v)) = self.entries.get(h)
            && key_eq(k.as_bytes(), key.as_bytes())
        {
            return Some(v);
        }
        let i = self.position(key)?;
        hint.set(i);
        Some(&self.entries[i].1)
    }

    /// [`Map::entry`] with a position hint (see [`Map::get_hinted`]).
    #[inline]
    pub fn entry_hinted(&mut self, key: &str, hint: &Hint) -> &mut Value {
        let h = hint.get();
        let i = match self.entries.get(h) {
            Some((k, _)) if key_eq(k.as_bytes(), key.as_bytes()) => h,
            _ => {
                let i = match self.position(key) {
                    Some(i) => i,
                    None => {
                        self.entries.push((Str::from(key), Value::Null));
                        self.entries.len() - 1
                    }
                };
                hint.set(i);
                i
            }
        };
        &mut self.entries[i].1
    }

    /// [`Map::insert`] (without the replaced value) with a position hint.
    #[inline]
    pub fn insert_hinted(&mut self, key: &Str, value: Value, hint: &Hint) {
        let h = hint.get();
        if let Some((k, v)) = self.entries.get_mut(h)
            && key_eq(k.as_bytes(), key.as_bytes())
        {
            *v = value;
            return;
        }
        let i = match self.position(key) {
            Some(i) => {
                self.entries[i].1 = value;
                i
            }
            None => {
                self.entries.push((key.clone(), value));
                self.entries.len() - 1
            }
        };
        hint.set(i);
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Inserts or replaces; a replaced key keeps its position.
    pub fn insert(&mut self, key: impl Into<Str> + AsRef<str>, value: Value) -> Option<Value> {
        match self.position(key.as_ref()) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key.into(), value));
                None
            }
        }
    }

    /// Appends without checking for an existing key. The caller guarantees uniqueness
    /// (for example, column names validated at compile time).
    pub fn push_unique(&mut self, key: Str, value: Value) {
        debug_assert!(!self.contains_key(&key));
        self.entries.push((key, value));
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    /// The value under `key`, inserting `Value::Null` first if absent.
    pub fn entry(&mut self, key: &str) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.entries.push((Str::from(key), Value::Null));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Str, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&Str, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Str> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Str, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Key equality, inlined: keys are short, where a `memcmp` call costs more than
/// the comparison itself.
#[inline(always)]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping word loads cover the whole key.
    if (8..=16).contains(&n) {
        let w = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
        w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8)
    } else if (4..8).contains(&n) {
        let w = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap_or([0; 4]));
        w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4)
    } else if n < 4 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// Maps compare as sets of entries, whatever their order.
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len()
            && self
                .entries
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|o| o == v))
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Str> + AsRef<str>> FromIterator<(K, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Map {
        let mut m = Map::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_order_and_replaces_in_place() {
        let mut m = Map::new();
        m.insert("b", Value::Int(1));
        m.insert("a", Value::Int(2));
        m.insert("b", Value::Int(3));
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.get("b"), Some(&Value::Int(3)));
    }

    #[test]
    fn hinted_lookups_find_keys_wherever_they_are() {
        let mut m: Map = ["a", "source", "destination_port", "x"]
            .into_iter()
            .map(|k| (k, Value::from(k)))
            .collect();
        let hint = Hint::default();
        // A wrong hint still finds the key, and learns its position.
        assert_eq!(
            m.get_hinted("destination_port", &hint),
            Some(&Value::from("destination_port"))
        );
        assert_eq!(hint.get(), 2);
        assert_eq!(m.get_hinted("x", &hint), Some(&Value::from("x")));
        assert_eq!(m.get_hinted("sourcf", &hint), None);
        assert_eq!(m.get_hinted("sourc", &hint), None);
        let h = Hint::default();
        *m.entry_hinted("new", &h) = Value::Int(1);
        assert_eq!(h.get(), 4);
        m.insert_hinted(&Str::from("a"), Value::Int(2), &h);
        assert_eq!(m.get("a"), Some(&Value::Int(2)));
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn key_equality_at_every_length() {
        let long = "abcdefghijklmnopqrstuvwxyz";
        for n in 0..=long.len() {
            let a = &long[..n];
            assert!(key_eq(a.as_bytes(), a.as_bytes()));
            for i in 0..n {
                let mut b = a.as_bytes().to_vec();
                b[i] = b'#';
                assert!(!key_eq(a.as_bytes(), &b), "{a} at {i}");
            }
        }
    }

    #[test]
    fn numbers_compare_like_python() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Bool(true), Value::Int(1));
        assert_ne!(Value::from("1"), Value::Int(1));
    }

    #[test]
    fn maps_compare_regardless_of_order() {
        let a: Map = [("x", Value::Int(1)), ("y", Value::Null)]
            .into_iter()
            .collect();
        let b: Map = [("y", Value::Null), ("x", Value::Int(1))]
            .into_iter()
            .collect();
        assert_eq!(a, b);
    }
}
