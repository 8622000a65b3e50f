package fault

import (
	"errors"
	"fmt"

	"chaos-run/agent/kill"
	"chaos-run/agent/protocol"
)

// Kill is the kill fault kind: a signal to a container's main process, from an agent that
// shares its PID namespace. An event: nothing is held.
type Kill struct {
	Proc   kill.Proc
	Tracer kill.Tracer
}

// Local implements Local.
func (Kill) Local() {}

type killHeld struct{ p kill.Plan }

func (h *killHeld) Event()                           {}
func (h *killHeld) Kind() string                     { return protocol.KindKill }
func (h *killHeld) Interface() string                { return "" }
func (h *killHeld) Families() []int                  { return nil }
func (h *killHeld) Objects() []protocol.KernelObject { return nil }
func (h *killHeld) Detail() string                   { return h.p.Words() }
func (h *killHeld) Check(*Env) (string, error)       { return h.p.Words(), nil }
func (h *killHeld) Revert(*Env) ([]protocol.KernelObject, string) {
	return nil, "a kill is an event: nothing to revert"
}

func (h *killHeld) State(st *protocol.FaultState) {
	st.Kill = &protocol.KillState{PID: h.p.PID, Process: h.p.Process, Signal: h.p.SignalName, Mechanism: h.p.Mechanism, Init: h.p.Init, Disposition: h.p.Disposition, Blocked: h.p.Blocked}
}

func (k Kill) plan(f protocol.FaultRequest) (kill.Plan, *protocol.ReplyError) {
	spec := f.Spec
	p, err := kill.Make(k.Proc, k.Tracer, spec.ContainerID, spec.Signal, spec.Container)
	if err == nil {
		return p, nil
	}
	var refusal *kill.Refusal
	if errors.As(err, &refusal) {
		return kill.Plan{}, &protocol.ReplyError{Code: protocol.ErrUnsupported, Message: refusal.Reason + "; nothing was done"}
	}
	return kill.Plan{}, &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: err.Error() + "; nothing was done"}
}

// DryRun implements DryRunner: which process, and how, without sending anything.
func (k Kill) DryRun(_ *Env, f protocol.FaultRequest) Outcome {
	p, rerr := k.plan(f)
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	kill.Close(k.Tracer, p)
	return Outcome{Held: &killHeld{p: p}}
}

// Apply implements Kind: the plan now — a pidfd on the target taken with it — and the signal,
// through that pidfd, once the reply is out: a target that exited meanwhile is not replaced by
// whatever process got its PID.
func (k Kill) Apply(_ *Env, f protocol.FaultRequest) Outcome {
	p, rerr := k.plan(f)
	if rerr != nil {
		return Outcome{Err: rerr}
	}
	return Outcome{Held: &killHeld{p: p}, Then: func() error {
		if err := kill.Do(k.Tracer, p); err != nil {
			return fmt.Errorf("%s: %v", p.Words(), err)
		}
		return nil
	}}
}
