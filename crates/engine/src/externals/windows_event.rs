//! `xml.parse-windows-event` (SPEC §2.9): a Windows event log record
//! (`<Event><System>…</System><EventData>…</EventData></Event>`) as two flat maps
//! of strings, the shape the catalog's Azure Windows format reads:
//!
//! * `System`: each child's text under its tag (`EventID`, `Computer`), and each
//!   of its attributes as `Tag.Attribute` (`Provider.Name`,
//!   `TimeCreated.SystemTime`, `Execution.ProcessID`).
//! * `EventData`: each `<Data Name='X'>v</Data>` as `X: v` (null when empty, as the
//!   catalog's Sysmon cases expect);
//!   unnamed `Data` items, in order, as a list under `Data`; any other child
//!   (`Binary`) under its tag.
//! * `UserData`, when present, in `xml.parse-xml`'s shape.
//!
//! A document whose root is not `Event` is rejected.

use super::xml::{Element, parse_tree};
use super::{Failure, Parser, Props, input_text};
use crate::template::Env;
use crate::value::{Map, Value};

#[derive(Debug)]
pub(crate) struct WindowsEvent;

impl WindowsEvent {
    pub(crate) fn compile(_props: &mut Props) -> Result<WindowsEvent, String> {
        Ok(WindowsEvent)
    }
}

impl Parser for WindowsEvent {
    fn parse(&self, input: &Value, _env: &Env) -> Result<Value, Failure> {
        let text = input_text(input)?;
        let root = parse_tree(&text).map_err(Failure::Invalid)?;
        windows_event(root).map_err(Failure::Invalid)
    }
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn windows_event(root: Element) -> Result<Value, String> {
    if local_name(&root.name) != "Event" {
        return Err(format!(
            "a Windows event's root element is <Event>, not <{}>",
            root.name
        ));
    }
    let mut out = Map::with_capacity(3);
    for section in root.children {
        match local_name(&section.name) {
            "System" => {
                out.insert("System", system(section));
            }
            "EventData" => {
                out.insert("EventData", event_data(section));
            }
            "UserData" => {
                let wrapper = Element {
                    children: section.children,
                    ..Element::default()
                };
                out.insert("UserData", super::xml::to_value(wrapper));
            }
            _ => {}
        }
    }
    Ok(Value::Map(out))
}

fn system(section: Element) -> Value {
    let mut map = Map::with_capacity(section.children.len() * 2);
    for child in section.children {
        let tag = local_name(&child.name).to_string();
        for (attribute, value) in &child.attributes {
            map.insert(format!("{tag}.{attribute}"), Value::from(value.as_str()));
        }
        let text = child.text.trim();
        if !text.is_empty() {
            map.insert(tag, Value::from(text));
        }
    }
    Value::Map(map)
}

fn event_data(section: Element) -> Value {
    let mut map = Map::with_capacity(section.children.len());
    let mut unnamed = Vec::new();
    for child in section.children {
        let text = match child.text.trim() {
            "" => Value::Null,
            text => Value::from(text),
        };
        let tag = local_name(&child.name);
        let name = child
            .attributes
            .iter()
            .find(|(k, _)| k == "Name")
            .map(|(_, v)| v.as_str());
        match (tag, name) {
            ("Data", Some(name)) => {
                map.insert(name, text);
            }
            ("Data", None) => unnamed.push(text),
            (tag, _) => {
                map.insert(tag, text);
            }
        }
    }
    if !unnamed.is_empty() {
        map.insert("Data", Value::List(unnamed));
    }
    Value::Map(map)
}

#[cfg(test)]
mod tests {
    use super::super::Failure;
    use super::super::test_support::*;

    #[test]
    fn system_and_event_data_as_flat_maps() {
        let (p, w) = build("xml.parse-windows-event", &[]).unwrap();
        assert!(w.is_empty());
        let v = run(
            &*p,
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
             <Provider Name='Acme-Audit' Guid='{0000-11}'/><EventID>4242</EventID>\
             <TimeCreated SystemTime='2026-03-01T08:00:00.5Z'/><Security/>\
             <Execution ProcessID='88' ThreadID='99'/><Computer>ws-12</Computer></System>\
             <EventData><Data Name='TargetUser'>lee</Data><Data Name='Note'/>\
             <Data>first</Data><Data>second</Data><Binary>00FF</Binary></EventData></Event>",
        )
        .unwrap();
        assert_eq!(
            crate::json::to_json_string(&v),
            r#"{"System":{"Provider.Name":"Acme-Audit","Provider.Guid":"{0000-11}","EventID":"4242","TimeCreated.SystemTime":"2026-03-01T08:00:00.5Z","Execution.ProcessID":"88","Execution.ThreadID":"99","Computer":"ws-12"},"EventData":{"TargetUser":"lee","Note":null,"Binary":"00FF","Data":["first","second"]}}"#
        );
    }

    #[test]
    fn user_data_keeps_the_generic_shape() {
        let (p, _) = build("xml.parse-windows-event", &[]).unwrap();
        let v = run(
            &*p,
            "<Event><System><EventID>7</EventID></System><UserData><Job id='3'>\
             <Step>a</Step></Job></UserData></Event>",
        )
        .unwrap();
        assert_eq!(
            crate::json::to_json_string(&v),
            r#"{"System":{"EventID":"7"},"UserData":{"Job":{"@id":"3","Step":"a"}}}"#
        );
    }

    #[test]
    fn other_documents_are_rejected() {
        let (p, _) = build("xml.parse-windows-event", &[]).unwrap();
        let Err(Failure::Invalid(why)) = run(&*p, "<Log><System/></Log>") else {
            panic!("accepted a non-event root");
        };
        assert!(why.contains("<Log>"), "{why}");
        let Err(Failure::Invalid(why)) = run(&*p, "<Event><System></Event>") else {
            panic!("accepted broken XML");
        };
        assert!(why.contains("invalid XML"), "{why}");
    }
}
