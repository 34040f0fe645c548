//! `user_agent.*` from `user_agent.original` on the uap-core rules (the `uaparser`
//! crate, with the rules file it ships compiled in by `build.rs`): the browser's name
//! and version, the OS's name and version, the device's name, `"Other"` when a part
//! is unknown. The parser compiles hundreds of regular expressions, so it is built
//! once, on the first event that carries a user agent, and shared by all threads.

use std::sync::LazyLock;

use uaparser::{Parser as _, UserAgentParser};

static RULES: &[u8] = include_bytes!(env!("INTAKE_UAP_REGEXES"));

static PARSER: LazyLock<UserAgentParser> = LazyLock::new(|| {
    UserAgentParser::builder()
        // ASCII classes (`\d`, `\w`): the rules are written for ASCII user agents,
        // and Unicode classes make the parser about four times slower to build.
        .with_unicode_support(false)
        .build_from_bytes(RULES)
        .expect("the uap-core rules shipped with uaparser compile")
});

/// The parts of a user agent, as ECS writes them.
#[derive(Debug, PartialEq, Eq)]
pub struct UserAgentParts {
    pub name: String,
    /// `major.minor.patch`, as many parts as the rules give.
    pub version: Option<String>,
    pub os_name: String,
    /// `major.minor.patch.patch_minor`, as many parts as the rules give.
    pub os_version: Option<String>,
    pub device_name: String,
}

pub fn parse(original: &str) -> UserAgentParts {
    let client = PARSER.parse(original);
    let ua = client.user_agent;
    let os = client.os;
    UserAgentParts {
        name: ua.family.into_owned(),
        version: dotted([ua.major, ua.minor, ua.patch]),
        os_name: os.family.into_owned(),
        os_version: dotted([os.major, os.minor, os.patch, os.patch_minor]),
        device_name: client.device.family.into_owned(),
    }
}

/// The leading present parts joined with dots; `None` when the first is absent.
fn dotted<S: AsRef<str>, const N: usize>(parts: [Option<S>; N]) -> Option<String> {
    let mut out = String::new();
    for part in parts.iter().map_while(|p| p.as_ref()) {
        let part = part.as_ref();
        if part.is_empty() {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desktop_browser() {
        let p =
            parse("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0");
        assert_eq!(p.name, "Firefox");
        assert_eq!(p.version.as_deref(), Some("121.0"));
        assert_eq!(p.os_name, "Ubuntu");
        assert_eq!(p.device_name, "Other");
    }

    #[test]
    fn a_phone_and_its_os_version() {
        let p = parse(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 15_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.2 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(p.name, "Mobile Safari");
        assert_eq!(p.version.as_deref(), Some("15.2"));
        assert_eq!(p.os_name, "iOS");
        assert_eq!(p.os_version.as_deref(), Some("15.2.1"));
        assert_eq!(p.device_name, "iPhone");
    }

    #[test]
    fn unknown_text_is_other_without_versions() {
        let p = parse("inventory-sync");
        assert_eq!(
            p,
            UserAgentParts {
                name: "Other".into(),
                version: None,
                os_name: "Other".into(),
                os_version: None,
                device_name: "Other".into(),
            }
        );
    }
}
