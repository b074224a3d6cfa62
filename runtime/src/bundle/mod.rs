//! The bundle: a directory holding `config.json` and the root filesystem
//! (runtime-spec `bundle.md`). Everything is checked here, before glassbox
//! touches the system, so bad input fails with one line naming the field:
//! `process` in `bundle/process.rs`, `mounts` in `bundle/mounts.rs`, the rest below.
//!
//! config.json is read as a regular file of at most 16 MiB
//! ([`CONFIG_LIMIT`]), never a FIFO or a device.

mod mounts;
mod platforms;
mod process;

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::regular_file::{self, Limit};

pub use process::{check_id, check_process, check_user, stack_soft_limit, MAX_ID, NGROUPS_MAX};

/// The most of config.json (or a process.json) glassbox reads. Real ones
/// are kilobytes — a long seccomp profile is ~40 KiB — but process.args and
/// env may rightly come near the 6 MiB execve(2) can take at most, so the
/// limit leaves room for that and more, while a file that is endless
/// (/dev/zero) or absurd is refused before it costs memory.
pub const CONFIG_LIMIT: Limit = Limit { bytes: 16 << 20, spelled: "16 MiB" };

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{path}: not valid JSON at line {line} column {column}: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: field `{field}`: {message}")]
    Field { path: PathBuf, field: String, message: String },
    #[error("{path}: ociVersion {version:?} is not supported: glassbox speaks runtime-spec 1.0.0 to 1.3.x")]
    Version { path: PathBuf, version: String },
    #[error("root.path {path}: the container's root filesystem {problem}")]
    Rootfs { path: PathBuf, problem: &'static str },
    #[error("{field}: {message}")]
    Unsupported { field: &'static str, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Seccomp(#[from] crate::security::SecurityError),
    #[error("{path}: {source}")]
    NotReadable { path: PathBuf, source: regular_file::ReadError },
}

/// A loaded, checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory, canonical.
    pub dir: PathBuf,
    /// The parsed config.json.
    pub spec: Spec,
    /// `root.path` resolved against the bundle, canonical.
    pub rootfs: PathBuf,
}

impl Bundle {
    /// Read `<dir>/config.json`, check it, and resolve the rootfs.
    pub fn load(dir: &Path) -> Result<Bundle, BundleError> {
        let dir =
            fs::canonicalize(dir).map_err(|source| BundleError::Unreadable { path: dir.to_path_buf(), source })?;
        let config = dir.join("config.json");
        let text = read_config(&config)?;
        let spec = parse_config(&config, &text)?;
        check_version(&config, spec.version())?;
        platforms::check_platform_sections(&spec, &text)?;
        let rootfs = resolve_rootfs(&dir, &spec)?;
        check_supported(&spec)?;
        if let Some(p) = spec.process() {
            check_process(p, stack_soft_limit(p))?;
        }
        Ok(Bundle { dir, spec, rootfs })
    }
}

/// Read a config.json (or process.json): a regular file, at most [`CONFIG_LIMIT`].
pub fn read_config(path: &Path) -> Result<Vec<u8>, BundleError> {
    regular_file::read(path, CONFIG_LIMIT).map_err(|e| match e {
        regular_file::ReadError::Io(source) => BundleError::Unreadable { path: path.to_path_buf(), source },
        other => BundleError::NotReadable { path: path.to_path_buf(), source: other },
    })
}

/// Parse config.json, reporting the JSON path of a field with the wrong type
/// (`process.args[0]`) rather than only a line number.
pub fn parse_config(path: &Path, text: &[u8]) -> Result<Spec, BundleError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok() {
            // Well-formed JSON, yet serde_json says "expected value": it says
            // so of a field that takes one of a set of names (an enum, like
            // linux.namespaces[].type) given a number, a boolean or an array.
            BundleError::Field {
                path: path.to_path_buf(),
                field,
                message: "the value must be one of this field's names, as a string (e.g. \"pid\")".into(),
            }
        } else if inner.is_syntax() || inner.is_eof() {
            BundleError::Syntax {
                path: path.to_path_buf(),
                line: inner.line(),
                column: inner.column(),
                message: if inner.is_eof() {
                    "the file ends too early (truncated?)".into()
                } else {
                    strip_position(&inner)
                },
            }
        } else {
            BundleError::Field { path: path.to_path_buf(), field, message: strip_position(&inner) }
        }
    })?;
    Ok(spec)
}

/// serde_json appends " at line L column C"; we print the field instead.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// runtime-spec versions follow SemVer; within major version 1 a newer minor
/// may use fields we do not know, so only 1.0–1.3 are accepted (1.3's new
/// fields: see `glassbox features` and bundle/platforms.rs).
pub fn check_version(path: &Path, version: &str) -> Result<(), BundleError> {
    let bad = || BundleError::Version { path: path.to_path_buf(), version: version.to_string() };
    let core = version.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(1)), Some(Ok(minor))) if minor <= 3 => Ok(()),
        _ => Err(bad()),
    }
}

fn resolve_rootfs(dir: &Path, spec: &Spec) -> Result<PathBuf, BundleError> {
    let root = spec.root().as_ref().ok_or(BundleError::Unsupported {
        field: "root",
        message: "config.json has no `root`; set root.path to the rootfs directory".into(),
    })?;
    if root.path().as_os_str().is_empty() {
        return Err(BundleError::Unsupported {
            field: "root.path",
            message:
                "is missing or empty: set it to the directory holding the container's root filesystem, e.g. \"rootfs\""
                    .into(),
        });
    }
    let path = dir.join(root.path());
    let meta =
        fs::metadata(&path).map_err(|_| BundleError::Rootfs { path: path.clone(), problem: "does not exist" })?;
    if !meta.is_dir() {
        return Err(BundleError::Rootfs { path, problem: "is not a directory" });
    }
    let rootfs = fs::canonicalize(&path)
        .map_err(|_| BundleError::Rootfs { path: path.clone(), problem: "cannot be resolved" })?;
    check_rootfs_place(path, &rootfs, dir)?;
    Ok(rootfs)
}

/// A root filesystem is a directory of its own: not the host's `/` (the
/// container would hold the whole host), and neither the bundle nor a
/// directory above it (config.json would be inside the container).
fn check_rootfs_place(path: PathBuf, rootfs: &Path, bundle: &Path) -> Result<(), BundleError> {
    if rootfs == Path::new("/") {
        return Err(BundleError::Rootfs {
            path,
            problem: "is the host's root directory /: the container would see, and could change, the whole host; point root.path at a directory of its own",
        });
    }
    if bundle.starts_with(rootfs) {
        return Err(BundleError::Rootfs {
            path,
            problem: "is the bundle directory or one above it: config.json would be inside the container; point root.path at a directory of its own, e.g. \"rootfs\"",
        });
    }
    Ok(())
}

/// Fields glassbox cannot honour on this kind of machine are refused, never
/// silently ignored: a container without its AppArmor profile is a weaker
/// container than the user asked for. Pure but for looking whether SELinux
/// is on (public for fuzz/, which feeds it every config it can parse).
pub fn check_supported(spec: &Spec) -> Result<(), BundleError> {
    let unsupported = |field, message: &str| Err(BundleError::Unsupported { field, message: message.into() });
    if let Some(p) = spec.process() {
        if p.apparmor_profile().as_deref().is_some_and(|s| !s.is_empty()) {
            return unsupported(
                "process.apparmorProfile",
                "AppArmor is not available in this kernel (no /sys/kernel/security/apparmor); remove the field",
            );
        }
        if p.selinux_label().as_deref().is_some_and(|s| !s.is_empty()) && !selinux_enabled() {
            return unsupported(
                "process.selinuxLabel",
                "SELinux is not enabled on this host (no /sys/fs/selinux); remove the field",
            );
        }
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return unsupported("process.args", "must name the program to run, e.g. [\"sh\"]");
        }
    } else {
        return unsupported("process", "config.json has no `process`: glassbox needs to know what to run");
    }
    let Some(linux) = spec.linux() else {
        return unsupported("linux", "config.json has no `linux` section; glassbox needs at least linux.namespaces");
    };
    if linux.intel_rdt().is_some() {
        return unsupported(
            "linux.intelRdt",
            "Intel RDT (resctrl: closID, schemata, enableMonitoring…) is not supported by glassbox",
        );
    }
    platforms::check_net_devices(spec)?;
    if let Some(policy) = linux.memory_policy() {
        crate::security::plan_memory_policy(policy)?;
    }
    if linux.mount_label().as_deref().is_some_and(|s| !s.is_empty()) && !selinux_enabled() {
        return unsupported(
            "linux.mountLabel",
            "SELinux is not enabled on this host (no /sys/fs/selinux); remove the field",
        );
    }
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    for (i, ns) in namespaces.iter().enumerate() {
        if namespaces[..i].iter().any(|other| other.typ() == ns.typ()) {
            return Err(BundleError::Unsupported {
                field: "linux.namespaces",
                message: format!("namespace {:?} is listed twice", ns.typ()),
            });
        }
    }
    let has = |t| namespaces.iter().any(|ns| ns.typ() == t);
    let named = |h: &Option<String>| h.as_deref().is_some_and(|h| !h.is_empty());
    if (named(spec.hostname()) || named(spec.domainname())) && !has(LinuxNamespaceType::Uts) {
        return unsupported("hostname", "setting a hostname needs its own UTS namespace ({\"type\": \"uts\"}); without one it would rename the host");
    }
    // No mount namespace: the container shares the runtime's (rootfs/inherited.rs).
    // Its mounts are made there, which a user namespace of the container's does
    // not own: mount(2) would fail with EPERM at the first one.
    let inherits_mounts = !has(LinuxNamespaceType::Mount);
    if inherits_mounts && has(LinuxNamespaceType::User) {
        return unsupported(
            "linux.namespaces",
            "a user namespace without a mount namespace of its own: the container's mounts would be made in the runtime's mount namespace, which the host's user namespace owns, so every mount(2) would fail with EPERM; add {\"type\": \"mount\"}",
        );
    }
    let (uid_maps, gid_maps) = (
        linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()),
        linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty()),
    );
    if (uid_maps || gid_maps) && !has(LinuxNamespaceType::User) {
        return unsupported("linux.uidMappings", "id mappings need a user namespace ({\"type\": \"user\"})");
    }
    let new_namespace = |t| namespaces.iter().any(|ns| ns.typ() == t && ns.path().is_none());
    if new_namespace(LinuxNamespaceType::User) && !(uid_maps && gid_maps) {
        return unsupported(
            if uid_maps { "linux.gidMappings" } else { "linux.uidMappings" },
            "a new user namespace needs both linux.uidMappings and linux.gidMappings: without them no id is mapped in it and becoming its root fails (EINVAL); e.g. [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]",
        );
    }
    // A new mount namespace, or the runtime's (entered with chroot): either
    // way nothing is mounted on the container's /proc until glassbox does it.
    let mounts_from_scratch = new_namespace(LinuxNamespaceType::Mount) || inherits_mounts;
    mounts::check_mounts(spec.mounts().as_deref().unwrap_or_default(), mounts_from_scratch)?;
    if let Some(profile) = linux.seccomp() {
        crate::security::check_seccomp_profile(profile)?;
    }
    if linux.time_offsets().is_some() && !has(LinuxNamespaceType::Time) {
        return unsupported("linux.timeOffsets", "time offsets need a time namespace ({\"type\": \"time\"})");
    }
    if let Some(sysctl) = linux.sysctl() {
        let mut keys: Vec<&String> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            check_sysctl_is_namespaced(key, &has)?;
        }
    }
    if let Some(hooks) = spec.hooks() {
        let lists = [
            ("hooks.prestart", hooks.prestart()),
            ("hooks.createRuntime", hooks.create_runtime()),
            ("hooks.createContainer", hooks.create_container()),
            ("hooks.startContainer", hooks.start_container()),
            ("hooks.poststart", hooks.poststart()),
            ("hooks.poststop", hooks.poststop()),
        ];
        for (field, list) in lists {
            for hook in list.iter().flatten() {
                if !hook.path().is_absolute() {
                    return Err(BundleError::Unsupported {
                        field,
                        message: format!("hook path {} must be absolute", hook.path().display()),
                    });
                }
            }
        }
    }
    Ok(())
}

/// A sysctl is written from inside the container, but only some belong to
/// a namespace (see namespaces(7)): the rest are the host kernel's own, and
/// writing `vm.swappiness` "in a container" would change it for everyone.
/// So a key must be one that the container's own IPC, network or UTS
/// namespace holds, and that namespace must be in linux.namespaces.
fn check_sysctl_is_namespaced(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<(), BundleError> {
    const IPC_KEYS: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some((LinuxNamespaceType::Ipc, "ipc"))
    } else if key.starts_with("net.") {
        Some((LinuxNamespaceType::Network, "network"))
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some((LinuxNamespaceType::Uts, "uts"))
    } else {
        None
    };
    let message = match needs {
        None => format!("{key:?} is not a namespaced sysctl: writing it would change the host's kernel, so glassbox refuses (namespaced ones: net.*, fs.mqueue.*, kernel.msg*/sem/shm*, kernel.hostname/domainname)"),
        Some((t, name)) if !has(t) => format!("{key:?} belongs to the {name} namespace: add {{\"type\": \"{name}\"}} to linux.namespaces, or it would change the host's value"),
        Some(_) => return Ok(()),
    };
    Err(BundleError::Unsupported { field: "linux.sysctl", message })
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, BundleError> {
        parse_config(Path::new("config.json"), text.as_bytes())
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = parse(r#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"args":"sh"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("process.args"), "{err}");
    }

    #[test]
    fn a_number_for_a_name_names_the_field() {
        let err = parse(r#"{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"pid"},{"type":5}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("not valid JSON"), "{err}");
        assert!(err.contains("field `linux.namespaces[1].type`") && err.contains("as a string"), "{err}");
    }

    #[test]
    fn the_rootfs_is_a_directory_of_its_own() {
        let place = |rootfs: &str| check_rootfs_place(rootfs.into(), Path::new(rootfs), Path::new("/b/bundle"));
        assert!(place("/b/bundle/rootfs").is_ok());
        assert!(place("/srv/images/alpine").is_ok());
        let err = place("/").unwrap_err().to_string();
        assert!(err.starts_with("root.path /: ") && err.contains("whole host"), "{err}");
        for above in ["/b/bundle", "/b"] {
            let err = place(above).unwrap_err().to_string();
            assert!(err.contains("the bundle directory or one above it"), "{err}");
        }
    }

    #[test]
    fn truncated_file_says_so() {
        let err = parse(r#"{"ociVersion":"1.2.0","process":{"#).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn only_namespaced_sysctls_in_their_own_namespace_are_allowed() {
        let all = |_: LinuxNamespaceType| true;
        let no_net = |t: LinuxNamespaceType| t != LinuxNamespaceType::Network;
        for ok in ["net.ipv4.ip_forward", "kernel.shmmax", "fs.mqueue.msg_max", "kernel.domainname"] {
            assert!(check_sysctl_is_namespaced(ok, &all).is_ok(), "{ok}");
        }
        let err = check_sysctl_is_namespaced("vm.swappiness", &all).unwrap_err().to_string();
        assert!(err.contains("linux.sysctl") && err.contains("host"), "{err}");
        let err = check_sysctl_is_namespaced("net.ipv4.ip_forward", &no_net).unwrap_err().to_string();
        assert!(err.contains("network"), "{err}");
    }

    #[test]
    fn versions() {
        let p = Path::new("c");
        for ok in ["1.0.0", "1.1.0", "1.2.0", "1.0.2-dev", "1.2.1", "1.3.0", "1.3.1"] {
            assert!(check_version(p, ok).is_ok(), "{ok}");
        }
        for bad in ["9.0.0", "2.0.0", "1.4.0", "", "one"] {
            assert!(check_version(p, bad).is_err(), "{bad}");
        }
    }
}
