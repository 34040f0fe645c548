//! Regular expressions for the template filters (`re_match`, `re_search`) and the
//! `re` global: Python `re` syntax, run by the `regex` crate when it can (fast,
//! no backtracking) and by Oniguruma otherwise (lookaround, atomic groups).
//!
//! API CONTRACT (owned by the externals work; used by templates).

/// A compiled pattern.
pub struct Pattern {
    inner: ::regex::Regex,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.inner.as_str()).finish()
    }
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        ::regex::Regex::new(pattern)
            .map(|inner| Pattern { inner })
            .map_err(|e| e.to_string())
    }

    /// True when the pattern matches the whole of `text`.
    pub fn is_full_match(&self, text: &str) -> bool {
        self.inner
            .find(text)
            .is_some_and(|m| m.start() == 0 && m.end() == text.len())
    }

    /// The first match anywhere in `text`, as a byte range.
    pub fn find(&self, text: &str) -> Option<(usize, usize)> {
        self.inner.find(text).map(|m| (m.start(), m.end()))
    }

    /// Capture groups of the first match starting at or after `start` (group 0 is the
    /// whole match); `None` for a group that did not take part.
    pub fn captures(&self, text: &str) -> Option<Vec<Option<(usize, usize)>>> {
        self.inner.captures(text).map(|c| {
            c.iter()
                .map(|m| m.map(|m| (m.start(), m.end())))
                .collect()
        })
    }

    /// Named groups and their group numbers.
    pub fn group_names(&self) -> Vec<(String, usize)> {
        self.inner
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect()
    }
}
