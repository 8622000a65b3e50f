# Shared by the lab's scripts: where things are, and small helpers.
# shellcheck shell=bash
lab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$lab_here/../.." && pwd)
set -a; . "$lab_here/versions.env"; set +a
cache_root=${CHAOS_RUN_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaos-run-lab}
# The Go builds are keyed by the Kubernetes version.
cache=$cache_root/$KUBERNETES_VERSION
labbin=$cache/bin
state=${CHAOS_RUN_LAB_DIR:-$repo/.lab}
# Each checkout has its own image names (two checkouts on one machine may build different
# agents): buildah's local names carry a hash of the checkout's path. What they are built from
# keys them (build-images: an image built from the same sources in another checkout is tagged,
# not built again), and the registry's content lives in the lab's cache, shared by checkouts as
# the lab's addresses are (only one lab runs on a machine): an image is pushed again only when the
# registry holds another. A fresh clone rebuilt and pushed all seven images (two minutes).
registry_dir=${CHAOS_RUN_REGISTRY_DIR:-$cache_root/registry}
image_ns=localhost/chaos-run-$(printf '%s' "$repo" | sha256sum | cut -c1-8)
# Loopback ports; override when they clash with something on the machine.
ETCD_PORT=${CHAOS_RUN_LAB_ETCD_PORT:-23790}
APISERVER_PORT=${CHAOS_RUN_LAB_APISERVER_PORT:-16443}
REGISTRY_PORT=${CHAOS_RUN_LAB_REGISTRY_PORT:-25000}
KUBELET_PORT=10250
NODE_NAME=lab-node
# kubelet refuses a loopback node IP and this kernel has no `dummy` links: the node's
# address is a /32 on lo, from the range set aside for benchmarking (198.18.0.0/15).
NODE_IP=198.19.255.1
# Pods: one bridge, addresses from 198.18.0.0/16 and fd00:c612::/64.
BRIDGE=chaoslab0
POD_CIDR_V4=198.18.0.0/16
POD_GW_V4=198.18.0.1
POD_CIDR_V6=fd00:c612::/64
POD_GW_V6=fd00:c612::1
# Pods of the RuntimeClass ipv6-only: an IPv6 address only, on the same bridge.
POD_CIDR_V6_ONLY=fd00:c612:1::/64
POD_GW_V6_ONLY=fd00:c612:1::1
# The cluster DNS (the kube-dns Service, test/lab/coredns): kubeadm's address in the apiserver's
# Service range (10.96.0.0/24), among the first 16, which it hands out to Services that ask for no
# address only when the rest of the range is taken.
CLUSTER_DNS=10.96.0.10
# The host firewall chain that keeps pod traffic on the machine (no route off it).
FORWARD_CHAIN=CHAOSLAB-FWD
# The lab's components, in the order `up` starts them (`down` stops them in reverse).
COMPONENTS=(registry etcd apiserver controller-manager scheduler containerd kubelet)
# kube-proxy routes the Services' addresses (a pod reaches the API server at the kubernetes
# Service's, as in any cluster: chaos-run inside the cluster). Not in the kernel lab: nothing
# runs in-cluster there, and its kernel has iptables-legacy only.
[ -n "${CHAOS_RUN_KERNEL_LAB:-}" ] || COMPONENTS+=(kube-proxy)

say() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }
# A command that fails under `set -e` says where, instead of ending a script in silence (CI
# keeps only what was printed). -E: also inside functions and command substitutions.
set -E
on_error() { [[ $- == *e* ]] || return 0; printf 'lab: error: %s:%s: "%s" exited %s\n' "${BASH_SOURCE[1]##*/}" "$2" "$3" "$1" >&2; }
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# pid of a lab component if it is alive, else nothing
lab_pid() {
  local f=$state/run/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

kubectl_lab() { "$labbin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# containerd's socket: a unix socket path must stay under 108 bytes, so a deep checkout
# falls back to a short path of its own under /run.
containerd_socket() {
  local s=$state/run/containerd.sock
  if [ ${#s} -gt 100 ]; then s=/run/chaos-run-lab-$(printf '%s' "$state" | sha256sum | cut -c1-12)/containerd.sock; fi
  echo "$s"
}

ctr_lab() { ctr --address "$(containerd_socket)" "$@"; }
