//! A config.json the runtime must refuse: `create` and `run` fail alike,
//! with runc's convention — exit status 1, one line on stderr naming the
//! field and the reason — and leave nothing behind.

use crate::bundle::Bundle;
use crate::output::assert_fails;
use crate::runtime::Runtime;

/// `create`, then `run`, of `bundle` as it is: each must fail with one line
/// containing every one of `needles`, and leave no container, cgroup,
/// process or mount. Returns `create`'s line.
#[track_caller]
pub fn refused(bundle: &Bundle, name: &str, needles: &[&str]) -> String {
    let rt = Runtime::new();
    let id = rt.id(name);
    let line = assert_fails(&rt.create(&id, bundle));
    assert_names(&line, needles, "create");
    assert!(rt.status(&id).is_none(), "a refused create must not leave a container behind");
    rt.assert_clean(&id, bundle);
    let id = rt.id(name);
    let run = assert_fails(&rt.run(&id, bundle));
    assert_names(&run, needles, "run");
    rt.assert_clean(&id, bundle);
    line
}

#[track_caller]
pub fn assert_names(line: &str, needles: &[&str], verb: &str) {
    for needle in needles {
        assert!(line.contains(needle), "{verb}: the error should name {needle:?}: {line}");
    }
}
