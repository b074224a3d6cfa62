//! `process.capabilities`: the five capability sets of capabilities(7)
//! (man7.org/linux/man-pages/man7/capabilities.7.html), through the `caps` crate.
//!
//! - **bounding**: the ceiling for everything the process and its children can
//!   ever gain through execve. Dropping is one way (PR_CAPBSET_DROP, needs CAP_SETPCAP).
//! - **permitted**: what the process may turn on; **effective**: what the kernel
//!   checks right now (must be within permitted).
//! - **inheritable**: what may pass through execve to programs whose file allows it.
//! - **ambient**: what passes through execve of ordinary programs; a capability
//!   can only be ambient while it is both permitted and inheritable.
//!
//! A missing `capabilities` field means empty sets, as in runc. Names this
//! kernel does not know are skipped with a note (runc ignores them too), so a
//! config written for a newer kernel still runs on an older one.

use caps::{CapSet, CapsHashSet};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use super::SecurityError;

/// A capability named in config.json that will not be applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCapability {
    pub field: &'static str,
    pub name: String,
    pub reason: &'static str,
}

/// The five sets as the kernel will see them, decided from config.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
    /// Names left out; the caller can show them as notes.
    pub skipped: Vec<SkippedCapability>,
}

/// The capabilities of the `caps` crate whose bit is set in `known` (the
/// kernel's, as [`bounding_set`](super::capability_sets::bounding_set) read them).
pub fn known_capabilities(known: u64) -> CapsHashSet {
    caps::all().into_iter().filter(|c| known & c.bitmask() != 0).collect()
}

/// The bounding set (bit n = capability n) before [`drop_bounding`], and as
/// it left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingChange {
    pub before: u64,
    pub after: u64,
}

/// oci-spec's capability → the kernel's, matched by the `CAP_…` name both use.
/// `None` only if the `caps` crate is older than oci-spec.
pub fn to_kernel_capability(cap: Capability) -> Option<caps::Capability> {
    spec_name(cap).parse().ok()
}

/// The name as written in config.json, e.g. `CAP_NET_ADMIN`.
fn spec_name(cap: Capability) -> String {
    match serde_json::to_value(cap) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("CAP_{cap}"),
    }
}

/// Translate the five sets, skipping what this kernel lacks. Pure: `known` is
/// usually [`known_capabilities`], and any set in tests.
pub fn plan_capabilities(
    spec: Option<&LinuxCapabilities>,
    known: &CapsHashSet,
) -> Result<CapabilityPlan, SecurityError> {
    let mut plan = CapabilityPlan::default();
    let Some(spec) = spec else { return Ok(plan) };
    let mut translate = |field: &'static str, set: &Option<Capabilities>| -> CapsHashSet {
        let mut names: Vec<Capability> = set.iter().flatten().copied().collect();
        names.sort_by_key(|c| spec_name(*c)); // HashSet order is random; notes should not be
        let mut out = CapsHashSet::new();
        for cap in names {
            match to_kernel_capability(cap) {
                Some(k) if known.contains(&k) => {
                    out.insert(k);
                }
                Some(_) => plan.skipped.push(SkippedCapability {
                    field,
                    name: spec_name(cap),
                    reason: "this kernel does not know it",
                }),
                None => plan.skipped.push(SkippedCapability {
                    field,
                    name: spec_name(cap),
                    reason: "the caps library does not know it",
                }),
            }
        }
        out
    };
    let bounding = translate("process.capabilities.bounding", spec.bounding());
    let effective = translate("process.capabilities.effective", spec.effective());
    let permitted = translate("process.capabilities.permitted", spec.permitted());
    let inheritable = translate("process.capabilities.inheritable", spec.inheritable());
    let wanted_ambient = translate("process.capabilities.ambient", spec.ambient());
    plan.bounding = bounding;
    if let Some(cap) = sorted(&effective).into_iter().find(|c| !permitted.contains(c)) {
        return Err(SecurityError::EffectiveNotPermitted { cap: cap.to_string() });
    }
    for cap in sorted(&wanted_ambient) {
        if permitted.contains(&cap) && inheritable.contains(&cap) {
            plan.ambient.insert(cap);
        } else {
            plan.skipped.push(SkippedCapability {
                field: "process.capabilities.ambient",
                name: cap.to_string(),
                reason: "an ambient capability must also be permitted and inheritable",
            });
        }
    }
    (plan.effective, plan.permitted, plan.inheritable) = (effective, permitted, inheritable);
    Ok(plan)
}

fn sorted(set: &CapsHashSet) -> Vec<caps::Capability> {
    let mut v: Vec<_> = set.iter().copied().collect();
    v.sort_by_key(|c| c.index());
    v
}

/// PR_CAPBSET_DROP every capability in the bounding set that is not in the
/// plan — also those of a kernel newer than the `caps` crate, which no
/// config.json can name and so must not stay either.
pub(crate) fn drop_bounding(plan: &CapabilityPlan, before: u64) -> Result<BoundingChange, SecurityError> {
    let keep = plan.bounding.iter().fold(0u64, |mask, cap| mask | cap.bitmask());
    for index in (0..64u64).filter(|i| before & !keep & (1 << i) != 0) {
        // SAFETY: prctl(2) with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, index, 0, 0, 0) } != 0 {
            let named = caps::all().into_iter().find(|c| u64::from(c.index()) == index);
            return Err(SecurityError::Capability {
                field: "process.capabilities.bounding",
                what: "dropping from the bounding set (PR_CAPBSET_DROP)",
                cap: named.map_or_else(|| format!("capability number {index}"), |c| c.to_string()),
                source: std::io::Error::last_os_error().to_string().into(),
                hint: "this needs CAP_SETPCAP in the effective set, so it must happen before the user switch",
            });
        }
    }
    // Every drop the kernel refused returned above: what is left is what was kept.
    Ok(BoundingChange { before, after: before & keep })
}

/// capset(2) for inheritable, effective, permitted; then the ambient set.
/// Inheritable goes first, while the permitted set is still large, because
/// the kernel only lets a new inheritable set come from the old permitted one.
pub(crate) fn apply_sets(plan: &CapabilityPlan) -> Result<(), SecurityError> {
    let set = |field: &'static str, cset: CapSet, value: &CapsHashSet| {
        caps::set(None, cset, value).map_err(|source| SecurityError::Capability {
            field,
            what: "capset",
            cap: format!("{:?}", sorted(value)),
            source,
            hint: "a process can only keep capabilities it already has: is each one in process.capabilities.bounding, and (for inheritable) within the bounding set?",
        })
    };
    set("process.capabilities.inheritable", CapSet::Inheritable, &plan.inheritable)?;
    set("process.capabilities.effective", CapSet::Effective, &plan.effective)?;
    set("process.capabilities.permitted", CapSet::Permitted, &plan.permitted)?;
    let ambient_err = |cap: String, source| SecurityError::Capability {
        field: "process.capabilities.ambient",
        what: "PR_CAP_AMBIENT",
        cap,
        source,
        hint: "ambient capabilities need a kernel >= 4.3 and must be permitted and inheritable",
    };
    caps::clear(None, CapSet::Ambient).map_err(|e| ambient_err("(clear)".into(), e))?;
    for cap in sorted(&plan.ambient) {
        caps::raise(None, CapSet::Ambient, cap).map_err(|e| ambient_err(cap.to_string(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant of oci-spec's enum, spelled out so a new one shows up here.
    const ALL_SPEC: [Capability; 41] = {
        use Capability::*;
        [
            AuditControl,
            AuditRead,
            AuditWrite,
            BlockSuspend,
            Bpf,
            CheckpointRestore,
            Chown,
            DacOverride,
            DacReadSearch,
            Fowner,
            Fsetid,
            IpcLock,
            IpcOwner,
            Kill,
            Lease,
            LinuxImmutable,
            MacAdmin,
            MacOverride,
            Mknod,
            NetAdmin,
            NetBindService,
            NetBroadcast,
            NetRaw,
            Perfmon,
            Setgid,
            Setfcap,
            Setpcap,
            Setuid,
            SysAdmin,
            SysBoot,
            SysChroot,
            SysModule,
            SysNice,
            SysPacct,
            SysPtrace,
            SysRawio,
            SysResource,
            SysTime,
            SysTtyConfig,
            Syslog,
            WakeAlarm,
        ]
    };

    #[test]
    fn every_spec_capability_maps_to_the_kernel_one_of_the_same_name() {
        let mut mapped = CapsHashSet::new();
        for cap in ALL_SPEC {
            let k = to_kernel_capability(cap).unwrap_or_else(|| panic!("{cap:?} has no kernel counterpart"));
            assert_eq!(k.to_string(), spec_name(cap));
            mapped.insert(k);
        }
        assert_eq!(mapped, caps::all(), "the two crates disagree on the list of capabilities");
        assert_eq!(to_kernel_capability(Capability::Kill).unwrap().bitmask(), 0x20);
    }

    fn spec(json: &str) -> LinuxCapabilities {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn missing_capabilities_means_empty_sets() {
        let plan = plan_capabilities(None, &caps::all()).unwrap();
        assert_eq!(plan, CapabilityPlan::default());
    }

    #[test]
    fn capabilities_the_kernel_lacks_are_skipped_with_a_note() {
        let mut old_kernel = caps::all();
        old_kernel.remove(&caps::Capability::CAP_BPF);
        let plan = plan_capabilities(
            Some(&spec(r#"{"bounding":["CAP_KILL","CAP_BPF"],"permitted":["CAP_KILL"],"effective":["CAP_KILL"]}"#)),
            &old_kernel,
        )
        .unwrap();
        assert_eq!(plan.bounding, CapsHashSet::from([caps::Capability::CAP_KILL]));
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].field, "process.capabilities.bounding");
        assert_eq!(plan.skipped[0].name, "CAP_BPF");
    }

    #[test]
    fn ambient_needs_permitted_and_inheritable() {
        let plan = plan_capabilities(
            Some(&spec(
                r#"{"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL","CAP_CHOWN"]}"#,
            )),
            &caps::all(),
        )
        .unwrap();
        assert_eq!(plan.ambient, CapsHashSet::from([caps::Capability::CAP_KILL]));
        assert_eq!(plan.skipped[0].name, "CAP_CHOWN");
        assert_eq!(plan.skipped[0].field, "process.capabilities.ambient");
    }

    #[test]
    fn effective_outside_permitted_is_an_error() {
        let err =
            plan_capabilities(Some(&spec(r#"{"effective":["CAP_KILL"]}"#)), &caps::all()).unwrap_err().to_string();
        assert!(err.starts_with("process.capabilities.effective: CAP_KILL"), "{err}");
    }
}
