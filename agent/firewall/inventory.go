package firewall

import (
	"context"
	"errors"
	"strings"

	"github.com/google/nftables"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
)

// Found is a chaos-run firewall object found in the namespace, and where: a fault's nftables
// table (Nftables), or a CHAOS- chain of iptables (NFT, Legacy) — reverted where it is,
// whatever backend this agent would pick.
type Found struct {
	Key     ownership.ChainKey
	Backend Backend
}

// Inventory lists the chaos-run firewall objects of the namespace (reading creates none): the
// faults' nftables tables, and the CHAOS- chains of both families in every iptables backend that
// has tables. Where nf_tables answers, iptables-nft's chains are read over netlink too (they
// live in its ip and ip6 tables): no program runs; iptables-legacy's are read with
// iptables-legacy-save, only where the namespace has legacy tables.
func Inventory(ctx context.Context, ex exec.Executor, k kernel.Nftables, readFile func(string) ([]byte, error)) []Found {
	var out []Found
	refs, _ := NftTables(k)
	for _, ref := range refs {
		out = append(out, Found{Key: NftKey(ref), Backend: Nftables})
	}
	for _, fam := range []int{4, 6} {
		names := "/proc/net/ip_tables_names"
		family := nftables.TableFamilyIPv4
		if fam == 6 {
			names, family = "/proc/net/ip6_tables_names", nftables.TableFamilyIPv6
		}
		backends := []Backend{Legacy}
		if b, _ := readFile(names); strings.TrimSpace(string(b)) == "" {
			backends = nil
		}
		chains, err := k.NftChains(family)
		switch {
		case err == nil:
			for _, c := range chains {
				if strings.HasPrefix(c.Chain, ownership.ChainPrefix) {
					out = append(out, Found{Key: ownership.ChainKey{Family: fam, Table: c.Table, Name: c.Chain}, Backend: NFT})
				}
			}
		case errors.Is(err, kernel.ErrNoNftables):
			// nf_tables does not answer: whatever iptables-nft can still say, it says
			backends = append([]Backend{NFT}, backends...)
		}
		for _, b := range backends {
			rs, err := Read(ctx, ex, b, fam)
			if err != nil {
				continue // no such backend here (iptables-nft without nf_tables)
			}
			for table, cs := range rs.ChaosChains(ownership.ChainPrefix) {
				for _, c := range cs {
					out = append(out, Found{Key: ownership.ChainKey{Family: fam, Table: table, Name: c}, Backend: b})
				}
			}
		}
	}
	return out
}
