package service

import (
	"context"
	"strings"

	"chaos-run/agent/exec"
	"chaos-run/agent/protocol"
)

// sweep reverts the orphans of gone agents (with the pod's lock: without it, none is looked
// for) and, with `own`, this agent's own faults (with the lock or, when it cannot be had,
// without).
func (a *Agent) sweep(ctx context.Context, req *protocol.Request) *protocol.Reply {
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpSweep, nil)
	release, lerr := a.lock(ctx)
	if lerr == nil {
		defer release()
	}
	return a.serially(req, func() *protocol.Reply { return a.sweepLocked(ctx, r, log, req, lerr) })
}

// sweepLocked is sweep under the request lock; lerr says why the pod's lock could not be had.
func (a *Agent) sweepLocked(ctx context.Context, r *protocol.Reply, log *exec.Log, req *protocol.Request, lerr *protocol.ReplyError) *protocol.Reply {
	if lerr == nil {
		r.Orphans = a.books.takeUntold()
		if !a.cfg.NoOrphanScan {
			r.Orphans = append(r.Orphans, a.revertOrphans(ctx, log, a.claims(ctx), scanQdiscs|scanChains)...)
		}
	}
	if req.Own != nil && *req.Own {
		for _, rec := range a.books.records() {
			out := a.revertRecord(ctx, log, rec, protocol.ReasonSweep)
			if lerr != nil {
				out.Detail += "; reverted without the pod's lock"
			}
			r.Reverted = append(r.Reverted, out)
		}
	}
	r.Commands = log.Runs()
	var left []string
	if lerr != nil {
		left = append(left, "orphans not looked for: "+lerr.Message)
	}
	for _, o := range append(append([]protocol.RevertOutcome{}, r.Orphans...), r.Reverted...) {
		if !o.Confirmed {
			left = append(left, o.Detail)
		}
	}
	if len(left) > 0 {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrRevertIncomplete, Message: strings.Join(left, "; ")})
	}
	return r
}
