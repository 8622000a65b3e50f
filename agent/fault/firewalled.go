package fault

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// firewallHeld is what a firewall fault (partition, http) holds whichever firewall holds it: the
// interface and the address families it covers, its last read-back in words, and either its
// nftables table, which the kernel ends by itself once the lease is not renewed, or — on the
// iptables fallback — the backend its chains are in, which need an agent to end them. The kinds
// embed it and add what is theirs (the rules' meaning, the proxy).
type firewallHeld struct {
	faultID  string
	iface    string
	families []int
	detail   string
	// nft is the fault's table, as made (nil: the iptables fallback, in backend)
	nft     *kernel.NftTable
	backend firewall.Backend
}

func (w *firewallHeld) Interface() string { return w.iface }
func (w *firewallHeld) Families() []int   { return w.families }
func (w *firewallHeld) Detail() string    { return w.detail }

// ExpiresInKernel implements Expiring.
func (w *firewallHeld) ExpiresInKernel() bool { return w.nft != nil }

// Firewall implements Firewalled.
func (w *firewallHeld) Firewall() string { return firewallOf(w.nft != nil, w.backend) }

// RenewInKernel implements Expiring.
func (w *firewallHeld) RenewInKernel(env *Env, lease time.Duration) error {
	if w.nft == nil {
		return nil
	}
	return firewall.NftRenew(env.Exec, env.Kernel, w.nft.NftRef, w.iface, lease)
}

// objects are the table's objects, or each family's chains as perFamily names them.
func (w *firewallHeld) objects(perFamily func(family int) []protocol.KernelObject) []protocol.KernelObject {
	if w.nft != nil {
		return firewall.NftObjects(w.nft)
	}
	var out []protocol.KernelObject
	for _, f := range w.families {
		out = append(out, perFamily(f)...)
	}
	return out
}

// readBack reads the fault's rules back: the table over netlink (found), or each family's
// rules with iptables-save, verify saying what it finds there (words: all families'), or the
// first problem.
func (w *firewallHeld) readBack(env *Env, verify func(*firewall.Ruleset) (string, error)) (found firewall.NftFound, words string, err error) {
	if w.nft != nil {
		found, err = firewall.NftVerify(env.Kernel, w.nft, w.iface)
		return found, "", err
	}
	var all []string
	for _, f := range w.families {
		rs, err := firewall.Read(env.Ctx, env.Exec, w.backend, f)
		if err != nil {
			return found, "", err
		}
		d, err := verify(rs)
		if err != nil {
			return found, "", err
		}
		all = append(all, d)
	}
	return found, strings.Join(all, "; "), nil
}

// revertChains reverts the fault's iptables chain (and its jumps) in table, last family first:
// what is left, and each family's words.
func (w *firewallHeld) revertChains(env *Env, table string) (remaining []protocol.KernelObject, words []string) {
	for i := len(w.families) - 1; i >= 0; i-- {
		r, d := firewall.RevertChain(env.Ctx, env.Exec, w.backend, w.families[i], table, firewall.ChainName(w.faultID))
		remaining = append(remaining, r...)
		words = append(words, d)
	}
	return remaining, words
}

// makeTable makes a fault's table in one transaction; viaNft is false when nf_tables cannot
// hold it here (nothing was made: the fault falls back to iptables).
func makeTable(env *Env, t *kernel.NftTable) (viaNft bool, rerr *protocol.ReplyError) {
	err := firewall.NftCreate(env.Exec, env.Kernel, t)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kernel.ErrNoNftables):
		return false, nil
	}
	// a transaction is all or nothing: a failed one left nothing
	return true, &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: fmt.Sprintf("nftables table %s: %v; nothing was changed", t.NftRef, err)}
}

// expiringHeld is a held fault the kernel ends by itself.
type expiringHeld interface {
	Held
	Expiring
}

// heldFromNow reads back a fault whose table was made at made. The agent's lease runs from now
// on: if what came after the table (reading back, resetting connections) took a good part of
// the margin, the kernel's copy of the lease starts again from now too, so that it cannot end
// before the agent's.
func heldFromNow(env *Env, held expiringHeld, made time.Time, lease time.Duration) Outcome {
	if _, err := held.Check(env); err != nil {
		return rollback(env, held, protocol.ErrVerifyFailed, "read back: "+err.Error())
	}
	if time.Since(made) > firewall.ExpiryMargin/4 {
		if err := held.RenewInKernel(env, lease); err != nil {
			return rollback(env, held, protocol.ErrApplyFailed, "renewing the kernel's lease after a slow read-back: "+err.Error())
		}
	}
	return Outcome{Held: held}
}

// existing refuses to make what is there already under the fault's name (what): a live agent
// that did not answer may hold it; else it is a gone agent's that the orphan scan could not
// revert.
func existing(env *Env, faultID, what string) Outcome {
	if len(env.Claims.Unanswered) > 0 {
		a := env.Claims.Unanswered[0]
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &protocol.Owner{Agent: a, FaultID: faultID},
			Message: fmt.Sprintf("%s exists, and agent %s did not say what it holds; it may be its, so it is left alone", what, a)}}
	}
	return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: what + " exists already and no live agent holds it; it could not be reverted as an orphan"}}
}

// Expiring is a held fault that the kernel ends by itself when its lease is not renewed (a
// partition or an http fault held through nftables): the agent gives the kernel each renewal
// too. Faults that are not (netem: a qdisc has no timeout; the iptables fallback) need an agent
// to end them: this one at its lease's lapse or its TTL, or another one's orphan scan.
type Expiring interface {
	ExpiresInKernel() bool
	// RenewInKernel moves the kernel's end of the fault to lease (+ a margin) from now.
	RenewInKernel(env *Env, lease time.Duration) error
}

// RenewInKernel gives the kernel a held fault's new lease, if the kernel holds one; the agent
// calls it with each renewal it accepts.
func RenewInKernel(env *Env, held Held, lease time.Duration) error {
	if e, ok := held.(Expiring); ok && e.ExpiresInKernel() {
		return e.RenewInKernel(env, lease)
	}
	return nil
}

func familyWords(families []int) string {
	var w []string
	for _, f := range families {
		w = append(w, fmt.Sprintf("IPv%d", f))
	}
	return strings.Join(w, "+")
}

// firewallOf names what holds a firewall fault's rules (AgentInfo.Firewall).
func firewallOf(nft bool, backend firewall.Backend) string {
	switch {
	case nft:
		return protocol.FirewallNftables
	case backend == firewall.NFT:
		return protocol.FirewallIptablesNft
	case backend == firewall.Legacy:
		return protocol.FirewallIptablesLegacy
	}
	return protocol.FirewallNone
}

// foundWords names a firewall object found in the namespace: `nftables table inet CHAOS-x`,
// `IPv4 nat chain CHAOS-x (iptables-legacy)`.
func foundWords(f firewall.Found) string {
	if f.Backend == firewall.Nftables {
		return "nftables table " + firewall.NftRefOf(f.Key).String()
	}
	return fmt.Sprintf("%s (iptables-%s)", f.Key, f.Backend)
}

// firewallTarget resolves what a firewall fault (partition, http: a table or chains of its own)
// works on: the interface, its address families (within scope), and the fault's name in the
// firewall — refused when the interface has no address (noAddress says why that matters) or
// when another live agent's fault owns that name. Which firewall holds the fault is found as it
// is made: nftables where nf_tables can hold its table, else the iptables backend
// (Env.Backend, detected then).
func (e *Env) firewallTarget(id, ifaceName string, scope *protocol.Scope, noAddress string) (iface string, families []int, chain string, rerr *protocol.ReplyError) {
	if iface, rerr = e.Interface(ifaceName); rerr != nil {
		return "", nil, "", rerr
	}
	if families, rerr = e.Families(iface, scope); rerr != nil {
		return "", nil, "", rerr
	}
	if len(families) == 0 {
		return "", nil, "", &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: fmt.Sprintf("%s has no IPv4 or IPv6 address: %s", iface, noAddress)}
	}
	chain = firewall.ChainName(id)
	if owner, ok := e.Claims.ChainOwner(chain); ok {
		return "", nil, "", &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &owner, Message: fmt.Sprintf("chain %s belongs to %s", chain, OwnerWords(owner, e.Agent))}
	}
	return iface, families, chain, nil
}
