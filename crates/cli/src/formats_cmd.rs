//! `intake formats list` and `intake formats test`.

use std::path::PathBuf;
use std::process::ExitCode;

use intake_engine::LoadOptions;
use intake_engine::json::to_json_string;

#[derive(clap::Subcommand)]
pub enum FormatsCommand {
    /// List the built-in formats.
    List,
    /// Run the test cases of format folders and report each failing case.
    #[command(after_help = "Examples:
  intake formats test --strict formats/
  intake formats test path/to/my-format
  intake formats test --lenient path/to/catalog

Cases are compared as the public catalog's harness compares them: the fixed
sekoiaio.intake.* and event.id values on both sides, every list of scalars sorted,
numbers by value (1 = 1.0), text exactly. --strict compares as intake's own golden
cases do: lists in order (but related.*), numbers by type, timestamps as instants.")]
    Test(TestArgs),
}

#[derive(clap::Args)]
pub struct TestArgs {
    /// Format folders, or folders holding many (a catalog), searched recursively.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Third-party catalog mode: unknown keys and broken templates become warnings.
    #[arg(long)]
    pub lenient: bool,
    /// Compare exactly, as intake's own formats are tested: lists in order (but
    /// related.*), numbers by type (8080 ≠ 8080.0), timestamps as instants.
    #[arg(long)]
    pub strict: bool,
    /// The current time, for dates without a year (RFC 3339; default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// How many differing fields to show per failing case.
    #[arg(long, default_value_t = 5)]
    pub max_diffs: usize,
    /// Also print the produced event of each failing case.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(cmd: FormatsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FormatsCommand::List => {
            let all = intake_formats::list();
            let width = all.iter().map(|f| f.slug.len()).max().unwrap_or(0);
            for f in all {
                println!("{:width$}  {}", f.slug, f.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        FormatsCommand::Test(args) => test(args),
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let now = crate::parse_cmd::parse_now(args.now.as_deref())?;
    let options = LoadOptions {
        lenient: args.lenient,
    };
    let rules = if args.strict {
        intake_formats::Rules::Strict
    } else {
        intake_formats::Rules::Catalog
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for root in &args.paths {
        let folders = intake_formats::find_folders(root);
        if folders.is_empty() {
            anyhow::bail!(
                "{}: no format folder (no ingest/parser.yml) found",
                root.display()
            );
        }
        for dir in folders {
            let folder = match intake_formats::load_folder(&dir) {
                Ok(f) => f,
                Err(e) => {
                    println!("FAIL {}: {e}", dir.display());
                    failed += 1;
                    continue;
                }
            };
            let format = match folder.compile(&options) {
                Ok(f) => f,
                Err(e) => {
                    println!("FAIL {}: {e}", dir.display());
                    failed += folder.tests.len().max(1);
                    continue;
                }
            };
            for w in format.warnings() {
                println!("warning: {w}");
            }
            if let Some(why) = format.plan_refusal() {
                println!("note {}: interpreted ({why})", format.slug());
            }
            for case in &folder.tests {
                let result = format.parse(case.input.clone(), now);
                let diffs = match &result {
                    Ok(event) => {
                        let mut diffs = intake_formats::compare(&case.expected, event, rules);
                        // Raw messages also take the direct path to JSON (the flat
                        // executor when the format has one): it must agree.
                        if diffs.is_empty()
                            && let Some(direct) = direct_event(&format, &case.input, now)
                        {
                            diffs = intake_formats::compare(&case.expected, &direct, rules);
                            for d in &mut diffs {
                                d.path = format!("{} (direct path to JSON)", d.path);
                            }
                        }
                        diffs
                    }
                    Err(r) => {
                        println!("FAIL {}: rejected: {}", case.name, r.reason);
                        failed += 1;
                        continue;
                    }
                };
                if diffs.is_empty() {
                    passed += 1;
                    continue;
                }
                failed += 1;
                println!("FAIL {}", case.name);
                for d in diffs.iter().take(args.max_diffs) {
                    println!("  {d}");
                }
                if diffs.len() > args.max_diffs {
                    println!("  … and {} more differences", diffs.len() - args.max_diffs);
                }
                if args.verbose
                    && let Ok(event) = &result
                {
                    println!("  produced: {}", to_json_string(event));
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The event `parse` writes for an input that is only a raw message, read back
/// from its JSON; `None` for other inputs.
fn direct_event(
    format: &intake_engine::Format,
    input: &intake_engine::Map,
    now: intake_engine::Timestamp,
) -> Option<intake_engine::Value> {
    let [(key, intake_engine::Value::Str(message))] = input.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    if key != "message" {
        return None;
    }
    let mut out = Vec::new();
    match format.parse_message_json(message, now, &mut out) {
        Ok(()) => std::str::from_utf8(&out)
            .ok()
            .and_then(|t| intake_engine::json::parse_json(t).ok()),
        Err(_) => Some(intake_engine::Value::Null),
    }
}
