//! The cgroup v2 device filter: cgroup v2 has no devices.allow file; instead
//! a tiny eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE is attached to the
//! cgroup, and the kernel runs it on every open(2) or mknod(2) of a device
//! node, passing (type, access, major, minor). It returns 1 to allow, 0 to
//! deny (man7 bpf(2); the kernel's Documentation/bpf/prog_cgroup_device).
//!
//! The program is generated here, instruction by instruction, from the same
//! rules as the v1 allowlist ([`super::devices`]): the rules are checked
//! from the last to the first and the first that matches decides, which is
//! what writing them in order into devices.allow/deny means on v1; no match
//! means deny.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction, as `struct bpf_insn` lays it out.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8, // dst in the low nibble, src in the high one
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

// Opcodes used (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const MOV64_REG: u8 = 0xbf; // dst = src
const MOV64_IMM: u8 = 0xb7; // dst = imm
const AND64_IMM: u8 = 0x57; // dst &= imm
const RSH64_IMM: u8 = 0x77; // dst >>= imm
const JNE_IMM: u8 = 0x55; // if dst != imm goto +off
const EXIT: u8 = 0x95;

/// Fields of `struct bpf_cgroup_dev_ctx`: access_type = access << 16 | type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// A device rule in the form the program tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    /// Parse the v1 syntax used by the planner: "c 1:3 rwm", "a *:* rwm".
    pub fn from_line(allow: bool, line: &str) -> Option<DeviceRule> {
        let mut parts = line.split_whitespace();
        let kind = parts.next()?.chars().next()?;
        let (major, minor) = parts.next()?.split_once(':')?;
        let num = |s: &str| if s == "*" { Some(None) } else { s.parse().ok().map(Some) };
        Some(DeviceRule { allow, kind, major: num(major)?, minor: num(minor)?, access: parts.next()?.to_string() })
    }
}

/// The program for `rules` (later rules win), ending in "deny".
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = access_type
        insn(MOV64_REG, 3, 2, 0, 0), // r3 = type
        insn(AND64_IMM, 3, 0, 0, 0xffff),
        insn(MOV64_REG, 4, 2, 0, 0), // r4 = access
        insn(RSH64_IMM, 4, 0, 0, 16),
        insn(LDX_MEM_W, 5, 1, 4, 0), // r5 = major
        insn(LDX_MEM_W, 6, 1, 8, 0), // r6 = minor
    ];
    for rule in rules.iter().rev() {
        if rule.kind == 'p' {
            continue; // fifos are not device nodes; nothing to filter
        }
        let mut block = Vec::new();
        // Each test jumps past the end of this block when the rule does not match.
        match rule.kind {
            'c' => block.push(insn(JNE_IMM, 3, 0, 0, DEV_CHAR)),
            'b' => block.push(insn(JNE_IMM, 3, 0, 0, DEV_BLOCK)),
            _ => {}
        }
        let mut allowed = 0;
        for (ch, bit) in [('m', ACC_MKNOD), ('r', ACC_READ), ('w', ACC_WRITE)] {
            if rule.access.contains(ch) {
                allowed |= bit;
            }
        }
        if allowed != ACC_MKNOD | ACC_READ | ACC_WRITE {
            // The request must ask for nothing beyond the rule's access.
            block.push(insn(MOV64_REG, 7, 4, 0, 0));
            block.push(insn(AND64_IMM, 7, 0, 0, !allowed));
            block.push(insn(JNE_IMM, 7, 0, 0, 0));
        }
        if let Some(major) = rule.major {
            block.push(insn(JNE_IMM, 5, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JNE_IMM, 6, 0, 0, minor as i32));
        }
        block.push(insn(MOV64_IMM, 0, 0, 0, i32::from(rule.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        let mut conditional = false;
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_IMM {
                ins.off = (len - i - 1) as i16; // to the first instruction after the block
                conditional = true;
            }
        }
        p.extend(block);
        if !conditional {
            // A rule matching every device decides everything: code after it
            // could never run, and the verifier refuses unreachable code.
            return p;
        }
    }
    p.push(insn(MOV64_IMM, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("bpf(BPF_PROG_LOAD) of the device filter failed: {0} (verifier: {1})")]
    Load(std::io::Error, String),
    #[error("opening the cgroup {0}: {1}")]
    Open(String, std::io::Error),
    #[error("bpf(BPF_PROG_ATTACH) to {0} failed: {1}")]
    Attach(String, std::io::Error),
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, correctly laid out bpf_attr prefix of the size passed.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Load the program and attach it to the cgroup directory `dir`.
pub fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<(), BpfError> {
    let insns = program(rules);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..15].copy_from_slice(b"glassbox_device");
    let mut load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    let prog = bpf(BPF_PROG_LOAD, &mut load).map_err(|e| {
        let text = String::from_utf8_lossy(&log);
        // The verifier's reason comes before its closing statistics line.
        let lines: Vec<&str> = text.trim_end_matches('\0').lines().filter(|l| !l.starts_with("processed ")).collect();
        BpfError::Load(e, lines.last().copied().unwrap_or("no log").to_string())
    })?;
    // SAFETY: the kernel just gave us this descriptor.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = std::fs::File::open(dir).map_err(|e| BpfError::Open(dir.display().to_string(), e))?;
    let mut attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // Once attached, the cgroup holds the program; our descriptors can go.
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(|e| BpfError::Attach(dir.display().to_string(), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the program the way the kernel would, on (type, access, major, minor).
    fn run(p: &[Insn], kind: i32, access: i32, major: i64, minor: i64) -> i64 {
        let mut r = [0i64; 11];
        let ctx = [(access << 16 | kind) as i64, major, minor];
        let mut pc = 0;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            match i.code {
                LDX_MEM_W => r[dst] = ctx[(i.off / 4) as usize],
                MOV64_REG => r[dst] = r[src],
                MOV64_IMM => r[dst] = i.imm as i64,
                AND64_IMM => r[dst] &= i.imm as i64,
                RSH64_IMM => r[dst] >>= i.imm,
                JNE_IMM if r[dst] != i.imm as i64 => pc += i.off as usize,
                JNE_IMM => {}
                EXIT => return r[0],
                other => panic!("opcode {other:#x}"),
            }
            pc += 1;
        }
    }

    fn rules(lines: &[(bool, &str)]) -> Vec<DeviceRule> {
        lines.iter().map(|(a, l)| DeviceRule::from_line(*a, l).unwrap()).collect()
    }

    #[test]
    fn deny_all_then_allow_some() {
        let p = program(&rules(&[(false, "a *:* rwm"), (true, "c 1:3 rwm"), (true, "c 136:* rw")]));
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 11), 0, "/dev/kmsg");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "any pts");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 136, 7), 0, "pts allows rw, not mknod");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "a block device 1:3 is not /dev/null");
    }

    #[test]
    fn later_rules_win() {
        let p = program(&rules(&[(true, "a *:* rwm"), (false, "c 1:11 r")]));
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 11), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 11), 1, "the deny covers read only");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 1);
    }

    /// "deny all" and the rules every container gets, as v2 enforces them:
    /// mknod of anything, use of the basics only.
    #[test]
    fn the_default_rules_allow_mknod_of_any_device_and_use_of_the_basics() {
        let deny_all: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow": false, "access": "rwm"}]"#).unwrap();
        let writes = super::super::plan_device_rules_v1(&deny_all);
        let rules: Vec<DeviceRule> =
            writes.iter().map(|w| DeviceRule::from_line(w.file == "devices.allow", &w.value).unwrap()).collect();
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 11), 1, "mknod /dev/kmsg");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1, "mknod /dev/sda");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 11), 0, "but not read it");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ | ACC_WRITE, 8, 0), 0, "nor a disk");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 10, 200), 1, "/dev/net/tun");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 5, 1), 0, "not the host's console");
    }

    #[test]
    fn parses_v1_lines() {
        let r = DeviceRule::from_line(true, "c 10:* rw").unwrap();
        assert_eq!((r.kind, r.major, r.minor, r.access.as_str()), ('c', Some(10), None, "rw"));
    }
}

/// Root only: the kernel's verifier accepts the program and the filter
/// really decides what a process in the cgroup may open. Uses the cgroup2
/// tree of this host (/sys/fs/cgroup/unified on a hybrid host).
#[cfg(test)]
mod root_tests {
    use super::*;
    use std::io::Read;

    fn cgroup2_root() -> std::path::PathBuf {
        let unified = Path::new("/sys/fs/cgroup/unified");
        if unified.join("cgroup.procs").exists() {
            unified.into()
        } else {
            "/sys/fs/cgroup".into()
        }
    }

    #[test]
    fn the_filter_loads_and_decides() {
        assert!(nix::unistd::geteuid().is_root(), "the eBPF device filter test needs root (bpf(2), cgroups)");
        let dir = cgroup2_root().join(format!("glassbox-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let rules =
            vec![DeviceRule::from_line(false, "a *:* rwm").unwrap(), DeviceRule::from_line(true, "c 1:3 rwm").unwrap()];
        let attached = attach(&dir, &rules);
        // A child moves itself into the cgroup and reports what it could open.
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs; cat /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied",
                dir.display()
            ))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        child.wait().unwrap();
        std::fs::remove_dir(&dir).unwrap();
        attached.unwrap();
        assert!(out.contains("null-ok") && out.contains("zero-denied"), "{out}");
    }
}
