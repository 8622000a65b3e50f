// Package firewall is the firewall side of faults (partition, http): their rules as a table of
// the fault's own that nftables holds and the kernel ends by itself (nft.go, nftkernel.go); and,
// where nf_tables cannot hold it, as iptables-restore transactions (one per family, all or
// nothing) in the backend that works here (nft or legacy), read back with iptables-save, and a
// fault's chain taken down again.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"chaos-run/agent/exec"
)

// Backend is the iptables flavour that works in this network namespace.
type Backend string

// Backends. NFT and Legacy are iptables' (programs the agent runs: iptables-nft, iptables-legacy);
// Nftables is nf_tables itself, over netlink (what a partition uses wherever nf_tables answers),
// for the objects found in it.
const (
	NFT      Backend = "nft"
	Legacy   Backend = "legacy"
	Nftables Backend = "nftables"
)

func prefix(family int) string {
	if family == 6 {
		return "ip6tables"
	}
	return "iptables"
}

// Tool is iptables-<backend> (ip6tables-… for IPv6).
func (b Backend) Tool(family int) string { return prefix(family) + "-" + string(b) }

// Restore is the family's iptables-<backend>-restore.
func (b Backend) Restore(family int) string { return b.Tool(family) + "-restore" }

// Save is the family's iptables-<backend>-save.
func (b Backend) Save(family int) string { return b.Tool(family) + "-save" }

// ErrNoBackend: neither backend can make a chain here.
var ErrNoBackend = errors.New("no working iptables backend (neither iptables-nft nor iptables-legacy can make a chain here; the agent needs NET_ADMIN)")

// DetectOrder is the order backends are tried in. Like kube-proxy's wrapper, prefer the one that
// already holds rules: legacy when this namespace has legacy tables (/proc/net/ip_tables_names
// is not empty), else nft, then legacy.
func DetectOrder(ipTablesNames []byte) []Backend {
	if strings.TrimSpace(string(ipTablesNames)) != "" {
		return []Backend{Legacy, NFT}
	}
	return []Backend{NFT, Legacy}
}

// Detect finds the backend that works: one counts only if it can make (and remove) a chain,
// since iptables-nft lists rules even where the kernel has no nf_tables and fails only when it
// writes. probe names the throw-away chain (lowercase, so no orphan scan mistakes it for a
// fault's).
func Detect(ctx context.Context, ex exec.Executor, readFile func(string) ([]byte, error), probe string) (Backend, error) {
	names, _ := readFile("/proc/net/ip_tables_names")
	var why []string
	for _, b := range DetectOrder(names) {
		r := ex.Run(ctx, []string{b.Tool(4), "-w", "-N", probe}, "")
		if !r.OK() {
			why = append(why, fmt.Sprintf("%s: %s", b.Tool(4), r.Why()))
			continue
		}
		ex.Run(ctx, []string{b.Tool(4), "-w", "-X", probe}, "")
		return b, nil
	}
	return "", fmt.Errorf("%w: %s", ErrNoBackend, strings.Join(why, "; "))
}

// ReadFile is os.ReadFile (the real readFile for Detect).
func ReadFile(p string) ([]byte, error) { return os.ReadFile(p) }
