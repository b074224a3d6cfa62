//! Layers point down only. The runtime's modules form a stack, from the
//! command line at the top to the state directory and the log at the
//! bottom, and a module may use only what lies below it: a lower module that
//! called up (the recorder asking `cli` for its log, `state` asking the
//! recorder to keep a record) would tie the bottom to everything above it,
//! and no part could be read, tested or reused alone.
//!
//! This test reads `runtime/src/**/*.rs`, resolves every path that starts
//! with `crate::` or climbs out of its module with `super::`, and checks two
//! things against what is declared below:
//! - each top-level module uses only the modules listed after it in
//!   [`LAYERS`];
//! - no two files of one module use each other (a loop such as
//!   process/init.rs ↔ process/spawn.rs), which makes each file readable
//!   before the ones that use it.
//!
//! It reads text, not the compiler's view, so it errs on the side of
//! reporting: comments are skipped but string literals are read as code,
//! and a `super::` inside an inline `mod tests { … }` is taken to climb one
//! level higher than it does. It may report a use that is not there, never
//! miss one that is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `runtime/src`, from the top layer down: each may
/// use only the modules that come after it. A new module must be placed
/// here; to move one, move its uses first.
const LAYERS: &[&str] = &[
    // runc's command line: parses flags, calls the verbs.
    "cli",
    // One file per verb: the stages in their order, the state, the cleanup.
    "container",
    // The kernel's side (--trace, glassbox hub): eBPF sessions and records.
    "ktrace",
    // Cloning the container's init, the runtime ↔ init protocol, the init's steps.
    "process",
    // The stages: each a plan and the syscalls that carry it out.
    "bundle",
    "idmap",
    "rootless",
    "hooks",
    "terminal",
    "cgroups",
    "security",
    "rootfs",
    "namespaces",
    // Every stage reports its steps here; it writes into the state directory.
    "recorder",
    // The state directory and what everything may use.
    "state",
    "paths",
    "signals",
    "fault",
    "regular_file",
    "log",
];

/// Uses against [`LAYERS`] known today, as (file, module it uses). Each
/// one must still exist: delete it here when it is gone.
const ALLOWED_UPWARD: &[(&str, &str)] = &[];

/// Files of one module that use each other today, as (module directory,
/// file, file). Each one must still exist: delete it here when it is gone.
const ALLOWED_LOOPS: &[(&str, &str, &str)] = &[
    // StepError and InStage live in init.rs, and init.rs runs these files'
    // steps; removed when the step error gets a module of its own.
    ("process", "init", "lifeline"),
    ("process", "init", "program"),
    // A container without a mount namespace of its own binds its mounts
    // through mounts.rs, which makes each new mount a slave through inherited.rs.
    ("rootfs", "inherited", "mounts"),
];

#[test]
fn layers_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tops = top_level_modules(&src);
    let listed: BTreeSet<String> = LAYERS.iter().map(|m| m.to_string()).collect();
    let mut failures = BTreeSet::new();
    for m in tops.difference(&listed) {
        failures.insert(format!("runtime/src/{m}: a top-level module LAYERS does not place; add it where it belongs"));
    }
    for m in listed.difference(&tops) {
        failures.insert(format!("LAYERS names {m}, which runtime/src does not have any more; remove it"));
    }
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);

    let uses = crate_uses(&src, &tops);
    assert!(
        uses.iter().any(|u| u.file == "container/create/mod.rs" && u.module == "process"),
        "the scan found no use of process in container/create/mod.rs: the scanner is broken, not the layers"
    );
    let mut allowed_seen = BTreeSet::new();
    for u in &uses {
        let (Some(from), Some(to)) = (rank(&u.from), rank(&u.module)) else { continue };
        if to > from || u.module == u.from {
            continue;
        }
        if let Some(a) = ALLOWED_UPWARD.iter().find(|(f, m)| *f == u.file && *m == u.module) {
            allowed_seen.insert(*a);
            continue;
        }
        failures.insert(format!(
            "runtime/src/{} ({}) uses {} ({}), which is not below it in LAYERS: move what it needs down, or pass \
             it in from above",
            u.file, u.from, u.path, u.module
        ));
    }
    for a in ALLOWED_UPWARD.iter().filter(|a| !allowed_seen.contains(*a)) {
        failures.insert(format!("ALLOWED_UPWARD lists {} using {}, which it no longer does; remove it", a.0, a.1));
    }

    let mut loops_seen = BTreeSet::new();
    for (dir, edges) in sibling_uses(&uses) {
        for (a, b) in &edges {
            if a >= b || !edges.contains(&(b.clone(), a.clone())) {
                continue;
            }
            if let Some(l) = ALLOWED_LOOPS.iter().find(|l| l.0 == dir && l.1 == a && l.2 == b) {
                loops_seen.insert(*l);
                continue;
            }
            failures.insert(format!(
                "runtime/src/{dir}/{a} and {dir}/{b} use each other: move what both need into a module of its own"
            ));
        }
    }
    for l in ALLOWED_LOOPS.iter().filter(|l| !loops_seen.contains(*l)) {
        failures.insert(format!("ALLOWED_LOOPS lists {}/{} ↔ {}, which is no loop any more; remove it", l.0, l.1, l.2));
    }

    let failures: Vec<String> = failures.into_iter().collect();
    assert!(failures.is_empty(), "the layers do not hold:\n  {}", failures.join("\n  "));
}

/// One path a file names that leads to another top-level module.
#[derive(Debug)]
struct Use {
    /// The file, relative to runtime/src.
    file: String,
    /// Its own top-level module.
    from: String,
    /// The path as resolved from the crate root (`cli::log::debug`).
    path: String,
    /// The top-level module the path leads into.
    module: String,
    /// The path's segments, for the check between files of one module.
    segments: Vec<String>,
    /// The file's own module path (`process::init` → ["process", "init"]).
    own: Vec<String>,
}

fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut tops = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && path.join("mod.rs").exists() {
            tops.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if stem != "lib" && stem != "main" {
                tops.insert(stem.to_string());
            }
        }
    }
    tops
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every path from `crate::` or `super::` in runtime/src that leads into a
/// top-level module, including the file's own.
fn crate_uses(src: &Path, tops: &BTreeSet<String>) -> Vec<Use> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut uses = Vec::new();
    for path in files {
        let file = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
        let own = module_path(&file);
        if own.is_empty() {
            continue; // lib.rs and main.rs sit above every layer
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for segments in paths_named(&text, &own) {
            let Some(module) = segments.first().filter(|m| tops.contains(*m)) else { continue };
            uses.push(Use {
                file: file.clone(),
                from: own[0].clone(),
                path: segments.join("::"),
                module: module.clone(),
                segments,
                own: own.clone(),
            });
        }
    }
    uses
}

/// For each module directory, which of its files use which others.
fn sibling_uses(uses: &[Use]) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut dirs: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for u in uses {
        let (me, dir) = match u.own.split_last() {
            Some((me, dir)) if !dir.is_empty() => (me, dir),
            _ => continue,
        };
        if u.segments.len() > dir.len() && u.segments[..dir.len()] == *dir && u.segments[dir.len()] != *me {
            let other = u.segments[dir.len()].clone();
            dirs.entry(dir.join("/")).or_default().insert((me.clone(), other));
        }
    }
    dirs
}

/// `process/init.rs` → ["process", "init"], `cgroups/mod.rs` → ["cgroups"].
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file.trim_end_matches(".rs").split('/').map(String::from).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// The paths `text` names through `crate::` or `super::`, each resolved to
/// its segments from the crate root; a group (`crate::{a, b::c}`) gives one
/// path per member. Comments are left out.
fn paths_named(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let before = if i == 0 { b' ' } else { bytes[i - 1] };
        let starts_path = !(before.is_ascii_alphanumeric() || before == b'_' || before == b':' || before == b'$');
        let rest = &code[i..];
        if starts_path && rest.starts_with("crate::") {
            i = read_tree(&code, i + "crate::".len(), Vec::new(), &mut out);
        } else if starts_path && rest.starts_with("super::") {
            let mut n = 0;
            while code[i..].starts_with("super::") {
                n += 1;
                i += "super::".len();
            }
            // A file's `super::` leads to its parent module; climbing out of
            // the crate cannot compile, so what is left is the crate root.
            let base = own[..own.len().saturating_sub(n)].to_vec();
            i = read_tree(&code, i, base, &mut out);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Reads `a::b::{c, d::e}` at `at`, pushing one path per leaf; returns
/// where it stopped.
fn read_tree(code: &str, mut at: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = code.as_bytes();
    loop {
        if bytes.get(at) == Some(&b'{') {
            at += 1;
            loop {
                while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace() || *b == b',') {
                    at += 1;
                }
                match bytes.get(at) {
                    Some(b'}') => return at + 1,
                    None => return at,
                    _ => at = read_tree(code, at, prefix.clone(), out),
                }
            }
        }
        let start = at;
        while bytes.get(at).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            at += 1;
        }
        if at == start {
            if !prefix.is_empty() {
                out.push(prefix);
            }
            return at.max(start + 1).min(bytes.len());
        }
        prefix.push(code[start..at].to_string());
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            out.push(prefix);
            return at;
        }
    }
}

#[test]
fn the_scan_sees_every_way_of_naming_a_module() {
    let own = vec!["cgroups".to_string(), "apply".to_string()];
    let text = "use crate::recorder::{kept, step};\n\
                use crate::{hooks, rootfs::{mounts, in_root::InRoot}};\n\
                fn f() { crate::cli::log::debug(\"x\"); super::super::state::LOCK_FILE; super::plan::x(); }\n\
                // crate::container in a comment is no use\n\
                $crate::nothing; my_crate::nothing; use super::*;";
    let found: Vec<String> = paths_named(text, &own).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "recorder::kept",
            "recorder::step",
            "hooks",
            "rootfs::mounts",
            "rootfs::in_root::InRoot",
            "cli::log::debug",
            "state::LOCK_FILE",
            "cgroups::plan::x",
            "cgroups",
        ]
    );
}
