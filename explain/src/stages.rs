//! What each stage is for, in words for someone meeting containers for the
//! first time, and where the book explains it. One entry per
//! `glassbox_events::Stage`; the chapters are named after the stage's wire
//! name, so the narrator, the book and the event stream use one vocabulary.

use glassbox_events::Stage;

/// A stage's heading and purpose.
pub struct StageInfo {
    /// A few words: what the stage does.
    pub title: &'static str,
    /// One or two sentences: why a container needs it.
    pub purpose: &'static str,
    /// The config.json fields the stage reads, when it reads any.
    pub fields: Option<&'static str>,
}

/// The book chapter of a stage.
pub fn chapter(stage: Stage) -> String {
    format!("book/src/making-a-container/{}.md", stage.name())
}

pub fn info(stage: Stage) -> StageInfo {
    let (title, purpose, fields) = match stage {
        Stage::Bundle => (
            "read the bundle",
            "A bundle is a directory with a config.json and a root filesystem. glassbox reads the config \
             and checks all of it before it changes anything on the host.",
            Some("ociVersion, root, process, mounts, linux"),
        ),
        Stage::Cgroup => (
            "make the cgroup",
            "A cgroup is the kernel's way to count and limit what a group of processes uses. The container \
             gets its own, and its limits are written into the cgroup's files.",
            Some("linux.cgroupsPath, linux.resources"),
        ),
        Stage::Namespaces => (
            "make the namespaces",
            "Namespaces give the container its own view of the system: its own process ids, mounts, \
             hostname and network. Its first process is cloned straight into new ones.",
            Some("linux.namespaces[]"),
        ),
        Stage::Idmap => (
            "map user and group ids",
            "A user namespace has uids and gids of its own. Its maps say which host ids they stand for, so \
             root inside the container can be an ordinary user outside.",
            Some("linux.uidMappings[], linux.gidMappings[]"),
        ),
        Stage::Mounts => (
            "mount the filesystems",
            "In its own mount namespace the container gets mounts of its own: /proc, /dev, /sys and the \
             rest of mounts[], made inside the rootfs. With private propagation the host never sees them.",
            Some("mounts[], linux.rootfsPropagation"),
        ),
        Stage::PivotRoot => (
            "switch to the container's root",
            "pivot_root(2) makes the rootfs the root of the mount namespace and moves the old root aside. \
             Then the old root is detached: the host's files are out of reach, not just hidden.",
            Some("root.path"),
        ),
        Stage::Devices => (
            "make the device nodes",
            "The container gets a small /dev: null, zero, full, random, urandom, tty and the devices the \
             config lists. The device cgroup decides which devices it may open at all.",
            Some("linux.devices[], linux.resources.devices[]"),
        ),
        Stage::Masks => (
            "hide and protect kernel files",
            "Some files in /proc and /sys tell too much about the host, or can change it. Masked paths are \
             covered up; read-only paths can be read but not written.",
            Some("linux.maskedPaths[], linux.readonlyPaths[]"),
        ),
        Stage::Hostname => (
            "name the container",
            "The container has its own UTS namespace, so it can have its own hostname without renaming the \
             host.",
            Some("hostname, domainname"),
        ),
        Stage::Sysctl => (
            "set kernel parameters",
            "Some kernel parameters belong to a namespace (net.* to the network one, the IPC limits to the \
             IPC one), so the container can have values of its own.",
            Some("linux.sysctl"),
        ),
        Stage::Rlimits => (
            "set resource limits",
            "Resource limits are per process, like the number of open files; children inherit them. They \
             complement the cgroup, which limits the whole group.",
            Some("process.rlimits[], process.oomScoreAdj, linux.memoryPolicy"),
        ),
        Stage::Capabilities => (
            "drop privileges",
            "Root's power is split into capabilities. The container keeps only the ones its config lists, \
             then becomes its user and moves to its working directory.",
            Some("process.capabilities, process.user, process.cwd, process.noNewPrivileges"),
        ),
        Stage::Seccomp => (
            "filter system calls",
            "A seccomp filter is a small program the kernel runs on each system call the container's \
             process makes, to let it through or refuse it.",
            Some("linux.seccomp"),
        ),
        Stage::Hooks => (
            "run the hooks",
            "Hooks are programs named in the config that run at set points of the container's life, each \
             given the container's state as JSON on its stdin.",
            Some("hooks"),
        ),
        Stage::Exec => (
            "start the container's program",
            "execve(2) replaces glassbox's code in the container's process with your program: same pid, \
             same namespaces, same cgroup, nothing of glassbox left. It goes through glassbox-exec, a tiny \
             program in a sealed in-memory file, so that the container never runs with glassbox's own \
             binary as /proc/self/exe (which it could otherwise overwrite).",
            Some("process.args, process.env"),
        ),
        Stage::Exit => (
            "the program ends",
            "The container's process has exited and glassbox collects its status. In a pid namespace of its \
             own, the first process exiting makes the kernel kill every other one.",
            None,
        ),
        Stage::Cleanup => (
            "clean up",
            "glassbox removes what it made on the host: the cgroup and the state directory. The namespaces \
             go away on their own once no process uses them.",
            None,
        ),
    };
    StageInfo { title, purpose, fields }
}
