package fault

import (
	"fmt"
	"strings"

	"chaos-run/agent/firewall"
	"chaos-run/agent/protocol"
)

// Partition is the partition fault kind: DROP rules in a chain of the fault's own.
type Partition struct{}

type partitionHeld struct {
	p        firewall.Partition
	backend  firewall.Backend
	families []int
	detail   string
}

func (h *partitionHeld) Kind() string      { return protocol.KindPartition }
func (h *partitionHeld) Interface() string { return h.p.Iface }
func (h *partitionHeld) Families() []int   { return h.families }
func (h *partitionHeld) Detail() string    { return h.detail }

func (h *partitionHeld) Objects() []protocol.KernelObject {
	var out []protocol.KernelObject
	for _, f := range h.families {
		out = append(out, h.p.Objects(f)...)
	}
	return out
}

func (h *partitionHeld) Check(env *Env) (string, error) {
	var words []string
	for _, f := range h.families {
		rs, err := firewall.Read(env.Ctx, env.Exec, h.backend, f)
		if err != nil {
			return "", err
		}
		d, err := h.p.Verify(rs)
		if err != nil {
			return "", err
		}
		words = append(words, d)
	}
	h.detail = fmt.Sprintf("partition on %s (%s): %s", h.p.Iface, h.backend, strings.Join(words, "; "))
	return h.detail, nil
}

func (h *partitionHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	var remaining []protocol.KernelObject
	var words []string
	for i := len(h.families) - 1; i >= 0; i-- {
		r, d := firewall.RevertChain(env.Ctx, env.Exec, h.backend, h.families[i], "filter", firewall.ChainName(h.p.FaultID))
		remaining = append(remaining, r...)
		words = append(words, d)
	}
	return remaining, strings.Join(words, "; ")
}

// Apply implements Kind.
func (Partition) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	fail := func(code, format string, a ...any) Outcome {
		return Outcome{Err: &protocol.ReplyError{Code: code, Message: fmt.Sprintf(format, a...)}}
	}
	iface, families, backend, chain, rerr := env.chainTarget(f.ID, spec.Interface, spec.Scope, "there is nothing to partition")
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	for _, fam := range families {
		rs, err := firewall.Read(env.Ctx, env.Exec, backend, fam)
		if err != nil {
			return fail(protocol.ErrApplyFailed, "%v", err)
		}
		if len(firewall.Present(rs, "filter", chain)) > 0 {
			if len(env.Claims.Unanswered) > 0 {
				a := env.Claims.Unanswered[0]
				return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrConflict, Owner: &protocol.Owner{Agent: a, FaultID: f.ID},
					Message: fmt.Sprintf("chain %s exists, and agent %s did not say what it holds; it may be its, so it is left alone", chain, a)}}
			}
			return fail(protocol.ErrApplyFailed, "IPv%d chain %s exists already and no live agent holds it; it could not be reverted as an orphan", fam, chain)
		}
	}
	held := &partitionHeld{p: firewall.Partition{FaultID: f.ID, Iface: iface, Scope: spec.Scope}, backend: backend}
	tx := held.p.ApplyTransaction()
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
