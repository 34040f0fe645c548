//! Reading format folders, embedded or on disk.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use intake_engine::format::SourceFile;
use intake_engine::json::parse_json;
use intake_engine::{Format, FormatFiles, LoadOptions, Map, Value};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../formats");

const PARSER: &str = "ingest/parser.yml";
const FIELDS: &str = "_meta/fields.yml";
const MANIFEST: &str = "_meta/manifest.yml";

/// One test case of a format: an input event and the event it must become.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Where the case came from (file path or name).
    pub name: String,
    pub input: Map,
    pub expected: Value,
}

/// A format folder: its files and its test cases.
#[derive(Debug, Clone)]
pub struct FormatFolder {
    pub files: FormatFiles,
    pub tests: Vec<TestCase>,
    /// Test files that could not be read as cases, with the reason.
    pub broken_tests: Vec<String>,
}

impl FormatFolder {
    pub fn compile(&self, options: &LoadOptions) -> Result<Format, String> {
        Format::load(&self.files, options).map_err(|e| e.to_string())
    }
}

/// A built-in format's slug and one-line description.
pub struct BuiltinInfo {
    pub slug: String,
    pub description: String,
}

fn builtin_dirs() -> impl Iterator<Item = &'static Dir<'static>> {
    BUILTIN
        .dirs()
        .filter(|d| d.get_file(d.path().join(PARSER)).is_some())
}

fn slug_of(dir: &Dir) -> String {
    dir.path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The built-in formats, sorted by slug.
pub fn list() -> Vec<BuiltinInfo> {
    let mut out: Vec<BuiltinInfo> = builtin_dirs()
        .map(|d| {
            let slug = slug_of(d);
            let description = builtin_folder(&slug)
                .and_then(|f| f.compile(&LoadOptions::default()).ok())
                .and_then(|f| {
                    f.description()
                        .map(|s| s.lines().next().unwrap_or("").to_string())
                })
                .unwrap_or_default();
            BuiltinInfo { slug, description }
        })
        .collect();
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    out
}

/// The embedded folder of the built-in format `slug`.
pub fn builtin_folder(slug: &str) -> Option<FormatFolder> {
    let dir = builtin_dirs().find(|d| slug_of(d) == slug)?;
    let text = |rel: &str| {
        dir.get_file(dir.path().join(rel)).map(|f| SourceFile {
            path: format!("formats/{slug}/{rel}"),
            text: String::from_utf8_lossy(f.contents()).into_owned(),
        })
    };
    let files = FormatFiles {
        slug: slug.to_string(),
        parser: text(PARSER)?,
        fields: text(FIELDS),
        module_fields: None,
        manifest: text(MANIFEST),
    };
    let mut tests = Vec::new();
    let mut broken_tests = Vec::new();
    if let Some(tdir) = dir.get_dir(dir.path().join("tests")) {
        let mut files: Vec<_> = tdir
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort_by_key(|f| f.path());
        for f in files {
            let name = format!("formats/{}", f.path().display());
            match parse_case(&name, &String::from_utf8_lossy(f.contents())) {
                Ok(case) => tests.push(case),
                Err(e) => broken_tests.push(e),
            }
        }
    }
    Some(FormatFolder {
        files,
        tests,
        broken_tests,
    })
}

/// Compiles the built-in format `slug`.
pub fn builtin(slug: &str) -> Result<Format, String> {
    let folder = builtin_folder(slug).ok_or_else(|| {
        let known: Vec<String> = builtin_dirs().map(slug_of).collect();
        format!(
            "unknown format {slug:?} (built-in formats: {})",
            known.join(", ")
        )
    })?;
    folder.compile(&LoadOptions::default())
}

/// Parses a test case file: `{"input": {...}, "expected": {...}}`.
pub fn parse_case(name: &str, text: &str) -> Result<TestCase, String> {
    let v = parse_json(text).map_err(|e| format!("{name}: invalid JSON: {e}"))?;
    let Value::Map(mut m) = v else {
        return Err(format!("{name}: a test case must be a JSON object"));
    };
    let input = match m.remove("input") {
        Some(Value::Map(i)) => i,
        _ => return Err(format!("{name}: `input` must be an object")),
    };
    let expected = m
        .remove("expected")
        .ok_or_else(|| format!("{name}: missing `expected`"))?;
    Ok(TestCase {
        name: name.to_string(),
        input,
        expected,
    })
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The vendor-level `_meta/fields.yml` of a catalog format folder: the one in the
/// folder above it (`Beats/_meta/fields.yml` for `Beats/winlogbeat`).
fn module_fields(dir: &Path) -> Result<Option<SourceFile>, String> {
    let Some(parent) = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.parent().map(Path::to_path_buf))
    else {
        return Ok(None);
    };
    let p = parent.join(FIELDS);
    if !p.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(Some(SourceFile {
        path: p.display().to_string(),
        text,
    }))
}

/// Reads a format folder from disk.
pub fn load_folder(dir: &Path) -> Result<FormatFolder, String> {
    let slug = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let source = |rel: &str| -> Result<Option<SourceFile>, String> {
        let p = dir.join(rel);
        if !p.exists() {
            return Ok(None);
        }
        Ok(Some(SourceFile {
            path: p.display().to_string(),
            text: read(&p)?,
        }))
    };
    let parser = source(PARSER)?
        .ok_or_else(|| format!("{}: no {PARSER} (not a format folder)", dir.display()))?;
    let files = FormatFiles {
        slug,
        parser,
        fields: source(FIELDS)?,
        module_fields: module_fields(dir)?,
        manifest: source(MANIFEST)?,
    };
    let mut tests = Vec::new();
    let tdir = dir.join("tests");
    if tdir.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&tdir)
            .map_err(|e| format!("{}: {e}", tdir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for p in paths {
            tests.push(parse_case(&p.display().to_string(), &read(&p)?)?);
        }
    }
    Ok(FormatFolder {
        files,
        tests,
        broken_tests: Vec::new(),
    })
}

/// The format folders at or below `root` (a format folder, or a catalog holding
/// many, at any depth), sorted.
pub fn find_folders(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut out, 0);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if dir.join(PARSER).is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth > 6 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                walk(&p, out, depth + 1);
            }
        }
    }
}
