//! `date.parse` (SPEC §2.5): a date in, `YYYY-MM-DDTHH:MM:SS.ffffffZ` out.
//! Without `format` the value is autodetected; `format: timestamp` means epoch
//! values only; any other format is strptime syntax. `timezone` (a constant or a
//! template) applies to values that carry no offset.

use super::{Failure, Parser, Props, Rebound, input_text, is_template};
use crate::datetime::{self, Zone};
use crate::template::{Binder, Env, Scope, Template};
use crate::value::Value;

#[derive(Debug)]
pub(crate) struct DateParse {
    format: Format,
    timezone: Tz,
}

#[derive(Debug, Clone)]
enum Format {
    Auto,
    Epoch,
    Strptime(String),
}

#[derive(Debug)]
enum Tz {
    Fixed(Zone),
    /// Rendered per event; an empty, undefined or unknown result means UTC.
    Template(Template),
}

impl DateParse {
    pub(crate) fn compile(props: &mut Props, scope: &dyn Scope) -> Result<DateParse, String> {
        let format = match props.string("format")? {
            None => Format::Auto,
            Some(f) if f.is_empty() => Format::Auto,
            Some(f) if f == "timestamp" => Format::Epoch,
            Some(f) => {
                if !datetime::is_valid_format(&f) {
                    return Err(
                        props.bad("format", &format!("is not a valid strptime format: {f:?}"))
                    );
                }
                Format::Strptime(f)
            }
        };
        let timezone = match props.string("timezone")? {
            None => Tz::Fixed(Zone::Utc),
            Some(t) if t.trim().is_empty() => Tz::Fixed(Zone::Utc),
            Some(t) if is_template(&t) => Tz::Template(
                Template::compile(&t, scope)
                    .map_err(|e| props.bad("timezone", &format!("has a bad template: {e}")))?,
            ),
            Some(t) => Tz::Fixed(Zone::parse(&t).ok_or_else(|| {
                props.bad("timezone", &format!("is not a known time zone: {t:?}"))
            })?),
        };
        Ok(DateParse { format, timezone })
    }

    fn zone(&self, env: &Env) -> Zone {
        match &self.timezone {
            Tz::Fixed(z) => *z,
            Tz::Template(t) => {
                let rendered = match t.constant() {
                    Some(v) => Some(v.clone()),
                    None => t.eval(env).ok().flatten(),
                };
                rendered
                    .and_then(|v| Zone::parse(&crate::template::py_str(&v)))
                    .unwrap_or(Zone::Utc)
            }
        }
    }
}

impl Parser for DateParse {
    fn reads_layers(&self) -> bool {
        matches!(self.timezone, Tz::Template(_))
    }

    fn rebind(&self, bind: &mut Binder) -> Rebound {
        let Tz::Template(t) = &self.timezone else {
            return Rebound::Unchanged;
        };
        match t.rebind(bind) {
            Some(t) => Rebound::Copy(Box::new(DateParse {
                format: self.format.clone(),
                timezone: Tz::Template(t),
            })),
            None => Rebound::Refused,
        }
    }

    fn parse(&self, input: &Value, env: &Env) -> Result<Value, Failure> {
        let t = match &self.format {
            Format::Epoch => datetime::parse_epoch(input),
            Format::Auto => datetime::parse_auto_in(input, self.zone(env), env.now),
            Format::Strptime(f) => {
                let text = input_text(input)?;
                datetime::parse_with_format(&text, f, self.zone(env), env.now)
            }
        };
        t.map(|t| Value::from(datetime::format_micros(t)))
            .ok_or_else(|| Failure::Invalid("unparseable date".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::template::Env;
    use crate::value::Value;

    fn date(props: &[(&str, Value)], input: Value) -> Option<String> {
        let (p, _) = build("date.parse", props).unwrap();
        let env = Env::new(&[], now());
        p.parse(&input, &env)
            .ok()
            .map(|v| v.as_str().unwrap().to_string())
    }

    #[test]
    fn autodetect() {
        assert_eq!(
            date(&[], "1599665193".into()).as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
        assert_eq!(
            date(&[], Value::Int(1599665193)).as_deref(),
            Some("2020-09-09T15:26:33.000000Z")
        );
        assert_eq!(
            date(&[], "1637681708541881380".into()).as_deref(),
            Some("2021-11-23T15:35:08.541882Z")
        );
        assert_eq!(
            date(&[], "Oct 21 12:12:05.185".into()).as_deref(),
            Some("2026-10-21T12:12:05.185000Z")
        );
        assert_eq!(date(&[], "not a date".into()), None);
    }

    #[test]
    fn timestamp_format() {
        let ts = [("format", Value::from("timestamp"))];
        assert_eq!(
            date(&ts, Value::Int(1663146003599)).as_deref(),
            Some("2022-09-14T09:00:03.599000Z")
        );
        assert_eq!(
            date(&ts, "1663146003599".into()).as_deref(),
            Some("2022-09-14T09:00:03.599000Z")
        );
        assert_eq!(
            date(&ts, "2022-09-14T09:00:03Z".into()),
            None,
            "epoch values only"
        );
    }

    #[test]
    fn strptime_format_and_constant_timezone() {
        let p = [
            ("format", Value::from("%d/%m/%Y %H:%M")),
            ("timezone", Value::from("Europe/Paris")),
        ];
        assert_eq!(
            date(&p, "01/07/2021 12:00".into()).as_deref(),
            Some("2021-07-01T10:00:00.000000Z")
        );
        let p = [("timezone", Value::from("PDT"))];
        assert_eq!(
            date(&p, "2021-07-01 12:00:00".into()).as_deref(),
            Some("2021-07-01T19:00:00.000000Z")
        );
        assert_eq!(
            date(&p, "2021-07-01T12:00:00Z".into()).as_deref(),
            Some("2021-07-01T12:00:00.000000Z")
        );
        let p = [("timezone", Value::from("+0100"))];
        assert_eq!(
            date(&p, "2021-07-01 12:00:00".into()).as_deref(),
            Some("2021-07-01T11:00:00.000000Z")
        );
    }

    #[test]
    fn timezone_template_falls_back_to_utc_when_it_cannot_render() {
        let p = [("timezone", Value::from("{{parsed_event.message.tz}}"))];
        assert_eq!(
            date(&p, "2021-07-01 12:00:00".into()).as_deref(),
            Some("2021-07-01T12:00:00.000000Z")
        );
    }

    #[test]
    fn bad_properties() {
        let e = build("date.parse", &[("timezone", "Mars/Olympus".into())]).unwrap_err();
        assert!(e.contains("timezone") && e.contains("Mars/Olympus"), "{e}");
        let e = build("date.parse", &[("format", "%Y-%Q".into())]).unwrap_err();
        assert!(e.contains("format") && e.contains("%Y-%Q"), "{e}");
    }
}
