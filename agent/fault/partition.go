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
	firewallHeld
	p firewall.Partition
}

func (h *partitionHeld) Kind() string { return protocol.KindPartition }

func (h *partitionHeld) Objects() []protocol.KernelObject { return h.objects(h.p.Objects) }

func (h *partitionHeld) Check(env *Env) (string, error) {
	found, words, err := h.readBack(env, h.p.Verify)
	if err != nil {
		return "", err
	}
	if h.nft != nil {
		h.detail = fmt.Sprintf("partition on %s (nftables, %s): table %s: drop rules (%s) while %q is in @%s, %d packets dropped so far; %s",
			h.iface, familyWords(h.families), h.nft.NftRef, strings.Join(found.Rules, ", "), h.iface, firewall.LeaseSet, found.Packets, found.Ends())
	} else {
		h.detail = fmt.Sprintf("partition on %s (iptables-%s; it needs an agent to end it): %s", h.iface, h.backend, words)
	}
	return h.detail, nil
}

func (h *partitionHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	if h.nft != nil {
		return firewall.NftRevert(env.Exec, env.Kernel, h.nft.NftRef)
	}
	remaining, words := h.revertChains(env, "filter")
	return remaining, strings.Join(words, "; ")
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
	if viaNft, rerr := makeTable(env, t); !viaNft || rerr != nil {
		return Outcome{Err: rerr}, viaNft
	}
	held := &partitionHeld{firewallHeld: firewallHeld{faultID: p.FaultID, iface: p.Iface, families: families, nft: t}, p: p}
	return heldFromNow(env, held, made, lease), true
}

// applyIptables is the fallback where nf_tables does not answer: iptables-restore, one
// transaction per family, then read back with iptables-save.
func applyIptables(env *Env, p firewall.Partition, families []int, backend firewall.Backend, chain string) Outcome {
	for _, fam := range families {
		rs, err := firewall.Read(env.Ctx, env.Exec, backend, fam)
		if err != nil {
			return failed(protocol.ErrApplyFailed, "%v", err)
		}
		if len(firewall.Present(rs, "filter", chain)) > 0 {
			return existing(env, p.FaultID, fmt.Sprintf("IPv%d chain %s", fam, chain))
		}
	}
	held := &partitionHeld{firewallHeld: firewallHeld{faultID: p.FaultID, iface: p.Iface, backend: backend}, p: p}
	tx := p.ApplyTransaction()
	for _, fam := range families {
		argv := firewall.RestoreArgv(backend, fam)
		r := env.Exec.Run(env.Ctx, argv, tx)
		if !r.OK() {
			if len(held.families) == 0 {
				// a transaction is all or nothing: a failed first one left nothing
				return failed(protocol.ErrApplyFailed, "%s (IPv%d): %s; nothing was changed", argv[0], fam, r.Why())
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
