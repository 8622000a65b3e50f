#!/usr/bin/env bash
# Builds the lab's CoreDNS $COREDNS_VERSION from the Go module proxy into $1 (a file): the
# program of test/lab/images/coredns/main.go, which imports only the plugins the lab's Corefile
# uses, in a throwaway module that requires github.com/coredns/coredns at that version (its own
# go.mod pins the rest; go.sum is checked against the checksum database). Static
# (CGO_ENABLED=0): the image holds the binary alone.
set -euo pipefail
out=$1
: "${COREDNS_VERSION:?}"
src=$(cd "$(dirname "$0")/images/coredns" && pwd)/main.go
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
cp "$src" main.go
printf 'module chaosrun.lab/corednsbuild\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" > go.mod
go mod tidy >/dev/null
mkdir -p "$(dirname "$out")"
go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" -o "$out.tmp" .
mv "$out.tmp" "$out"
