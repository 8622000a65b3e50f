# Shared by the lab's scripts: where things are, and small helpers.
# shellcheck shell=bash
lab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$lab_here/../.." && pwd)
set -a; . "$lab_here/versions.env"; set +a
cache_root=${CHAOS_RUN_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaos-run-lab}
cache=$cache_root/$KUBERNETES_VERSION-kwok-$KWOK_VERSION
labbin=$cache/bin
state=${CHAOS_RUN_LAB_DIR:-$repo/.lab}
# Loopback ports; override when they clash with something on the machine.
ETCD_PORT=${CHAOS_RUN_LAB_ETCD_PORT:-23790}
APISERVER_PORT=${CHAOS_RUN_LAB_APISERVER_PORT:-16443}
KUBELET_PORT=${CHAOS_RUN_LAB_KUBELET_PORT:-10250}
NODE_NAME=lab-node

say() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# pid of a lab component if it is alive, else nothing
lab_pid() {
  local f=$state/run/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

kubectl_lab() { "$labbin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# The harness, bundled into one file (fast to start, also inside UML where every
# file read costs); rebuilt when its sources or the lockfile are newer.
harness_js=$repo/.lab/build/harness.mjs
build_harness() {
  if [ -f "$harness_js" ] && [ -z "$(find "$lab_here/harness" "$repo/package-lock.json" -newer "$harness_js" -print -quit)" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$harness_js")"
  "$repo/node_modules/.bin/esbuild" "$lab_here/harness/main.ts" --bundle --platform=node --format=esm --target=node20 \
    --outfile="$harness_js.tmp" --log-level=warning \
    --banner:js="import { createRequire as __labRequire } from 'node:module'; const require = __labRequire(import.meta.url);"
  mv "$harness_js.tmp" "$harness_js"
}
