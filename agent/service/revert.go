package service

import (
	"context"
	"fmt"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/protocol"
)

// handleRevert reverts one fault on request: with the pod's lock if it comes soon, else without
// it (a revert never waits long behind another process).
func (a *Agent) handleRevert(ctx context.Context, req *protocol.Request, then *func()) *protocol.Reply {
	release, note := a.lockForRevert(ctx)
	defer release()
	return a.serially(req, func() *protocol.Reply {
		r := a.revert(ctx, req, note)
		if a.cfg.ExitAfterEvent && r.OK {
			// a kill agent asked to revert the kill it was readied for (a dry run, then no
			// kill: another pod refused it, or the run was interrupted): nothing more will
			// come, so it ends now rather than at its TTL, once the reply is through
			*then = func() {
				a.logf("the kill it was added for was called off")
				a.end()
			}
		}
		return r
	})
}

// revert reverts one fault (note: how the pod's lock was had, for the outcome). Call under the
// request lock.
func (a *Agent) revert(ctx context.Context, req *protocol.Request, note string) *protocol.Reply {
	r := a.reply(protocol.OpRevert, nil)
	rec := a.books.get(req.FaultID)
	if rec == nil {
		if told, ok := a.books.toldRevertOf(req.FaultID); ok {
			// asked again (by exec, the line being slow): told as the first time, readings and all
			r.Commands, r.Reverted = told.Commands, told.Reverted
			return r
		}
		r.Reverted = []protocol.RevertOutcome{a.revertUnheld(req.FaultID)}
		return r
	}
	log := exec.NewLog(a.cfg.Exec)
	out := a.revertRecord(ctx, log, rec, protocol.ReasonRequested)
	if note != "" {
		out.Detail += "; " + note
	}
	r.Commands = log.Runs()
	r.Reverted = []protocol.RevertOutcome{out}
	if !out.Confirmed {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrRevertIncomplete, Message: out.Detail})
	}
	a.books.keepRevert(out, r.Commands)
	return r
}

// revertUnheld answers the revert of a fault this agent does not hold: reverted already, or
// never applied — then remembered, so that its apply, should it come after all, is refused.
func (a *Agent) revertUnheld(id string) protocol.RevertOutcome {
	out := protocol.RevertOutcome{FaultID: id, Agent: a.cfg.Name, Confirmed: true}
	if ended, was := a.books.ended(id); was {
		out.Reason = ended.Reason
		out.Detail = "already reverted: " + ended.Reason
		return out
	}
	a.books.forbid(id, protocol.ReasonRequested, a.cfg.Clock.Now())
	out.Reason = protocol.ReasonRequested
	out.Detail = fmt.Sprintf("chaos-agent %s does not hold fault %s (it never applied it); an apply of it that comes later is refused", a.cfg.Name, id)
	return out
}

// revertRecord reverts one held fault and keeps the books: a confirmed revert ends the fault,
// an incomplete one leaves it pending (the loop retries it). Call with reqMu held and the
// namespace lock taken.
func (a *Agent) revertRecord(ctx context.Context, ex exec.Executor, rec *record, reason string) protocol.RevertOutcome {
	remaining, detail := rec.held.Revert(a.env(ctx, ex, nil))
	now := a.cfg.Clock.Now()
	out := protocol.RevertOutcome{FaultID: rec.id, RunID: rec.runID, Agent: a.cfg.Name, Confirmed: len(remaining) == 0, Reason: reason, Detail: detail, Remaining: remaining}
	if m, ok := rec.held.(fault.Reading); ok {
		out.Stress = m.Reading()
	}
	if c, ok := rec.held.(fault.Counting); ok {
		out.HTTP = c.Counts()
	}
	if o, ok := rec.held.(fault.Outcomed); ok {
		o.Outcome(&out)
	}
	empty := a.books.settle(rec, out, now, now.Add(a.cfg.RetryEvery))
	if !out.Confirmed {
		a.logf("revert of %s (%s) incomplete, retrying every %s: %s", rec.id, reason, a.cfg.RetryEvery, detail)
		return out
	}
	a.logf("reverted %s (%s): %s", rec.id, reason, detail)
	if empty && a.cfg.ExitWhenIdle {
		// a stress agent whose fault is over
		a.end()
	}
	return out
}
