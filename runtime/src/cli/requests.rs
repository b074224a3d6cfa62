//! What each verb's flags ask for, as the runtime's own types: a
//! `CreateOptions`, the `Process` an `exec` runs, the `LinuxResources` an
//! `update` writes. args.rs declares the flags; this turns them into requests.

use std::path::PathBuf;

use anyhow::Result;
use oci_spec::runtime::{Process, User};

use super::args::{self, ExecCmd, UpdateCmd};
use crate::container::{ConsoleHandling, Container, CreateOptions};

/// `create` and `run`: the container to make.
pub fn create_options(
    id: String,
    c: args::CreateArgs,
    rootless: Option<bool>,
    systemd_cgroup: bool,
) -> Result<CreateOptions> {
    let bundle = c.bundle.unwrap_or_else(|| PathBuf::from("."));
    Ok(CreateOptions {
        id,
        bundle,
        pid_file: c.pid_file.map(absolute).transpose()?,
        console: match c.console_socket {
            Some(p) => ConsoleHandling::Socket(p),
            None => ConsoleHandling::None,
        },
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
        wait_for_release: true,
        rootless,
        systemd_cgroup,
    })
}

/// runc resolves a relative --pid-file against the caller's cwd.
fn absolute(p: PathBuf) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p } else { std::env::current_dir()?.join(p) })
}

/// The process `exec` runs: `--process FILE`, or the container's own
/// process with the args, env, cwd and user given on the command line.
pub fn exec_process(c: &Container, a: &ExecCmd) -> anyhow::Result<Process> {
    use anyhow::Context;
    if let Some(path) = &a.process {
        let text = crate::bundle::read_config(path).with_context(|| format!("--process {}", path.display()))?;
        let mut de = serde_json::Deserializer::from_slice(&text);
        let p: Process = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| anyhow::anyhow!("--process {}: field `{}`: {}", path.display(), e.path(), e.inner()))?;
        return Ok(p);
    }
    if a.command.is_empty() {
        anyhow::bail!("exec needs a command, e.g. `glassbox exec {} sh`, or --process FILE", a.id);
    }
    let config = c.state.bundle.join("config.json");
    let text = crate::bundle::read_config(&config)?;
    let spec = crate::bundle::parse_config(&config, &text)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &a.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let mut u = User::default();
        let id = |text: &str| -> anyhow::Result<u32> {
            let id = text.parse().with_context(|| format!("--user {user:?}: numeric UID[:GID] expected"))?;
            crate::bundle::check_id(&format!("--user {user:?}"), id)?;
            Ok(id)
        };
        u.set_uid(id(uid)?);
        u.set_gid(id(gid)?);
        if !a.additional_gids.is_empty() {
            u.set_additional_gids(Some(a.additional_gids.clone()));
        }
        p.set_user(u);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// The resources `update` asks for: the `--resources` file, then each flag
/// on top of it.
pub fn update_resources(a: &UpdateCmd) -> anyhow::Result<oci_spec::runtime::LinuxResources> {
    use anyhow::Context;
    use oci_spec::runtime::{LinuxPids, LinuxResources};
    let mut r: LinuxResources = match &a.resources {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                // As config.json: a regular file within 16 MiB, never /dev/zero or a FIFO.
                let bytes =
                    crate::bundle::read_config(path).with_context(|| format!("--resources {}", path.display()))?;
                String::from_utf8(bytes).with_context(|| format!("--resources {}: not UTF-8", path.display()))?
            };
            let mut de = serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| anyhow::anyhow!("--resources: field `{}`: {}", e.path(), e.inner()))?
        }
        None => LinuxResources::default(),
    };
    let bytes = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_bytes(s).with_context(|| format!("--{flag} {s:?}: use bytes or a k, m, g suffix")))
            .transpose()
    };
    let (limit, reservation, swap) = (
        bytes("memory", &a.memory)?,
        bytes("memory-reservation", &a.memory_reservation)?,
        bytes("memory-swap", &a.memory_swap)?,
    );
    if limit.is_some() || reservation.is_some() || swap.is_some() {
        let mut m = (*r.memory()).unwrap_or_default();
        if limit.is_some() {
            m.set_limit(limit);
        }
        if reservation.is_some() {
            m.set_reservation(reservation);
        }
        if swap.is_some() {
            m.set_swap(swap);
        }
        r.set_memory(Some(m));
    }
    let cpu_flags = a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_share.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some();
    if cpu_flags {
        let mut c = r.cpu().clone().unwrap_or_default();
        if a.cpu_period.is_some() {
            c.set_period(a.cpu_period);
        }
        if a.cpu_quota.is_some() {
            c.set_quota(a.cpu_quota);
        }
        if a.cpu_share.is_some() {
            c.set_shares(a.cpu_share);
        }
        if a.cpu_rt_period.is_some() {
            c.set_realtime_period(a.cpu_rt_period);
        }
        if a.cpu_rt_runtime.is_some() {
            c.set_realtime_runtime(a.cpu_rt_runtime);
        }
        if a.cpuset_cpus.is_some() {
            c.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            c.set_mems(a.cpuset_mems.clone());
        }
        r.set_cpu(Some(c));
    }
    if let Some(limit) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// "100m" → 104857600, as runc and docker read memory sizes (powers of 1024).
pub fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    if s == "-1" {
        return Some(-1);
    }
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_bytes("100m"), Some(100 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("512kb"), Some(512 << 10));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("-1"), Some(-1));
        assert_eq!(parse_bytes("lots"), None);
    }
}
