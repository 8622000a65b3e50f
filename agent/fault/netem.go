package fault

import (
	"errors"
	"fmt"

	"chaos-run/agent/kernel"
	"chaos-run/agent/netem"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Netem is the netem fault kind.
type Netem struct{}

type netemHeld struct {
	layout   netem.Layout
	params   *protocol.NetemParams
	families []int
	detail   string
}

func (h *netemHeld) Kind() string                     { return protocol.KindNetem }
func (h *netemHeld) Interface() string                { return h.layout.Iface }
func (h *netemHeld) Families() []int                  { return h.families }
func (h *netemHeld) Objects() []protocol.KernelObject { return h.layout.Objects() }
func (h *netemHeld) Detail() string                   { return h.detail }

func (h *netemHeld) Check(env *Env) (string, error) {
	d, err := netem.Verify(env.Kernel, h.layout, h.params)
	if err == nil {
		h.detail = d
	}
	return d, err
}

func (h *netemHeld) tree() netem.Tree {
	t := netem.Tree{Iface: h.layout.Iface, Majors: []uint16{h.layout.Major}}
	if netem.Scoped(h.layout.Scope) {
		t.Majors = append(t.Majors, h.layout.Major+1)
	}
	return t
}

func (h *netemHeld) Revert(env *Env) ([]protocol.KernelObject, string) {
	return netem.Revert(env.Exec, env.Kernel, h.tree(), h.layout.Foreign)
}

// Apply implements Kind.
func (Netem) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	fail := func(code, format string, a ...any) Outcome {
		return Outcome{Err: &protocol.ReplyError{Code: code, Message: fmt.Sprintf(format, a...)}}
	}
	iface, rerr := env.Interface(spec.Interface)
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	params, err := netem.Encode(spec.Netem)
	if err != nil {
		return fail(protocol.ErrBadRequest, "%v", err)
	}
	families, rerr := env.Families(iface, spec.Scope)
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	if netem.Scoped(spec.Scope) && len(families) == 0 {
		return fail(protocol.ErrApplyFailed, "%s has no IPv4 or IPv6 address to scope netem to", iface)
	}
	all, err := env.Kernel.Qdiscs("")
	if err != nil {
		return fail(protocol.ErrInternal, "%v", err)
	}
	var mine []kernel.Qdisc
	used := map[uint16]bool{}
	for _, q := range all {
		used[q.Major()] = true
		if q.Iface == iface {
			mine = append(mine, q)
		}
	}
	foreign, out := keepRoot(env, iface, netem.RootOf(mine))
	if out != nil {
		return *out
	}
	major, err := ownership.Allocate(used, env.Claims, netem.Majors(spec.Scope))
	if err != nil {
		return fail(protocol.ErrApplyFailed, "%v", err)
	}
	held := &netemHeld{
		layout:   netem.Layout{Iface: iface, Major: major, Params: params, Scope: spec.Scope, Families: families, Foreign: foreign},
		params:   spec.Netem,
		families: families,
	}
	if i, err := netem.Apply(env.Exec, env.Kernel, held.layout); err != nil {
		if foreign != nil && i == 1 {
			return rollback(env, held, protocol.ErrUnrestorable, fmt.Sprintf(
				"the kernel refused to keep %s's root qdisc %s under chaos-run's %s (%v); chaos-run does not delete it to apply this fault",
				iface, foreign.Shown(), rootWords(held.layout), errors.Unwrap(err)))
		}
		return rollback(env, held, protocol.ErrApplyFailed, err.Error())
	}
	detail, err := held.Check(env)
	if err != nil {
		var mm *netem.MismatchError
		if errors.As(err, &mm) {
			return rollback(env, held, protocol.ErrUnrestorable, fmt.Sprintf(
				"%s's root qdisc %s does not read back the same once re-created (%v); chaos-run could not restore it exactly, so it does not take it", iface, kernel.HandleString(foreign.Handle), err))
		}
		return rollback(env, held, protocol.ErrVerifyFailed, "read back: "+err.Error())
	}
	held.detail = detail
	return Outcome{Held: held}
}

// keepRoot says what becomes of the interface's root qdisc: nothing (the kernel's default), a
// foreign root kept under the fault's tree, or a refusal — a root of another agent's fault, or
// one that cannot be restored exactly.
func keepRoot(env *Env, iface string, rs netem.RootState) (*netem.Foreign, *Outcome) {
	if rs.Root == nil || rs.Root.IsDefault() {
		return nil, nil
	}
	refuse := func(e *protocol.ReplyError) (*netem.Foreign, *Outcome) { return nil, &Outcome{Err: e} }
	h := kernel.HandleString(rs.Root.Handle)
	if m := rs.Root.Major(); ownership.InRange(m) {
		if owner, ok := env.Claims.MajorOwner(m); ok {
			return refuse(&protocol.ReplyError{Code: protocol.ErrConflict, Owner: &owner,
				Message: fmt.Sprintf("%s's root qdisc %s belongs to %s; chaos-run does not stack two netem faults on one interface", iface, h, OwnerWords(owner, env.Agent))})
		}
		if len(env.Claims.Unanswered) > 0 {
			a := env.Claims.Unanswered[0]
			return refuse(&protocol.ReplyError{Code: protocol.ErrConflict, Owner: &protocol.Owner{Agent: a},
				Message: fmt.Sprintf("%s's root qdisc %s was made by a chaos-agent, and agent %s did not say what it holds; it may be its, so it is left alone", iface, h, a)})
		}
		return refuse(&protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: fmt.Sprintf("%s's root qdisc %s is left by a gone agent and could not be reverted (see the orphans)", iface, h)})
	}
	filters, err := env.Kernel.Filters(iface, rs.Root.Handle)
	if err != nil {
		return refuse(&protocol.ReplyError{Code: protocol.ErrInternal, Message: err.Error()})
	}
	rs.Filters = len(filters)
	if err := netem.CheckRestorable(iface, rs); err != nil {
		return refuse(&protocol.ReplyError{Code: protocol.ErrUnrestorable, Message: err.Error()})
	}
	return netem.ForeignOf(*rs.Root), nil
}

// rollback undoes a failed apply and says how that went: the error is the apply's when nothing
// remains, revert-incomplete (with the fault still held, for retries) when something does.
func rollback(env *Env, held Held, code, why string) Outcome {
	remaining, detail := held.Revert(env)
	out := &protocol.RevertOutcome{Confirmed: len(remaining) == 0, Reason: protocol.ReasonApplyFailed, Detail: detail, Remaining: remaining}
	if len(remaining) == 0 {
		return Outcome{Err: &protocol.ReplyError{Code: code, Message: why + "; rolled back: " + detail}, Rollback: out}
	}
	return Outcome{Held: held, Rollback: out, Err: &protocol.ReplyError{Code: protocol.ErrRevertIncomplete,
		Message: why + "; rolling back did not complete: " + detail}}
}

func rootWords(l netem.Layout) string {
	if netem.Scoped(l.Scope) {
		return "prio " + kernel.HandleString(kernel.MakeHandle(l.Major, 0))
	}
	return "netem " + kernel.HandleString(kernel.MakeHandle(l.Major, 0))
}
