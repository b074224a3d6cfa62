//! ARCHITECTURE.md names every source file of the project, each with a line
//! or two on what it is for. A map that leaves out a file, or names one
//! that is gone, sends a reader to the wrong place; this test fails on
//! either, naming the file and the section to fix.
//!
//! The map's shape: a heading ``### `DIR` `` for each source root (a
//! crate's `src/`, fuzz/fuzz_targets, runtime/glassbox-exec), then one
//! bullet ``- `PATH` — …`` per file, PATH relative to DIR. Every `.rs` file of
//! the repository must lie under one of those roots, except build scripts
//! and integration tests (`tests/` folders beside a crate's `src/`, and
//! tests/tests), which are not modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Each `### `DIR`` section of ARCHITECTURE.md and the paths its bullets name.
fn sections(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            let dir = rest.split('`').next().unwrap().to_string();
            map.entry(dir.clone()).or_default();
            current = Some(dir);
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(dir), Some(rest)) = (&current, line.strip_prefix("- `")) {
            let path = rest.split('`').next().unwrap().to_string();
            assert!(
                rest.contains("` — ") && !rest.trim_end().ends_with('—'),
                "ARCHITECTURE.md, section {dir}: `{path}` needs a line on what it is for"
            );
            map.get_mut(dir).unwrap().insert(path);
        }
    }
    map
}

/// Every `.rs` file below `dir`, relative to the repository, leaving out
/// build output, snapshots and what is not a module (build.rs, tests/).
fn rust_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            let skip = ["target", "snapshots", "seeds", "artifacts", "node_modules", "book"].contains(&name.as_str())
                || name.starts_with('.')
                // Integration tests (`tests/` beside a crate's src/), but not
                // the e2e package itself, whose library is tests/src.
                || (name == "tests" && path != root.join("tests"));
            if !skip {
                rust_files(&path, root, out);
            }
        } else if name.ends_with(".rs") && name != "build.rs" {
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn architecture_md_names_every_source_file() {
    let root = repo();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let map = sections(&text);
    assert!(map.contains_key("runtime/src") && map["runtime/src"].len() > 50, "the runtime's section is missing");

    let mut files = Vec::new();
    rust_files(&root, &root, &mut files);
    let mut problems = BTreeSet::new();
    let mut found: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        // The deepest section root the file lies under.
        let Some(dir) = map.keys().filter(|d| file.starts_with(&format!("{d}/"))).max_by_key(|d| d.len()) else {
            problems.insert(format!("{file}: under no `### `DIR`` section of ARCHITECTURE.md; add its crate's"));
            continue;
        };
        let rel = file[dir.len() + 1..].to_string();
        if !map[dir].contains(&rel) {
            problems.insert(format!("{file}: not named in ARCHITECTURE.md's section {dir}; add `- `{rel}` — …`"));
        }
        found.entry(dir.as_str()).or_default().insert(rel);
    }
    for (dir, named) in &map {
        for rel in named {
            if !found.get(dir.as_str()).is_some_and(|f| f.contains(rel)) {
                problems.insert(format!("ARCHITECTURE.md, section {dir}: names `{rel}`, which does not exist"));
            }
        }
    }
    let problems: Vec<String> = problems.into_iter().collect();
    assert!(problems.is_empty(), "ARCHITECTURE.md is not the map of the code:\n  {}", problems.join("\n  "));
}

#[test]
fn sections_are_read_from_headings_and_their_bullets_only() {
    let map =
        sections("## x\n### `a/src`\n- `lib.rs` — the crate\n- `gone.rs` — was here\n## y\n- `not/in/a/section.rs`\n");
    assert_eq!(map.len(), 1);
    assert_eq!(map["a/src"], BTreeSet::from(["lib.rs".to_string(), "gone.rs".to_string()]));
}
