//! A fast reader of a few dotted paths in one serialized JSON object, and a byte splicer
//! that adds members to objects of that text.
//!
//! Enrichment must cost next to nothing on events that match nothing, so an event is
//! never parsed into a tree: the scanner walks the text once, descends only into the
//! members named by the wanted paths and jumps over every other value, looking at eight
//! bytes at a time for the quotes, backslashes and brackets that end it.
//!
//! Keys are compared as raw bytes: a key written with escapes (`"\u0073ource"`) is not
//! recognized. Engine output never escapes ASCII keys.

/// Where a scan stopped on text that is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON event at byte {offset}: {what}")]
pub struct ScanError {
    pub offset: usize,
    pub what: &'static str,
}

fn err<T>(offset: usize, what: &'static str) -> Result<T, ScanError> {
    Err(ScanError { offset, what })
}

/// The kind of a found value; spans index the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `start..end` covers the quotes; `escaped` tells whether the content has escapes.
    String {
        escaped: bool,
    },
    Object,
    Array,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    pub kind: ValueKind,
    pub start: usize,
    pub end: usize,
}

impl Value {
    /// The text of a string value; escapes are decoded (the rare slow path).
    pub fn as_str<'a>(&self, json: &'a [u8]) -> Option<std::borrow::Cow<'a, str>> {
        match self.kind {
            ValueKind::String { escaped: false } => {
                std::str::from_utf8(&json[self.start + 1..self.end - 1])
                    .ok()
                    .map(std::borrow::Cow::Borrowed)
            }
            ValueKind::String { escaped: true } => {
                serde_json::from_slice::<String>(&json[self.start..self.end])
                    .ok()
                    .map(std::borrow::Cow::Owned)
            }
            _ => None,
        }
    }

    /// The position of the closing `}` of an object value, where members are appended.
    pub fn object_close(&self) -> Option<usize> {
        (self.kind == ValueKind::Object).then_some(self.end - 1)
    }
}

/// The set of dotted paths a scan looks for, compiled into a small tree of keys.
#[derive(Debug, Clone, Default)]
pub struct PathSet {
    root: Node,
    len: usize,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(Box<[u8]>, Node)>,
    /// The index of the path that ends here, in the order given to `new`.
    leaf: Option<usize>,
}

impl PathSet {
    pub fn new<S: AsRef<str>>(paths: &[S]) -> PathSet {
        let mut root = Node::default();
        for (index, path) in paths.iter().enumerate() {
            let mut node = &mut root;
            for key in path.as_ref().split('.') {
                let at = match node
                    .children
                    .iter()
                    .position(|(k, _)| **k == *key.as_bytes())
                {
                    Some(at) => at,
                    None => {
                        node.children.push((key.as_bytes().into(), Node::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            node.leaf = Some(index);
        }
        PathSet {
            root,
            len: paths.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `found(path index, value)` for each wanted path present in `json`, which must
    /// be one JSON object. A path under a value that is not an object is simply absent.
    pub fn scan(&self, json: &[u8], found: &mut impl FnMut(usize, Value)) -> Result<(), ScanError> {
        let mut at = skip_ws(json, 0);
        if json.get(at) != Some(&b'{') {
            return err(at, "the event is not a JSON object");
        }
        at = scan_object(json, at, &self.root, found)?;
        let at = skip_ws(json, at);
        if at != json.len() {
            return err(at, "text after the event's object");
        }
        Ok(())
    }
}

fn skip_ws(json: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = json.get(at) {
        at += 1;
    }
    at
}

/// Scans the object opening at `open`; returns the position after its `}`.
fn scan_object(
    json: &[u8],
    open: usize,
    node: &Node,
    found: &mut impl FnMut(usize, Value),
) -> Result<usize, ScanError> {
    let mut at = skip_ws(json, open + 1);
    if json.get(at) == Some(&b'}') {
        return Ok(at + 1);
    }
    loop {
        if json.get(at) != Some(&b'"') {
            return err(at, "expected a member name");
        }
        let (key_end, _) = string_end(json, at)?;
        let key = &json[at + 1..key_end - 1];
        at = skip_ws(json, key_end);
        if json.get(at) != Some(&b':') {
            return err(at, "expected ':' after a member name");
        }
        at = skip_ws(json, at + 1);
        let child = node
            .children
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|(_, n)| n);
        let value = match child {
            Some(child) if !child.children.is_empty() && json.get(at) == Some(&b'{') => {
                let end = scan_object(json, at, child, found)?;
                Value {
                    kind: ValueKind::Object,
                    start: at,
                    end,
                }
            }
            _ => skip_value(json, at)?,
        };
        if let Some(index) = child.and_then(|c| c.leaf) {
            found(index, value);
        }
        at = skip_ws(json, value.end);
        match json.get(at) {
            Some(b',') => at = skip_ws(json, at + 1),
            Some(b'}') => return Ok(at + 1),
            _ => return err(at, "expected ',' or '}' in an object"),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Bit masks (bit i: byte `at + i`) of the bytes that matter for skipping, over one block.
struct Block {
    quotes: u32,
    backslashes: u32,
    opens: u32,
    closes: u32,
}

const BLOCK: usize = 16;

/// The masks of the 16 bytes at `at`; the caller ensures `at + 16 <= json.len()`.
/// SSE2 (part of every x86_64) compares the 16 bytes at once; elsewhere two 8-byte words.
#[inline(always)]
fn block(json: &[u8], at: usize) -> Block {
    let bytes: &[u8; BLOCK] = json[at..at + BLOCK].try_into().expect("a whole block");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always available on x86_64, and the load reads exactly the 16
        // bytes of `bytes` (unaligned loads are allowed).
        unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr() as *const __m128i);
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            Block {
                quotes: _mm_movemask_epi8(eq(b'"')) as u32,
                backslashes: _mm_movemask_epi8(eq(b'\\')) as u32,
                opens: _mm_movemask_epi8(_mm_or_si128(eq(b'{'), eq(b'['))) as u32,
                closes: _mm_movemask_epi8(_mm_or_si128(eq(b'}'), eq(b']'))) as u32,
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let half = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("eight bytes"));
        let (lo, hi) = (half(&bytes[..8]), half(&bytes[8..]));
        let bits = |b: u8| byte_bits(lo, b) | byte_bits(hi, b) << 8;
        Block {
            quotes: bits(b'"'),
            backslashes: bits(b'\\'),
            opens: bits(b'{') | bits(b'['),
            closes: bits(b'}') | bits(b']'),
        }
    }
}

/// The bytes of `word` equal to `byte`, exactly, as one bit per byte (bit i: byte i).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn byte_bits(word: u64, byte: u8) -> u32 {
    const LOWS: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ (ONES * byte as u64);
    let zero_highs = !(((x & LOWS).wrapping_add(LOWS)) | x | LOWS);
    ((zero_highs >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// The first position at or after `at` holding one of `N` bytes, for the tail of a text
/// shorter than a block.
#[inline]
fn find_any<const N: usize>(json: &[u8], at: usize, bytes: [u8; N]) -> Option<usize> {
    json[at.min(json.len())..]
        .iter()
        .position(|c| bytes.contains(c))
        .map(|i| at + i)
}

/// The end (after the closing quote) of the string opening at `open`, and whether it has escapes.
#[inline]
fn string_end(json: &[u8], open: usize) -> Result<(usize, bool), ScanError> {
    let mut at = open + 1;
    let mut escaped = false;
    loop {
        let next = if at + BLOCK <= json.len() {
            let b = block(json, at);
            let stops = b.quotes | b.backslashes;
            if stops == 0 {
                at += BLOCK;
                continue;
            }
            Some(at + stops.trailing_zeros() as usize)
        } else {
            find_any(json, at, [b'"', b'\\'])
        };
        match next {
            Some(i) if json[i] == b'"' => return Ok((i + 1, escaped)),
            Some(i) => {
                escaped = true;
                at = i + 2;
            }
            None => return err(open, "unterminated string"),
        }
    }
}

/// Jumps over the value starting at `at`.
fn skip_value(json: &[u8], at: usize) -> Result<Value, ScanError> {
    let (kind, end) = match json.get(at) {
        Some(b'"') => {
            let (end, escaped) = string_end(json, at)?;
            (ValueKind::String { escaped }, end)
        }
        Some(b'{') => (ValueKind::Object, skip_nested(json, at)?),
        Some(b'[') => (ValueKind::Array, skip_nested(json, at)?),
        Some(_) => {
            let mut end = at;
            while let Some(c) = json.get(end) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                end += 1;
            }
            if end == at {
                return err(at, "expected a value");
            }
            (ValueKind::Scalar, end)
        }
        None => return err(at, "the event ends where a value was expected"),
    };
    Ok(Value {
        kind,
        start: at,
        end,
    })
}

/// Skips an object or array by counting brackets outside strings (not checking that
/// each closes its own kind: a value skipped is not read). A block at a time: the quotes'
/// running parity tells which brackets are inside strings. A block holding a backslash
/// (an escape) hands over to the byte-exact loop.
fn skip_nested(json: &[u8], open: usize) -> Result<usize, ScanError> {
    let mut depth = 1usize;
    let mut at = open + 1;
    let mut in_string = false;
    while at + BLOCK <= json.len() {
        let b = block(json, at);
        if b.backslashes != 0 {
            break;
        }
        // Bit i of `inside`: byte i follows an odd number of quotes of the block.
        let mut inside = b.quotes ^ (b.quotes << 1);
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside ^= inside << 8;
        if in_string {
            inside = !inside;
        }
        let mut structural = (b.opens | b.closes) & !inside & 0xffff;
        while structural != 0 {
            let i = structural.trailing_zeros();
            if b.opens >> i & 1 == 1 {
                depth += 1;
            } else {
                depth -= 1;
                if depth == 0 {
                    return Ok(at + i as usize + 1);
                }
            }
            structural &= structural - 1;
        }
        in_string = inside >> 15 & 1 == 1;
        at += BLOCK;
    }
    if in_string {
        // `at` is inside a string with no escape pending: finish it as from its quote.
        at = string_end(json, at - 1)?.0;
    }
    while depth > 0 {
        let Some(i) = find_any(json, at, [b'"', b'{', b'}', b'[', b']']) else {
            return err(open, "unterminated object or array");
        };
        match json[i] {
            b'"' => at = string_end(json, i)?.0,
            b'{' | b'[' => {
                depth += 1;
                at = i + 1;
            }
            _ => {
                depth -= 1;
                at = i + 1;
            }
        }
    }
    Ok(at)
}

/// Calls `each` with every element of an array value, without copying.
pub fn for_each_element(json: &[u8], array: Value, each: &mut impl FnMut(Value)) {
    if array.kind != ValueKind::Array {
        return;
    }
    let mut at = skip_ws(json, array.start + 1);
    while at < array.end - 1 {
        let Ok(element) = skip_value(json, at) else {
            break;
        };
        each(element);
        at = skip_ws(json, element.end);
        if json.get(at) == Some(&b',') {
            at = skip_ws(json, at + 1);
        }
    }
}

/// The string elements of an array value (other elements are skipped), or the value itself
/// when it is a string: ECS fields such as `related.ip` hold either.
pub fn strings<'a>(json: &'a [u8], value: Value) -> Vec<std::borrow::Cow<'a, str>> {
    let mut out = Vec::new();
    match value.kind {
        ValueKind::String { .. } => out.extend(value.as_str(json)),
        ValueKind::Array => {
            let mut at = skip_ws(json, value.start + 1);
            while at < value.end - 1 {
                let Ok(element) = skip_value(json, at) else {
                    break;
                };
                out.extend(element.as_str(json));
                at = skip_ws(json, element.end);
                if json.get(at) == Some(&b',') {
                    at = skip_ws(json, at + 1);
                }
            }
        }
        _ => {}
    }
    out
}

/// Writes `json` to `out` with each `(position, bytes)` inserted before that byte.
/// Positions must be increasing.
pub fn splice(json: &[u8], inserts: &[(usize, &[u8])], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(json.len() + inserts.iter().map(|(_, b)| b.len()).sum::<usize>());
    let mut from = 0;
    for &(at, bytes) in inserts {
        out.extend_from_slice(&json[from..at]);
        out.extend_from_slice(bytes);
        from = at;
    }
    out.extend_from_slice(&json[from..]);
}

/// The bytes that add members (`"k":v,...` without braces) at the end of the object
/// whose `}` is at `close`: a leading comma unless the object is empty.
pub fn member_prefix(json: &[u8], close: usize) -> &'static [u8] {
    let before = json[..close]
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'));
    if before == Some(&b'{') { b"" } else { b"," }
}

/// Appends `s` to `out` as a JSON string.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping cannot fail on a `str` written to a Vec.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(json: &str, paths: &[&str]) -> Vec<(String, String)> {
        let set = PathSet::new(paths);
        let mut got = Vec::new();
        set.scan(json.as_bytes(), &mut |i, v: Value| {
            got.push((paths[i].to_string(), json[v.start..v.end].to_string()));
        })
        .unwrap();
        got
    }

    #[test]
    fn finds_nested_paths_and_skips_everything_else() {
        let json = r#"{"message":"source.ip \"1.2.3.4\" {[","a":{"b":[1,{"c":"}"}]},"source":{"port":3,"ip":"10.0.0.1"},"related":{"ip":["1.1.1.1","2.2.2.2"]},"n":-1.5e3,"t":true}"#;
        assert_eq!(
            find(json, &["source.ip", "related.ip", "n", "t", "source"]),
            vec![
                ("source.ip".into(), r#""10.0.0.1""#.into()),
                ("source".into(), r#"{"port":3,"ip":"10.0.0.1"}"#.into()),
                ("related.ip".into(), r#"["1.1.1.1","2.2.2.2"]"#.into()),
                ("n".into(), "-1.5e3".into()),
                ("t".into(), "true".into()),
            ]
        );
    }

    #[test]
    fn skipping_is_exact_across_words_strings_and_escapes() {
        let tricky = [
            r#"{"a":"}}}}]]]]{{{{","b":[1,2,{"c":"]"}],"d":{}}"#,
            r#"{"a":"x\\\"}]","b":"\\\\","c":{"d":"\\"}}"#,
            r#"{"aaaaaaa":"bbbbbbbbbbbbbbb}","c":[[[[[[[[]]]]]]]],"e":"f"}"#,
            r#"{"a":"1234567","b":"x\"y}"}"#,
        ];
        for value in tricky {
            let json = format!(r#"{{"skip":{value},"k":"v"}}"#);
            // Every start offset of the value inside a word is exercised by padding.
            for pad in 0..16 {
                let json = format!("{}{json}", " ".repeat(pad));
                assert_eq!(
                    find(&json, &["k"]),
                    vec![("k".to_string(), "\"v\"".to_string())],
                    "{json}"
                );
                let end = skip_nested(json.as_bytes(), pad + 8).unwrap();
                assert_eq!(&json[pad + 8..end], value, "{json}");
            }
        }
    }

    #[test]
    fn tolerates_whitespace_and_a_path_under_a_non_object() {
        let json =
            " { \"source\" : \"x\" , \"dns\" : { \"question\" : { \"name\" : \"A.example\" } } } ";
        assert_eq!(
            find(json, &["source.ip", "dns.question.name"]),
            vec![("dns.question.name".into(), "\"A.example\"".into())]
        );
    }

    #[test]
    fn malformed_events_are_errors_with_their_offset() {
        let set = PathSet::new(&["a.b"]);
        for (bad, offset) in [
            ("[1]", 0),
            ("{\"a\":{\"b\":\"x}", 10),
            ("{\"a\" 1}", 5),
            ("{\"a\":1} x", 8),
            ("{\"a\":{\"c\":[}", 12),
            ("{\"a\":", 5),
        ] {
            let e = set.scan(bad.as_bytes(), &mut |_, _| {}).unwrap_err();
            assert_eq!(e.offset, offset, "{bad}: {e}");
        }
    }

    #[test]
    fn strings_of_an_array_or_a_string_with_escapes_decoded() {
        let json = r#"{"a":["x",1,"y\u00e9",null],"b":"z"}"#.as_bytes();
        let set = PathSet::new(&["a", "b"]);
        let mut got = Vec::new();
        set.scan(json, &mut |_, v| {
            got.extend(strings(json, v).into_iter().map(|s| s.into_owned()))
        })
        .unwrap();
        assert_eq!(got, ["x", "yé", "z"]);
    }

    #[test]
    fn splices_members_into_empty_and_non_empty_objects() {
        let json = br#"{"s":{},"d":{"a":1}}"#;
        let mut out = Vec::new();
        let (s_close, d_close) = (6, 18);
        assert_eq!(member_prefix(json, s_close), b"");
        assert_eq!(member_prefix(json, d_close), b",");
        splice(
            json,
            &[(s_close, b"\"g\":1"), (d_close, b",\"g\":2")],
            &mut out,
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"s":{"g":1},"d":{"a":1,"g":2}}"#
        );
    }
}
