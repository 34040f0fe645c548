//! Regular expressions for the template filters (`re_match`, `re_search`) and the
//! `re` global: Python `re` syntax, run by the `regex` crate when it can (fast,
//! no backtracking) and by Oniguruma otherwise (lookaround, atomic groups).

/// A compiled pattern.
pub struct Pattern {
    inner: ::regex::Regex,
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
}
