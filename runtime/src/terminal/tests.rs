use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};

use nix::pty::openpty;
use nix::sys::termios::{tcgetattr, LocalFlags};
use nix::unistd::{isatty, pipe};
use oci_spec::runtime::BoxBuilder;

use super::*;

fn size(height: u64, width: u64) -> oci_spec::runtime::Box {
    BoxBuilder::default().height(height).width(width).build().unwrap()
}

#[test]
fn console_size_becomes_rows_and_columns() {
    let ws = winsize_for(&size(24, 80)).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (24, 80));
    let err = winsize_for(&size(24, 70_000)).unwrap_err().to_string();
    assert_eq!(err, "process.consoleSize.width is 70000: a terminal's size must fit in 16 bits (0-65535)");
}

#[test]
fn send_fd_and_recv_fd_carry_a_pipe() {
    let (a, b) = UnixStream::pair().unwrap();
    let (read_end, write_end) = pipe().unwrap();
    send_fd(a.as_fd(), write_end.as_fd(), b"the pipe").unwrap();
    drop(write_end); // only the received copy keeps the pipe open now
    let (received, payload) = recv_fd(b.as_fd()).unwrap();
    assert_eq!(payload, b"the pipe");
    std::fs::File::from(received).write_all(b"through it").unwrap();
    let mut got = String::new();
    std::fs::File::from(read_end).read_to_string(&mut got).unwrap();
    assert_eq!(got, "through it");
}

#[test]
fn recv_fd_explains_what_it_got_instead() {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"xyz").unwrap();
    let err = recv_fd(b.as_fd()).unwrap_err();
    assert!(matches!(err, TerminalError::NoFdReceived { bytes: 3 }), "{err}");
    drop(a);
    assert!(matches!(recv_fd(b.as_fd()).unwrap_err(), TerminalError::PeerClosed));
    let (a, _b) = UnixStream::pair().unwrap();
    let err = send_fd(a.as_fd(), a.as_fd(), b"").unwrap_err();
    assert!(matches!(err, TerminalError::EmptyPayload));
}

#[test]
fn console_socket_receives_a_tty_and_runcs_payload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("console.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let pty = openpty(None, None).unwrap();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        recv_fd(conn.as_fd()).unwrap()
    });
    send_to_console_socket(&path, &pty.master).unwrap();
    let (fd, payload) = receiver.join().unwrap();
    assert!(isatty(&fd).unwrap());
    assert_eq!(payload, CONSOLE_SOCKET_PAYLOAD);
    // It is the same pty: what the slave writes, the received master reads.
    std::fs::File::from(pty.slave).write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    std::fs::File::from(fd).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn console_socket_paths_longer_than_sun_path_work() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("d".repeat(100)).join("e".repeat(40));
    std::fs::create_dir_all(&deep).unwrap();
    let path = deep.join("console.sock");
    assert!(path.as_os_str().len() > 108);
    // bind has the same limit; go through the directory fd for it too.
    let dirfd = std::fs::File::open(&deep).unwrap();
    let short = format!("/proc/self/fd/{}/console.sock", dirfd.as_raw_fd());
    let listener = UnixListener::bind(short).unwrap();
    let pty = openpty(None, None).unwrap();
    let receiver = std::thread::spawn(move || recv_fd(listener.accept().unwrap().0.as_fd()));
    send_to_console_socket(&path, &pty.master).unwrap();
    assert!(receiver.join().unwrap().is_ok());
}

#[test]
fn console_socket_errors_name_the_path() {
    let err =
        send_to_console_socket(Path::new("/nonexistent/console.sock"), &pipe().unwrap().0).unwrap_err().to_string();
    assert!(err.starts_with("could not connect to the console socket /nonexistent/console.sock: "), "{err}");
}

#[test]
fn raw_mode_is_none_for_a_pipe_and_restored_on_drop_for_a_tty() {
    let (r, _w) = pipe().unwrap();
    assert!(RawModeGuard::new(r.as_fd()).unwrap().is_none());

    let pty = openpty(None, None).unwrap();
    let before = tcgetattr(&pty.slave).unwrap();
    assert!(before.local_flags.contains(LocalFlags::ECHO | LocalFlags::ICANON));
    let guard = RawModeGuard::new(pty.slave.as_fd()).unwrap().expect("a pty is a tty");
    let raw = tcgetattr(&pty.slave).unwrap();
    assert!(!raw.local_flags.intersects(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG));
    drop(guard);
    assert_eq!(tcgetattr(&pty.slave).unwrap().local_flags, before.local_flags);
}

#[test]
fn copy_available_moves_bytes_and_treats_eio_as_the_end() {
    let (r, w) = pipe().unwrap();
    let (out_r, out_w) = pipe().unwrap();
    nix::unistd::write(&w, b"hello").unwrap();
    assert_eq!(copy_available(r.as_fd(), out_w.as_fd()).unwrap(), 5);
    let mut buf = [0u8; 5];
    nix::unistd::read(&out_r, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");

    let pty = openpty(None, None).unwrap();
    drop(pty.slave); // the container's process is gone: the master reads EIO
    assert_eq!(copy_available(pty.master.as_fd(), out_w.as_fd()).unwrap(), 0);
}

#[test]
fn window_size_follows_the_host() {
    let host = openpty(&winsize_for(&size(50, 132)).unwrap(), None).unwrap();
    let pty = openpty(None, None).unwrap();
    set_winsize_from(host.slave.as_fd(), pty.master.as_fd()).unwrap();
    let ws = ioctls::get_winsize(pty.slave.as_fd()).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (50, 132));
}

/// The real thing, as root: a private mount namespace with its own devpts,
/// entered only by one thread (unshare affects the calling thread), so
/// nothing is left behind when the thread ends.
#[test]
fn console_is_made_from_the_containers_own_devpts() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to mount a devpts instance");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let result = std::thread::spawn(move || -> Result<(Console, u64, u64), String> {
        use nix::sched::{unshare, CloneFlags};
        let e = |what: &str| {
            let what = what.to_string();
            move |err: nix::Error| format!("{what}: {err}")
        };
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS).map_err(e("unshare"))?;
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(e("make / private"))?;
        std::fs::create_dir_all(root.join("dev/pts")).unwrap();
        mount(
            Some("devpts"),
            &root.join("dev/pts"),
            Some("devpts"),
            MsFlags::empty(),
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )
        .map_err(e("mount devpts"))?;
        std::os::unix::fs::symlink("pts/ptmx", root.join("dev/ptmx")).unwrap();
        // The console is bound through /proc/self/fd, as in a container.
        std::fs::create_dir_all(root.join("proc")).unwrap();
        mount(Some("proc"), &root.join("proc"), Some("proc"), MsFlags::empty(), None::<&str>)
            .map_err(e("mount proc"))?;
        nix::unistd::chroot(&root).map_err(e("chroot"))?;
        nix::unistd::chdir("/").map_err(e("chdir"))?;
        let console = open_console_in_container(Some(size(30, 100))).map_err(|e| e.to_string())?;
        let console_rdev = std::fs::metadata(CONSOLE).unwrap().rdev();
        let pts0_rdev = std::fs::metadata("/dev/pts/0").unwrap().rdev();
        Ok((console, console_rdev, pts0_rdev))
    })
    .join()
    .unwrap();
    let (console, console_rdev, pts0_rdev) = result.unwrap();
    assert!(isatty(&console.master).unwrap() && isatty(&console.slave).unwrap());
    // The first pty of a fresh devpts instance is number 0, and /dev/console is it.
    assert_eq!(console_rdev, pts0_rdev);
    let slave_rdev = std::fs::File::from(console.slave.try_clone().unwrap()).metadata().unwrap().rdev();
    assert_eq!(slave_rdev, pts0_rdev);
    let ws = ioctls::get_winsize(console.slave.as_fd()).unwrap();
    assert_eq!((ws.ws_row, ws.ws_col), (30, 100));
    let _: (OwnedFd, OwnedFd) = (console.master, console.slave);
}

#[test]
fn the_slave_becomes_stdio_and_controlling_terminal() {
    use std::os::unix::process::CommandExt;
    let pty = openpty(None, None).unwrap();
    let slave = pty.slave;
    let mut cmd = std::process::Command::new("/bin/sh");
    // /dev/tty opens only for a process that has a controlling terminal.
    cmd.args(["-c", "test -t 0 && test -t 1 && test -t 2 && : </dev/tty && echo ctty-ok"]);
    // SAFETY: between fork and exec the closure only makes syscalls
    // (fcntl, setsid, ioctl, dup2); it allocates only on its error path.
    unsafe {
        cmd.pre_exec(move || {
            let s = slave.try_clone()?;
            nix::unistd::setsid()?;
            make_controlling_terminal(s).map_err(|_| std::io::Error::other("ctty"))
        });
    }
    let mut child = cmd.spawn().unwrap();
    let status = child.wait().unwrap();
    let mut out = vec![0u8; 64];
    let n = nix::unistd::read(&pty.master, &mut out).unwrap();
    assert!(status.success(), "{status:?}: {}", String::from_utf8_lossy(&out[..n]));
    assert_eq!(String::from_utf8_lossy(&out[..n]).trim(), "ctty-ok");
}
