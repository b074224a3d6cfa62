//! `linux.memoryPolicy` (runtime-spec 1.3): the NUMA memory policy of the
//! container's processes — from which memory nodes the kernel takes the
//! pages they touch. set_mempolicy(2) sets it on the calling thread; it is
//! kept across fork(2) and execve(2), so the init sets it on itself and the
//! program inherits it, and `exec` does the same for the process it adds.
//! (A cpuset cgroup, `linux.resources.cpu.mems`, *restricts* the nodes;
//! the policy *chooses* among them. With both, the cgroup wins.)
//!
//! The config says it in words — `{"mode": "MPOL_BIND", "nodes": "0-1,4",
//! "flags": ["MPOL_F_STATIC_NODES"]}` — which [`plan_memory_policy`] turns
//! into the syscall's three arguments, refusing what the kernel would
//! refuse anyway with one EINVAL for everything, field by field:
//! - `MPOL_DEFAULT` and `MPOL_LOCAL` take no nodes (the default is the
//!   node of the CPU the allocation runs on);
//! - `MPOL_PREFERRED` takes one node, or none (then it means local);
//! - `MPOL_BIND`, `MPOL_INTERLEAVE`, `MPOL_WEIGHTED_INTERLEAVE` and
//!   `MPOL_PREFERRED_MANY` need at least one;
//! - `MPOL_F_STATIC_NODES` and `MPOL_F_RELATIVE_NODES` exclude each other
//!   and need nodes; `MPOL_F_NUMA_BALANCING` only goes with `MPOL_BIND`
//!   (and `MPOL_PREFERRED_MANY` on Linux 6.x).
//!
//! What the kernel alone knows — whether those nodes are online here — is
//! its answer to the call, reported with the nodes it was given.

use nix::errno::Errno;
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

use super::SecurityError;

/// The modes of linux/mempolicy.h, by the names config.json uses.
pub const MODES: &[(&str, i32)] = &[
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

/// The mode flags, OR-ed into the mode argument.
pub const FLAGS: &[(&str, i32)] =
    &[("MPOL_F_NUMA_BALANCING", 1 << 13), ("MPOL_F_RELATIVE_NODES", 1 << 14), ("MPOL_F_STATIC_NODES", 1 << 15)];

/// set_mempolicy(2) reads at most a page of node bits.
const MAX_NODE: usize = 4096 * 8 - 2;

/// The syscall's arguments, decided from config.json alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicyPlan {
    /// The mode and its flags, as config.json names them (for the record).
    pub mode_name: String,
    pub flag_names: Vec<String>,
    /// `nodes` as written, for the record and errors.
    pub nodes: String,
    /// mode | flags.
    pub mode: i32,
    /// One bit per node, 64 to a word.
    pub nodemask: Vec<u64>,
}

impl MemoryPolicyPlan {
    /// The highest node the mask can name, plus one, as the kernel counts it:
    /// set_mempolicy(2) takes `maxnode` and reads `maxnode - 1` bits.
    fn maxnode(&self) -> u64 {
        self.nodemask.len() as u64 * 64 + 1
    }
}

fn invalid(field: &str, value: impl Into<String>, reason: impl Into<String>) -> SecurityError {
    SecurityError::InvalidValue { field: field.into(), value: value.into(), reason: reason.into() }
}

fn mode_name(mode: MemoryPolicyModeType) -> String {
    mode.to_string()
}

fn mode_number(name: &str) -> i32 {
    MODES.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v)
}

/// Decide the call, or say which field is wrong and why.
pub fn plan_memory_policy(policy: &LinuxMemoryPolicy) -> Result<MemoryPolicyPlan, SecurityError> {
    use MemoryPolicyModeType::*;
    let mode = policy.mode();
    let name = mode_name(mode);
    let nodes = policy.nodes().clone().unwrap_or_default();
    let list = parse_nodes(&nodes)?;
    let flags = policy.flags().clone().unwrap_or_default();
    let has = |f: MemoryPolicyFlagType| flags.contains(&f);
    match mode {
        MpolDefault | MpolLocal if !list.is_empty() => {
            return Err(invalid(
                "linux.memoryPolicy.nodes",
                &nodes,
                format!("{name} takes no nodes: it allocates on the node of the CPU running; remove nodes"),
            ))
        }
        MpolBind | MpolInterleave | MpolWeightedInterleave | MpolPreferredMany if list.is_empty() => {
            return Err(invalid(
                "linux.memoryPolicy.nodes",
                &nodes,
                format!("{name} needs at least one node, e.g. \"0\" or \"0-1\""),
            ))
        }
        MpolPreferred if list.len() > 1 => {
            return Err(invalid(
                "linux.memoryPolicy.nodes",
                &nodes,
                "MPOL_PREFERRED takes one node (or none, meaning local); for several use MPOL_PREFERRED_MANY",
            ))
        }
        _ => {}
    }
    let flag_field = "linux.memoryPolicy.flags";
    if has(MemoryPolicyFlagType::MpolFStaticNodes) && has(MemoryPolicyFlagType::MpolFRelativeNodes) {
        return Err(invalid(
            flag_field,
            "MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES",
            "the two exclude each other: nodes are either fixed or relative to the allowed set",
        ));
    }
    let node_flag = flags
        .iter()
        .find(|f| matches!(f, MemoryPolicyFlagType::MpolFStaticNodes | MemoryPolicyFlagType::MpolFRelativeNodes));
    if let (Some(flag), true) = (node_flag, list.is_empty()) {
        return Err(invalid(flag_field, flag.to_string(), format!("says how to read nodes, and {name} has none")));
    }
    if has(MemoryPolicyFlagType::MpolFNumaBalancing) && !matches!(mode, MpolBind | MpolPreferredMany) {
        return Err(invalid(
            flag_field,
            "MPOL_F_NUMA_BALANCING",
            format!("only goes with MPOL_BIND or MPOL_PREFERRED_MANY, not {name}"),
        ));
    }
    let mut flag_names: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    flag_names.sort();
    flag_names.dedup();
    let flag_bits =
        flag_names.iter().map(|f| FLAGS.iter().find(|(n, _)| n == f).map_or(0, |(_, v)| *v)).fold(0, |a, b| a | b);
    let mut nodemask = vec![0u64; list.last().map_or(0, |n| n / 64 + 1)];
    for n in &list {
        nodemask[n / 64] |= 1 << (n % 64);
    }
    Ok(MemoryPolicyPlan { mode: mode_number(&name) | flag_bits, mode_name: name, flag_names, nodes, nodemask })
}

/// "0-3,7" → [0, 1, 2, 3, 7], sorted; "" → [].
pub fn parse_nodes(text: &str) -> Result<Vec<usize>, SecurityError> {
    let field = "linux.memoryPolicy.nodes";
    let mut nodes = Vec::new();
    if text.trim().is_empty() {
        return Ok(nodes);
    }
    let number = |s: &str| -> Result<usize, SecurityError> {
        let n: usize = s.trim().parse().map_err(|_| {
            invalid(field, text, format!("{s:?} is not a node number; write nodes as \"0-3,7\" (ranges and commas)"))
        })?;
        if n > MAX_NODE {
            return Err(invalid(field, text, format!("node {n} is beyond the {MAX_NODE} set_mempolicy(2) can name")));
        }
        Ok(n)
    };
    for item in text.split(',') {
        match item.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(invalid(field, text, format!("the range {lo}-{hi} runs backwards")));
                }
                nodes.extend(lo..=hi);
            }
            None => nodes.push(number(item)?),
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

/// set_mempolicy(2) on this thread: the init, or the process `exec` adds.
pub fn set_memory_policy(plan: &MemoryPolicyPlan) -> Result<(), SecurityError> {
    let (mask, maxnode) =
        if plan.nodemask.is_empty() { (std::ptr::null(), 0) } else { (plan.nodemask.as_ptr(), plan.maxnode()) };
    // SAFETY: the mask is `maxnode - 1` bits of memory we own, read during the call.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, plan.mode, mask, maxnode) };
    Errno::result(rc).map(drop).map_err(|source| SecurityError::MemoryPolicy {
        mode: plan.mode_name.clone(),
        nodes: plan.nodes.clone(),
        source,
        hint: match source {
            Errno::EINVAL => {
                "a node is not online on this host (see /sys/devices/system/node/online), or this kernel does not know the mode or a flag (MPOL_WEIGHTED_INTERLEAVE needs Linux 6.9)"
            }
            Errno::EPERM => "MPOL_F_NUMA_BALANCING is not allowed here",
            _ => "see set_mempolicy(2)",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> LinuxMemoryPolicy {
        serde_json::from_str(json).unwrap()
    }

    fn plan(json: &str) -> Result<MemoryPolicyPlan, String> {
        plan_memory_policy(&policy(json)).map_err(|e| e.to_string())
    }

    #[test]
    fn nodes_are_ranges_and_commas() {
        assert_eq!(parse_nodes("0-3,7").unwrap(), [0, 1, 2, 3, 7]);
        assert_eq!(parse_nodes("5,1,1").unwrap(), [1, 5]);
        assert!(parse_nodes("").unwrap().is_empty());
        for bad in ["a", "3-1", "0,,1", "-1", "40000"] {
            let err = parse_nodes(bad).unwrap_err().to_string();
            assert!(err.starts_with("linux.memoryPolicy.nodes"), "{bad}: {err}");
        }
    }

    #[test]
    fn bind_to_nodes_makes_the_mask_and_the_mode() {
        let p = plan(r#"{"mode": "MPOL_BIND", "nodes": "0-1,65", "flags": ["MPOL_F_STATIC_NODES"]}"#).unwrap();
        assert_eq!(p.mode, 2 | 1 << 15);
        assert_eq!(p.nodemask, [0b11, 0b10]);
        assert_eq!(p.maxnode(), 129);
        assert_eq!(p.flag_names, ["MPOL_F_STATIC_NODES"]);
        let local = plan(r#"{"mode": "MPOL_LOCAL"}"#).unwrap();
        assert_eq!((local.mode, local.nodemask.len()), (4, 0));
        let preferred_local = plan(r#"{"mode": "MPOL_PREFERRED", "nodes": ""}"#).unwrap();
        assert_eq!(preferred_local.mode, 1);
    }

    #[test]
    fn what_the_kernel_would_refuse_is_refused_by_field() {
        let cases = [
            (r#"{"mode": "MPOL_DEFAULT", "nodes": "0"}"#, "takes no nodes"),
            (r#"{"mode": "MPOL_INTERLEAVE"}"#, "needs at least one node"),
            (r#"{"mode": "MPOL_PREFERRED", "nodes": "0-1"}"#, "MPOL_PREFERRED_MANY"),
            (
                r#"{"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}"#,
                "exclude each other",
            ),
            (r#"{"mode": "MPOL_LOCAL", "flags": ["MPOL_F_RELATIVE_NODES"]}"#, "has none"),
            (r#"{"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}"#, "only goes with"),
        ];
        for (json, reason) in cases {
            let err = plan(json).unwrap_err();
            assert!(err.starts_with("linux.memoryPolicy.") && err.contains(reason), "{json}: {err}");
        }
    }

    #[test]
    fn every_mode_and_flag_the_crate_parses_has_a_number() {
        for (name, _) in MODES {
            let p: MemoryPolicyModeType = name.parse().unwrap();
            assert_eq!(mode_name(p), *name);
        }
        for (name, _) in FLAGS {
            let f: MemoryPolicyFlagType = name.parse().unwrap();
            assert_eq!(f.to_string(), *name);
        }
    }
}
