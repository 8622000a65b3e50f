package service

import (
	"context"
	"fmt"
	"strings"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/netem"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

type scanWhat int

const (
	scanQdiscs scanWhat = 1 << iota
	scanChains
)

// foundChain is an orphan chain and the backend it was found in (a chain is reverted where it
// is, whatever backend this agent would pick).
type foundChain struct {
	key     ownership.ChainKey
	backend firewall.Backend
}

type orphanSet struct {
	ownership.Orphans
	chains  []foundChain
	readErr []string
}

type orphanItem struct {
	faultID string
	words   string
	qdisc   *ownership.QdiscOrphan
	chain   *foundChain
}

func (o orphanSet) list() []orphanItem {
	var out []orphanItem
	for i := range o.Qdiscs {
		q := &o.Qdiscs[i]
		w := fmt.Sprintf("qdisc %s (%s) at the root of %s, held by no live agent", q.Name(), q.Kind, q.Iface)
		if !q.Root {
			w = fmt.Sprintf("qdisc %s (%s) under %s on %s, held by no live agent", q.Name(), q.Kind, kernel.HandleString(q.Parent), q.Iface)
		}
		// a qdisc does not carry its fault id in the kernel: its handle names it
		out = append(out, orphanItem{faultID: "", words: w, qdisc: q})
	}
	for i := range o.chains {
		c := &o.chains[i]
		out = append(out, orphanItem{
			faultID: strings.TrimPrefix(c.key.Name, ownership.ChainPrefix),
			words:   fmt.Sprintf("%s (%s), held by no live agent", c.key, c.backend), chain: c,
		})
	}
	return out
}

func (o orphanSet) blockedWords() string {
	if len(o.Blocked) == 0 {
		return ""
	}
	return fmt.Sprintf(" (left alone: live agent %s did not say what it holds, it may be its)", strings.Join(o.Blocked, ", "))
}

// inventory reads the chaos-run-shaped objects of the namespace: every qdisc, and the CHAOS-
// chains of both families in every backend that has tables (reading creates none).
func (a *Agent) inventory(ctx context.Context, ex exec.Executor, what scanWhat) (ownership.Inventory, []foundChain, []string) {
	var inv ownership.Inventory
	var chains []foundChain
	var errs []string
	if what&scanQdiscs != 0 {
		qs, err := a.cfg.Kernel.Qdiscs("")
		if err != nil {
			errs = append(errs, err.Error())
		}
		inv.Qdiscs = qs
	}
	if what&scanChains != 0 {
		for _, fam := range []int{4, 6} {
			names := "/proc/net/ip_tables_names"
			if fam == 6 {
				names = "/proc/net/ip6_tables_names"
			}
			backends := []firewall.Backend{firewall.NFT}
			if b, _ := a.cfg.ReadFile(names); strings.TrimSpace(string(b)) != "" {
				backends = append(backends, firewall.Legacy)
			}
			for _, b := range backends {
				rs, err := firewall.Read(ctx, ex, b, fam)
				if err != nil {
					continue // no such backend here (iptables-nft without nf_tables)
				}
				for table, cs := range rs.ChaosChains(ownership.ChainPrefix) {
					for _, c := range cs {
						k := ownership.ChainKey{Family: fam, Table: table, Name: c}
						inv.Chains = append(inv.Chains, k)
						chains = append(chains, foundChain{key: k, backend: b})
					}
				}
			}
		}
	}
	return inv, chains, errs
}

func (a *Agent) findOrphans(ctx context.Context, ex exec.Executor, claims *ownership.Claims, what scanWhat) orphanSet {
	inv, found, errs := a.inventory(ctx, ex, what)
	o := orphanSet{Orphans: ownership.FindOrphans(inv, claims), readErr: errs}
	for _, k := range o.Orphans.Chains {
		for _, f := range found {
			if f.key == k {
				o.chains = append(o.chains, f)
			}
		}
	}
	return o
}

// revertOrphans finds and reverts the orphans (none when a live agent did not answer: those
// are reported, untouched).
func (a *Agent) revertOrphans(ctx context.Context, ex exec.Executor, claims *ownership.Claims, what scanWhat) []protocol.RevertOutcome {
	o := a.findOrphans(ctx, ex, claims, what)
	var out []protocol.RevertOutcome
	for _, item := range o.list() {
		if len(o.Blocked) > 0 {
			out = append(out, protocol.RevertOutcome{FaultID: item.faultID, Confirmed: false, Reason: protocol.ReasonOrphan,
				Detail: "not reverted: " + item.words + o.blockedWords()})
			continue
		}
		var remaining []protocol.KernelObject
		var detail string
		switch {
		case item.qdisc != nil && item.qdisc.Root:
			remaining, detail = netem.Revert(ctx, ex, a.cfg.Kernel, netem.Tree{Iface: item.qdisc.Iface, Majors: item.qdisc.Majors}, nil)
		case item.qdisc != nil:
			q := item.qdisc
			argv := []string{"tc", "qdisc", "del", "dev", q.Iface, "parent", kernel.HandleString(q.Parent), "handle", q.Name()}
			r := ex.Run(ctx, argv, "")
			detail = "removed " + q.Name() + " on " + q.Iface
			if !r.OK() {
				detail = strings.Join(argv, " ") + ": " + r.Why()
				remaining = []protocol.KernelObject{{Type: protocol.ObjQdisc, Name: q.Name(), Detail: q.Kind + " on " + q.Iface}}
			}
		case item.chain != nil:
			c := item.chain
			remaining, detail = firewall.RevertChain(ctx, ex, c.backend, c.key.Family, c.key.Table, c.key.Name)
		}
		out = append(out, protocol.RevertOutcome{FaultID: item.faultID, Confirmed: len(remaining) == 0, Reason: protocol.ReasonOrphan,
			Detail: item.words + ": " + detail, Remaining: remaining})
		a.logf("orphan %s: %s", item.words, detail)
	}
	return out
}
