//! The systemd cgroup driver (`--systemd-cgroup`): on a host whose PID 1 is
//! systemd, the cgroup tree is systemd's, and a runtime asks systemd for a
//! cgroup instead of making one with mkdir(2). The container gets a
//! *transient scope unit* — a unit made at run time for processes someone
//! else started (systemd.scope(5)) — named after `linux.cgroupsPath`,
//! `slice:prefix:name` → `<prefix>-<name>.scope` in `<slice>`, and systemd
//! makes its cgroup, `/sys/fs/cgroup/<slice path>/<unit>`.
//!
//! Everything goes through systemd's D-Bus API (org.freedesktop.systemd1(5)),
//! spoken by this module's own small client ([`wire`], [`bus`]):
//! - `StartTransientUnit(name, "replace", properties, [])`: the scope, with
//!   the init's pid in `PIDs` (a scope cannot start empty: systemd moves the
//!   given processes into it) and `Delegate=yes` (the cgroup's insides are
//!   the runtime's: it may move processes there and attach programs), plus
//!   the limits systemd has properties for ([`properties`]). It answers
//!   with a job; the scope exists once the job's `JobRemoved` signal says
//!   `done`.
//! - `SetUnitProperties(name, true, properties)` for `update`;
//! - `StopUnit(name, "replace")` at delete, waited for the same way, and
//!   `ResetFailedUnit` so that no failed unit of that name stays behind.
//!
//! Limits systemd has no property for are written into the scope's files as
//! on cgroupfs; pausing, stats and `ps` read and write the cgroup's files
//! too, which `Delegate=yes` leaves to us.

mod bus;
mod properties;
mod wire;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use bus::BusError;
pub use properties::{plan_properties, scope_properties, Property};
use wire::Value;

use super::{CgroupError, CgroupVersion, CgroupWrite, ContainerCgroup};

/// Where the container's cgroup goes, from `linux.cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCgroup {
    /// The slice the scope goes in, `machine.slice` (`-.slice`: the root).
    pub slice: String,
    /// The unit, `libpod-<id>.scope`.
    pub unit: String,
    /// The cgroup systemd makes for it, relative to the hierarchy's root:
    /// `machine.slice/libpod-<id>.scope`.
    pub path: String,
}

/// glassbox's own prefix for scopes, when `cgroupsPath` gives none.
pub const DEFAULT_PREFIX: &str = "glassbox";

/// Parse `slice:prefix:name` (runc's form). No `cgroupsPath` is
/// `:glassbox:<id>`; an empty slice is `system.slice`; the unit is
/// `<prefix>-<name>.scope` (`<name>.scope` without a prefix).
pub fn parse_cgroups_path(cgroups_path: Option<&str>, id: &str) -> Result<SystemdCgroup, CgroupError> {
    let text = cgroups_path.filter(|p| !p.is_empty()).map_or_else(|| format!(":{DEFAULT_PREFIX}:{id}"), str::to_string);
    let bad = |why: &'static str| CgroupError::BadPath(text.clone(), why);
    let parts: Vec<&str> = text.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad("with --systemd-cgroup it must be \"slice:prefix:name\", e.g. \"machine.slice:libpod:web\""));
    };
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    if name.is_empty() {
        return Err(bad("the name (after the second ':') is empty"));
    }
    if name.ends_with(".slice") {
        return Err(bad(
            "a name ending in .slice asks for a slice unit of its own, which glassbox does not make: name a scope",
        ));
    }
    let unit = if prefix.is_empty() { format!("{name}.scope") } else { format!("{prefix}-{name}.scope") };
    if !unit_name_ok(&unit) {
        return Err(bad("the unit name may only hold ASCII letters, digits and \":-_.\\\" (systemd.unit(5))"));
    }
    let parent = expand_slice(slice).map_err(bad)?;
    let path = if parent.is_empty() { unit.clone() } else { format!("{parent}/{unit}") };
    Ok(SystemdCgroup { slice: slice.to_string(), unit, path })
}

fn unit_name_ok(unit: &str) -> bool {
    unit.len() <= 255 && unit.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
}

/// A slice's cgroup path: each dash is a level, `a-b-c.slice` lives in
/// `a.slice/a-b.slice/a-b-c.slice` (systemd.slice(5)); `-.slice` is the root.
pub fn expand_slice(slice: &str) -> Result<String, &'static str> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err("the slice (before the first ':') must end in .slice");
    };
    if slice == "-.slice" {
        return Ok(String::new());
    }
    if slice.contains('/') || stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(
            "the slice must be a slice unit's name, like machine.slice or user-1000.slice (no '/', no empty level)",
        );
    }
    if !unit_name_ok(slice) {
        return Err("the slice name may only hold ASCII letters, digits and \":-_.\\\"");
    }
    let mut path = Vec::new();
    let mut level = String::new();
    for part in stem.split('-') {
        if !level.is_empty() {
            level.push('-');
        }
        level.push_str(part);
        path.push(format!("{level}.slice"));
    }
    Ok(path.join("/"))
}

/// systemd's bus names.
const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// How long a job may take: systemd's own default for a unit's start.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// The system bus's socket: `$DBUS_SYSTEM_BUS_ADDRESS` (its `unix:path=`)
/// or the well-known place.
fn system_bus_socket() -> PathBuf {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .and_then(|a| {
            a.split(';')
                .find_map(|one| one.strip_prefix("unix:path=").map(|p| p.split(',').next().unwrap_or(p).to_string()))
        })
        .map_or_else(|| PathBuf::from("/run/dbus/system_bus_socket"), PathBuf::from)
}

/// A connection to systemd's manager on the system bus.
pub struct Systemd {
    bus: bus::Bus,
}

/// What a job ended with, and how long it took.
struct JobDone {
    job: String,
    result: String,
    waited: Duration,
}

impl Systemd {
    pub fn connect() -> Result<Systemd, CgroupError> {
        Systemd::connect_to(&system_bus_socket())
    }

    fn connect_to(socket: &std::path::Path) -> Result<Systemd, CgroupError> {
        let bus = bus::Bus::connect(socket).map_err(CgroupError::Systemd)?;
        Ok(Systemd { bus })
    }

    fn manager(&mut self, member: &str, body: Vec<Value>) -> Result<Vec<Value>, BusError> {
        self.bus.call(SYSTEMD, MANAGER_PATH, MANAGER, member, body)
    }

    /// Ask the bus to pass us the manager's JobRemoved signals: systemd
    /// sends one to the client that queued the job when it finishes.
    fn watch_jobs(&mut self) -> Result<(), BusError> {
        let rule =
            format!("type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'");
        self.bus.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            vec![Value::Str(rule)],
        )?;
        Ok(())
    }

    /// Wait for the JobRemoved signal of `job` (its object path).
    fn wait_job(&mut self, job: String, started: Instant) -> Result<JobDone, BusError> {
        let result = self.bus.wait_signal(JOB_TIMEOUT, "systemd's JobRemoved signal", |m| {
            // JobRemoved(u id, o job, s unit, s result)
            if m.member.as_deref() != Some("JobRemoved") || m.body.get(1).and_then(Value::as_str) != Some(&job) {
                return None;
            }
            Some(m.body.get(3).and_then(Value::as_str).unwrap_or_default().to_string())
        })?;
        Ok(JobDone { job, result, waited: started.elapsed() })
    }

    /// StartTransientUnit for the scope `unit`, and wait for its job. A
    /// failed unit of the same name left by an earlier container is reset
    /// once and the start tried again.
    pub fn start_scope(&mut self, unit: &str, props: &[Property]) -> Result<(), CgroupError> {
        let started = Instant::now();
        let outcome = self.try_start(unit, props, started);
        let outcome = match outcome {
            Err(BusError::Method { name, .. }) if name == "org.freedesktop.systemd1.UnitExists" => {
                let _ = self.manager("ResetFailedUnit", vec![Value::Str(unit.into())]);
                self.try_start(unit, props, started)
            }
            other => other,
        };
        record_call("StartTransientUnit", unit, props, &outcome);
        match outcome {
            Ok(done) if done.result == "done" => Ok(()),
            Ok(done) => Err(CgroupError::SystemdJob { unit: unit.into(), verb: "start", result: done.result }),
            Err(e) => Err(CgroupError::Systemd(e)),
        }
    }

    fn try_start(&mut self, unit: &str, props: &[Property], started: Instant) -> Result<JobDone, BusError> {
        self.watch_jobs()?;
        let body = vec![
            Value::Str(unit.into()),
            Value::Str("replace".into()),
            Value::Array("(sv)".into(), props.iter().map(Property::to_dbus).collect()),
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let reply = self.manager("StartTransientUnit", body)?;
        let job = reply.first().and_then(Value::as_str).unwrap_or_default().to_string();
        self.wait_job(job, started)
    }

    /// SetUnitProperties (runtime only: gone at reboot, like the unit).
    pub fn set_properties(&mut self, unit: &str, props: &[Property]) -> Result<(), CgroupError> {
        let started = Instant::now();
        let body = vec![
            Value::Str(unit.into()),
            Value::Bool(true),
            Value::Array("(sv)".into(), props.iter().map(Property::to_dbus).collect()),
        ];
        let outcome = self.manager("SetUnitProperties", body).map(|_| JobDone {
            job: String::new(),
            result: "done".into(),
            waited: started.elapsed(),
        });
        record_call("SetUnitProperties", unit, props, &outcome);
        outcome.map(drop).map_err(CgroupError::Systemd)
    }

    /// StopUnit and wait for it; a unit already gone (systemd collects an
    /// empty scope by itself) is fine. Then ResetFailedUnit, so that a scope
    /// that ended badly leaves no failed unit behind.
    pub fn stop_unit(&mut self, unit: &str) -> Result<(), CgroupError> {
        let started = Instant::now();
        let outcome = self
            .watch_jobs()
            .and_then(|()| self.manager("StopUnit", vec![Value::Str(unit.into()), Value::Str("replace".into())]));
        let outcome = match outcome {
            Ok(reply) => {
                let job = reply.first().and_then(Value::as_str).unwrap_or_default().to_string();
                self.wait_job(job, started)
            }
            Err(BusError::Method { name, .. }) if name == "org.freedesktop.systemd1.NoSuchUnit" => {
                Ok(JobDone { job: String::new(), result: "gone".into(), waited: started.elapsed() })
            }
            Err(e) => Err(e),
        };
        record_call("StopUnit", unit, &[], &outcome);
        let _ = self.manager("ResetFailedUnit", vec![Value::Str(unit.into())]);
        match outcome {
            Ok(done) if matches!(done.result.as_str(), "done" | "gone") => Ok(()),
            Ok(done) => Err(CgroupError::SystemdJob { unit: unit.into(), verb: "stop", result: done.result }),
            Err(e) => Err(CgroupError::Systemd(e)),
        }
    }
}

/// `create` with `--systemd-cgroup`, once the init exists (it waits for
/// `Go`): the scope that holds it, with the limits systemd has properties
/// for. Returns the cgroup and the writes left for files. On cgroup v1
/// systemd manages only some controllers' hierarchies; the directories of
/// the others are made here and the init moved into them.
pub fn start_container_scope(
    sd: &SystemdCgroup,
    id: &str,
    pid: i32,
    writes: &[CgroupWrite],
    version: CgroupVersion,
) -> Result<(ContainerCgroup, Vec<CgroupWrite>), CgroupError> {
    let (limits, files) = plan_properties(writes, version);
    let mut props = scope_properties(id, &sd.slice, pid as u32, version);
    props.extend(limits);
    let mut systemd = Systemd::connect()?;
    if let Err(e) = systemd.start_scope(&sd.unit, &props) {
        // A job that failed may leave a failed unit of that name.
        if matches!(e, CgroupError::SystemdJob { .. }) {
            let _ = systemd.stop_unit(&sd.unit);
        }
        return Err(e);
    }
    let cgroup = match version {
        CgroupVersion::V2 => Ok(ContainerCgroup::load(&sd.path)),
        CgroupVersion::V1 => {
            ContainerCgroup::create(&sd.path, "").and_then(|c| c.add_process(pid, &c.v1_dirs()).map(|()| c))
        }
    };
    match cgroup {
        Ok(c) => Ok((c.with_unit(Some(sd.unit.clone())), files)),
        Err(e) => {
            let _ = systemd.stop_unit(&sd.unit);
            Err(e)
        }
    }
}

/// A `systemd` step: the D-Bus method, the unit, the properties sent (and
/// the config.json field each limit came from), the job and how it ended.
/// Arguments go in name order, as a step's arguments must.
fn record_call(method: &str, unit: &str, props: &[Property], outcome: &Result<JobDone, BusError>) {
    crate::recorder::step("systemd", |a| {
        let fields: Vec<String> =
            props.iter().filter_map(|p| p.field.as_ref().map(|f| format!("{}={f}", p.name))).collect();
        if !fields.is_empty() {
            a.str("fields", &fields.join(" "));
        }
        if let Some(done) = outcome.as_ref().ok().filter(|d| !d.job.is_empty()) {
            a.str("job", &done.job);
        }
        a.str("method", method);
        if !props.is_empty() {
            let shown: Vec<String> = props.iter().map(Property::shown).collect();
            a.str("properties", &shown.join(" "));
        }
        match outcome {
            Ok(done) => {
                a.str("result", &done.result).str("unit", unit).uint("waited_us", done.waited.as_micros() as u64);
            }
            Err(e) => {
                a.display("result", e).str("unit", unit);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_nest_by_dashes() {
        assert_eq!(expand_slice("machine.slice").unwrap(), "machine.slice");
        assert_eq!(expand_slice("a-b-c.slice").unwrap(), "a.slice/a-b.slice/a-b-c.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "");
        for bad in ["machine", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", ".slice"] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runc_form_of_cgroups_path() {
        let c = parse_cgroups_path(Some("machine.slice:libpod:abc"), "x").unwrap();
        assert_eq!(c.unit, "libpod-abc.scope");
        assert_eq!(c.path, "machine.slice/libpod-abc.scope");
        let c = parse_cgroups_path(Some("kubepods-besteffort-pod1.slice:cri-containerd:c1"), "x").unwrap();
        assert_eq!(
            c.path,
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope"
        );
        let c = parse_cgroups_path(None, "web").unwrap();
        assert_eq!((c.slice.as_str(), c.unit.as_str()), ("system.slice", "glassbox-web.scope"));
        assert_eq!(parse_cgroups_path(Some("-.slice::web"), "x").unwrap().path, "web.scope");
        for bad in
            ["/glassbox/web", "machine.slice:libpod:", "a:b", "machine.slice:p:n.slice", "x:p:n", "m.slice:p:a b"]
        {
            let e = parse_cgroups_path(Some(bad), "x").unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.cgroupsPath {bad:?}")), "{e}");
        }
    }

    /// A stand-in for dbus-daemon and systemd on a socket: it answers the
    /// handshake, Hello, AddMatch and the manager's methods, and sends the
    /// JobRemoved signals a real systemd would — one for another client's
    /// job first, which must be passed over.
    fn fake_systemd(
        dir: &std::path::Path,
        stop_result: &'static str,
    ) -> (PathBuf, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        use wire::{Kind, Message, FIXED_HEADER};
        let socket = dir.join("bus");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).unwrap();
            assert!(line.starts_with(b"\0AUTH EXTERNAL "), "{line:?}");
            out.write_all(b"OK 0123456789abcdef\r\n").unwrap();
            line.clear();
            reader.read_until(b'\n', &mut line).unwrap();
            assert_eq!(line, b"BEGIN\r\n");
            let mut calls = Vec::new();
            let mut serial = 100;
            let mut send = |out: &mut std::os::unix::net::UnixStream, m: Message| {
                serial += 1;
                out.write_all(&m.encode(serial)).unwrap();
            };
            let job_removed = |job: &str, unit: &str, result: &str| Message {
                kind: Some(Kind::Signal),
                path: Some(MANAGER_PATH.into()),
                interface: Some(MANAGER.into()),
                member: Some("JobRemoved".into()),
                body: vec![Value::U32(7), Value::Path(job.into()), Value::Str(unit.into()), Value::Str(result.into())],
                ..Message::default()
            };
            loop {
                let mut fixed = [0u8; FIXED_HEADER];
                if reader.read_exact(&mut fixed).is_err() {
                    return calls;
                }
                let mut bytes = vec![0u8; Message::total_len(&fixed).unwrap()];
                bytes[..FIXED_HEADER].copy_from_slice(&fixed);
                reader.read_exact(&mut bytes[FIXED_HEADER..]).unwrap();
                let call = Message::decode(&bytes).unwrap();
                let member = call.member.clone().unwrap_or_default();
                calls.push(member.clone());
                let reply = |body: Vec<Value>| Message {
                    kind: Some(Kind::MethodReturn),
                    reply_serial: Some(call.serial),
                    body,
                    ..Message::default()
                };
                let unit = call.body.first().and_then(Value::as_str).unwrap_or_default().to_string();
                match member.as_str() {
                    "Hello" => send(&mut out, reply(vec![Value::Str(":1.42".into())])),
                    "StartTransientUnit" => {
                        send(&mut out, job_removed("/org/freedesktop/systemd1/job/6", "other.scope", "failed"));
                        send(&mut out, reply(vec![Value::Path("/org/freedesktop/systemd1/job/7".into())]));
                        send(&mut out, job_removed("/org/freedesktop/systemd1/job/7", &unit, "done"));
                    }
                    "StopUnit" if stop_result == "gone" => send(
                        &mut out,
                        Message {
                            kind: Some(Kind::Error),
                            reply_serial: Some(call.serial),
                            error_name: Some("org.freedesktop.systemd1.NoSuchUnit".into()),
                            body: vec![Value::Str(format!("Unit {unit} not loaded."))],
                            ..Message::default()
                        },
                    ),
                    "StopUnit" => {
                        send(&mut out, reply(vec![Value::Path("/org/freedesktop/systemd1/job/8".into())]));
                        send(&mut out, job_removed("/org/freedesktop/systemd1/job/8", &unit, stop_result));
                    }
                    _ => send(&mut out, reply(vec![])),
                }
            }
        });
        (socket, server)
    }

    #[test]
    fn a_scope_is_started_and_its_job_waited_for() {
        let tmp = tempfile::tempdir().unwrap();
        let (socket, server) = fake_systemd(tmp.path(), "gone");
        let mut systemd = Systemd::connect_to(&socket).unwrap();
        let props = scope_properties("web", "machine.slice", 4242, CgroupVersion::V2);
        systemd.start_scope("gbtest-web.scope", &props).unwrap();
        systemd.stop_unit("gbtest-web.scope").unwrap();
        drop(systemd);
        let calls = server.join().unwrap();
        assert_eq!(
            calls,
            ["Hello", "AddMatch", "StartTransientUnit", "AddMatch", "StopUnit", "ResetFailedUnit"],
            "the calls in order"
        );
    }

    #[test]
    fn a_job_that_fails_is_an_error_naming_the_unit() {
        let tmp = tempfile::tempdir().unwrap();
        let (socket, server) = fake_systemd(tmp.path(), "failed");
        let mut systemd = Systemd::connect_to(&socket).unwrap();
        let e = systemd.stop_unit("gbtest-web.scope").unwrap_err().to_string();
        assert!(e.contains("gbtest-web.scope") && e.contains("\"failed\"") && e.contains("journalctl"), "{e}");
        drop(systemd);
        server.join().unwrap();
    }

    #[test]
    fn no_bus_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Systemd::connect_to(&tmp.path().join("none")).err().unwrap().to_string();
        assert!(e.contains("none") && e.contains("is dbus running?"), "{e}");
    }

    #[test]
    fn the_bus_address_may_come_from_the_environment() {
        // Only the default is checked here: the environment is the process's.
        if std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_none() {
            assert_eq!(system_bus_socket(), PathBuf::from("/run/dbus/system_bus_socket"));
        }
    }
}
