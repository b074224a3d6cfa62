//! A hostile container overwrites the runtime's binary through the
//! `/proc/<pid>/exe` of a process of the container that runs it
//! (CVE-2019-5736's pattern, issue 16) — against a copy of the binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use glassbox_e2e::attack::attack_bundle;
use glassbox_e2e::*;

#[test]
fn the_container_cannot_overwrite_the_runtime_binary() {
    // A copy: on the old code this attack wins, and it must not win against
    // the binary the rest of the suite runs.
    let dir = tempfile::Builder::new().prefix("glassbox-binary-copy-").tempdir().unwrap();
    let copy = dir.path().join("glassbox");
    std::fs::copy(glassbox_bin(), &copy).unwrap();
    let original = std::fs::read(&copy).unwrap();
    // The container's init hunts for a process of the container whose
    // executable is glassbox, keeps a handle on that file, and writes
    // through the handle as soon as nobody runs it any more.
    let hunter = "while :; do for d in /proc/[0-9]*; do [ $d = /proc/1 ] && continue; \
                  case \"$(readlink $d/exe 2>/dev/null)\" in *glassbox*) \
                  if exec 3< $d/exe; then echo caught >> /tmp/report; break 2; fi;; esac; done; done; \
                  while ! echo pwned > /proc/self/fd/3; do sleep 0.01; done; echo wrote >> /tmp/report; sleep 60";
    let bundle = attack_bundle(hunter, |_| {});
    // A script whose interpreter is "the executable of whoever runs me"; and
    // the shared libraries glassbox needs, as any distribution image has them.
    give_the_libraries_of(&copy, &bundle.rootfs());
    let evil = bundle.rootfs().join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let rt = Runtime::with_binary(copy.clone());
    let id = rt.id("esc-binary");
    rt.start_container(&id, &bundle);
    let report = || std::fs::read_to_string(bundle.rootfs().join("tmp/report")).unwrap_or_default();
    // `exec /evil`, its stderr a pipe already full: whatever /evil turns
    // into writes its complaint there and waits, in the container, until
    // the test reads — time enough for the hunter, on every try.
    let (reader, writer) = full_pipe();
    let mut exec = Command::new(&copy)
        .arg("--root")
        .arg(rt.root())
        .args(["exec", &id, "/evil"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(writer))
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(3), || report().contains("caught"));
    let drain = std::thread::spawn(move || std::io::copy(&mut std::fs::File::from(reader), &mut std::io::sink()));
    assert!(runtime::wait_bounded(&mut exec, Duration::from_secs(10)).is_some(), "exec /evil finished");
    let _ = drain.join();
    // Nobody runs the copy now: give a writer time to get through.
    let wrote = wait_until(Duration::from_secs(3), || report().contains("wrote"));
    let unchanged = std::fs::read(&copy).unwrap() == original;
    // Cleaned up by the binary under test, not by the copy (it may be "pwned" now).
    std::fs::copy(glassbox_bin(), &copy).unwrap();
    let _ = rt.delete_force(&id);
    rt.assert_clean(&id, &bundle);
    assert!(!wrote && unchanged, "the container overwrote the runtime's binary (report: {:?})", report());
}

/// A pipe whose buffer is already full: a write to it waits until the
/// reader takes something out.
fn full_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (reader, writer) = nix::unistd::pipe().unwrap();
    fcntl(&writer, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
    while nix::unistd::write(&writer, &[b'.'; 4096]).is_ok() {}
    fcntl(&writer, FcntlArg::F_SETFL(OFlag::empty())).unwrap();
    (reader, writer)
}

/// Copy the dynamic loader and the libraries `binary` needs (ldd(1)) into
/// `rootfs`, at the same paths.
fn give_the_libraries_of(binary: &Path, rootfs: &Path) {
    let out = Command::new("ldd").arg(binary).output().unwrap();
    for word in String::from_utf8_lossy(&out.stdout).split_whitespace().filter(|w| w.starts_with('/')) {
        let inside = rootfs.join(word.trim_start_matches('/'));
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(word, &inside).unwrap();
    }
}
