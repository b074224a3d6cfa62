//! Decoding the syscalls that make a container, in the kernel: for a
//! handful of syscall numbers only (mount, umount2, pivot_root, chroot,
//! sethostname, execve/execveat, openat and write on cgroup files, capset,
//! clone3, mknod/mknodat), `capture` reads at sys_enter the strings and
//! structs the arguments point at — user memory is only certain to hold
//! them while the call has not returned — and `emit` sends them at sys_exit
//! as one DetailRecord right before the call's SyscallRecord (same tid and
//! ts_ns, so the loader pairs them). Every other syscall costs one compare
//! of its number; write(2) costs one more array lookup until a cgroup file
//! has been opened. See mount(2), execve(2), capset(2), clone(2),
//! pivot_root(2), and bpf-helpers(7) for bpf_probe_read_user_str.

use aya_ebpf::{
    helpers::{bpf_probe_read_user, bpf_probe_read_user_str_bytes, generated as gen},
    macros::map,
    maps::{Array, LruHashMap, PerCpuArray},
};
use glassbox_probes_common::{DetailRecord, RecordKind, DETAIL_MAX_ARGS, DETAIL_STR_LEN};

use crate::maps::{count_lost, RECORDS};

pub const NR_WRITE: u64 = 1;
const NR_CLOSE: u64 = 3;
pub const NR_EXECVE: u64 = 59;
const NR_CAPSET: u64 = 126;
const NR_MKNOD: u64 = 133;
const NR_PIVOT_ROOT: u64 = 155;
const NR_CHROOT: u64 = 161;
const NR_MOUNT: u64 = 165;
const NR_UMOUNT2: u64 = 166;
const NR_SETHOSTNAME: u64 = 170;
const NR_OPENAT: u64 = 257;
const NR_MKNODAT: u64 = 259;
pub const NR_EXECVEAT: u64 = 322;
const NR_CLONE3: u64 = 435;

/// Details read at sys_enter, by thread, until sys_exit sends them. LRU so
/// a thread that dies inside a call leaves nothing behind for long.
#[map]
static DETAILS: LruHashMap<u32, DetailRecord> = LruHashMap::with_max_entries(1024, 0);

/// A detail is 832 bytes, more than the 512-byte BPF stack: it is built
/// here (per CPU; nothing sleeps between building and storing it).
#[map]
static DETAIL_SCRATCH: PerCpuArray<DetailRecord> = PerCpuArray::with_max_entries(1, 0);

/// Cgroup files open in followed processes: (tgid << 32 | fd) → path,
/// filled when an openat of a path under /sys/fs/cgroup returns, so a later
/// write(fd, …) can say which file it wrote.
#[map]
static CGROUP_FDS: LruHashMap<u64, [u8; DETAIL_STR_LEN]> = LruHashMap::with_max_entries(4096, 0);

/// [0] != 0 once any cgroup fd was remembered; until then write(2), the
/// busiest syscall there is, skips the CGROUP_FDS lookup.
#[map]
static CGROUP_FDS_USED: Array<u32> = Array::with_max_entries(1, 0);

const CGROUP_PREFIX: &[u8; 14] = b"/sys/fs/cgroup";

/// Whether syscall `nr` may get a detail.
#[inline(always)]
pub fn wants(nr: u64) -> bool {
    matches!(
        nr,
        NR_WRITE
            | NR_EXECVE
            | NR_CAPSET
            | NR_MKNOD
            | NR_PIVOT_ROOT
            | NR_CHROOT
            | NR_MOUNT
            | NR_UMOUNT2
            | NR_SETHOSTNAME
            | NR_OPENAT
            | NR_MKNODAT
            | NR_EXECVEAT
            | NR_CLONE3
    )
}

#[inline(always)]
fn cgroup_fds_used() -> bool {
    CGROUP_FDS_USED.get(0).is_some_and(|n| *n != 0)
}

#[inline(always)]
fn fd_key(tgid: u32, fd: u64) -> u64 {
    ((tgid as u64) << 32) | (fd & 0xffff_ffff)
}

/// A NUL-terminated user string into `dst` (empty when unreadable).
#[inline(always)]
fn user_str(dst: &mut [u8; DETAIL_STR_LEN], src: u64) {
    dst[0] = 0;
    if src != 0 {
        // SAFETY: copies from any user address without faulting (a bad one
        // is an error), at most dst.len() bytes into `dst`.
        let _ = unsafe { bpf_probe_read_user_str_bytes(src as *const u8, dst) };
    }
}

/// Runs at sys_enter of a followed thread for a syscall [`wants`] named.
#[inline(always)]
pub fn capture(tid: u32, tgid: u32, nr: u64, args: &[u64; 6], ts_ns: u64) {
    let mut cgroup_path: Option<*const [u8; DETAIL_STR_LEN]> = None;
    if nr == NR_WRITE {
        if !cgroup_fds_used() {
            return;
        }
        match CGROUP_FDS.get_ptr(fd_key(tgid, args[0])) {
            Some(p) => cgroup_path = Some(p),
            None => return,
        }
    }
    let Some(d) = DETAIL_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's scratch element, valid for the map's life, and no
    // other CPU's. A program run on this CPU while this one is preempted
    // (preemptible RCU only disables migration) could build its detail in
    // the same place: one garbled detail, still inside the element — every
    // access below is bounded by the record's own arrays.
    let d = unsafe { &mut *d };
    d.kind = RecordKind::Detail as u32;
    d.nr = nr as u32;
    d.tid = tid;
    d.tgid = tgid;
    d.ts_ns = ts_ns;
    d.owner = crate::maps::owner_of(tgid) as u32;
    d.count = 0;
    d.nums = [0; 4];
    d.strs[0][0] = 0;
    d.strs[1][0] = 0;
    d.strs[2][0] = 0;
    match nr {
        NR_MOUNT => {
            user_str(&mut d.strs[0], args[0]);
            user_str(&mut d.strs[1], args[1]);
            user_str(&mut d.strs[2], args[2]);
        }
        NR_PIVOT_ROOT => {
            user_str(&mut d.strs[0], args[0]);
            user_str(&mut d.strs[1], args[1]);
        }
        // sethostname's name need not end in a NUL: the loader cuts it at
        // the length argument.
        NR_UMOUNT2 | NR_CHROOT | NR_MKNOD | NR_SETHOSTNAME => user_str(&mut d.strs[0], args[0]),
        NR_MKNODAT => user_str(&mut d.strs[0], args[1]),
        NR_OPENAT => {
            user_str(&mut d.strs[0], args[1]);
            if !is_cgroup_path(&d.strs[0]) {
                return;
            }
        }
        NR_EXECVE => {
            user_str(&mut d.strs[0], args[0]);
            d.count = read_argv(d, args[1]);
        }
        NR_EXECVEAT => {
            user_str(&mut d.strs[0], args[1]);
            d.count = read_argv(d, args[2]);
        }
        NR_CLONE3 => {
            // struct clone_args starts with `__aligned_u64 flags`.
            // SAFETY: a fault-proof copy from user memory into a u64 of ours.
            d.nums[0] = unsafe { bpf_probe_read_user(args[0] as *const u64) }.unwrap_or(0);
        }
        NR_CAPSET => read_capset(d, args[0], args[1]),
        NR_WRITE => {
            if let Some(p) = cgroup_path {
                // SAFETY: writes DETAIL_STR_LEN bytes into strs[0], exactly its
                // size; reads the CGROUP_FDS value `p` (as long) fault-proof.
                unsafe { gen::bpf_probe_read_kernel(d.strs[0].as_mut_ptr().cast(), DETAIL_STR_LEN as u32, p.cast()) };
            }
            let n = if args[2] < (DETAIL_STR_LEN as u64 - 1) { args[2] as u32 } else { DETAIL_STR_LEN as u32 - 1 };
            let n = n & 0xff;
            // SAFETY: writes n ≤ 255 bytes into strs[1] (256 long); reads
            // the user's buffer fault-proof.
            if n > 0 && unsafe { gen::bpf_probe_read_user(d.strs[1].as_mut_ptr().cast(), n, args[1] as *const _) } == 0
            {
                d.count = n;
                d.strs[1][n as usize & 0xff] = 0;
            }
            d.nums[0] = args[2];
        }
        _ => return,
    }
    // By reference: by value would copy 832 bytes onto the 512-byte stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let _ = DETAILS.insert(tid, &*d, 0);
}

#[inline(always)]
fn is_cgroup_path(s: &[u8; DETAIL_STR_LEN]) -> bool {
    let mut i = 0;
    while i < CGROUP_PREFIX.len() {
        if s[i] != CGROUP_PREFIX[i] {
            return false;
        }
        i += 1;
    }
    s[CGROUP_PREFIX.len()] == 0 || s[CGROUP_PREFIX.len()] == b'/'
}

/// argv[0..8] packed NUL-separated from strs[1] on. Each string may take
/// up to 256 bytes starting anywhere in the first 256 of the 512 bytes of
/// strs[1] and strs[2], so every write stays in bounds for the verifier.
#[inline(always)]
fn read_argv(d: &mut DetailRecord, argv: u64) -> u32 {
    if argv == 0 {
        return 0;
    }
    // strs[1] and strs[2] as one area: a pointer made from `strs` as a
    // whole may write past strs[1]'s end, one made from strs[1] may not.
    let area = d.strs.as_mut_ptr().cast::<u8>().wrapping_add(DETAIL_STR_LEN);
    let mut off: u32 = 0;
    let mut n: u32 = 0;
    for i in 0..DETAIL_MAX_ARGS {
        // SAFETY: a fault-proof copy of one argv pointer into a u64 of ours.
        let Ok(p) = (unsafe { bpf_probe_read_user((argv + 8 * i as u64) as *const u64) }) else {
            break;
        };
        if p == 0 || off >= DETAIL_STR_LEN as u32 {
            break;
        }
        // The mask is what proves the bound to the verifier; reading `off`
        // through a volatile load keeps LLVM from dropping it as redundant
        // after the check above.
        // SAFETY: a reference to a local, valid and aligned.
        let at = unsafe { core::ptr::read_volatile(&off) } & 0xff;
        let dst = area.wrapping_add(at as usize);
        // SAFETY: `dst` is at most 255 bytes into the 512 of strs[1..3], so
        // the at most DETAIL_STR_LEN (256) bytes written stay in them; the
        // string is read from user memory fault-proof.
        let len = unsafe { gen::bpf_probe_read_user_str(dst.cast(), DETAIL_STR_LEN as u32, p as *const _) };
        if len <= 0 {
            break;
        }
        off += len as u32;
        n += 1;
    }
    n
}

/// capset(hdrp, datap): the header's version, and the two
/// __user_cap_data_struct {effective, permitted, inheritable} words joined
/// into 64-bit masks (version 1 has only the low one).
#[inline(always)]
fn read_capset(d: &mut DetailRecord, hdr: u64, data: u64) {
    // SAFETY: fault-proof copies from user memory (a bad address is an
    // error, not a fault) into integers of ours, which take any bits.
    d.nums[3] = unsafe { bpf_probe_read_user(hdr as *const u32) }.unwrap_or(0) as u64;
    // SAFETY: as above.
    let words = match unsafe { bpf_probe_read_user(data as *const [u32; 6]) } {
        Ok(w) => w,
        // SAFETY: as above.
        Err(_) => match unsafe { bpf_probe_read_user(data as *const [u32; 3]) } {
            Ok(w) => [w[0], w[1], w[2], 0, 0, 0],
            Err(_) => return,
        },
    };
    d.nums[0] = words[0] as u64 | (words[3] as u64) << 32;
    d.nums[1] = words[1] as u64 | (words[4] as u64) << 32;
    d.nums[2] = words[2] as u64 | (words[5] as u64) << 32;
}

/// Runs at every sys_exit of a followed thread, whether or not the ring has
/// room for records: keeps the cgroup fd table in step with the process's
/// own — an openat of a cgroup file adds its fd, any other openat that
/// returns that number or a close(2) of it takes it out, so a later write
/// to a reused fd is never named after the old file.
#[inline(always)]
pub fn track_fd(tid: u32, tgid: u32, nr: u64, fd_arg: u64, ts_ns: u64, ret: i64) {
    match nr {
        NR_OPENAT if ret >= 0 => {
            let key = fd_key(tgid, ret as u64);
            // SAFETY: an LRU map is preallocated, so an element pointer is
            // valid memory for the map's life; the entry is this thread's,
            // and were it evicted and reused by another meanwhile, its
            // ts_ns would not be this call's.
            match DETAILS.get_ptr(tid).filter(|d| unsafe { (**d).ts_ns } == ts_ns) {
                Some(d) => {
                    // By reference, straight from map memory (not via the stack).
                    #[allow(clippy::needless_borrows_for_generic_args)]
                    // SAFETY: the same element, borrowed only for the copy
                    // the insert makes.
                    let _ = CGROUP_FDS.insert(key, unsafe { &(*d).strs[0] }, 0);
                    if let Some(used) = CGROUP_FDS_USED.get_ptr_mut(0) {
                        // SAFETY: an array element, valid for the map's life;
                        // every writer stores the same 1.
                        unsafe { *used = 1 };
                    }
                }
                None if cgroup_fds_used() => {
                    let _ = CGROUP_FDS.remove(key);
                }
                None => {}
            }
        }
        NR_CLOSE if ret == 0 && cgroup_fds_used() => {
            let _ = CGROUP_FDS.remove(fd_key(tgid, fd_arg));
        }
        _ => {}
    }
}

/// Runs at sys_exit, before the SyscallRecord is reserved: sends the
/// detail captured for this call, if there is one.
#[inline(always)]
pub fn emit(tid: u32, nr: u64, ts_ns: u64) {
    if nr == NR_WRITE && !cgroup_fds_used() {
        return;
    }
    // SAFETY: this thread's element of a preallocated (LRU) map: valid
    // memory for the map's life, written by this thread's programs alone
    // unless evicted and reused, which the ts_ns check catches.
    let Some(d) = DETAILS.get_ptr_mut(tid).filter(|d| unsafe { (**d).ts_ns } == ts_ns) else {
        return;
    };
    // SAFETY: the same element, borrowed for the copy into the ring.
    if RECORDS.output::<DetailRecord>(unsafe { &*d }, 0).is_err() {
        count_lost();
    }
    // SAFETY: the same element: consumed, so a stale one is never sent twice.
    unsafe { (*d).ts_ns = 0 };
}
