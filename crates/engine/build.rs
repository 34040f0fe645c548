//! Finds the uap-core rules (`regexes.yaml`) that the `uaparser` crate ships in its
//! package, so that `enrich/user_agent.rs` embeds them with `include_bytes!`: the
//! rules are compiled into the binary, never read or downloaded at run time.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../../Cargo.lock");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    // Dependencies are on disk by the time a build script runs: no network needed.
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(&manifest_dir)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "uaparser")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("the uaparser package is a dependency");
    let regexes = PathBuf::from(manifest)
        .parent()
        .expect("a manifest is in a folder")
        .join("src/core/regexes.yaml");
    assert!(
        regexes.is_file(),
        "{}: the uap-core rules are not in the uaparser package",
        regexes.display()
    );
    println!("cargo::rustc-env=INTAKE_UAP_REGEXES={}", regexes.display());
}
