//! process.terminal with --console-socket: the runtime makes a pty inside the
//! container and hands us its master over a Unix socket (SCM_RIGHTS), the
//! way podman's conmon and containerd's shim receive it.

use std::io::Write;
use std::time::Duration;

use glassbox_e2e::*;
use serde_json::json;

#[test]
fn console_socket_receives_a_working_pty_master() {
    let bundle = Bundle::busybox(&["sh"]);
    bundle.config_mut(|v| v["process"]["terminal"] = json!(true));
    let rt = Runtime::new();
    let id = rt.id("tty");
    let sock = rt.scratch().join("console.sock");
    let receiver = console::listen(&sock);

    let out = rt.create_with(&id, &bundle, &["--console-socket", sock.to_str().unwrap()]);
    assert_ok(&out);
    let master = receiver.join().unwrap().unwrap_or_else(|e| panic!("receiving the pty master: {e}"));
    assert_ok(&rt.start(&id));

    let mut w = std::fs::File::from(master.try_clone().unwrap());
    w.write_all(b"tty; echo h\"\"i; exit\n").unwrap();
    let seen = console::read_until(&master, "hi\r\n", Duration::from_secs(5));
    assert!(seen.contains("hi\r\n"), "the shell's reply never came back through the pty: {seen:?}");
    assert!(seen.contains("/dev/pts/") || seen.contains("/dev/console"), "tty should name a pty: {seen:?}");

    rt.wait_status(&id, "stopped");
    drop(w);
    drop(master);
    assert_ok(&rt.delete(&id));
    rt.assert_clean(&id, &bundle);
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    let bundle = Bundle::busybox(&["sh"]);
    bundle.config_mut(|v| v["process"]["terminal"] = json!(true));
    let rt = Runtime::new();
    let id = rt.id("tty-nosock");
    let err = assert_fails(&rt.create(&id, &bundle));
    assert!(err.contains("console-socket") || err.contains("terminal"), "{err}");
    rt.assert_clean(&id, &bundle);
}

#[test]
fn exec_tty_sends_its_own_pty_master() {
    let bundle = Bundle::busybox(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = rt.id("exectty");
    rt.start_container(&id, &bundle);
    let sock = rt.scratch().join("exec-console.sock");
    let receiver = console::listen(&sock);
    let out = std::thread::scope(|s| {
        let exec = s.spawn(|| {
            rt.cmd(&[
                "exec",
                "--tty",
                "--console-socket",
                sock.to_str().unwrap(),
                &id,
                "sh",
                "-c",
                "tty; echo e\"\"xec-hi",
            ])
        });
        let master = receiver.join().unwrap().unwrap_or_else(|e| panic!("receiving the exec pty master: {e}"));
        let seen = console::read_until(&master, "exec-hi\r\n", Duration::from_secs(5));
        assert!(seen.contains("exec-hi\r\n"), "exec's output never came through its pty: {seen:?}");
        assert!(seen.contains("/dev/pts/"), "tty should name a pty: {seen:?}");
        let out = exec.join().unwrap();
        drop(master);
        out
    });
    assert_ok(&out);
    assert_ok(&rt.delete_force(&id));
    rt.assert_clean(&id, &bundle);
}

/// `glassbox run` in the foreground with process.terminal: the runtime keeps
/// the pty master and copies between it and its own terminal. script(1)
/// gives the runtime a terminal, as a user's shell would.
#[test]
fn foreground_run_with_a_terminal_is_interactive() {
    let bundle = Bundle::busybox(&["sh"]);
    bundle.config_mut(|v| v["process"]["terminal"] = json!(true));
    let rt = Runtime::new();
    let id = rt.id("tty-fg");
    let command = format!(
        "{} --root {} run --bundle {} {id}",
        glassbox_bin().display(),
        rt.root().display(),
        bundle.path().display()
    );
    let input = rt.scratch().join("typed");
    std::fs::write(&input, "tty; echo answer $((6*7)); exit 3\n").unwrap();
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &command, "/dev/null"]);
    let out = rt.output_of(c, std::process::Stdio::from(std::fs::File::open(&input).unwrap()));
    let text = stdout(&out);
    assert!(text.contains("answer 42"), "the shell in the container answered through the pty: {text:?}");
    assert!(text.contains("/dev/pts/"), "its stdin is a pty: {text:?}");
    assert_eq!(out.status.code(), Some(3), "run exits with the container's code: {text:?}");
    rt.assert_clean(&id, &bundle);
}
