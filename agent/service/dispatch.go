package service

import (
	"context"
	"fmt"

	"chaos-run/agent/protocol"
)

// Handle serves one raw request; an event's deed (a kill) runs before it returns.
func (a *Agent) Handle(ctx context.Context, raw []byte) *protocol.Reply {
	r, then := a.HandleDeferred(ctx, raw)
	if then != nil {
		then()
	}
	return r
}

// HandleDeferred serves one raw request of the agent's own requester and returns, apart, what
// must run only once the reply has reached the requester (an event's deed, which may end this
// agent).
func (a *Agent) HandleDeferred(ctx context.Context, raw []byte) (*protocol.Reply, func()) {
	req, perr := protocol.Parse(raw)
	if perr != nil {
		return failed(a.reply(protocol.GuessOp(raw), nil), perr), nil
	}
	return a.handleRequest(ctx, req)
}

// HandleStranger serves one raw request of a stranger (see trust.go; why says how it was told
// from the agent's own requester): only a status from memory, `scanOrphans: false`.
func (a *Agent) HandleStranger(raw []byte, why string) *protocol.Reply {
	req, perr := protocol.Parse(raw)
	if perr != nil {
		return failed(a.reply(protocol.GuessOp(raw), nil), perr)
	}
	if isPeerStatus(req) {
		return a.peerStatus()
	}
	what := req.Op
	if req.Op == protocol.OpStatus {
		what = "status with an orphan scan"
	}
	a.noteStranger("refused a %s request from a stranger: %s", what, why)
	return failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrForbidden,
		Message: fmt.Sprintf("chaos-agent %s takes %s requests only from its own container (root or its UID, in its mount namespace: the runner's exec); this requester is not: %s. "+
			"Any process of the pod may ask status with scanOrphans false; nothing was done", a.cfg.Name, what, why)})
}

// isPeerStatus: another agent (or anyone) asking what this one holds, from memory.
func isPeerStatus(req *protocol.Request) bool {
	return req.Op == protocol.OpStatus && req.ScanOrphans != nil && !*req.ScanOrphans
}

// HandleRequest serves one parsed request (an event's deed runs before it returns).
func (a *Agent) HandleRequest(ctx context.Context, req *protocol.Request) *protocol.Reply {
	r, then := a.handleRequest(ctx, req)
	if then != nil {
		then()
	}
	return r
}

func (a *Agent) handleRequest(ctx context.Context, req *protocol.Request) (*protocol.Reply, func()) {
	if !isPeerStatus(req) {
		// what the agent's own requester asks comes after the apply it started with
		a.awaitFirst(ctx)
	}
	var then func()
	r := a.handle(ctx, req, &then)
	r.Agent = a.info() // as it stands after the request (a backend may have been detected)
	return r, then
}

// handle sends a request to its op, under the locks the op needs: the pod's lock, where it is
// needed, is taken before the request lock, so that waiting for it (behind another agent, or to
// tell a squatter) never holds up the lease loop.
func (a *Agent) handle(ctx context.Context, req *protocol.Request, then *func()) *protocol.Reply {
	switch req.Op {
	case protocol.OpStatus:
		if isPeerStatus(req) {
			// from memory, without any lock a request holds (that agent may be holding the
			// namespace lock while this one waits for it)
			return a.peerStatus()
		}
		return a.serially(req, func() *protocol.Reply { return a.status(ctx) })
	case protocol.OpRenew:
		// a renewal touches only the lease table: it must not wait behind another run's apply
		// (orphan scans, peers, a slow node), or that run would make this one's lease lapse
		if r := a.refuseExiting(req); r != nil {
			return r
		}
		return a.renew(req)
	case protocol.OpApply:
		return a.handleApply(ctx, req, then)
	case protocol.OpRevert:
		return a.handleRevert(ctx, req, then)
	case protocol.OpSweep:
		return a.sweep(ctx, req)
	case protocol.OpResolve:
		return a.resolve(ctx, req)
	}
	return failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "unknown op " + req.Op})
}

// refuseExiting refuses what changes anything once the agent is exiting — but a revert asked
// again is told as the first time (revert.go), exiting or not.
func (a *Agent) refuseExiting(req *protocol.Request) *protocol.Reply {
	if !a.exiting.Load() || req.Op == protocol.OpStatus {
		return nil
	}
	if _, told := a.books.toldRevertOf(req.FaultID); told && req.Op == protocol.OpRevert {
		return nil
	}
	return failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrExiting, Message: "chaos-agent " + a.cfg.Name + " is exiting (TTL or SIGTERM) and reverting everything it holds"})
}

// serially runs f under the request lock: one request (or loop action) at a time.
func (a *Agent) serially(req *protocol.Request, f func() *protocol.Reply) *protocol.Reply {
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	if r := a.refuseExiting(req); r != nil {
		return r
	}
	return f()
}
