//! Sections of config.json written for another kind of runtime, and the
//! runtime-spec 1.3 fields glassbox does not carry out: refused by name,
//! never skipped. A container run without what its config asked for — a
//! virtual machine, a network card — is not the container that was asked
//! for, and nothing would tell its user.
//!
//! The spec asks runtimes to ignore properties they do not know, which is
//! what serde does with a field oci-spec has no place for: `freebsd` (1.3)
//! and `vm.hwConfig` (1.3) vanish while parsing. So the raw text is looked
//! at for the one top-level key that would be lost (a text search of a few
//! µs even for a long seccomp profile; the text is parsed for it only when
//! the word is there). `vm` itself is parsed, and refused whole.

use oci_spec::runtime::Spec;
use serde::de::IgnoredAny;

use super::BundleError;

/// The keys config.json may hold for platforms other than Linux.
#[derive(serde::Deserialize)]
struct OtherPlatforms {
    freebsd: Option<IgnoredAny>,
}

fn refuse(field: &'static str, message: &str) -> Result<(), BundleError> {
    Err(BundleError::Unsupported { field, message: message.into() })
}

/// Does config.json's text hold `needle`? (It parsed as JSON, so it is
/// UTF-8: checking that and searching are both vectorised in std, a few µs
/// for a 40 KiB seccomp profile.)
fn mentions(text: &[u8], needle: &str) -> bool {
    std::str::from_utf8(text).map_or(true, |s| s.contains(needle))
}

/// `windows`, `solaris`, `zos`, `freebsd` and `vm` describe containers
/// glassbox does not make; `text` is config.json as read.
pub fn check_platform_sections(spec: &Spec, text: &[u8]) -> Result<(), BundleError> {
    let other_os = "a section for another operating system: glassbox makes Linux containers; remove it";
    if spec.windows().is_some() {
        return refuse("windows", other_os);
    }
    if spec.solaris().is_some() {
        return refuse("solaris", other_os);
    }
    if spec.zos().is_some() {
        return refuse("zos", other_os);
    }
    if mentions(text, "\"freebsd\"") {
        let top: OtherPlatforms = serde_json::from_slice(text)
            .map_err(|e| BundleError::Invalid { field: "freebsd".into(), message: e.to_string() })?;
        if top.freebsd.is_some() {
            return refuse("freebsd", other_os);
        }
    }
    if spec.vm().is_some() {
        return refuse(
            "vm",
            "asks for a virtual-machine-based container (a hypervisor, a guest kernel, vm.hwConfig): glassbox runs the container's processes on this kernel; use a VM-based runtime, or remove the section",
        );
    }
    Ok(())
}

/// `linux.netDevices` (1.3): host network interfaces to move into the
/// container's network namespace. glassbox has no netlink code to move them
/// and carry over their addresses, so a config that lists any is refused.
pub fn check_net_devices(spec: &Spec) -> Result<(), BundleError> {
    let listed = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()).is_some_and(|d| !d.is_empty());
    if listed {
        return refuse(
            "linux.netDevices",
            "moving host network interfaces into the container is not supported by glassbox (glassbox features: netDevices.enabled is false); move them yourself, e.g. `ip link set DEV netns /proc/PID/ns/net` from a createRuntime hook, or remove the field",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<(), String> {
        let spec: Spec = serde_json::from_str(json).unwrap();
        check_platform_sections(&spec, json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn sections_for_other_platforms_are_refused_by_name() {
        assert!(check(r#"{"ociVersion": "1.3.0"}"#).is_ok());
        let err = check(r#"{"ociVersion": "1.3.0", "freebsd": {"jail": {}}}"#).unwrap_err();
        assert!(err.starts_with("freebsd: ") && err.contains("Linux containers"), "{err}");
        let err = check(r#"{"ociVersion": "1.3.0", "windows": {"layerFolders": []}}"#).unwrap_err();
        assert!(err.starts_with("windows: "), "{err}");
        let err = check(r#"{"ociVersion": "1.3.0", "vm": {"kernel": {"path": "/vmlinuz"}, "hwConfig": {"vcpus": 2}}}"#)
            .unwrap_err();
        assert!(err.starts_with("vm: ") && err.contains("hwConfig"), "{err}");
    }

    #[test]
    fn the_word_freebsd_elsewhere_is_not_a_section() {
        let json = r#"{"ociVersion": "1.3.0", "annotations": {"note": "\"freebsd\""}, "hostname": "freebsd"}"#;
        assert!(check(json).is_ok());
    }

    #[test]
    fn net_devices_are_refused_by_name() {
        let spec: Spec =
            serde_json::from_str(r#"{"ociVersion": "1.3.0", "linux": {"netDevices": {"eth1": {"name": "net0"}}}}"#)
                .unwrap();
        let err = check_net_devices(&spec).unwrap_err().to_string();
        assert!(err.starts_with("linux.netDevices: "), "{err}");
        let none: Spec = serde_json::from_str(r#"{"ociVersion": "1.3.0", "linux": {"netDevices": {}}}"#).unwrap();
        assert!(check_net_devices(&none).is_ok());
    }
}
