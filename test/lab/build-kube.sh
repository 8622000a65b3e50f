#!/usr/bin/env bash
# Builds the lab's Kubernetes binaries of $KUBERNETES_VERSION from the Go module proxy into
# $1 (a directory): the commands named after it (default: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl and kube-proxy), in one `go install` (they share most
# packages). Through a throwaway wrapper
# module: k8s.io/kubernetes replaces its staging modules with local paths, so
# `go install …@version` is refused; the wrapper requires it and replaces each staging
# module with its published v0.X.Y twin. The list comes from that version's own go.mod.
# A twin the proxy does not serve (k8s.io/endpointslice v0.32.13 answers 403 here) is
# replaced by the nearest older patch of the same minor that it does serve.
set -euo pipefail
out=$1
shift
cmds=("$@")
[ ${#cmds[@]} -gt 0 ] || cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy)
: "${KUBERNETES_VERSION:?}"
staging_version=v0.${KUBERNETES_VERSION#v1.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { echo "could not download k8s.io/kubernetes@$KUBERNETES_VERSION" >&2; exit 1; }

# served VERSION of MODULE: its zip downloads (the proxy may list a version it refuses to serve)
served() { (cd / && go mod download -json "$1@$2" 2>/dev/null) | grep -q '"Zip":'; }
twin() { # module -> the version to replace it with
  local m=$1 patch=${staging_version##*.} base=${staging_version%.*} p
  for ((p = patch; p >= 0; p--)); do
    if served "$m" "$base.$p"; then echo "$base.$p"; return 0; fi
  done
  echo "no served version of $m at or below $staging_version" >&2
  return 1
}
{
  echo "module chaosrun.lab/kubebuild"
  echo
  echo "go 1.23.0"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$gomod" |
    while read -r m; do
      v=$(twin "$m")
      [ "$v" = "$staging_version" ] || echo "build-kube: $m $staging_version is not served; using $v" >&2
      echo "	$m => $m $v"
    done
  echo ")"
} > go.mod
{
  printf '//go:build tools\n\npackage kubebuild\n\nimport (\n'
  for c in "${cmds[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'
} > tools.go
go mod tidy -e >/dev/null 2>&1 || true
# tidy drops tool imports behind a build tag on some Go versions; `go get` pins them.
go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
mkdir -p "$out"
GOBIN=$out go install -trimpath -ldflags "$ldflags" "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
