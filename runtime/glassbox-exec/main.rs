//! `glassbox-exec`: the last step before the container's program, run from
//! a sealed in-memory copy (see runtime/src/process/sealed_exec.rs for why).
//!
//! It is glassbox's init or exec'd process, already in the container with
//! its final user, capabilities and seccomp filter, re-executed as this
//! small program instead of glassbox's own binary. It does three things
//! and then becomes the container's program with execve(2):
//!
//! ```text
//! glassbox-exec <report fd | -> <inheritable/ambient | -> <path> <argv...>
//! ```
//! 1. when asked, it puts the capabilities' inheritable and ambient sets
//!    back to what config.json asked (the init lent it its permitted set
//!    through the ambient set: `CapsToCarry` in sealed_exec.rs);
//! 2. it marks the report descriptor close-on-exec, so a successful execve
//!    closes it (the runtime reads end-of-file: the program runs) — or, if
//!    the container's seccomp filter refuses fcntl(2), closes it at once
//!    and reports on stderr instead;
//! 3. if execve fails, it writes why to that descriptor (`exec`, then the
//!    reason: what `glassbox start` reads from exec.fifo) or else one line to
//!    stderr, and exits 127 (not found) or 126 (found, not runnable), as a
//!    shell does.
//!
//! No libc: it is a static program of about a kilobyte that talks to the
//! kernel with the `syscall` instruction; copying it into memory for every
//! container costs next to nothing, where a copy of glassbox would be 3 MB.
//!
//! Built by runtime/build.rs with rustc alone, not cargo: scripts/test.sh
//! runs clippy-driver on this file, and every `unsafe` block says why it is
//! sound (the lint below, which rustc itself ignores).
#![no_std]
#![no_main]
#![warn(clippy::undocumented_unsafe_blocks)]

use core::arch::{asm, global_asm};

/// The name glassbox gives it in argv[0]; anything else started it by mistake
/// (or on purpose: `#!/proc/self/exe` in a script of the container).
const NAME: &[u8] = b"glassbox-exec";

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const FCNTL: usize = 72;
    pub const CAPGET: usize = 125;
    pub const CAPSET: usize = 126;
    pub const PRCTL: usize = 157;
    pub const EXECVE: usize = 59;
    pub const EXIT_GROUP: usize = 231;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const WRITE: usize = 64;
    pub const CLOSE: usize = 57;
    pub const FCNTL: usize = 25;
    pub const CAPGET: usize = 90;
    pub const CAPSET: usize = 91;
    pub const PRCTL: usize = 167;
    pub const EXECVE: usize = 221;
    pub const EXIT_GROUP: usize = 94;
}

// The kernel starts a static program at _start with argc, argv[], NULL,
// envp[], NULL on the stack; hand that stack to Rust, 16-byte aligned.
#[cfg(target_arch = "x86_64")]
global_asm!(".globl _start", "_start:", "mov rdi, rsp", "and rsp, -16", "call start", "ud2");
#[cfg(target_arch = "aarch64")]
global_asm!(".globl _start", "_start:", "mov x0, sp", "bl start", "brk #0");

/// A system call with four arguments, the fifth zero (prctl(2) insists on it).
/// Safety: whatever `n` does with the arguments must be sound — each one a
/// pointer, the memory it points at must be valid for what `n` reads or
/// writes there, for the length it is given.
#[cfg(target_arch = "x86_64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
         in("r8") 0usize, lateout("rcx") _, lateout("r11") _, options(nostack));
    ret
}
/// As above, on aarch64.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c, in("x3") d,
         in("x4") 0usize, options(nostack));
    ret
}

fn exit(code: usize) -> ! {
    // SAFETY: exit_group(2) takes an integer and touches no memory.
    unsafe { syscall(nr::EXIT_GROUP, code, 0, 0, 0) };
    // exit_group does not return; this only says so to the compiler.
    #[allow(clippy::empty_loop)]
    loop {}
}

fn write(fd: usize, bytes: &[u8]) {
    // SAFETY: write(2) reads bytes.len() bytes at bytes.as_ptr(): the slice.
    unsafe { syscall(nr::WRITE, fd, bytes.as_ptr() as usize, bytes.len(), 0) };
}

/// A NUL-terminated argument as a byte slice. (Volatile reads: the
/// compiler would otherwise turn the loop into a call to libc's strlen,
/// and there is no libc here.) Safety: `p` points at a NUL-terminated
/// string that lives, unchanged, as long as the slice: argv's strings do.
unsafe fn arg<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while core::ptr::read_volatile(p.add(n)) != 0 {
        n += 1;
    }
    core::slice::from_raw_parts(p, n)
}

fn parse(text: &[u8], radix: u64) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in text {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' if radix == 16 => b - b'a' + 10,
            _ => return None,
        } as u64;
        v = v.checked_mul(radix)?.checked_add(d)?;
    }
    Some(v)
}

/// capset(2) of version 3: two 32-bit halves per set.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const PR_CAP_AMBIENT: usize = 47;
const PR_CAP_AMBIENT_RAISE: usize = 2;
const PR_CAP_AMBIENT_CLEAR_ALL: usize = 4;

/// Inheritable set to `inheritable`, ambient set to exactly `ambient`.
/// On failure: the call that failed, and its errno.
fn put_back(inheritable: u64, ambient: u64) -> Result<(), (&'static [u8], usize)> {
    let mut header = CapHeader { version: 0x2008_0522, pid: 0 };
    let mut data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    let check = |what: &'static [u8], ret: isize| if ret < 0 { Err((what, (-ret) as usize)) } else { Ok(()) };
    // SAFETY: capget(2) writes a header and two CapData (version 3), which
    // `header` and `data` are, and capset(2) reads the same; prctl(2) here
    // takes integers only.
    unsafe {
        check(b"capget", syscall(nr::CAPGET, &mut header as *mut _ as usize, data.as_mut_ptr() as usize, 0, 0))?;
        data[0].inheritable = inheritable as u32;
        data[1].inheritable = (inheritable >> 32) as u32;
        check(b"capset", syscall(nr::CAPSET, &mut header as *mut _ as usize, data.as_ptr() as usize, 0, 0))?;
        check(b"prctl(PR_CAP_AMBIENT_CLEAR_ALL)", syscall(nr::PRCTL, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0))?;
        for cap in 0..64 {
            if ambient & (1 << cap) != 0 {
                let raised = syscall(nr::PRCTL, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0);
                check(b"prctl(PR_CAP_AMBIENT_RAISE)", raised)?;
            }
        }
    }
    Ok(())
}

/// The errno names execve(2) gives, for the report line.
fn errno_name(errno: usize) -> &'static [u8] {
    match errno {
        1 => b"EPERM (operation not permitted)",
        2 => b"ENOENT (no such file or directory)",
        5 => b"EIO",
        7 => b"E2BIG (arguments and environment too large)",
        8 => b"ENOEXEC (not an executable format this kernel runs)",
        12 => b"ENOMEM",
        13 => b"EACCES (permission denied, or a noexec mount)",
        20 => b"ENOTDIR",
        21 => b"EISDIR",
        22 => b"EINVAL",
        26 => b"ETXTBSY (the file is open for writing)",
        36 => b"ENAMETOOLONG",
        40 => b"ELOOP (too many symlinks)",
        80 => b"ELIBBAD (a bad ELF interpreter)",
        _ => b"error",
    }
}

fn decimal(mut v: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Safety: `sp` is the stack the kernel started the program with (see
/// `_start`): argc, then argc argument pointers, NULL, the environment
/// pointers, NULL — all of it alive until exit.
#[no_mangle]
unsafe extern "C" fn start(sp: *const usize) -> ! {
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let envp = argv.add(argc + 1);
    if argc < 4 || arg(*argv) != NAME {
        write(2, b"glassbox-exec: this is the last step of starting a container, run only by glassbox\n");
        exit(126);
    }
    // Where to say why the exec failed: the descriptor glassbox gave
    // (exec.fifo, read by `glassbox start`: "<stage>\n<reason>"), else stderr.
    let mut report = match arg(*argv.add(1)) {
        b"-" => 2,
        fd => parse(fd, 10).unwrap_or(2) as usize,
    };
    let mut stage: &[u8] = if report == 2 { b"glassbox-exec: " } else { b"exec\n" };
    let caps = arg(*argv.add(2));
    if caps != b"-" {
        let slash = caps.iter().position(|b| *b == b'/').unwrap_or(caps.len());
        let (inh, amb) = (parse(&caps[..slash], 16), parse(caps.get(slash + 1..).unwrap_or(&[]), 16));
        let failed = match (inh, amb) {
            (Some(inh), Some(amb)) => put_back(inh, amb).err(),
            _ => Some((b"reading the capability masks" as &[u8], 22)),
        };
        if let Some((call, errno)) = failed {
            let mut digits = [0u8; 20];
            let line = [
                stage,
                b"putting the capability sets back: ",
                call,
                b": errno ",
                decimal(errno, &mut digits),
                b" (a seccomp profile with noNewPrivileges must allow capget, capset and prctl for this user)\n",
            ];
            for piece in line {
                write(report, piece);
            }
            exit(126);
        }
    }
    const F_SETFD: usize = 2;
    const FD_CLOEXEC: usize = 1;
    // A seccomp filter loaded last is already in force here, and may
    // refuse fcntl(2). Without the flag the program would hold the report
    // descriptor open and `start` would wait until it exits; so let go of
    // it instead: `start` returns now, and a failing execve says why on
    // stderr (and in the exit status).
    if report != 2 && syscall(nr::FCNTL, report, F_SETFD, FD_CLOEXEC, 0) < 0 {
        syscall(nr::CLOSE, report, 0, 0, 0);
        (report, stage) = (2, b"glassbox-exec: ");
    }
    let path = *argv.add(3);
    let ret = syscall(nr::EXECVE, path as usize, argv.add(4) as usize, envp as usize, 0);
    let errno = (-ret) as usize;
    let mut digits = [0u8; 20];
    for piece in
        [stage, b"execve ", arg(path), b": ", errno_name(errno), b" [errno ", decimal(errno, &mut digits), b"]\n"]
    {
        write(report, piece);
    }
    exit(if errno == 2 { 127 } else { 126 });
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(126)
}

/// The precompiled `core` names an unwinding routine; with panic=abort
/// nothing unwinds, so nothing ever calls it.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
