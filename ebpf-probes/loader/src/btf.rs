//! Field offsets of kernel structs, read from the running kernel's BTF
//! (/sys/kernel/btf/vmlinux, Documentation/bpf/btf.rst) at load time, so the
//! namespace probe (kernel/src/namespaces.rs) reads task_struct and friends
//! at the right place on any kernel without CO-RE. aya-obj parses BTF but
//! keeps struct members private, so this reads the few things it needs
//! itself: the type section's records and the string table.

use std::collections::HashMap;

use glassbox_probes_common::TaskOffsets;

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// One struct or union: its size and members (name as an offset into the
/// string table, type id, bit offset). Names stay offsets: the kernel's BTF
/// has hundreds of thousands of members, and a String for each made parsing
/// cost more than loading the probes.
#[derive(Debug, Clone)]
struct Composite {
    size: u32,
    members: Vec<(u32, u32, u32)>,
}

/// The structs and unions of a BTF blob, by type id and by name.
pub struct Btf {
    strings: Vec<u8>,
    by_id: HashMap<u32, Composite>,
    by_name: HashMap<String, u32>,
}

impl Btf {
    /// Parses a BTF blob (little-endian, as the kernel writes it).
    pub fn parse(data: &[u8]) -> Result<Btf, String> {
        let u32_at = |off: usize| -> Result<u32, String> {
            data.get(off..off + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| format!("truncated at byte {off}"))
        };
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != 0xeb9f {
            return Err("not BTF (bad magic)".into());
        }
        let hdr_len = u32_at(4)? as usize;
        let (type_off, type_len) = (u32_at(8)? as usize, u32_at(12)? as usize);
        let str_off = u32_at(16)? as usize;
        let strings = data.get(hdr_len + str_off..).ok_or("string section out of range")?;
        let (mut pos, end) = (hdr_len + type_off, hdr_len + type_off + type_len);
        let mut id = 1u32;
        let (mut by_id, mut by_name) = (HashMap::new(), HashMap::new());
        while pos < end {
            let (name_off, info, size) = (u32_at(pos)?, u32_at(pos + 4)?, u32_at(pos + 8)?);
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            pos += 12;
            let extra = match kind {
                1 | 14 | 17 => 4,                            // int, var, decl_tag
                3 => 12,                                     // array
                KIND_STRUCT | KIND_UNION => 12 * vlen,       // members
                6 | 13 => 8 * vlen,                          // enum, func_proto
                15 | 19 => 12 * vlen,                        // datasec, enum64
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0, // ptr, fwd, typedef, qualifiers, func, float, type_tag
                k => return Err(format!("unknown BTF kind {k} at type {id}")),
            };
            if kind == KIND_STRUCT || kind == KIND_UNION {
                let bitfields = info >> 31 != 0;
                let mut members = Vec::with_capacity(vlen);
                for m in 0..vlen {
                    let at = pos + 12 * m;
                    let bits = u32_at(at + 8)?;
                    members.push((u32_at(at)?, u32_at(at + 4)?, if bitfields { bits & 0xff_ffff } else { bits }));
                }
                let n = c_str(strings, name_off);
                if !n.is_empty() && kind == KIND_STRUCT {
                    by_name.entry(String::from_utf8_lossy(n).into_owned()).or_insert(id);
                }
                by_id.insert(id, Composite { size, members });
            }
            pos += extra;
            id += 1;
        }
        Ok(Btf { strings: strings.to_vec(), by_id, by_name })
    }

    /// sizeof(struct `name`).
    pub fn size_of(&self, name: &str) -> Result<u32, String> {
        let id = self.by_name.get(name).ok_or_else(|| format!("no struct {name} in BTF"))?;
        Ok(self.by_id[id].size)
    }

    /// The byte offset of `field` in struct `name`, looking through
    /// anonymous struct and union members.
    pub fn offset_of(&self, name: &str, field: &str) -> Result<u32, String> {
        let id = self.by_name.get(name).ok_or_else(|| format!("no struct {name} in BTF"))?;
        self.find(*id, field, 0).ok_or_else(|| format!("struct {name} has no member {field} in BTF"))
    }

    fn find(&self, id: u32, field: &str, depth: u32) -> Option<u32> {
        let c = self.by_id.get(&id)?;
        for (name, _, bits) in &c.members {
            if c_str(&self.strings, *name) == field.as_bytes() {
                return Some(bits / 8);
            }
        }
        if depth > 4 {
            return None;
        }
        c.members
            .iter()
            .filter(|(name, _, _)| c_str(&self.strings, *name).is_empty())
            .find_map(|(_, ty, bits)| Some(bits / 8 + self.find(*ty, field, depth + 1)?))
    }

    /// Every offset the namespace probe needs.
    pub fn task_offsets(&self) -> Result<TaskOffsets, String> {
        let off = |s: &str, f: &str| self.offset_of(s, f);
        Ok(TaskOffsets {
            available: 1,
            task_pid: off("task_struct", "pid")?,
            task_tgid: off("task_struct", "tgid")?,
            task_nsproxy: off("task_struct", "nsproxy")?,
            task_cred: off("task_struct", "cred")?,
            task_thread_pid: off("task_struct", "thread_pid")?,
            nsproxy_mnt: off("nsproxy", "mnt_ns")?,
            nsproxy_pid_for_children: off("nsproxy", "pid_ns_for_children")?,
            nsproxy_net: off("nsproxy", "net_ns")?,
            nsproxy_uts: off("nsproxy", "uts_ns")?,
            nsproxy_ipc: off("nsproxy", "ipc_ns")?,
            nsproxy_cgroup: off("nsproxy", "cgroup_ns")?,
            cred_user_ns: off("cred", "user_ns")?,
            mnt_ns_common: off("mnt_namespace", "ns")?,
            pid_ns_common: off("pid_namespace", "ns")?,
            net_ns_common: off("net", "ns")?,
            uts_ns_common: off("uts_namespace", "ns")?,
            ipc_ns_common: off("ipc_namespace", "ns")?,
            user_ns_common: off("user_namespace", "ns")?,
            cgroup_ns_common: off("cgroup_namespace", "ns")?,
            ns_common_inum: off("ns_common", "inum")?,
            pid_level: off("pid", "level")?,
            pid_numbers: off("pid", "numbers")?,
            upid_size_ns: self.size_of("upid")? << 16 | off("upid", "ns")?,
        })
    }
}

/// The NUL-terminated string at `off` in the string table (empty when out of range).
fn c_str(strings: &[u8], off: u32) -> &[u8] {
    crate::record::until_nul(strings.get(off as usize..).unwrap_or(&[]))
}

/// The offsets from the running kernel, or why there are none (namespace
/// records are then off; everything else works).
pub fn task_offsets(vmlinux: &[u8]) -> Result<TaskOffsets, String> {
    Btf::parse(vmlinux)?.task_offsets()
}

/// The running kernel's BTF, as bytes.
pub fn read_sys_fs() -> Result<Vec<u8>, String> {
    let path = "/sys/kernel/btf/vmlinux";
    std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_kernel_has_every_offset() {
        // Every machine glassbox is tested on publishes BTF (ENVIRONMENT.md).
        let btf = Btf::parse(&read_sys_fs().expect("this test needs the kernel's BTF")).unwrap();
        let o = btf.task_offsets().expect("every field the namespace probe reads");
        assert!(o.task_nsproxy > 0);
        assert_eq!(o.task_tgid, o.task_pid + 4, "task_struct declares pid_t pid; pid_t tgid; side by side");
        assert_eq!(o.upid().0, 16, "struct upid is {{int nr; struct pid_namespace *ns}}");
        assert_eq!(o.upid().1, 8);
        assert_eq!(btf.offset_of("nsproxy", "count"), Ok(0));
        assert!(btf.offset_of("task_struct", "no_such_field").is_err());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Btf::parse(b"not btf at all, not at all").is_err());
    }
}
