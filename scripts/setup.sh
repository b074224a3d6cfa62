#!/usr/bin/env bash
# Installs what glassbox needs on a fresh Debian 12 machine, as root.
# Idempotent: every step looks first and says what it does, so running it
# twice changes nothing the second time.
set -euo pipefail

say() { printf '==> setup: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup.sh: run me as root: I install Debian packages, and glassbox makes namespaces, mounts and cgroups" >&2
    exit 1
fi

# --- Debian packages ---------------------------------------------------------
#   busybox-static     a static /bin/busybox: the root filesystem of the demo and the tests
#   libseccomp-dev     the C library (and pkg-config file) the `libseccomp` crate links against
#   pkg-config         finds it at build time
#   runc crun          the runtimes glassbox is compared with (tests, benchmark)
#   podman containerd  real clients that drive glassbox in place of runc (client tests;
#                      containerd's CRI plugin with a `glassbox` handler: tests/tests/cri.rs)
#   protobuf-compiler  protoc: the k8s-cri crate generates the CRI's gRPC client from
#                      Kubernetes' api.proto when glassbox-cri (cri/) is built
#   uidmap             newuidmap/newgidmap: a rootless container's (and rootless podman's)
#                      full id maps from /etc/subuid and /etc/subgid (tests/tests/rootless.rs)
#   hyperfine time     the benchmark: wall time, and peak RSS from GNU time's %M
#   jq procps curl     JSON edits in scripts (make-bundle.sh); ps(1) for `glassbox ps`; curl: the
#                      dashboard's API from the README and bench/dashboard.sh
#   iproute2 util-linux  ip, unshare, nsenter: looking at namespaces from outside
#   qemu-system-x86 linux-image-amd64 cpio  the cgroup v2 test: a VM booting Debian's
#                      kernel with cgroup v1 off (tests/vm/cgroup-v2.sh), since this
#                      machine's own cgroups are a v1/v2 hybrid
#   linux-libc-dev     asm/unistd_64.h: the tracer's syscall name table is generated from it
#   mmdebstrap e2fsprogs binutils  the systemd test: a Debian root filesystem with systemd as
#                      PID 1 built from Debian's packages (tests/vm/systemd-image.sh, cached
#                      in /var/cache/glassbox-vm), made into ext4 images with mke2fs -d;
#                      objcopy strips the glassbox binary that goes with it
#   chromium chromium-driver fonts-dejavu-core  the dashboard's browser tests: a real headless
#                      Chromium driven over WebDriver (tests/tests/dashboard_browser.rs), with a font
#                      so its screenshots show text
#   prometheus         a real Prometheus scrapes the dashboard's /metrics in a test, and promtool
#                      checks the metrics' format (tests/tests/dashboard_prometheus.rs)
PACKAGES=(busybox-static libseccomp-dev pkg-config runc crun podman containerd protobuf-compiler uidmap
          hyperfine time jq procps curl iproute2 util-linux
          qemu-system-x86 linux-image-amd64 cpio linux-libc-dev
          mmdebstrap e2fsprogs binutils
          chromium chromium-driver fonts-dejavu-core prometheus)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    say "apt-get update (packages missing: ${missing[*]})"
    apt-get update -qq
    say "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages already installed (${#PACKAGES[@]} of them)"
fi

# --- Rust --------------------------------------------------------------------
# The machine has rustup with a stable toolchain; a non-login shell may not
# have ~/.cargo/bin on its PATH yet.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/setup.sh: no Rust toolchain (cargo) found: install rustup and its stable toolchain (https://rustup.rs)" >&2
    exit 1
fi
say "Rust: $(cargo --version)"

# --- eBPF toolchain -----------------------------------------------------------
# Nightly's rust-src, bpf-linker and tracefs for the tracer (ebpf-probes/).
# Never fatal: without them the runtime builds and runs, and tracing says why
# it is unavailable.
bash "$(dirname "$0")/setup-ebpf.sh"

say "done"
