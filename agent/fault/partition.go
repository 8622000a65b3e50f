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

// Partition is the partition fault kind: DROP rules of the fault's own. Where nf_tables answers,
// they are an nftables table of the fault's (firewall.NftTable), made and read over netlink,
// which the kernel ends by itself once the lease is not renewed; elsewhere (a kernel without
// nf_tables), a chain of iptables-legacy, which needs an agent to revert it.
type Partition struct{}

type partitionHeld struct {
	p        firewall.Partition
	families []int
	detail   string
	// nft is the fault's table, as made (nil: the iptables fallback, in backend)
	nft     *kernel.NftTable
	backend firewall.Backend
}

func (h *partitionHeld) Kind() string      { return protocol.KindPartition }
func (h *partitionHeld) Interface() string { return h.p.Iface }
func (h *partitionHeld) Families() []int   { return h.families }
func (h *partitionHeld) Detail() string    { return h.detail }

func (h *partitionHeld) Objects() []protocol.KernelObject {
	if h.nft != nil {
		return firewall.NftObjects(h.nft)
	}
	var out []protocol.KernelObject
	for _, f := range h.families {
		out = append(out, h.p.Objects(f)...)
	}
	return out
}

func (h *partitionHeld) Check(env *Env) (string, error) {
	if h.nft != nil {
		f, err := firewall.NftVerify(env.Kernel, h.nft, h.p.Iface)
		if err != nil {
			return "", err
		}
		h.detail = fmt.Sprintf("partition on %s (nftables, %s): table %s: drop rules (%s) while %q is in @%s, %d packets dropped so far; %s",
			h.p.Iface, familyWords(h.families), h.nft.NftRef, strings.Join(f.Rules, ", "), h.p.Iface, firewall.LeaseSet, f.Packets, f.Ends())
		return h.detail, nil
	}
	words, err := verifyIptables(env, h.backend, h.families, h.p.Verify)
	if err != nil {
		return "", err
	}
	h.detail = fmt.Sprintf("partition on %s (iptables-%s; it needs an agent to end it): %s", h.p.Iface, h.backend, words)
	return h.detail, nil
}

// verifyIptables reads each family's rules back (iptables-save) and has verify say what it
// finds there: its words for all families, or the first problem.
func verifyIptables(env *Env, backend firewall.Backend, families []int, verify func(*firewall.Ruleset) (string, error)) (string, error) {
	var words []string
	for _, f := range families {
		rs, err := firewall.Read(env.Ctx, env.Exec, backend, f)
		if err != nil {
			return "", err
		}
		d, err := verify(rs)
		if err != nil {
			return "", err
		}
		words = append(words, d)
	}
	return strings.Join(words, "; "), nil
}

func (h *partitionHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	if h.nft != nil {
		return firewall.NftRevert(env.Exec, env.Kernel, h.nft.NftRef)
	}
	var remaining []protocol.KernelObject
	var words []string
	for i := len(h.families) - 1; i >= 0; i-- {
		r, d := firewall.RevertChain(env.Ctx, env.Exec, h.backend, h.families[i], "filter", firewall.ChainName(h.p.FaultID))
		remaining = append(remaining, r...)
		words = append(words, d)
	}
	return remaining, strings.Join(words, "; ")
}

// ExpiresInKernel implements Expiring.
func (h *partitionHeld) ExpiresInKernel() bool { return h.nft != nil }

// Firewall implements Firewalled.
func (h *partitionHeld) Firewall() string { return firewallOf(h.nft != nil, h.backend) }

// RenewInKernel implements Expiring.
func (h *partitionHeld) RenewInKernel(env *Env, lease time.Duration) error {
	if h.nft == nil {
		return nil
	}
	return firewall.NftRenew(env.Exec, env.Kernel, h.nft.NftRef, h.p.Iface, lease)
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

// Apply implements Kind.
func (Partition) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	iface, families, chain, rerr := env.firewallTarget(f.ID, spec.Interface, spec.Scope, "there is nothing to partition")
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	p := firewall.Partition{FaultID: f.ID, Iface: iface, Scope: spec.Scope}
	out, viaNft := applyNft(env, p, families, time.Duration(f.LeaseMs)*time.Millisecond)
	if !viaNft {
		backend, err := env.Backend()
		if err != nil {
			return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrNoBackend, Message: err.Error()}}
		}
		return applyIptables(env, p, families, backend, chain)
	}
	return out
}

// applyNft makes the fault's table, in one transaction, and reads it back; viaNft is false when
// nf_tables cannot hold it here (nothing was made: fall back to iptables). A table of the name
// that is already there belongs to a gone agent that the orphan scan could not revert, or to a
// live one that did not answer.
func applyNft(env *Env, p firewall.Partition, families []int, lease time.Duration) (out Outcome, viaNft bool) {
	t, err := p.NftTable(families, lease)
	if err != nil {
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: err.Error()}}, true
	}
	switch _, err := env.Kernel.NftRead(t.NftRef); {
	case errors.Is(err, kernel.ErrNoNftables):
		return Outcome{}, false
	case err == nil:
		return existing(env, p.FaultID, "nftables table "+t.NftRef.String()), true
	case !errors.Is(err, kernel.ErrNoTable):
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: err.Error()}}, true
	}
	made := time.Now()
	if err := firewall.NftCreate(env.Exec, env.Kernel, t); err != nil {
		if errors.Is(err, kernel.ErrNoNftables) {
			return Outcome{}, false
		}
		// a transaction is all or nothing: a failed one left nothing
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: fmt.Sprintf("nftables table %s: %v; nothing was changed", t.NftRef, err)}}, true
	}
	return heldFromNow(env, &partitionHeld{p: p, families: families, nft: t}, made, lease), true
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

// applyIptables is the fallback where nf_tables does not answer: iptables-restore, one
// transaction per family, then read back with iptables-save.
func applyIptables(env *Env, p firewall.Partition, families []int, backend firewall.Backend, chain string) Outcome {
	fail := func(code, format string, a ...any) Outcome {
		return Outcome{Err: &protocol.ReplyError{Code: code, Message: fmt.Sprintf(format, a...)}}
	}
	for _, fam := range families {
		rs, err := firewall.Read(env.Ctx, env.Exec, backend, fam)
		if err != nil {
			return fail(protocol.ErrApplyFailed, "%v", err)
		}
		if len(firewall.Present(rs, "filter", chain)) > 0 {
			return existing(env, p.FaultID, fmt.Sprintf("IPv%d chain %s", fam, chain))
		}
	}
	held := &partitionHeld{p: p, backend: backend}
	tx := p.ApplyTransaction()
	for _, fam := range families {
		argv := firewall.RestoreArgv(backend, fam)
		r := env.Exec.Run(env.Ctx, argv, tx)
		if !r.OK() {
			if len(held.families) == 0 {
				// a transaction is all or nothing: a failed first one left nothing
				return fail(protocol.ErrApplyFailed, "%s (IPv%d): %s; nothing was changed", argv[0], fam, r.Why())
			}
			return rollback(env, held, protocol.ErrApplyFailed, fmt.Sprintf("%s (IPv%d): %s", argv[0], fam, r.Why()))
		}
		held.families = append(held.families, fam)
	}
	if _, err := held.Check(env); err != nil {
		return rollback(env, held, protocol.ErrVerifyFailed, "read back: "+err.Error())
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
