//! Fault points: named places where a debug build of glassbox can be told
//! to die, so that a test can kill the runtime at every stage of making a
//! container and check what `delete --force` makes of the remains.
//!
//! `GLASSBOX_FAULT=create:ready glassbox create …` makes the runtime send
//! itself SIGKILL when it reaches that point: the death the OOM killer or an
//! impatient `kill -9` deals, with no destructor, no unwinding and no last
//! write. A point the runtime kills itself at, rather than a signal sent
//! from outside when the event record shows a stage, because the runtime
//! writes its record in batches and goes on working while a signal is on
//! its way: only a point says exactly where it was when it died, and every
//! point is reached on every try, none left to luck.
//!
//! Release builds compile each point to nothing (`cfg(debug_assertions)`):
//! the variable is not even read. The points are listed in
//! `fault_points.in`, which the test that visits them includes too.

/// Every point's name, `<verb>:<where>`, in the order `run` passes them.
pub const POINTS: &[&str] = include!("fault_points.in");

/// The runtime has reached `name`: die here if `GLASSBOX_FAULT` says so
/// (debug builds only).
#[inline(always)]
pub fn point(name: &'static str) {
    #[cfg(debug_assertions)]
    debug_build::point(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(debug_assertions)]
mod debug_build {
    use std::sync::OnceLock;

    /// `GLASSBOX_FAULT`, read once per process.
    fn wanted() -> Option<&'static str> {
        static WANTED: OnceLock<Option<String>> = OnceLock::new();
        WANTED.get_or_init(|| std::env::var("GLASSBOX_FAULT").ok()).as_deref()
    }

    pub fn point(name: &'static str) {
        debug_assert!(super::POINTS.contains(&name), "fault point {name:?} is missing from fault_points.in");
        if wanted() == Some(name) {
            // Our own pid: nothing else is signalled, and SIGKILL cannot be caught.
            let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::POINTS;

    /// Each point in the list is placed exactly once in the sources, and
    /// each placed point is in the list: the test that visits the list then
    /// visits every point there is.
    #[test]
    fn the_list_and_the_sources_agree() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut placed = Vec::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("fault.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for part in text.split("fault::point(\"").skip(1) {
                        placed.push(part.split('"').next().unwrap().to_string());
                    }
                }
            }
        }
        for name in POINTS {
            let n = placed.iter().filter(|p| p == name).count();
            assert_eq!(n, 1, "fault point {name:?} is placed {n} times in runtime/src");
        }
        for name in &placed {
            assert!(POINTS.contains(&name.as_str()), "fault point {name:?} is placed but not in fault_points.in");
        }
    }
}
