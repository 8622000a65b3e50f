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
		words := fmt.Sprintf("%s (%s), held by no live agent", c.key, c.backend)
		if c.backend == firewall.Nftables {
			words = fmt.Sprintf("nftables table %s %s, held by no live agent", c.key.Table, c.key.Name)
		}
		out = append(out, orphanItem{faultID: strings.TrimPrefix(c.key.Name, ownership.ChainPrefix), words: words, chain: c})
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
		for _, f := range firewall.Inventory(ctx, ex, a.cfg.Kernel, a.cfg.ReadFile) {
			inv.Chains = append(inv.Chains, f.Key)
			chains = append(chains, foundChain{key: f.Key, backend: f.Backend})
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
			remaining, detail = netem.Revert(ex, a.cfg.Kernel, netem.Tree{Iface: item.qdisc.Iface, Majors: item.qdisc.Majors}, nil)
		case item.qdisc != nil:
			q := item.qdisc
			detail = "removed " + q.Name() + " on " + q.Iface
			if err := netem.DeleteQdisc(ex, a.cfg.Kernel, q.Iface, q.Parent, kernel.MakeHandle(q.Majors[0], 0)); err != nil {
				detail = err.Error()
				remaining = []protocol.KernelObject{{Type: protocol.ObjQdisc, Name: q.Name(), Detail: q.Kind + " on " + q.Iface}}
			}
		case item.chain != nil && item.chain.backend == firewall.Nftables:
			remaining, detail = firewall.NftRevertOrphan(ex, a.cfg.Kernel, firewall.NftRefOf(item.chain.key))
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
