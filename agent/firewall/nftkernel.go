package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// nftScript is the command line of a change the agent makes as one nftables transaction.
var nftScript = []string{"nft", "-f", "-"}

// NftCreate makes a table (one transaction) and records it in ex as `nft -f -` with its script.
func NftCreate(ex exec.Executor, k kernel.Nftables, t *kernel.NftTable) error {
	start := time.Now()
	err := k.NftCreate(t)
	return exec.Done(ex, nftScript, t.CreateScript(), time.Since(start), err)
}

// NftRenew gives the kernel a fault's new lease: the lease set's element is replaced, with a
// timeout of lease + ExpiryMargin from now, in one transaction.
func NftRenew(ex exec.Executor, k kernel.Nftables, ref kernel.NftRef, iface string, lease time.Duration) error {
	s := LeaseElements(iface, lease)
	start := time.Now()
	err := k.NftRenew(ref, s)
	return exec.Done(ex, nftScript, kernel.RenewScript(ref, s), time.Since(start), err)
}

// NftKey is how ownership names a fault's table: as a chain of the fault's name in the table
// family (the claims and the orphan scan compare these).
func NftKey(ref kernel.NftRef) ownership.ChainKey {
	return ownership.ChainKey{Table: kernel.FamilyName(ref.Family), Name: ref.Name}
}

// NftRefOf is the table an ownership key names (NftKey's inverse).
func NftRefOf(k ownership.ChainKey) kernel.NftRef {
	for _, f := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyARP, nftables.TableFamilyBridge, nftables.TableFamilyNetdev} {
		if kernel.FamilyName(f) == k.Table {
			return kernel.NftRef{Family: f, Name: k.Name}
		}
	}
	return kernel.NftRef{Family: nftables.TableFamilyINet, Name: k.Name}
}

// NftTableObject is the reply's object for a fault's table (a peer claims the table by it).
func NftTableObject(ref kernel.NftRef, detail string) protocol.KernelObject {
	k := NftKey(ref)
	return protocol.KernelObject{Type: protocol.ObjTable, Name: k.Name, Table: k.Table, Detail: detail}
}

// NftObjects are what a partition made, as the reply names them: its table, and each rule in
// nft's words.
func NftObjects(t *kernel.NftTable) []protocol.KernelObject {
	var chains []string
	for _, c := range t.Chains {
		chains = append(chains, c.Name)
	}
	out := []protocol.KernelObject{NftTableObject(t.NftRef, fmt.Sprintf("nftables table %s: set %s, chains %s; it ends by itself once @%s is empty (the lease's timeout)",
		t.NftRef, LeaseSet, strings.Join(chains, " and "), LeaseSet))}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			out = append(out, protocol.KernelObject{Type: protocol.ObjRule, Name: fmt.Sprintf("add rule %s %s %s", t.NftRef, c.Name, r.Text), Table: kernel.FamilyName(t.Family)})
		}
	}
	return out
}

// ErrLeaseLapsedInKernel: the table is there but its lease element is not: the kernel ended
// the fault (nobody renewed it in time).
var ErrLeaseLapsedInKernel = errors.New("its lease lapsed in the kernel (no element in @" + LeaseSet + "): the rules match nothing")

// NftFound is what NftVerify read back of a fault's table.
type NftFound struct {
	// Left is what is left of the kernel's lease: the fault ends by itself after it.
	Left time.Duration
	// Packets is what the table's rules counted so far.
	Packets uint64
	// Rules says, per chain, how many rules of the kind made were found: "4 in output".
	Rules []string
}

// Ends is the kernel's end of the fault in words.
func (f NftFound) Ends() string {
	return fmt.Sprintf("the kernel ends it by itself in %s unless the lease is renewed", f.Left.Round(100*time.Millisecond))
}

// ruleKind is what a rule does, as its last expression says (drop, return, a redirect, a
// reject): what a rule read back is compared by (the kernel gives expressions back in its own
// form: counters with their counts, lookups with set ids).
func ruleKind(r kernel.NftRule) string {
	if len(r.Exprs) == 0 {
		return ""
	}
	last := r.Exprs[len(r.Exprs)-1]
	if v, ok := last.(*expr.Verdict); ok {
		return fmt.Sprintf("verdict %d", v.Kind)
	}
	return fmt.Sprintf("%T", last)
}

// NftVerify reads a fault's table back against the one made: the interface in the lease set,
// and each base chain hooked, with at least as many rules of each kind as it was given.
func NftVerify(k kernel.Nftables, want *kernel.NftTable, iface string) (NftFound, error) {
	var found NftFound
	got, err := k.NftRead(want.NftRef)
	if err != nil {
		return found, err
	}
	leased := false
	for _, s := range got.Sets {
		for _, e := range s.Elements {
			if s.Name == LeaseSet && bytes.Equal(e.Key, kernel.IfnameKey(iface)) {
				leased, found.Left = true, e.Expires
			}
		}
	}
	if !leased {
		return found, fmt.Errorf("table %s: %w", want.NftRef, ErrLeaseLapsedInKernel)
	}
	for _, wc := range want.Chains {
		i := slices.IndexFunc(got.Chains, func(c kernel.NftChain) bool { return c.Name == wc.Name })
		if i < 0 || got.Chains[i].Hook != wc.Hook || got.Chains[i].Type != wc.Type {
			return found, fmt.Errorf("table %s: no base chain %s", want.NftRef, wc.Name)
		}
		kinds := map[string]int{}
		for _, r := range got.Chains[i].Rules {
			kinds[ruleKind(r)]++
			for _, e := range r.Exprs {
				if c, ok := e.(*expr.Counter); ok {
					found.Packets += c.Packets
				}
			}
		}
		for _, r := range wc.Rules {
			if kinds[ruleKind(r)]--; kinds[ruleKind(r)] < 0 {
				return found, fmt.Errorf("table %s chain %s: %d rules made, fewer found (%s)", want.NftRef, wc.Name, len(wc.Rules), ruleKind(r))
			}
		}
		found.Rules = append(found.Rules, fmt.Sprintf("%d in %s", len(wc.Rules), wc.Name))
	}
	return found, nil
}

// NftReplaceRules replaces the rules of some of a table's chains (one transaction) and records
// it in ex as `nft -f -` with its script.
func NftReplaceRules(ex exec.Executor, k kernel.Nftables, ref kernel.NftRef, chains []kernel.NftChain) error {
	start := time.Now()
	err := k.NftReplaceRules(ref, chains)
	return exec.Done(ex, nftScript, kernel.ReplaceScript(ref, chains), time.Since(start), err)
}

// NftRevert removes a fault's table and reads back: remaining is what is still there.
func NftRevert(ex exec.Executor, k kernel.Nftables, ref kernel.NftRef) (remaining []protocol.KernelObject, detail string) {
	start := time.Now()
	err := k.NftDelete(ref)
	exec.Done(ex, kernel.DeleteArgv(ref), "", time.Since(start), err)
	gone := errors.Is(err, kernel.ErrNoTable)
	if _, rerr := k.NftRead(ref); !errors.Is(rerr, kernel.ErrNoTable) {
		why := "it is still there"
		switch {
		case rerr != nil:
			why = "cannot read it back: " + rerr.Error()
		case err != nil:
			why = err.Error()
		}
		return []protocol.KernelObject{NftTableObject(ref, why)}, fmt.Sprintf("table %s not removed: %s", ref, why)
	}
	if gone {
		return nil, fmt.Sprintf("table %s: nothing there", ref)
	}
	return nil, fmt.Sprintf("table %s removed", ref)
}

// NftTables lists the CHAOS- tables of the namespace (every family): what the orphan scan
// compares with the claims. An error: nf_tables does not answer here.
func NftTables(k kernel.Nftables) ([]kernel.NftRef, error) {
	all, err := k.NftTables()
	if err != nil {
		return nil, err
	}
	var out []kernel.NftRef
	for _, r := range all {
		if strings.HasPrefix(r.Name, ownership.ChainPrefix) {
			out = append(out, r)
		}
	}
	return out, nil
}
