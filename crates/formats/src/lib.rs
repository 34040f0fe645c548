//! Formats as folders: the built-in ones (the repository's `formats/`, embedded in
//! the binary at build time) and folders on disk, in the catalog layout
//! (`ingest/parser.yml`, `_meta/manifest.yml`, `_meta/fields.yml`, `tests/*.json`),
//! plus their test cases and how a case is compared.

mod compare;
mod folder;

pub use compare::{Difference, Rules, compare};
pub use folder::{
    BuiltinInfo, FormatFolder, TestCase, builtin, builtin_folder, find_folders, list, load_folder,
};
