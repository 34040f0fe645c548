//! Every test case of every built-in format (the golden cases from the seed pages
//! and our own) must produce exactly its expected event.

use intake_engine::json::to_json_string;

fn now() -> intake_engine::Timestamp {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .unwrap()
        .to_utc()
}

#[test]
fn builtin_formats_are_listed() {
    let slugs: Vec<String> = intake_formats::list().into_iter().map(|f| f.slug).collect();
    for slug in [
        "aws-vpc-flow-logs",
        "aws-vpcflow-elastic",
        "azure-nsg-flow-logs",
        "azure-vnet-flow-logs",
        "pulse-connect-secure",
    ] {
        assert!(
            slugs.iter().any(|s| s == slug),
            "{slug} missing from {slugs:?}"
        );
    }
}

#[test]
fn every_builtin_case_passes() {
    let mut failures = Vec::new();
    let mut count = 0;
    for info in intake_formats::list() {
        let folder = intake_formats::builtin_folder(&info.slug).unwrap();
        let format = folder
            .compile(&Default::default())
            .unwrap_or_else(|e| panic!("{} does not load: {e}", info.slug));
        assert!(!folder.tests.is_empty(), "{} has no test cases", info.slug);
        assert!(folder.broken_tests.is_empty(), "{:?}", folder.broken_tests);
        for case in &folder.tests {
            count += 1;
            match format.parse(case.input.clone(), now()) {
                Ok(event) => {
                    let diffs = intake_formats::compare(
                        &case.expected,
                        &event,
                        intake_formats::Rules::Strict,
                    );
                    if !diffs.is_empty() {
                        let shown: Vec<String> =
                            diffs.iter().take(8).map(|d| d.to_string()).collect();
                        failures.push(format!(
                            "{}:\n    {}\n    produced: {}",
                            case.name,
                            shown.join("\n    "),
                            to_json_string(&event)
                        ));
                    }
                }
                Err(r) => failures.push(format!("{}: rejected: {}", case.name, r.reason)),
            }
        }
    }
    assert!(count >= 23, "only {count} cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
