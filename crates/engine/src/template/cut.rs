//! Pieces of register text around a separator, as the commonest split templates
//! give them: `x.split(sep)[0]` and `x.split(sep)[1:] | join(sep)`. Executors
//! that keep text outside of values take the piece as a slice of the text.

use super::ast::{Args, Expr};
use super::filters::Filter;
use super::methods::Method;
use super::{Kind, Template};
use crate::value::{Str, Value};

/// The piece of a register's text a [`Template::cut`] template gives when the
/// register holds text; a piece that is a container literal (see
/// [`super::may_be_container`]) is the evaluator's business.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cut {
    /// `x.split(sep)[0]`: the text before the first `sep` (all of it without one).
    Before(Str),
    /// `x.split(sep)[1:] | join(sep)`: the text after the first `sep` (none
    /// without one).
    After(Str),
}

impl Cut {
    /// The byte range of the piece of `text`.
    pub(crate) fn range(&self, text: &str) -> (usize, usize) {
        match self {
            Cut::Before(sep) => (0, text.find(sep.as_str()).unwrap_or(text.len())),
            Cut::After(sep) => match text.find(sep.as_str()) {
                Some(i) => (i + sep.len(), text.len()),
                None => (text.len(), text.len()),
            },
        }
    }
}

/// The one constant, non-empty text argument of a call.
fn sep_arg(args: &Args) -> Option<&Str> {
    match (args.pos.as_slice(), args.kw.is_empty()) {
        ([Expr::Const(Value::Str(s))], true) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// `reg.split(sep)`: the register and the separator.
fn split_of(e: &Expr) -> Option<(u32, &Str)> {
    let Expr::Method(call, None) = e else {
        return None;
    };
    match (call.kind, &call.input) {
        (Method::Split, Expr::Reg(r)) => Some((*r, sep_arg(&call.args)?)),
        _ => None,
    }
}

impl Template {
    /// For a template of a [`Cut`] shape over one register: the cut and the register.
    pub(crate) fn cut(&self) -> Option<(Cut, u32)> {
        let Kind::Expr(e) = &self.kind else {
            return None;
        };
        match e {
            Expr::Item(base, index) if matches!(**index, Expr::Const(Value::Int(0))) => {
                let (r, sep) = split_of(base)?;
                Some((Cut::Before(sep.clone()), r))
            }
            Expr::Filter(join) if join.kind == Filter::Join => {
                let joiner = sep_arg(&join.args)?;
                let Expr::Slice(base, parts) = &join.input else {
                    return None;
                };
                let [Some(Expr::Const(Value::Int(1))), None, None] = &**parts else {
                    return None;
                };
                let (r, sep) = split_of(base)?;
                (sep == joiner).then(|| (Cut::After(sep.clone()), r))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Scope;

    struct Layers;
    impl Scope for Layers {
        fn slot(&self, name: &str) -> Option<usize> {
            (name == "l").then_some(2)
        }
    }

    fn cut_of(source: &str) -> Option<(Cut, u32)> {
        let t = Template::compile(source, &Layers).unwrap();
        t.rebind(&mut |_, _, _| Some(7))?.cut()
    }

    #[test]
    fn recognizes_the_two_shapes_only() {
        let before = Some((Cut::Before(Str::from(":")), 7));
        let after = Some((Cut::After(Str::from("::")), 7));
        assert_eq!(cut_of("{{ l.m.split(':')[0] }}"), before);
        assert_eq!(cut_of("{{ l.m.split('::')[1:] | join('::') }}"), after);
        for other in [
            "{{ l.m.split(':')[1] }}",
            "{{ l.m.split(':')[-1] }}",
            "{{ l.m.split()[0] }}",
            "{{ l.m.split('')[0] }}",
            "{{ l.m.split(':', 1)[0] }}",
            "{{ l.m.rsplit(':')[0] }}",
            "{{ l.m.split(':')[1:] | join(';') }}",
            "{{ l.m.split(':')[2:] | join(':') }}",
            "{{ l.m.split(':')[1:] | join }}",
            "{{ l.m.split(':')[0] }}x",
            "{{ 'a:b'.split(':')[0] }}",
        ] {
            assert_eq!(cut_of(other), None, "{other}");
        }
        // Before rebinding the path is no register.
        let t = Template::compile("{{ l.m.split(':')[0] }}", &Layers).unwrap();
        assert_eq!(t.cut(), None);
    }

    #[test]
    fn pieces_are_those_of_split() {
        let before = Cut::Before(Str::from(":"));
        let after = Cut::After(Str::from(":"));
        let piece = |c: &Cut, t: &'static str| {
            let (lo, hi) = c.range(t);
            &t[lo..hi]
        };
        for text in ["AUT1: a:b", "no sep", "", ":", "é:ü:", "a::b"] {
            let parts: Vec<&str> = text.split(':').collect();
            assert_eq!(piece(&before, text), parts[0], "{text:?}");
            assert_eq!(piece(&after, text), parts[1..].join(":"), "{text:?}");
        }
        let wide = Cut::After(Str::from("::"));
        assert_eq!(piece(&wide, "a::b::c"), "b::c");
    }
}
