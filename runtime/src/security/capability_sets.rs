//! The five capability sets of this process as the kernel holds them now,
//! by name: what the `capabilities` step of the record shows before and
//! after they are cut down (capabilities(7)).
//!
//! Asked of the kernel directly: one capget(2) for the effective, permitted
//! and inheritable sets, and a prctl(2) per capability for the bounding
//! (PR_CAPBSET_READ) and ambient (PR_CAP_AMBIENT_IS_SET) sets — ~80 cheap
//! calls, 17–32 µs in a freshly made container. Reading the Cap* lines of
//! /proc/self/status instead took 27–64 µs there (the container's new
//! procfs makes its dentries on first use, and the file formats ~50 other
//! fields), and the `caps` crate's readers 40–195 µs (a HashSet per set,
//! and its ambient reader first probes every capability the kernel knows).
//! Nothing is read when no one records events.

use serde_json::{Map, Value};

/// capget(2)'s header and data, version 3 (64-bit sets, two 32-bit halves).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The sets' names in the record, in the order [`masks`] returns them.
const SETS: [&str; 5] = ["bounding", "effective", "permitted", "inheritable", "ambient"];

/// The five sets of this process, by name, as lists of `CAP_…` names.
pub fn capability_sets() -> Value {
    if !crate::recorder::recording() {
        return Value::Null;
    }
    let table = capabilities_by_name();
    let names = |mask: u64| -> Value {
        let mut names = Vec::with_capacity(mask.count_ones() as usize);
        names.extend(table.iter().filter(|(bit, _)| mask & bit != 0).map(|(_, name)| Value::from(name.as_str())));
        Value::Array(names)
    };
    let mut sets = Map::new();
    for (name, mask) in SETS.into_iter().zip(masks()) {
        sets.insert(name.into(), names(mask));
    }
    Value::Object(sets)
}

/// The five sets as bit masks (bit n = capability n), in [`SETS`] order.
fn masks() -> [u64; 5] {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget(2) with a version-3 header writes two CapData, which `data` holds.
    let _ = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    let joined = |half: fn(&CapData) -> u32| u64::from(half(&data[1])) << 32 | u64::from(half(&data[0]));
    let (mut bounding, mut ambient) = (0u64, 0u64);
    for cap in 0..64u64 {
        // SAFETY: prctl(2) reads its integer arguments only.
        let in_bounding = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if in_bounding < 0 {
            break; // EINVAL: past the last capability this kernel knows
        }
        // SAFETY: as above.
        let is_ambient = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0) };
        bounding |= u64::from(in_bounding == 1) << cap;
        ambient |= u64::from(is_ambient == 1) << cap;
    }
    [bounding, joined(|d| d.effective), joined(|d| d.permitted), joined(|d| d.inheritable), ambient]
}

/// Every capability this build knows, as (bit mask, CAP_NAME), sorted by name.
fn capabilities_by_name() -> &'static [(u64, String)] {
    static TABLE: std::sync::OnceLock<Vec<(u64, String)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(u64, String)> = caps::all().into_iter().map(|c| (c.bitmask(), c.to_string())).collect();
        table.sort_by(|a, b| a.1.cmp(&b.1));
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's answers are those proc(5) shows for the same thread
    /// (capabilities are per thread, and tests run on several).
    #[test]
    fn the_masks_are_those_of_proc_thread_self_status() {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |name: &str| {
            let line = status.lines().find_map(|l| l.strip_prefix(name)).unwrap();
            u64::from_str_radix(line.trim(), 16).unwrap()
        };
        let expected = ["CapBnd:", "CapEff:", "CapPrm:", "CapInh:", "CapAmb:"].map(field);
        assert_eq!(masks(), expected);
    }

    #[test]
    fn the_table_is_sorted_by_name_and_knows_every_capability_once() {
        let table = capabilities_by_name();
        assert!(table.windows(2).all(|w| w[0].1 < w[1].1));
        assert_eq!(table.iter().fold(0u64, |all, (bit, _)| all | bit).count_ones() as usize, table.len());
    }
}
