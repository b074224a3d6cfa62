//! A small client for the Kubernetes Container Runtime Interface (CRI), the
//! gRPC API the kubelet speaks to containerd (or CRI-O). It exists to show
//! what happens between Kubernetes and glassbox: the kubelet never runs a
//! runtime itself; it asks containerd for a *pod sandbox* and for containers
//! in it, and containerd's runc shim turns each of those calls into runtime
//! verbs (`glassbox create`, `start`, `exec`, `kill`, `delete` …) when the
//! pod's RuntimeClass handler names glassbox as its `BinaryName`.
//!
//! One method per CRI call, each named after it (`run_pod_sandbox` is
//! `RuntimeService.RunPodSandbox`) and documented with the runtime calls
//! containerd makes for it. The calls block: each runs to completion on a
//! small single-threaded tokio runtime, within a deadline, so a caller (the
//! `glassbox-cri` command, a test, a lab) reads as a plain sequence of steps.
//!
//! The modules: [`pod`] (the sandbox calls and the pod config this client
//! builds), [`container`] (the container calls), [`image`] (the two
//! ImageService calls a client needs without a registry). The generated
//! messages are re-exported as [`api`] (CRI v1, from the `k8s-cri` crate).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

pub mod container;
pub mod image;
pub mod pod;

/// The CRI's messages (version v1, which containerd 1.6 and later serve).
pub use k8s_cri::v1 as api;

pub use container::ContainerSpec;
pub use pod::PodSpec;

/// Where containerd listens unless its config's `[grpc] address` says
/// otherwise; the CRI is served on the same socket as containerd's own API.
pub const DEFAULT_SOCKET: &str = "/run/containerd/containerd.sock";

#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("cannot start the client's event loop: {0}")]
    EventLoop(#[source] std::io::Error),
    #[error(
        "cannot connect to the CRI socket {socket}: {reason} \
         (is containerd running, with this path as its [grpc] address?)"
    )]
    Connect { socket: PathBuf, reason: String },
    #[error("no answer from {socket} within {after:?} (is containerd running there?)")]
    ConnectTimedOut { socket: PathBuf, after: Duration },
    #[error(
        "{call}: this server has no CRI v1 service (is containerd's CRI plugin loaded? \
         its log says why not: look for io.containerd.grpc.v1.cri)"
    )]
    Unimplemented { call: &'static str },
    #[error("{call} failed: {message} (gRPC status {code:?})")]
    Call { call: &'static str, code: tonic::Code, message: String },
    #[error("{call} got no answer within {after:?}")]
    TimedOut { call: &'static str, after: Duration },
    #[error("{call} answered without its {field}")]
    Missing { call: &'static str, field: &'static str },
}

/// Runs one gRPC call at a time to completion, each within a deadline.
struct Caller {
    event_loop: tokio::runtime::Runtime,
    timeout: Duration,
}

impl Caller {
    /// Waits for `reply` at most the client's timeout plus `extra` (a stop's
    /// grace period is time the server spends on purpose).
    fn call<T>(
        &self,
        call: &'static str,
        extra: Duration,
        reply: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, CriError> {
        let after = self.timeout + extra;
        match self.event_loop.block_on(async { tokio::time::timeout(after, reply).await }) {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => Err(CriError::Unimplemented { call }),
            Ok(Err(status)) => Err(CriError::Call { call, code: status.code(), message: status.message().into() }),
            Err(_) => Err(CriError::TimedOut { call, after }),
        }
    }
}

/// A connection to a CRI server: its two services share one HTTP/2 channel.
pub struct Cri {
    caller: Caller,
    /// Pods and containers: RunPodSandbox, CreateContainer, ExecSync …
    runtime: RuntimeServiceClient<Channel>,
    /// Images: ImageStatus, ListImages (and PullImage, unused: no registry here).
    images: ImageServiceClient<Channel>,
}

impl Cri {
    /// Connects to the CRI server listening on the Unix socket `socket`;
    /// every later call waits at most `timeout` for its answer.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Cri, CriError> {
        let event_loop =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CriError::EventLoop)?;
        let path = socket.to_path_buf();
        // gRPC wants a URI; the connector ignores it and dials the socket.
        let endpoint = Endpoint::from_static("http://cri.invalid").connect_timeout(timeout);
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
        });
        let connecting = async { tokio::time::timeout(timeout, endpoint.connect_with_connector(connector)).await };
        let channel = match event_loop.block_on(connecting) {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(CriError::Connect { socket: socket.into(), reason: root_cause(&e) }),
            Err(_) => return Err(CriError::ConnectTimedOut { socket: socket.into(), after: timeout }),
        };
        Ok(Cri {
            caller: Caller { event_loop, timeout },
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// `RuntimeService.Version`: the CRI version the server speaks and the
    /// runtime behind it ("containerd", "v1.6.20"). The kubelet's first call;
    /// it reaches no runtime binary.
    pub fn version(&mut self) -> Result<api::VersionResponse, CriError> {
        let request = api::VersionRequest { version: "v1".into() };
        self.caller.call("Version", Duration::ZERO, self.runtime.version(request))
    }
}

/// The deepest cause of an error: tonic's transport errors say little at
/// the top ("transport error") and the reason (an io::Error) at the bottom.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
