//! Regular expressions for the template filters (`re_match`, `re_search`) and the
//! `re` global: Python `re` syntax, run by the `regex` crate when it can (fast,
//! no backtracking) and by Oniguruma otherwise (lookaround, atomic groups,
//! backreferences).
//!
//! API CONTRACT (owned by the externals work; used by templates).
//!
//! Both engines report byte ranges. Oniguruma runs with a retry limit: a match
//! that would backtrack catastrophically counts as "no match" instead of hanging.

use std::sync::OnceLock;

use onig::{MatchParam, RegexOptions, Region, SearchOptions, Syntax};

/// Backtracking budget for Oniguruma matches (shared with grok).
pub(crate) const ONIG_RETRY_LIMIT: u32 = 2_000_000;

/// Group spans of one match: group 0 is the whole match; `None` for a group that
/// did not take part.
pub type Groups = Vec<Option<(usize, usize)>>;

/// A compiled pattern.
pub struct Pattern {
    inner: Engine,
    source: String,
    /// `\A(?:…)\z` and `\A(?:…)`, built on first use.
    full: OnceLock<Option<Engine>>,
    start: OnceLock<Option<Engine>>,
}

enum Engine {
    Fast(::regex::Regex),
    Onig(onig::Regex),
}

impl Engine {
    fn compile(source: &str) -> Result<Engine, String> {
        match ::regex::Regex::new(source) {
            Ok(r) => Ok(Engine::Fast(r)),
            Err(fast_err) => onig_compile(
                &python_to_onig(source),
                RegexOptions::REGEX_OPTION_CAPTURE_GROUP,
            )
            .map(Engine::Onig)
            .map_err(|onig_err| match fast_err {
                ::regex::Error::CompiledTooBig(_) => fast_err.to_string(),
                _ => onig_err,
            }),
        }
    }

    fn captures_at(&self, text: &str, start: usize) -> Option<Groups> {
        if start > text.len() || !text.is_char_boundary(start) {
            return None;
        }
        match self {
            Engine::Fast(r) => r
                .captures_at(text, start)
                .map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect()),
            Engine::Onig(r) => {
                let mut region = Region::new();
                onig_search(r, text, start, &mut region)?;
                Some((0..region.len()).map(|i| region.pos(i)).collect())
            }
        }
    }

    fn find_at(&self, text: &str, start: usize) -> Option<(usize, usize)> {
        if start > text.len() || !text.is_char_boundary(start) {
            return None;
        }
        match self {
            Engine::Fast(r) => r.find_at(text, start).map(|m| (m.start(), m.end())),
            Engine::Onig(r) => {
                let mut region = Region::new();
                onig_search(r, text, start, &mut region)?;
                region.pos(0)
            }
        }
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        Ok(Pattern {
            inner: Engine::compile(pattern)?,
            source: pattern.to_string(),
            full: OnceLock::new(),
            start: OnceLock::new(),
        })
    }

    /// The pattern's source text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the pattern matches the whole of `text` (Python's `fullmatch`,
    /// which backtracks into longer alternatives: `a|ab` matches `ab`).
    pub fn is_full_match(&self, text: &str) -> bool {
        self.full
            .get_or_init(|| Engine::compile(&format!("\\A(?:{})\\z", self.source)).ok())
            .as_ref()
            .is_some_and(|f| f.find_at(text, 0).is_some())
    }

    /// The first match anywhere in `text`, as a byte range.
    pub fn find(&self, text: &str) -> Option<(usize, usize)> {
        self.inner.find_at(text, 0)
    }

    /// The first match starting at or after byte `start` (context before `start`
    /// still counts for `\b` and lookbehind). `None` if `start` is not a char boundary.
    pub fn find_at(&self, text: &str, start: usize) -> Option<(usize, usize)> {
        self.inner.find_at(text, start)
    }

    /// Capture groups of the first match (group 0 is the whole match); `None` for a
    /// group that did not take part.
    pub fn captures(&self, text: &str) -> Option<Groups> {
        self.inner.captures_at(text, 0)
    }

    /// Like [`Pattern::captures`], for the first match starting at or after `start`.
    pub fn captures_at(&self, text: &str, start: usize) -> Option<Groups> {
        self.inner.captures_at(text, start)
    }

    /// Captures of a match anchored at the start of `text` (Python's `re.match`).
    pub fn captures_anchored(&self, text: &str) -> Option<Groups> {
        self.start
            .get_or_init(|| Engine::compile(&format!("\\A(?:{})", self.source)).ok())
            .as_ref()?
            .captures_at(text, 0)
    }

    /// All non-overlapping matches, left to right (Python's `finditer`), each with
    /// its groups. After an empty match the search moves on by one character.
    pub fn captures_all(&self, text: &str) -> Vec<Groups> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos <= text.len() {
            let Some(caps) = self.captures_at(text, pos) else {
                break;
            };
            let Some((s, e)) = caps.first().copied().flatten() else {
                break;
            };
            out.push(caps);
            pos = if e > s {
                e
            } else {
                match text[e..].chars().next() {
                    Some(c) => e + c.len_utf8(),
                    None => break,
                }
            };
        }
        out
    }

    /// Python's `re.split` without captured separators: the pieces between matches.
    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        let mut last = 0;
        for caps in self.captures_all(text) {
            if let Some((s, e)) = caps[0] {
                out.push(&text[last..s]);
                last = e;
            }
        }
        out.push(&text[last..]);
        out
    }

    /// Replaces every match with `with(text, groups)`.
    pub fn replace_all(
        &self,
        text: &str,
        mut with: impl FnMut(&str, &[Option<(usize, usize)>]) -> String,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for caps in self.captures_all(text) {
            if let Some((s, e)) = caps[0] {
                out.push_str(&text[last..s]);
                out.push_str(&with(text, &caps));
                last = e;
            }
        }
        out.push_str(&text[last..]);
        out
    }

    /// Named groups and their group numbers.
    pub fn group_names(&self) -> Vec<(String, usize)> {
        match &self.inner {
            Engine::Fast(r) => r
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                .collect(),
            Engine::Onig(r) => {
                let mut out = Vec::new();
                r.foreach_name(|name, groups| {
                    for &g in groups {
                        out.push((name.to_string(), g as usize));
                    }
                    true
                });
                out.sort_by_key(|(_, g)| *g);
                out
            }
        }
    }

    /// The number of groups, group 0 included.
    pub fn group_count(&self) -> usize {
        match &self.inner {
            Engine::Fast(r) => r.captures_len(),
            Engine::Onig(r) => r.captures_len() + 1,
        }
    }
}

/// Python spellings Oniguruma's Perl syntax lacks: `(?P<n>` → `(?<n>`,
/// `(?P=n)` → `\k<n>`, `(?P>n)` → `\g<n>`.
pub(crate) fn python_to_onig(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(i) = rest.find("(?P") {
        let escaped = rest[..i].bytes().rev().take_while(|&c| c == b'\\').count() % 2 == 1;
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        rest = after;
        if escaped {
            out.push_str("(?P");
        } else if let Some(a) = after.strip_prefix('<') {
            out.push_str("(?<");
            rest = a;
        } else if let Some((kind, a)) = after
            .strip_prefix('=')
            .map(|a| ("\\k<", a))
            .or_else(|| after.strip_prefix('>').map(|a| ("\\g<", a)))
            && let Some(end) = a.find(')')
        {
            out.push_str(kind);
            out.push_str(&a[..end]);
            out.push('>');
            rest = &a[end + 1..];
        } else {
            out.push_str("(?P");
        }
    }
    out.push_str(rest);
    out
}

/// Compiles with Perl-with-named-groups syntax: `.` stops at newlines, `^`/`$`
/// are string anchors unless `(?m)`; `(?<n>…)`, lookaround and atomic groups work.
pub(crate) fn onig_compile(pattern: &str, options: RegexOptions) -> Result<onig::Regex, String> {
    onig::Regex::with_options(pattern, options, Syntax::perl_ng())
        .map_err(|e| e.description().to_string())
}

fn param() -> MatchParam {
    let mut p = MatchParam::default();
    p.set_retry_limit_in_match(ONIG_RETRY_LIMIT);
    p
}

/// Anchored match at `at`: the end of the match, or `None` (also when the retry
/// limit is hit; onig's plain `search` panics on that, so never use it).
pub(crate) fn onig_match_at(
    r: &onig::Regex,
    text: &str,
    at: usize,
    region: &mut Region,
) -> Option<usize> {
    match r.match_with_param(
        text,
        at,
        SearchOptions::SEARCH_OPTION_NONE,
        Some(region),
        param(),
    ) {
        Ok(Some(len)) => Some(at + len),
        _ => None,
    }
}

/// Search from `from`: the start of the match, or `None` (also on a limit hit).
fn onig_search(r: &onig::Regex, text: &str, from: usize, region: &mut Region) -> Option<usize> {
    r.search_with_param(
        text,
        from,
        text.len(),
        SearchOptions::SEARCH_OPTION_NONE,
        Some(region),
        param(),
    )
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_engine_for_plain_patterns() {
        let p = Pattern::new(r"(?P<k>\w+)=(\d+)").unwrap();
        assert!(matches!(p.inner, Engine::Fast(_)));
        assert_eq!(p.find("x a=12"), Some((2, 6)));
        assert_eq!(
            p.captures("a=12").unwrap(),
            vec![Some((0, 4)), Some((0, 1)), Some((2, 4))]
        );
        assert_eq!(p.group_names(), vec![("k".to_string(), 1)]);
        assert!(p.is_full_match("a=12"));
        assert!(!p.is_full_match("a=12 "));
        // leftmost-first would stop at `a`
        assert!(Pattern::new("a|ab").unwrap().is_full_match("ab"));
    }

    #[test]
    fn onig_fallback_for_lookaround_and_backrefs() {
        let p = Pattern::new(r"(?<![0-9])(?P<n>[0-9]+)(?=px)").unwrap();
        assert!(matches!(p.inner, Engine::Onig(_)));
        assert_eq!(p.find("a12px"), Some((1, 3)));
        assert_eq!(p.find("a12"), None);
        assert_eq!(p.group_names(), vec![("n".to_string(), 1)]);
        // Plain groups are numbered too, as in Python.
        let q = Pattern::new(r"(a)(?P<b>b)(?=c)").unwrap();
        assert_eq!(
            q.captures("abc").unwrap(),
            vec![Some((0, 2)), Some((0, 1)), Some((1, 2))]
        );
        let r = Pattern::new(r"(?P<q>['\x22])x(?P=q)").unwrap();
        assert!(r.is_full_match("'x'"));
        assert!(!r.is_full_match("'x\""));
        let atomic = Pattern::new(r"(?>a+)b").unwrap();
        assert_eq!(atomic.find("aaab"), Some((0, 4)));
    }

    #[test]
    fn helpers() {
        let p = Pattern::new(r",\s*").unwrap();
        assert_eq!(p.split("a, b,c"), vec!["a", "b", "c"]);
        assert_eq!(p.replace_all("a, b,c", |_, _| ";".into()), "a;b;c");
        let e = Pattern::new("x*").unwrap();
        assert_eq!(e.captures_all("ab").len(), 3);
        assert_eq!(p.find_at("a, b", 2), None);
        assert_eq!(p.find_at("é,", 1), None, "not a char boundary");
    }

    #[test]
    fn invalid_patterns_are_errors() {
        assert!(Pattern::new("(").is_err());
        assert!(Pattern::new("[a-").is_err());
    }

    #[test]
    fn catastrophic_backtracking_is_bounded() {
        let p = Pattern::new(r"(?=x?)(a+)+$").unwrap();
        let text = format!("{}!", "a".repeat(40));
        assert_eq!(p.find(&text), None);
    }
}
