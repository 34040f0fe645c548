//! `xml.parse-xml` (SPEC §2.9): an XML document as nested maps, the way Python's
//! `xmltodict` gives it, which the catalog's templates are written against
//! (`Task.Actions.Exec.Command`, `Data | selectattr('@Name', …)`, `.get('#text')`).
//!
//! * The result is `{root tag: content}`. Names keep their namespace prefix.
//! * An element with neither attributes nor child elements is its text, trimmed,
//!   or null when empty. Otherwise it is a map: attributes as `@name`, then child
//!   elements by tag (a repeated tag becomes a list, in document order), then the
//!   element's own trimmed text as `#text` when there is any.
//! * Entities and character references are decoded; CDATA is text; comments,
//!   processing instructions and the doctype are skipped.
//! * Malformed XML (mismatched or unclosed tags, an unknown entity, a second root,
//!   text outside the root) is rejected with the reader's reason and position.
//!
//! Reading uses `quick-xml`; [`parse_tree`] is shared with `xml.parse-windows-event`.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Value};

/// One element of a document.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    /// The element's own text (not its children's), untrimmed.
    pub(crate) text: String,
}

/// The root element of `text`.
pub(crate) fn parse_tree(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let at = |reader: &Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => open.push(element(&start)?),
            Event::Empty(start) => {
                let done = element(&start)?;
                close(done, &mut open, &mut root, at(&reader))?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches.
                let done = open
                    .pop()
                    .ok_or_else(|| format!("invalid XML at byte {}: stray end tag", at(&reader)))?;
                close(done, &mut open, &mut root, at(&reader))?;
            }
            Event::Text(t) => {
                let content = t.xml10_content().map_err(|e| e.to_string())?;
                add_text(&content, &mut open, at(&reader))?;
            }
            Event::CData(t) => {
                let content = t.decode().map_err(|e| e.to_string())?;
                add_text(&content, &mut open, at(&reader))?;
            }
            Event::GeneralRef(r) => {
                let decoded = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                format!(
                                    "invalid XML at byte {}: unknown entity &{name};",
                                    at(&reader)
                                )
                            })?
                            .to_string()
                    }
                };
                add_text(&decoded, &mut open, at(&reader))?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(format!(
            "invalid XML: element <{}> is not closed",
            unclosed.name
        ));
    }
    root.ok_or_else(|| "invalid XML: no element".to_string())
}

fn element(start: &BytesStart) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("invalid XML attribute in <{name}>: {e}"))?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| format!("invalid XML attribute {key:?} in <{name}>: {e}"))?;
        attributes.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attributes,
        ..Element::default()
    })
}

fn close(
    done: Element,
    open: &mut [Element],
    root: &mut Option<Element>,
    at: u64,
) -> Result<(), String> {
    match open.last_mut() {
        Some(parent) => parent.children.push(done),
        None if root.is_none() => *root = Some(done),
        None => {
            return Err(format!(
                "invalid XML at byte {at}: a second root element <{}>",
                done.name
            ));
        }
    }
    Ok(())
}

fn add_text(text: &str, open: &mut [Element], at: u64) -> Result<(), String> {
    match open.last_mut() {
        Some(e) => e.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => {
            return Err(format!(
                "invalid XML at byte {at}: text outside the root element"
            ));
        }
    }
    Ok(())
}

/// `element` in xmltodict's shape.
pub(crate) fn to_value(element: Element) -> Value {
    let text = element.text.trim();
    if element.attributes.is_empty() && element.children.is_empty() {
        return if text.is_empty() {
            Value::Null
        } else {
            Value::from(text)
        };
    }
    let mut map = Map::with_capacity(element.attributes.len() + element.children.len() + 1);
    for (key, value) in element.attributes {
        map.insert(format!("@{key}"), Value::from(value));
    }
    let text = (!text.is_empty()).then(|| text.to_string());
    for child in element.children {
        let name = child.name.clone();
        let value = to_value(child);
        match map.get_mut(&name) {
            // Element values are never lists, so a list is a repeated tag.
            Some(Value::List(items)) => items.push(value),
            Some(first) => {
                let first = std::mem::take(first);
                *map.get_mut(&name).expect("present") = Value::List(vec![first, value]);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    if let Some(text) = text {
        map.insert("#text", Value::from(text));
    }
    Value::Map(map)
}

#[derive(Debug)]
pub(crate) struct Xml;

impl Xml {
    pub(crate) fn compile(_props: &mut Props) -> Result<Xml, String> {
        Ok(Xml)
    }
}

impl Parser for Xml {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        let root = parse_tree(&text).map_err(Failure::Invalid)?;
        let mut out = Map::with_capacity(1);
        let name = root.name.clone();
        out.insert(name, to_value(root));
        Ok(Value::Map(out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;
    use crate::value::Value;

    fn xml(input: &str) -> Value {
        let (p, w) = build("xml.parse-xml", &[]).unwrap();
        assert!(w.is_empty());
        run(&*p, input).unwrap()
    }

    fn json(v: &Value) -> String {
        crate::json::to_json_string(v)
    }

    #[test]
    fn text_elements_nesting_and_repeats() {
        let v = xml(
            "<?xml version=\"1.0\"?>\n<!-- job -->\n<Job><Run><Cmd> backup.exe </Cmd>\
             <Arg>-q</Arg><Arg>-z</Arg><Empty/><Blank>  </Blank></Run></Job>",
        );
        assert_eq!(
            json(&v),
            r#"{"Job":{"Run":{"Cmd":"backup.exe","Arg":["-q","-z"],"Empty":null,"Blank":null}}}"#
        );
    }

    #[test]
    fn attributes_and_text_beside_them() {
        let v = xml("<Rec xmlns='urn:x' id=\"7\"><Field Name='user'>kim</Field>\
             <Field Name='empty'/>tail</Rec>");
        assert_eq!(
            json(&v),
            r##"{"Rec":{"@xmlns":"urn:x","@id":"7","Field":[{"@Name":"user","#text":"kim"},{"@Name":"empty"}],"#text":"tail"}}"##
        );
    }

    #[test]
    fn entities_cdata_and_prefixes() {
        let v = xml("<a:Doc><b>&lt;x&gt; &amp; &#65;&#x42;</b><c><![CDATA[1 < 2]]></c></a:Doc>");
        assert_eq!(json(&v), r#"{"a:Doc":{"b":"<x> & AB","c":"1 < 2"}}"#);
    }

    #[test]
    fn malformed_documents_are_rejected() {
        let (p, _) = build("xml.parse-xml", &[]).unwrap();
        for (bad, reason) in [
            ("<a><b></a>", "invalid XML"),
            ("<a><b>", "not closed"),
            ("<a/><b/>", "second root"),
            ("<a>&nope;</a>", "unknown entity"),
            ("just text", "outside the root"),
            ("", "no element"),
            ("<a x='1' x='2'/>", "attribute"),
        ] {
            match run(&*p, bad) {
                Err(Failure::Invalid(why)) => assert!(why.contains(reason), "{bad}: {why}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
