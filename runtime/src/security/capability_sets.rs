//! The five capability sets of this process as the kernel holds them now,
//! by name: what the `capabilities` step of the record shows before and
//! after they are cut down (capabilities(7)).
//!
//! Asked of the kernel directly: one capget(2) for the effective, permitted
//! and inheritable sets, a prctl(2) PR_CAP_AMBIENT_IS_SET for each
//! capability that could be ambient (one both permitted and inheritable:
//! usually none), and for the bounding set one PR_CAPBSET_READ per
//! capability ([`bounding_set`]). That one read also says which
//! capabilities this kernel knows (the plan needs it) and is what the drop
//! starts from, so the record's bounding sets are the drop's: the set as
//! read, and that set less each capability whose PR_CAPBSET_DROP the
//! kernel accepted — reading it again, before or after, cost ~40 calls each.
//! Reading the Cap* lines of /proc/self/status instead took 27–64 µs in a
//! freshly made container (its new procfs makes its dentries on first use,
//! and the file formats ~50 other fields), and the `caps` crate's readers
//! 40–195 µs (a HashSet per set, and its ambient reader first probes every
//! capability the kernel knows). Nothing is read when no one records events.

use glassbox_events::StepArgs;

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

/// The sets' names in the record, in byte order (as a step's arguments are
/// written).
const SETS: [&str; 5] = ["ambient", "bounding", "effective", "inheritable", "permitted"];

/// Four capability sets of this process (bit n = capability n) as the
/// kernel held them when read; the bounding set comes from [`bounding_set`],
/// which dropping from it reads anyway.
pub struct CapabilitySets {
    ambient: u64,
    effective: u64,
    inheritable: u64,
    permitted: u64,
}

impl CapabilitySets {
    /// Ask the kernel — unless no one records events (then `None`).
    pub fn read() -> Option<CapabilitySets> {
        crate::recorder::recording().then(CapabilitySets::now)
    }

    fn now() -> CapabilitySets {
        let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
        let mut data = [CapData::default(); 2];
        // SAFETY: capget(2) with a version-3 header writes two CapData, which `data` holds.
        let _ = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
        let joined = |half: fn(&CapData) -> u32| u64::from(half(&data[1])) << 32 | u64::from(half(&data[0]));
        let (permitted, inheritable) = (joined(|d| d.permitted), joined(|d| d.inheritable));
        // A capability can only be ambient while it is both permitted and
        // inheritable (the kernel keeps that so), so only those are asked
        // about: usually none, as the inheritable set is mostly empty.
        let mut ambient = 0u64;
        for cap in (0..64u64).filter(|cap| permitted & inheritable & (1 << cap) != 0) {
            // SAFETY: prctl(2) reads its integer arguments only.
            let is_ambient = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0) };
            ambient |= u64::from(is_ambient == 1) << cap;
        }
        CapabilitySets { ambient, effective: joined(|d| d.effective), inheritable, permitted }
    }

    /// The five sets as a step's arguments, `bounding` with them: each
    /// set's name, and a list of its `CAP_…` names.
    pub fn write(&self, a: &mut StepArgs, bounding: u64) {
        let table = capabilities_by_name();
        let masks = [self.ambient, bounding, self.effective, self.inheritable, self.permitted];
        for (name, mask) in SETS.into_iter().zip(masks) {
            a.strs(name, table.iter().filter(|(bit, _)| mask & bit != 0).map(|(_, name)| name));
        }
    }
}

/// The bounding set as one PR_CAPBSET_READ per capability reads it (there
/// is no call that reads it whole): which capabilities this kernel knows —
/// it answers EINVAL past the last one — and which of them are in the set.
/// Read once, it serves the plan (which names this kernel knows), the drop
/// and the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingSet {
    /// Bit n: the kernel knows capability n.
    pub known: u64,
    /// Bit n: capability n is in the bounding set.
    pub present: u64,
}

pub fn bounding_set() -> BoundingSet {
    let mut set = BoundingSet { known: 0, present: 0 };
    for cap in 0..64u64 {
        // SAFETY: prctl(2) reads its integer arguments only.
        let answer = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if answer < 0 {
            break;
        }
        set.known |= 1 << cap;
        set.present |= u64::from(answer == 1) << cap;
    }
    set
}

/// Before clone(2), in the runtime: make the table of capability names
/// the child's `capabilities` step writes, if anyone records it. The child
/// inherits it made; making it there, first thing after a stage of
/// syscalls, took ~30 µs (41 names formatted and sorted with every cache
/// cold), against a few in the runtime.
pub fn prepare_names() {
    if crate::recorder::recording() {
        capabilities_by_name();
    }
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
    fn masks_of_proc_thread_self_status() -> [u64; 5] {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |name: &str| {
            let line = status.lines().find_map(|l| l.strip_prefix(name)).unwrap();
            u64::from_str_radix(line.trim(), 16).unwrap()
        };
        ["CapAmb:", "CapBnd:", "CapEff:", "CapInh:", "CapPrm:"].map(field)
    }

    fn masks() -> [u64; 5] {
        let sets = CapabilitySets::now();
        [sets.ambient, bounding_set().present, sets.effective, sets.inheritable, sets.permitted]
    }

    #[test]
    fn the_masks_are_those_of_proc_thread_self_status() {
        assert_eq!(masks(), masks_of_proc_thread_self_status());
    }

    /// The capabilities the read finds known are those the `caps` crate
    /// finds the kernel supports.
    #[test]
    fn the_known_capabilities_are_the_kernels() {
        let known = super::super::capabilities::known_capabilities(bounding_set().known);
        assert_eq!(known, caps::runtime::thread_all_supported());
        assert!(!known.is_empty());
    }

    /// An ambient capability is found (it is asked about only when it is
    /// both permitted and inheritable). On a thread of its own: the change
    /// ends with it.
    #[test]
    fn an_ambient_capability_is_seen() {
        use caps::{CapSet, Capability};
        std::thread::spawn(|| {
            caps::raise(None, CapSet::Inheritable, Capability::CAP_KILL).unwrap();
            caps::raise(None, CapSet::Ambient, Capability::CAP_KILL).unwrap();
            let found = masks();
            assert_eq!(found, masks_of_proc_thread_self_status());
            assert_eq!(found[0], Capability::CAP_KILL.bitmask());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_table_is_sorted_by_name_and_knows_every_capability_once() {
        let table = capabilities_by_name();
        assert!(table.windows(2).all(|w| w[0].1 < w[1].1));
        assert_eq!(table.iter().fold(0u64, |all, (bit, _)| all | bit).count_ones() as usize, table.len());
    }
}
