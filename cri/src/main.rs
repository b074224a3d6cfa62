//! `glassbox-cri`: the CRI calls a kubelet makes, one subcommand each, against
//! containerd's socket — what `crictl` does, for a machine without it. Each
//! subcommand is one call of the library (see `glassbox_cri`), so its
//! effect on the runtime can be watched call by call (the runtime's kept
//! records under its `--root`, or `glassbox events --follow`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use glassbox_cri::api::{ContainerState, PodSandboxState};
use glassbox_cri::{pod, ContainerSpec, Cri, CriError, PodSpec};

#[derive(Parser)]
#[command(name = "glassbox-cri", version, about = "A small CRI client: pods and containers through containerd")]
struct Cli {
    /// containerd's socket (its config's [grpc] address).
    #[arg(long, env = "GLASSBOX_CRI_SOCKET", default_value = glassbox_cri::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Seconds to wait for each answer (a stop's grace period comes on top).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    #[command(subcommand)]
    call: Call,
}

/// Where a pod's cgroups and logs go; `run-pod` and `create` must agree.
#[derive(clap::Args)]
struct PodPlace {
    /// Parent cgroup of the pod and its containers (cgroupfs path).
    #[arg(long, default_value = pod::DEFAULT_CGROUP_PARENT)]
    cgroup_parent: String,
    /// Host directory for the containers' logs (<dir>/<name>.log); none: no logs.
    #[arg(long, default_value = "")]
    log_dir: String,
}

#[derive(Subcommand)]
enum Call {
    /// Version: the CRI server and the runtime behind it.
    Version,
    /// ListImages: the images containerd has in its k8s.io namespace.
    Images,
    /// RunPodSandbox: a pod on the host's network; prints its id.
    RunPod {
        name: String,
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The runtime handler (containerd's runtimes.<handler>).
        #[arg(long, default_value = "glassbox")]
        handler: String,
        #[command(flatten)]
        place: PodPlace,
    },
    /// ListPodSandbox: every pod, with its state.
    Pods,
    /// PodSandboxStatus, as JSON.
    PodStatus { pod: String },
    /// CreateContainer in POD from IMAGE, running COMMAND (default: the image's); prints its id.
    Create {
        pod: String,
        name: String,
        image: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
        #[command(flatten)]
        place: PodPlace,
    },
    /// StartContainer.
    Start { id: String },
    /// ExecSync: run COMMAND in the container, print its output, exit with its code.
    Exec {
        id: String,
        /// Seconds the command may run (0: no limit).
        #[arg(long, default_value_t = 0)]
        timeout: u32,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// ListContainers: every container (or POD's), with its state.
    Ps {
        #[arg(long)]
        pod: Option<String>,
    },
    /// ContainerStatus, as JSON.
    Status { id: String },
    /// StopContainer: SIGTERM, then SIGKILL after --timeout seconds.
    Stop {
        id: String,
        #[arg(long, default_value_t = 10)]
        timeout: u32,
    },
    /// RemoveContainer.
    Rm { id: String },
    /// StopPodSandbox: its containers and its pause process.
    StopPod { pod: String },
    /// RemovePodSandbox.
    RmPod { pod: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result =
        Cri::connect(&cli.socket, Duration::from_secs(cli.timeout)).and_then(|mut cri| call(&mut cri, cli.call));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glassbox-cri: {e}");
            ExitCode::FAILURE
        }
    }
}

fn call(cri: &mut Cri, call: Call) -> Result<ExitCode, CriError> {
    match call {
        Call::Version => {
            let v = cri.version()?;
            println!("{} {} (CRI {})", v.runtime_name, v.runtime_version, v.runtime_api_version);
        }
        Call::Images => {
            for image in cri.list_images()? {
                println!("{}  {}", short(&image.id), image.repo_tags.join(" "));
            }
        }
        Call::RunPod { name, namespace, handler, place } => {
            let spec = PodSpec { namespace, ..pod_spec(&name, &handler, place) };
            println!("{}", cri.run_pod_sandbox(&spec.config(), &spec.handler)?);
        }
        Call::Pods => {
            for p in cri.list_pod_sandbox()? {
                let state = PodSandboxState::try_from(p.state).map(|s| s.as_str_name()).unwrap_or("?");
                let name = p.metadata.map(|m| format!("{}/{}", m.namespace, m.name)).unwrap_or_default();
                println!("{}  {state:<18} {name}  {}", p.id, p.runtime_handler);
            }
        }
        Call::PodStatus { pod } => print_json(&cri.pod_sandbox_status(&pod)?),
        Call::Create { pod, name, image, command, place } => {
            let status = cri.pod_sandbox_status(&pod)?;
            let pod_config = pod_spec("", "", place).config_of(&status);
            let spec = ContainerSpec { name, image, command };
            println!("{}", cri.create_container(&pod, &spec.config(), &pod_config)?);
        }
        Call::Start { id } => cri.start_container(&id)?,
        Call::Exec { id, timeout, command } => {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            let reply = cri.exec_sync(&id, &args, timeout)?;
            use std::io::Write;
            let _ = std::io::stdout().write_all(&reply.stdout);
            let _ = std::io::stderr().write_all(&reply.stderr);
            return Ok(ExitCode::from(u8::try_from(reply.exit_code).unwrap_or(255)));
        }
        Call::Ps { pod } => {
            for c in cri.list_containers(pod.as_deref())? {
                let state = ContainerState::try_from(c.state).map(|s| s.as_str_name()).unwrap_or("?");
                let name = c.metadata.map(|m| m.name).unwrap_or_default();
                println!("{}  {state:<18} {name:<16} pod {}", c.id, short(&c.pod_sandbox_id));
            }
        }
        Call::Status { id } => print_json(&cri.container_status(&id)?),
        Call::Stop { id, timeout } => cri.stop_container(&id, timeout)?,
        Call::Rm { id } => cri.remove_container(&id)?,
        Call::StopPod { pod } => cri.stop_pod_sandbox(&pod)?,
        Call::RmPod { pod } => cri.remove_pod_sandbox(&pod)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn pod_spec(name: &str, handler: &str, place: PodPlace) -> PodSpec {
    PodSpec { cgroup_parent: place.cgroup_parent, log_directory: place.log_dir, ..PodSpec::new(name, handler) }
}

/// The first 13 characters of an id (`sha256:` left out), as crictl shows them.
fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(13)]
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("CRI messages serialize"));
}
