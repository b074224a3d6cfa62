//! The `systemd` step (`--systemd-cgroup`): one D-Bus call to systemd's
//! manager — StartTransientUnit (the container's scope, in the cgroup
//! stage), SetUnitProperties (`update`), StopUnit (cleanup) — with the
//! unit's properties in `systemctl show` spelling, the config.json field
//! behind each limit, and how its job ended.

use super::args::shell_quote;
use super::steps::Step;
use super::Narration;

pub fn narrate(step: &Step) -> Option<Narration> {
    let method = step.args.text("method")?;
    let unit = step.args.text("unit")?;
    let result = step.args.text("result").unwrap_or_default();
    let props: Vec<(String, String)> = step.args.text("properties").map(|p| split_properties(&p)).unwrap_or_default();
    let fields = fields(step);
    let limits: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    let waited =
        step.args.uint("waited_us").map(|us| format!(" after {:.1} ms", us as f64 / 1000.0)).unwrap_or_default();
    let failed = !matches!(result.as_str(), "done" | "gone");
    let call = |args: &str| format!("D-Bus call org.freedesktop.systemd1.Manager.{method}({args}) on the system bus");
    let narration = match method.as_str() {
        "StartTransientUnit" => {
            let pid = props.iter().find(|(k, _)| k == "PIDs").map(|(_, v)| v.as_str()).unwrap_or("?");
            let slice = props.iter().find(|(k, _)| k == "Slice").map(|(_, v)| v.as_str()).unwrap_or("system.slice");
            let headline = format!("systemd makes the scope {unit} in {slice} and moves pid {pid} into it");
            let mut why = "--systemd-cgroup: linux.cgroupsPath \"slice:prefix:name\"".to_string();
            if !fields.is_empty() {
                why.push_str(&format!("; linux.resources as properties: {}", as_properties(&fields)));
            }
            let shown: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut shell = format!("systemd-run --scope --unit={} --slice={}", shell_quote(&unit), shell_quote(slice));
            for (k, v) in props.iter().filter(|(k, _)| !matches!(k.as_str(), "Description" | "Slice" | "PIDs")) {
                shell.push_str(&format!(" -p {}", shell_quote(&as_systemd_run(k, v))));
            }
            shell.push_str(" sh");
            Narration::new(told(failed, headline, &result, &waited))
                .why(why)
                .syscall(format!(
                    "{}; its job's JobRemoved signal ends the wait",
                    call(&format!("\"{unit}\", \"replace\", [{}]", shown.join(", ")))
                ))
                .shell(shell)
                .check(format!(
                    "systemctl show -p {} {}",
                    show_list(&["ControlGroup", "Delegate"], &limits),
                    shell_quote(&unit)
                ))
        }
        "SetUnitProperties" => {
            let shown: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let headline = format!("systemd changes the scope {unit}: {}", shown.join(" "));
            let mut shell = format!("systemctl set-property --runtime {}", shell_quote(&unit));
            for (k, v) in &props {
                shell.push_str(&format!(" {}", shell_quote(&as_systemd_run(k, v))));
            }
            Narration::new(told(failed, headline, &result, &waited))
                .why(format!("linux.resources as properties: {}", as_properties(&fields)))
                .syscall(call(&format!("\"{unit}\", true, [{}]", shown.join(", "))))
                .shell(shell)
                .check(format!("systemctl show -p {} {}", show_list(&[], &limits), shell_quote(&unit)))
        }
        "StopUnit" => {
            let headline = if result == "gone" {
                format!("the scope {unit} is already gone: systemd stops and forgets a scope once its last process has exited")
            } else {
                told(failed, format!("systemd stops the scope {unit}, and removes its cgroup"), &result, &waited)
            };
            Narration::new(headline)
                .why("--systemd-cgroup: the container's cgroup is systemd's unit")
                .syscall(call(&format!("\"{unit}\", \"replace\"")))
                .shell(format!("systemctl stop {}", shell_quote(&unit)))
                .check(format!("systemctl status {}", shell_quote(&unit)))
        }
        _ => return None,
    };
    Some(narration)
}

/// "(job done after 2.1 ms)", or FAILED with what went wrong.
fn told(failed: bool, headline: String, result: &str, waited: &str) -> String {
    if failed {
        format!("FAILED: {headline} ({result})")
    } else {
        format!("{headline} (job {result}{waited})")
    }
}

/// `Name=linux.resources.x …` → (Name, field) pairs.
fn fields(step: &Step) -> Vec<(String, String)> {
    let text = step.args.text("fields").unwrap_or_default();
    text.split(' ').filter_map(|pair| pair.split_once('=')).map(|(n, f)| (n.to_string(), f.to_string())).collect()
}

/// "Description=glassbox container web Slice=machine.slice PIDs=4242" →
/// pairs: a new property starts at a word that looks like `Name=`.
fn split_properties(text: &str) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = Vec::new();
    for word in text.split(' ') {
        let starts = word.split_once('=').filter(|(name, _)| {
            name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric())
        });
        match (starts, props.last_mut()) {
            (Some((name, value)), _) => props.push((name.to_string(), value.to_string())),
            (None, Some((_, value))) => {
                value.push(' ');
                value.push_str(word);
            }
            (None, None) => {}
        }
    }
    props
}

/// A property as `systemd-run -p` and `systemctl set-property` take it:
/// the quota per second of CPU as a percentage, the period as a time.
fn as_systemd_run(name: &str, value: &str) -> String {
    match (name, value.parse::<u64>()) {
        ("CPUQuotaPerSecUSec", Ok(us)) => format!("CPUQuota={}%", us as f64 / 10_000.0),
        ("CPUQuotaPeriodUSec", Ok(us)) => format!("CPUQuotaPeriodSec={}ms", us as f64 / 1000.0),
        ("CPUQuotaPerSecUSec", _) => format!("CPUQuota={}", if value == "infinity" { "" } else { value }),
        _ => format!("{name}={value}"),
    }
}

/// "memory.limit → MemoryMax, cpu.quota → CPUQuotaPerSecUSec …".
fn as_properties(fields: &[(String, String)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(name, field)| format!("{} → {name}", field.strip_prefix("linux.resources.").unwrap_or(field)))
        .collect();
    pairs.join(", ")
}

fn show_list(first: &[&str], limits: &[&str]) -> String {
    let mut names: Vec<&str> = first.to_vec();
    for name in limits {
        if !names.contains(name) {
            names.push(name);
        }
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_split_where_a_name_starts() {
        assert_eq!(
            split_properties("Description=glassbox container web Slice=machine.slice AllowedCPUs=0 1 2"),
            [
                ("Description".to_string(), "glassbox container web".to_string()),
                ("Slice".to_string(), "machine.slice".to_string()),
                ("AllowedCPUs".to_string(), "0 1 2".to_string())
            ]
        );
    }

    #[test]
    fn systemd_run_spells_the_quota_as_a_percentage() {
        assert_eq!(as_systemd_run("CPUQuotaPerSecUSec", "500000"), "CPUQuota=50%");
        assert_eq!(as_systemd_run("CPUQuotaPerSecUSec", "1500000"), "CPUQuota=150%");
        assert_eq!(as_systemd_run("CPUQuotaPeriodUSec", "100000"), "CPUQuotaPeriodSec=100ms");
        assert_eq!(as_systemd_run("MemoryMax", "67108864"), "MemoryMax=67108864");
    }
}
