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
	pid, init, err := kill.Target(k.Proc, spec.ContainerID)
	if err == nil {
		var p kill.Plan
		p, err = kill.Decide(k.Proc, pid, init, spec.Signal, spec.Container)
		if err == nil {
			err = kill.Check(k.Tracer, p)
			if err != nil {
				return p, &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: err.Error() + "; nothing was done"}
			}
			return p, nil
		}
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
	return Outcome{Held: &killHeld{p: p}}
}

// Apply implements Kind: the plan now, the signal once the reply is out.
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
