//! The layout of ARCHITECTURE.md holds: a folder of `src/` imports only from the folders listed
//! before it, so the stages have no import cycle, and only `cli`, `commands` and `main.rs` know the
//! command line's types.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The folders of `src/`, bottom to top (ARCHITECTURE.md).
const ORDER: &[&str] = &[
    "test_utils",
    "io",
    "side_schema",
    "catalog",
    "rules",
    "plan",
    "copy",
    "verify",
    "pipeline",
    "cli",
    "commands",
    "main",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The folder a file belongs to (`main` for the files at the root of `src/`).
fn folder(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut parts = relative.components();
    match (parts.next(), parts.next()) {
        (Some(first), Some(_)) => first.as_os_str().to_string_lossy().into_owned(),
        _ => "main".to_string(),
    }
}

/// The folders a file names as `crate::<folder>`.
fn imported(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(at, _)| {
            text[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_folder_imports_only_from_the_folders_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let from = folder(&src, file);
        let rank = ORDER.iter().position(|f| *f == from).unwrap_or_else(|| {
            panic!(
                "{from} (of {}) is not in ARCHITECTURE.md's order",
                file.display()
            )
        });
        let text = std::fs::read_to_string(file).expect("read a source file");
        for to in imported(&text) {
            let Some(to_rank) = ORDER.iter().position(|f| *f == to) else {
                panic!(
                    "{} imports crate::{to}, a folder ARCHITECTURE.md does not list",
                    file.display()
                );
            };
            if to_rank > rank {
                upward.push(format!("{} → {to}", file.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layering: {upward:#?}"
    );
}
