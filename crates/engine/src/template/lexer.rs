//! Lexer: splits a template into text and tag tokens, and tokenizes the
//! expressions inside `{{ }}` / `{% %}` (also used alone for `literal_eval`).

use super::TemplateError;
use crate::value::Str;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    VarBegin,
    VarEnd,
    BlockBegin,
    BlockEnd,
    Name(Str),
    Str(String),
    Int(i64),
    Float(f64),
    /// An operator or punctuation, e.g. `==`, `(`, `|`.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

fn err(message: impl Into<String>, offset: usize) -> TemplateError {
    TemplateError {
        message: message.into(),
        offset,
    }
}

/// Longest operators first so that `//` wins over `/`.
const OPS: [&str; 28] = [
    "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":",
    "|", "(", ")", "[", "]", "{", "}", ";", "!", "&",
];

/// Tokenizes a whole template source.
pub(crate) fn lex_template(src: &str) -> Result<Vec<Token>, TemplateError> {
    // Jinja drops a single trailing newline of the source.
    let src = src
        .strip_suffix("\r\n")
        .or_else(|| src.strip_suffix('\n'))
        .or_else(|| src.strip_suffix('\r'))
        .unwrap_or(src);
    let b = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut lstrip_next = false;
    while i < b.len() {
        // Find the next tag opening.
        let mut j = i;
        let mut found = None;
        while let Some(off) = memchr::memchr(b'{', &b[j..]) {
            let k = j + off;
            match b.get(k + 1) {
                Some(b'{') | Some(b'%') | Some(b'#') => {
                    found = Some(k);
                    break;
                }
                _ => j = k + 1,
            }
        }
        let end = found.unwrap_or(b.len());
        let mut text = &src[i..end];
        if lstrip_next {
            text = text.trim_start();
            lstrip_next = false;
        }
        let Some(k) = found else {
            push_text(&mut out, text, i);
            break;
        };
        let kind = b[k + 1];
        let minus = b.get(k + 2) == Some(&b'-');
        if minus {
            text = text.trim_end();
        }
        push_text(&mut out, text, i);
        let mut p = k + 2 + usize::from(minus);
        // `{%+` / `{{+` disable lstrip in Jinja; we have no lstrip, so just skip it.
        if !minus && b.get(p) == Some(&b'+') && kind != b'{' {
            p += 1;
        }
        match kind {
            b'#' => {
                let close = find_sub(b, p, b"#}").ok_or_else(|| err("unclosed comment", k))?;
                if close > p && b[close - 1] == b'-' {
                    lstrip_next = true;
                }
                i = close + 2;
            }
            _ => {
                let is_var = kind == b'{';
                out.push(Token {
                    tok: if is_var {
                        Tok::VarBegin
                    } else {
                        Tok::BlockBegin
                    },
                    pos: k,
                });
                let (np, strip) = lex_tag(src, p, is_var, &mut out)?;
                lstrip_next = strip;
                i = np;
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

fn push_text(out: &mut Vec<Token>, text: &str, pos: usize) {
    if !text.is_empty() {
        out.push(Token {
            tok: Tok::Text(text.to_string()),
            pos,
        });
    }
}

fn find_sub(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Tokenizes inside a tag until its end marker (only recognised outside brackets,
/// as Jinja does, so `{{ {'a': {'b': 1}} }}` works). Returns the position after
/// the tag and whether it ended with `-` (strip following whitespace).
fn lex_tag(
    src: &str,
    mut p: usize,
    is_var: bool,
    out: &mut Vec<Token>,
) -> Result<(usize, bool), TemplateError> {
    let b = src.as_bytes();
    let close: &[u8] = if is_var { b"}}" } else { b"%}" };
    let mut depth: usize = 0;
    loop {
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= b.len() {
            return Err(err("unclosed tag", p));
        }
        if depth == 0 {
            if b[p..].starts_with(close) {
                out.push(end_tok(is_var, p));
                return Ok((p + 2, false));
            }
            if b[p] == b'-' && b[p + 1..].starts_with(close) {
                out.push(end_tok(is_var, p));
                return Ok((p + 3, true));
            }
        }
        let (tok, np) = lex_one(src, p, false)?;
        match &tok {
            Tok::Op("(") | Tok::Op("[") | Tok::Op("{") => depth += 1,
            Tok::Op(")") | Tok::Op("]") | Tok::Op("}") => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.push(Token { tok, pos: p });
        p = np;
    }
}

fn end_tok(is_var: bool, pos: usize) -> Token {
    Token {
        tok: if is_var { Tok::VarEnd } else { Tok::BlockEnd },
        pos,
    }
}

/// Tokenizes a bare expression (for `literal_eval`): Python comments and line
/// continuations are skipped.
pub(crate) fn lex_expr(src: &str, python: bool) -> Result<Vec<Token>, TemplateError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < b.len() && (b[p].is_ascii_whitespace() || b[p] == b'\\') {
            p += 1;
        }
        if p < b.len() && b[p] == b'#' {
            while p < b.len() && b[p] != b'\n' {
                p += 1;
            }
            continue;
        }
        if p >= b.len() {
            out.push(Token {
                tok: Tok::Eof,
                pos: p,
            });
            return Ok(out);
        }
        let (tok, np) = lex_one(src, p, python)?;
        out.push(Token { tok, pos: p });
        p = np;
    }
}

/// One expression token at `p` (not whitespace).
fn lex_one(src: &str, p: usize, python: bool) -> Result<(Tok, usize), TemplateError> {
    let b = src.as_bytes();
    let c = b[p];
    if c == b'\'' || c == b'"' {
        return lex_string(src, p);
    }
    if c.is_ascii_digit() {
        // After a `.` only an integer is allowed: `x.0.y` is `x[0].y`.
        let after_dot = p > 0 && b[p - 1] == b'.';
        return lex_number(src, p, after_dot, python);
    }
    if python && c == b'.' && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
        return lex_number(src, p, false, python);
    }
    if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 {
        let mut q = p;
        while q < b.len() && (b[q] == b'_' || b[q].is_ascii_alphanumeric() || b[q] >= 0x80) {
            q += 1;
        }
        // Python string prefixes (literal_eval only): u'…', r'…', b'…' are rare.
        if python && q < b.len() && (b[q] == b'\'' || b[q] == b'"') {
            let prefix = src[p..q].to_ascii_lowercase();
            if prefix == "u" {
                return lex_string(src, q);
            }
            if prefix == "r" {
                return lex_raw_string(src, q);
            }
        }
        // A non-ASCII run may end in the middle of nothing: q only stops at ASCII bytes.
        return Ok((Tok::Name(Str::from(&src[p..q])), q));
    }
    for op in OPS {
        if b[p..].starts_with(op.as_bytes()) {
            return Ok((Tok::Op(op), p + op.len()));
        }
    }
    Err(err(format!("unexpected character {:?}", c as char), p))
}

fn lex_number(
    src: &str,
    p: usize,
    int_only: bool,
    python: bool,
) -> Result<(Tok, usize), TemplateError> {
    let b = src.as_bytes();
    if b[p] == b'0'
        && p + 1 < b.len()
        && matches!(b[p + 1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
    {
        let radix = match b[p + 1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            _ => 2,
        };
        let mut q = p + 2;
        while q < b.len() && (b[q].is_ascii_alphanumeric() || b[q] == b'_') {
            q += 1;
        }
        let digits: String = src[p + 2..q].chars().filter(|&c| c != '_').collect();
        let v = i64::from_str_radix(&digits, radix).map_err(|_| err("bad integer literal", p))?;
        return Ok((Tok::Int(v), q));
    }
    let digits = |mut q: usize| {
        while q < b.len() && (b[q].is_ascii_digit() || (b[q] == b'_' && q > p)) {
            q += 1;
        }
        q
    };
    let mut q = digits(p);
    let mut is_float = false;
    if !int_only {
        if q < b.len() && b[q] == b'.' && b.get(q + 1).is_some_and(u8::is_ascii_digit) {
            q = digits(q + 1);
            is_float = true;
        } else if python && q < b.len() && b[q] == b'.' {
            // Python accepts `1.`.
            q += 1;
            is_float = true;
        }
        if q < b.len() && (b[q] == b'e' || b[q] == b'E') {
            let mut r = q + 1;
            if r < b.len() && (b[r] == b'+' || b[r] == b'-') {
                r += 1;
            }
            if r < b.len() && b[r].is_ascii_digit() {
                q = digits(r);
                is_float = true;
            }
        }
    }
    let text: String = src[p..q].chars().filter(|&c| c != '_').collect();
    if is_float {
        let f: f64 = text.parse().map_err(|_| err("bad float literal", p))?;
        Ok((Tok::Float(f), q))
    } else {
        match text.parse::<i64>() {
            Ok(v) => Ok((Tok::Int(v), q)),
            // Python ints are unbounded; a huge literal becomes a float rather than failing.
            Err(_) => Ok((Tok::Float(text.parse().unwrap_or(f64::INFINITY)), q)),
        }
    }
}

fn lex_raw_string(src: &str, p: usize) -> Result<(Tok, usize), TemplateError> {
    let quote = src.as_bytes()[p];
    let b = src.as_bytes();
    let mut q = p + 1;
    while q < b.len() {
        if b[q] == b'\\' {
            q += 2;
            continue;
        }
        if b[q] == quote {
            return Ok((Tok::Str(src[p + 1..q].to_string()), q + 1));
        }
        q += 1;
    }
    Err(err("unterminated string", p))
}

/// A quoted string with Python escapes.
fn lex_string(src: &str, p: usize) -> Result<(Tok, usize), TemplateError> {
    let quote = src.as_bytes()[p] as char;
    let mut out = String::new();
    let mut it = src[p + 1..].char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == quote {
            return Ok((Tok::Str(out), p + 1 + i + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = it.next() else { break };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\n' => {}
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut code = 0u32;
                for _ in 0..n {
                    let d = it
                        .next()
                        .and_then(|(_, h)| h.to_digit(16))
                        .ok_or_else(|| err("bad escape", p + 1 + i))?;
                    code = code * 16 + d;
                }
                out.push(char::from_u32(code).ok_or_else(|| err("bad escape", p + 1 + i))?);
            }
            '0'..='7' => {
                let mut code = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match it.peek().and_then(|&(_, h)| h.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            it.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            other => {
                // Python keeps unknown escapes verbatim (`\d` stays `\d`).
                out.push('\\');
                out.push(other);
            }
        }
    }
    Err(err("unterminated string", p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex_template(s)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn text_and_tags_with_whitespace_control() {
        assert_eq!(
            toks("a  {%- if x -%}  b\n"),
            vec![
                Tok::Text("a".into()),
                Tok::BlockBegin,
                Tok::Name("if".into()),
                Tok::Name("x".into()),
                Tok::BlockEnd,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn nested_braces_do_not_close_a_variable() {
        let t = toks("{{ {'a': {'b': 1}} }}");
        assert_eq!(t.iter().filter(|t| **t == Tok::VarEnd).count(), 1);
    }

    #[test]
    fn dotted_integer_is_not_a_float() {
        let t = toks("{{ x.0.y }}");
        assert_eq!(t[3], Tok::Int(0));
        assert_eq!(t[1], Tok::Name("x".into()));
    }

    #[test]
    fn escapes() {
        let t = toks(r#"{{ "a\tb\x41\d" }}"#);
        assert_eq!(t[1], Tok::Str("a\tbA\\d".into()));
    }
}
