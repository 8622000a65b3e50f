package service

import (
	"context"
	"fmt"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/protocol"
)

// handleApply applies a fault: one that touches the network namespace with the pod's lock
// taken and an orphan scan first; a local one (stress, kill) without either.
func (a *Agent) handleApply(ctx context.Context, req *protocol.Request, then *func()) *protocol.Reply {
	kind, known := a.cfg.Kinds[req.Fault.Spec.Kind]
	if _, local := kind.(fault.Local); known && local {
		return a.serially(req, func() *protocol.Reply {
			if r := a.refuseReverted(req); r != nil {
				return r
			}
			return a.applyLocal(ctx, req, kind, then)
		})
	}
	if req.DryRun {
		return failed(a.reply(protocol.OpApply, nil), &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "a dry run is offered only by kill faults"})
	}
	if !known {
		return failed(a.reply(protocol.OpApply, nil), &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "this agent does not know fault kind " + req.Fault.Spec.Kind})
	}
	release, lerr := a.lock(ctx)
	if lerr != nil {
		return failed(a.reply(protocol.OpApply, nil), lerr)
	}
	defer release()
	return a.serially(req, func() *protocol.Reply {
		// under the request lock: a revert of this id, if one came first, is in the books
		if r := a.refuseReverted(req); r != nil {
			return r
		}
		return a.apply(ctx, req, kind)
	})
}

// refuseReverted refuses the apply of a fault this agent already reverted — or was asked to
// revert before the apply reached it: a runner's ledger reverts entries whose apply is still
// on its way (an exec that timed out, an interrupt), and `chaos-agent request` may deliver that
// apply later; installed then, the fault would be in effect after it was reported reverted.
// A dry run changes nothing and is let through.
func (a *Agent) refuseReverted(req *protocol.Request) *protocol.Reply {
	if req.DryRun {
		return nil
	}
	ended, was := a.books.ended(req.Fault.ID)
	if !was {
		return nil
	}
	a.logf("apply %s refused: it was reverted (%s) %s ago", req.Fault.ID, ended.Reason, a.cfg.Clock.Now().Sub(ended.At).Round(time.Millisecond))
	return failed(a.reply(protocol.OpApply, nil), &protocol.ReplyError{Code: protocol.ErrReverted,
		Message: fmt.Sprintf("fault %s was reverted (%s) %s ago, before this apply reached the agent: a fault id reported reverted is never applied again; nothing was done",
			req.Fault.ID, ended.Reason, a.cfg.Clock.Now().Sub(ended.At).Round(time.Millisecond))})
}

// apply applies a fault that touches the network namespace. Call with the pod's lock taken and
// under the request lock.
func (a *Agent) apply(ctx context.Context, req *protocol.Request, kind fault.Kind) *protocol.Reply {
	f := *req.Fault
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpApply, nil)
	if rec := a.books.get(f.ID); rec != nil {
		r = a.applyAgain(ctx, log, r, rec)
		// what applied it and what it found, then what read it back now
		if first := rec.applied; first != nil && r.OK {
			r.Orphans = first.Orphans
			r.Commands = append(append([]protocol.CommandRun{}, first.Commands...), log.Runs()...)
		} else {
			r.Commands = log.Runs()
		}
		return r
	}
	defer func() {
		r.Commands = log.Runs()
		if rec := a.books.get(f.ID); rec != nil && rec.applied == nil && r.OK {
			rec.applied = &protocol.Reply{Commands: r.Commands, Orphans: r.Orphans}
		}
	}()
	claims := a.claims(ctx)
	scan := scanQdiscs
	if f.Spec.Kind == protocol.KindPartition || f.Spec.Kind == protocol.KindHTTP || f.Spec.Kind == protocol.KindGRPC || f.Spec.Kind == protocol.KindDNS {
		scan = scanChains
	}
	r.Orphans = append(a.books.takeUntold(), a.revertOrphans(ctx, log, claims, scan)...)
	out := kind.Apply(a.env(ctx, log, claims), f)
	if out.Rollback != nil {
		out.Rollback.FaultID, out.Rollback.RunID, out.Rollback.Agent = f.ID, req.RunID, a.cfg.Name
		r.Reverted = append(r.Reverted, *out.Rollback)
	}
	if out.Held != nil {
		st := a.keep(req, out)
		r.Fault = &st
	}
	if out.Err != nil {
		a.logf("apply %s (%s) failed: %s", f.ID, f.Spec.Kind, out.Err.Message)
		return failed(r, out.Err)
	}
	a.logf("applied %s: %s (lease %dms)", f.ID, out.Held.Detail(), f.LeaseMs)
	return r
}

// applyAgain answers the apply of a fault held already: idempotent, the fault as it stands —
// unless its revert is under way.
func (a *Agent) applyAgain(ctx context.Context, log *exec.Log, r *protocol.Reply, rec *record) *protocol.Reply {
	if rec.pending {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrApplyFailed,
			Message: fmt.Sprintf("fault %s is being reverted (%s) and its revert is not complete; it cannot be applied again until it is", rec.id, rec.reason)})
	}
	if _, err := rec.held.Check(a.env(ctx, log, nil)); err != nil {
		a.logf("apply %s again: held, but the read-back says: %v", rec.id, err)
	} else {
		a.logf("apply %s again: held already, its state returned", rec.id)
	}
	st := a.books.state(rec, a.cfg.Clock.Now())
	r.Fault = &st
	return r
}

// keep records what an apply left held: the fault in effect, its lease running from now; or
// what its incomplete rollback left, whose revert is retried.
func (a *Agent) keep(req *protocol.Request, out fault.Outcome) protocol.FaultState {
	f := req.Fault
	now := a.cfg.Clock.Now()
	leaseFor := time.Duration(f.LeaseMs) * time.Millisecond
	rec := &record{id: f.ID, runID: req.RunID, held: out.Held, lease: leaseFor}
	if fw, ok := out.Held.(fault.Firewalled); ok {
		a.firewall.made(fw.Firewall())
	}
	if out.Err != nil {
		rec.pending, rec.reason, rec.retryAt = true, protocol.ReasonApplyFailed, now.Add(a.cfg.RetryEvery)
		if out.Rollback != nil {
			rec.left = out.Rollback.Remaining
		}
	}
	a.books.add(rec, now.Add(leaseFor))
	return a.books.state(rec, now)
}

// applyLocal applies a fault that touches nothing in the network namespace (stress, kill):
// no namespace lock, no orphan scan. A dry run only says how; an event (kill) is not held, and
// its deed is handed back to run once the reply is out.
func (a *Agent) applyLocal(ctx context.Context, req *protocol.Request, kind fault.Kind, then *func()) *protocol.Reply {
	f := *req.Fault
	r := a.reply(protocol.OpApply, nil)
	env := a.env(ctx, exec.NewLog(a.cfg.Exec), nil)
	if req.DryRun {
		return a.dryRun(env, req, kind, r)
	}
	now := a.cfg.Clock.Now()
	if rec := a.books.get(f.ID); rec != nil {
		st := a.books.state(rec, now)
		r.Fault = &st
		return r
	}
	out := kind.Apply(env, f)
	if out.Err != nil {
		a.logf("apply %s (%s) refused or failed: %s", f.ID, f.Spec.Kind, out.Err.Message)
		return failed(r, out.Err)
	}
	if _, event := out.Held.(fault.Event); event {
		r.Fault = a.unheldState(req, out.Held)
		a.logf("event %s: %s", f.ID, out.Held.Detail())
		if out.Then != nil {
			*then = a.deed(f.ID, out.Then)
		}
		return r
	}
	rec := &record{id: f.ID, runID: req.RunID, held: out.Held}
	a.books.add(rec, now.Add(time.Duration(f.LeaseMs)*time.Millisecond))
	st := a.books.state(rec, now)
	r.Fault = &st
	a.logf("applied %s: %s (lease %dms)", f.ID, out.Held.Detail(), f.LeaseMs)
	return r
}

// dryRun says how a fault would be applied, changing nothing (kill faults only).
func (a *Agent) dryRun(env *fault.Env, req *protocol.Request, kind fault.Kind, r *protocol.Reply) *protocol.Reply {
	dr, ok := kind.(fault.DryRunner)
	if !ok {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "a dry run is offered only by kill faults"})
	}
	out := dr.DryRun(env, *req.Fault)
	if out.Err != nil {
		return failed(r, out.Err)
	}
	r.Fault = a.unheldState(req, out.Held)
	a.logf("dry run of %s: %s", req.Fault.ID, out.Held.Detail())
	return r
}

// unheldState is the state of what is not held (a dry run, an event): no lease.
func (a *Agent) unheldState(req *protocol.Request, h fault.Held) *protocol.FaultState {
	st := a.books.state(&record{id: req.Fault.ID, runID: req.RunID, held: h}, a.cfg.Clock.Now())
	st.LeaseLeftMs = 0
	return &st
}

// deed is an event's deed (a kill), to run once the reply has reached the requester: a kill
// agent ends after it.
func (a *Agent) deed(id string, do func() error) func() {
	return func() {
		err := do()
		if err != nil {
			a.logf("event %s failed: %v", id, err)
		} else {
			a.logf("event %s done", id)
		}
		if a.cfg.ExitAfterEvent {
			a.eventErr = err
			a.end()
		}
	}
}
