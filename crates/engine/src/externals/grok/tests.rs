use super::*;
use crate::externals::test_support::*;

fn grok(pattern: &str) -> Grok {
    Grok::compile(pattern, &[]).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

fn custom(pattern: &str, custom: &[(&str, &str)]) -> Result<Grok, String> {
    let c: Vec<(String, String)> = custom
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Grok::compile(pattern, &c)
}

fn m(g: &Grok, text: &str) -> Option<Value> {
    g.matches(text).map(Value::Map)
}

#[test]
fn full_match_is_required() {
    let g = grok("%{WORD:w}");
    assert_eq!(m(&g, "abc"), Some(strs(&[("w", Some("abc"))])));
    assert_eq!(m(&g, "abc def"), None);
    assert_eq!(m(&g, " abc"), None);
    // DATA is lazy, but the anchor makes it run to the final `'.`.
    let g = grok("reason '%{DATA:reason}'.");
    let text = "reason 'Rule-Antivirus_Check:Le logiciel antivirus indiqué dans les exigences de sécurité n'est pas installé.'.";
    assert_eq!(
        m(&g, text),
        Some(strs(&[(
            "reason",
            Some(
                "Rule-Antivirus_Check:Le logiciel antivirus indiqué dans les exigences de sécurité n'est pas installé."
            )
        )]))
    );
}

#[test]
fn ivanti_host_checker_pattern() {
    let c = [("HOST_ADDRESS", "%{IP:host_ip}|%{HOSTNAME:host_name}")];
    let g = custom(
        "%{WORD:code}: Host Checker policy '%{DATA:policy}' failed on host '%{HOST_ADDRESS}' address '%{MAC:host_mac}' for user '%{DATA:user}' reason '%{DATA:reason}'.",
        &c,
    )
    .unwrap();
    let text = "AUT24804: Host Checker policy 'Sekoia_Host Checker' failed on host '176.134.164.62' address '00-d8-61-35-80-81' for user 'bob' reason 'Rule-Antivirus_Check:n'est pas installé.'.";
    let v = m(&g, text).unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("policy"), Some(&Value::from("Sekoia_Host Checker")));
    assert_eq!(map.get("host_ip"), Some(&Value::from("176.134.164.62")));
    assert_eq!(
        map.get("host_name"),
        Some(&Value::Null),
        "non-participating capture is None"
    );
    assert_eq!(
        map.get("HOST_ADDRESS"),
        Some(&Value::from("176.134.164.62")),
        "custom self-capture"
    );
    assert_eq!(map.get("host_mac"), Some(&Value::from("00-d8-61-35-80-81")));
    assert_eq!(
        map.get("reason"),
        Some(&Value::from("Rule-Antivirus_Check:n'est pas installé."))
    );
}

#[test]
fn azure_tuple_takes_the_long_alternative_when_present() {
    let c = [
        ("PROTOCOL", "T|U"),
        ("TRAFFICFLOW", "I|O"),
        ("TRAFFICDECISION", "A|D"),
        ("FLOWSTATE", "B|C|E"),
    ];
    let pattern = "%{INT:ts},%{IP:source_ip},%{IP:destination_ip},%{INT:source_port},%{INT:destination_port},%{PROTOCOL:protocol},%{TRAFFICFLOW:traffic_flow},%{TRAFFICDECISION:traffic_decision}(|,(%{FLOWSTATE:flow_state}|),(%{INT:source_packets}|),(%{INT:source_bytes}|),(%{INT:destination_packets}|),(%{INT:destination_bytes}|))";
    let g = custom(pattern, &c).unwrap();
    let v = m(
        &g,
        "1493763938,1.2.3.4,5.6.7.8,35370,23,T,I,A,C,30,16978,24,14008",
    )
    .unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("flow_state"), Some(&Value::from("C")));
    assert_eq!(map.get("destination_bytes"), Some(&Value::from("14008")));
    let v = m(&g, "1493763938,1.2.3.4,5.6.7.8,35370,23,T,I,A,B,,,,").unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("flow_state"), Some(&Value::from("B")));
    assert_eq!(map.get("source_packets"), Some(&Value::Null));
    let v = m(&g, "1493763938,1.2.3.4,5.6.7.8,35370,23,T,I,A").unwrap();
    assert_eq!(v.as_map().unwrap().get("flow_state"), Some(&Value::Null));
    // Custom patterns self-capture even inside a named reference's siblings.
    assert!(
        v.as_map().unwrap().get("PROTOCOL").is_none(),
        "named references capture under their field only"
    );
}

#[test]
fn aws_vpc_v2_line() {
    let pattern = r"\d %{NUMBER:account_id} %{DATA:interface_id} (%{IP:srcaddr}|-) (%{IP:dstaddr}|-) (%{INT:srcport}|-) (%{INT:dstport}|-) (%{INT:protocol}|-) (%{INT:packets}|-) (%{INT:bytes}|-) (%{INT:start}|-) (%{INT:end}|-) (-|%{DATA:action}) %{WORD:log_status}.*";
    let g = grok(pattern);
    let v = m(&g, "2 424805057484 eni-0f06a40fc9be596f6 212.83.179.156 10.0.0.96 123 123 17 2 152 1599665193 1599665488 ACCEPT OK").unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("srcaddr"), Some(&Value::from("212.83.179.156")));
    assert_eq!(map.get("action"), Some(&Value::from("ACCEPT")));
    assert_eq!(map.get("log_status"), Some(&Value::from("OK")));
    let v = m(
        &g,
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    )
    .unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("srcaddr"), Some(&Value::Null));
    assert_eq!(map.get("action"), Some(&Value::Null));
    assert_eq!(map.get("log_status"), Some(&Value::from("NODATA")));
}

#[test]
fn duplicate_names_last_participating_wins() {
    // Alternatives: only one participates.
    let g = grok("(?:a=%{INT:v}|b=%{WORD:v})");
    assert_eq!(m(&g, "a=1"), Some(strs(&[("v", Some("1"))])));
    assert_eq!(m(&g, "b=x"), Some(strs(&[("v", Some("x"))])));
    // Nested: the inner group opens later, so it wins.
    let c = [
        ("PRE_REASON", "%{NOT_KV_DATA:reason}, more"),
        ("NOT_KV_DATA", "[^=,]+"),
    ];
    let g = custom("%{PRE_REASON:reason}", &c).unwrap();
    let v = m(&g, "ISE server TGT refresh succeeded, more").unwrap();
    assert_eq!(
        v.as_map().unwrap().get("reason"),
        Some(&Value::from("ISE server TGT refresh succeeded"))
    );
    // Sequence: both participate, the later one wins.
    let g = grok("%{WORD:x} %{WORD:x}");
    assert_eq!(m(&g, "a b"), Some(strs(&[("x", Some("b"))])));
    // Sequence where the later one does not participate.
    let g = grok("%{WORD:x}(?: %{INT:x})?");
    assert_eq!(m(&g, "a"), Some(strs(&[("x", Some("a"))])));
}

#[test]
fn raw_named_groups_both_syntaxes_and_backrefs() {
    let g = grok(r"(?<user>\w+)@(?P<host>[a-z.]+) (?P<q>['])x(?P=q)");
    let v = m(&g, "bob@example.org 'x'").unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("user"), Some(&Value::from("bob")));
    assert_eq!(map.get("host"), Some(&Value::from("example.org")));
    assert!(m(&g, "bob@example.org 'x\"").is_none());
    // Lookbehind is not a named group.
    let g = grok(r"(?<![0-9])%{WORD:w}(?<!z)");
    assert_eq!(m(&g, "abc"), Some(strs(&[("w", Some("abc"))])));
    // A class with brackets, parens and `%{` stays literal.
    let g = grok(r"[()\[\]%{}]+%{INT:n}");
    assert_eq!(m(&g, "([%{}])12"), Some(strs(&[("n", Some("12"))])));
}

#[test]
fn conversions_and_raw_values() {
    let g = grok("%{INT:a:int} %{NUMBER:b:float} %{NUMBER:c:int} %{WORD:d:int}%{GREEDYDATA:rest}");
    let v = m(&g, "42 1.5 7.9 x  root ").unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("a"), Some(&Value::Int(42)));
    assert!(matches!(map.get("b"), Some(Value::Float(f)) if *f == 1.5));
    assert_eq!(map.get("c"), Some(&Value::Int(7)));
    assert_eq!(
        map.get("d"),
        Some(&Value::from("x")),
        "unconvertible text stays text"
    );
    assert_eq!(
        map.get("rest"),
        Some(&Value::from("  root ")),
        "never trimmed"
    );
}

#[test]
fn custom_patterns_nest_and_override_and_cycles_fail() {
    let c = [("A", "%{B}-%{INT}"), ("B", "[a-z]+"), ("INT", "[0-9]{2}")];
    let g = custom("%{A:all}", &c).unwrap();
    let v = m(&g, "abc-12").unwrap();
    let map = v.as_map().unwrap();
    assert_eq!(map.get("all"), Some(&Value::from("abc-12")));
    assert_eq!(map.get("B"), Some(&Value::from("abc")));
    assert_eq!(
        map.get("INT"),
        Some(&Value::from("12")),
        "a custom override self-captures"
    );
    assert!(
        m(&g, "abc-123").is_none(),
        "the override replaced the built-in"
    );
    let e = custom("%{X}", &[("X", "a%{Y}"), ("Y", "b%{X}")]).unwrap_err();
    assert!(e.contains("cycle") && e.contains("X -> Y -> X"), "{e}");
    let e = custom("%{X}", &[("X", "%{X}")]).unwrap_err();
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn builtins_do_not_self_capture() {
    let g = grok("%{IP} %{WORD:w}");
    assert_eq!(m(&g, "1.2.3.4 x"), Some(strs(&[("w", Some("x"))])));
}

#[test]
fn compile_errors_name_the_culprit() {
    let e = Grok::compile("%{NOPE:x}", &[]).unwrap_err();
    assert!(e.contains("%{NOPE}"), "{e}");
    let e = Grok::compile("%{INT:x:bool}", &[]).unwrap_err();
    assert!(e.contains("bool"), "{e}");
    let e = Grok::compile("(unclosed", &[]).unwrap_err();
    assert!(e.contains("(unclosed"), "{e}");
    let e = build("grok.match", &[("pattern", "%{NOPE}".into())]).unwrap_err();
    assert!(
        e.starts_with("grok.match: property `pattern`") && e.contains("NOPE"),
        "{e}"
    );
    assert!(build("grok.match", &[]).unwrap_err().contains("pattern"));
    // An unparseable reference stays literal text.
    let g = grok("100%{ x");
    assert!(m(&g, "100%{ x").is_some());
}

#[test]
fn external_reports_nomatch() {
    let (p, w) = build(
        "grok.match",
        &[
            ("pattern", "%{INT:n}".into()),
            ("raise_errors", false.into()),
        ],
    )
    .unwrap();
    assert!(w.is_empty());
    assert_eq!(run(&*p, "12").unwrap(), strs(&[("n", Some("12"))]));
    assert_eq!(run(&*p, "x"), Err(Failure::NoMatch));
}

#[test]
fn every_builtin_compiles() {
    for name in patterns::names() {
        Grok::compile(&format!("%{{{name}:x}}"), &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// What each built-in accepts (full match) and rejects.
#[test]
fn builtin_behaviour() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("USERNAME", &["john.doe-1_x"], &["a b", "a@b"]),
        ("INT", &["-12", "+3", "0"], &["1.5", ""]),
        ("NUMBER", &["1.5", "-0.5", ".5", "12"], &["1.", "1e5", "a"]),
        ("BASE16NUM", &["0x1F", "deadBEEF", "-ff"], &["xyz"]),
        ("POSINT", &["1", "42"], &["0", "-1", "01"]),
        ("NONNEGINT", &["0", "007"], &["-1"]),
        ("WORD", &["abc_1"], &["a-b", ""]),
        ("NOTSPACE", &["a:b/c"], &["a b", ""]),
        ("SPACE", &["", "  \t"], &["x"]),
        (
            "QUOTEDSTRING",
            &[r#""a \"b\" c""#, "'x'", "``", r#""""#],
            &[r#""open"#, "x"],
        ),
        (
            "UUID",
            &["123e4567-e89b-12d3-a456-426614174000"],
            &["123e4567e89b12d3a456426614174000"],
        ),
        (
            "MAC",
            &["00:d8:61:35:80:81", "00-d8-61-35-80-81", "00d8.6135.8081"],
            &["00:d8:61:35:80"],
        ),
        (
            "IPV4",
            &["1.2.3.4", "255.255.255.255", "010.1.1.1"],
            &["256.1.1.1", "1.2.3", "1.2.3.4.5"],
        ),
        (
            "IPV6",
            &[
                "2001:db8:1234:a100:8d6e:3477:df66:f105",
                "::1",
                "::",
                "fe80::1%eth0",
                "::ffff:1.2.3.4",
                "1::",
                "1:2:3:4:5:6:7:8",
            ],
            &["1:2:3:4:5:6:7:8:9", "12345::", "1.2.3.4", ":::"],
        ),
        ("IP", &["1.2.3.4", "2001:db8::1"], &["example.com"]),
        (
            "HOSTNAME",
            &["example.com", "a-b.c.", "localhost"],
            &["-a.com", "a..b", "a_b"],
        ),
        ("IPORHOST", &["1.2.3.4", "srv-01.corp"], &["a b"]),
        (
            "HOSTPORT",
            &["example.com:443", "1.2.3.4:80"],
            &["example.com:0"],
        ),
        ("UNIXPATH", &["/var/log/a.log", "/a\\ b"], &["var/log"]),
        (
            "WINPATH",
            &[r"C:\Windows\System32", r"\\server\share"],
            &["/unix"],
        ),
        ("PATH", &["/tmp/x", r"C:\x"], &["x"]),
        ("URIPROTO", &["https", "svn+ssh"], &["1http"]),
        ("URIPATH", &["/cgi/pal", "/a/b/"], &["a/b"]),
        (
            "URIPATHPARAM",
            &["/cgi/pal?tm=26&key=1234567890", "/x"],
            &["?a=b"],
        ),
        (
            "URI",
            &[
                "https://user:pw@example.com:8443/p/a?q=1",
                "ftp://1.2.3.4/x",
            ],
            &["example.com/x"],
        ),
        (
            "MONTH",
            &["Jan", "sep", "September", "Dez", "März", "OCT"],
            &["Foo", "Janu"],
        ),
        ("MONTHNUM", &["1", "01", "12"], &["13", "0"]),
        ("MONTHDAY", &["1", "09", "31"], &["32", "0"]),
        ("DAY", &["Mon", "Tuesday"], &["mon"]),
        ("YEAR", &["2024", "24"], &["202", "20245"]),
        ("TIME", &["12:34:56", "1:02:03.123"], &["12:34", "24:00:00"]),
        ("DATE_US", &["12/31/2024", "1-2-24"], &["31/12/2024"]),
        ("DATE_EU", &["31.12.2024", "31/12/2024"], &["12/31/2024"]),
        ("DATE", &["12/31/2024", "31.12.2024"], &["2024-12-31"]),
        (
            "TIMESTAMP_ISO8601",
            &[
                "2024-03-18T13:21:42.6259228Z",
                "2021-01-28 13:46:08",
                "2024-03-18T13:21+02:00",
            ],
            &["2024-03-18"],
        ),
        ("ISO8601_TIMEZONE", &["Z", "+02:00", "-0700"], &["+2"]),
        (
            "DATESTAMP",
            &["12/31/2024 12:00:00"],
            &["2024-12-31 12:00:00"],
        ),
        ("TZ", &["PDT", "UTC"], &["XYZ"]),
        ("DATESTAMP_RFC822", &["Mon Jan 2 2006 15:04:05 MST"], &[]),
        (
            "DATESTAMP_RFC2822",
            &["Mon, 2 Jan 2006 15:04:05 -0700"],
            &[],
        ),
        ("DATESTAMP_OTHER", &["Mon Jan 2 15:04:05 MST 2006"], &[]),
        (
            "SYSLOGTIMESTAMP",
            &["Oct 21 12:12:05", "Oct  1 12:12:05"],
            &["21 Oct 12:12:05"],
        ),
        ("PROG", &["sshd", "postfix/smtpd"], &["a[1]"]),
        ("SYSLOGPROG", &["sshd[123]", "cron"], &["[1]"]),
        ("SYSLOGFACILITY", &["<4.6>"], &["<4>"]),
        (
            "HTTPDATE",
            &["10/Oct/2000:13:55:36 -0700"],
            &["10/10/2000:13:55:36 -0700"],
        ),
        ("HTTPDUSER", &["bob@example.com", "bob", "-"], &["a b"]),
        ("HTTPDERROR_DATE", &["Wed Oct 11 14:32:52 2000"], &[]),
        (
            "LOGLEVEL",
            &["INFO", "warning", "Error", "crit"],
            &["verbose"],
        ),
        (
            "EMAILADDRESS",
            &["john.doe+tag@example.com"],
            &["@example.com", "john"],
        ),
        (
            "HAPROXYDATE",
            &["09/Dec/2013:12:59:46.633"],
            &["09/Dec/2013:12:59:46"],
        ),
        (
            "CISCOTIMESTAMP",
            &["Oct 21 2024 12:12:05", "Oct 21 12:12:05"],
            &[],
        ),
        ("CISCOTAG", &["ASA-6-302013"], &["asa-6-1"]),
        ("CISCO_ACTION", &["Built", "denied by ACL"], &["allowed"]),
        (
            "CISCO_REASON",
            &["Duplicate TCP SYN", "some words here", ""],
            &["a-b"],
        ),
        ("CISCO_DIRECTION", &["inbound", "Outbound"], &["in"]),
        (
            "CISCO_TAGGED_SYSLOG",
            &["<166>Oct 21 2024 12:12:05 fw01 : %ASA-6-302013:"],
            &[],
        ),
    ];
    for (name, good, bad) in cases {
        let g = Grok::compile(&format!("%{{{name}:x}}"), &[]).unwrap();
        for t in *good {
            assert!(g.matches(t).is_some(), "{name} should match {t:?}");
        }
        for t in *bad {
            assert!(g.matches(t).is_none(), "{name} should not match {t:?}");
        }
    }
}

#[test]
fn builtin_sub_captures() {
    let g = grok("%{SYSLOGPROG}");
    assert_eq!(
        m(&g, "sshd[42]"),
        Some(strs(&[("program", Some("sshd")), ("pid", Some("42"))]))
    );
    let g = grok("%{URIHOST:h}");
    assert_eq!(
        m(&g, "example.com:8080"),
        Some(strs(&[
            ("h", Some("example.com:8080")),
            ("port", Some("8080"))
        ]))
    );
    // NUMBER is atomic: it cannot give digits back to a following INT.
    assert!(m(&grok("%{NUMBER:a}%{INT:b}"), "123").is_none());
}

#[test]
fn catastrophic_backtracking_is_a_nomatch_not_a_hang() {
    let g = custom("%{R}!", &[("R", "(?:a+)+")]).unwrap();
    let text = "a".repeat(64);
    let start = std::time::Instant::now();
    assert!(g.matches(&text).is_none());
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    let g = grok("%{CISCO_REASON:r}!");
    assert!(g.matches(&"word ".repeat(40)).is_none());
}

#[test]
fn odd_inputs_do_not_panic() {
    let g = grok("%{DATA:a} %{IP:ip} %{GREEDYDATA:b}");
    for s in [
        "",
        " ",
        "é 1.2.3.4 ü",
        "\u{0}",
        "a\n1.2.3.4 b",
        "x 1.2.3.4 \u{1F600}",
    ] {
        let _ = g.matches(s);
    }
}
