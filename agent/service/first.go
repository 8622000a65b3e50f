package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"chaos-run/agent/protocol"
)

// The first request: an agent added to a pod for a step can be given that step's apply in its
// environment (CHAOS_AGENT_FIRST_REQUEST), so that a fresh pod costs one container start and no
// exec. It is the pod's hostile input as much as an exec's request: parsed against the same
// schema, and more is asked of it (an apply, of this agent's run, of a kind it serves). The serve
// process applies it once its orphan scan is done, through the same dispatch as any apply (the
// pod's lock, the reverted ids, the books); its lease runs from then, as any apply's does. Until
// it is settled, the agent's own requester waits (a renewal or a revert sent as soon as the
// container runs must find it held, or refuse it): only the peers' status is answered at once.
// Its reply (the apply's fault state, commands and orphans: what an exec's apply reply would have
// told) is written to stdout, one line after protocol.FirstReplyPrefix, where the runner reads it
// from the container's log without an exec; the first renewal carries it as well. A runner that
// never renews lets its lease lapse, and the agent reverts it.

// firstRequest is the apply an agent started with, and what became of it.
type firstRequest struct {
	req     *protocol.Request
	settled chan struct{} // closed once the apply has run (or there is none)
	mu      sync.Mutex
	untold  *protocol.Reply // the apply's reply, until a lease after the first renewal that carried it
	toldAt  time.Time       // when a renewal first carried it
}

func newFirstRequest() *firstRequest {
	f := &firstRequest{settled: make(chan struct{})}
	close(f.settled)
	return f
}

// SetFirst checks raw as the request this agent starts with and keeps it. A request that is not
// valid, not an apply (or a dry run), of another run, or of a kind this agent does not serve is
// refused with a bad-request error, and the agent must not serve.
func (a *Agent) SetFirst(raw []byte) *protocol.ReplyError {
	req, perr := protocol.Parse(raw)
	if perr != nil {
		return perr
	}
	bad := func(format string, args ...any) *protocol.ReplyError {
		return &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case req.Op != protocol.OpApply:
		return bad("the first request must be an apply, not %s", req.Op)
	case req.DryRun:
		return bad("the first request must be an apply that holds its fault, not a dry run")
	case req.RunID != a.cfg.RunID:
		return bad("the first request is of run %q; this agent serves run %q", req.RunID, a.cfg.RunID)
	}
	if _, known := a.cfg.Kinds[req.Fault.Spec.Kind]; !known {
		return bad("this agent does not serve fault kind %s", req.Fault.Spec.Kind)
	}
	a.first = &firstRequest{req: req, settled: make(chan struct{})}
	return nil
}

// ApplyFirst applies the request the agent started with, if any (nil: none), through the dispatch
// every apply goes through; own requests wait for it (awaitFirst). Its reply is kept for the first
// renewal of its fault.
func (a *Agent) ApplyFirst(ctx context.Context) *protocol.Reply {
	f := a.first
	if f.req == nil {
		return nil
	}
	defer close(f.settled)
	var then func()
	r := a.handle(ctx, f.req, &then)
	r.Agent = a.info()
	if then != nil {
		then()
	}
	if r.OK {
		a.logf("first request: holding %s until the runner renews it (lease %dms)", f.req.Fault.ID, f.req.Fault.LeaseMs)
		f.mu.Lock()
		f.untold = r
		f.mu.Unlock()
		a.announce(r)
	}
	return r
}

// announce writes the first request's reply to the container's log, where the runner reads it
// without an exec. The first renewal still carries it (tellFirst): a runner that could not read
// the log learns it there.
func (a *Agent) announce(r *protocol.Reply) {
	// as an exec's reply is written: the arrays the schema requires present even when empty (a
	// stress holds no commands), or the runner's strict check passes the line over
	raw, err := protocol.Encode(r)
	if err != nil {
		a.logf("first request: its reply could not be written to the log: %v", err)
		return
	}
	a.sayLine(protocol.FirstReplyPrefix + string(raw))
}

// awaitFirst waits until the first request is settled (at once when there is none).
func (a *Agent) awaitFirst(ctx context.Context) {
	select {
	case <-a.first.settled:
	case <-ctx.Done():
	}
}

// tellFirst is the first request's apply reply, when id is its fault: to every renewal of it
// within one lease of the first that carried it (a renewal the runner sent on its line and again
// by exec carries it both times, whichever reply the runner takes), then no more.
func (a *Agent) tellFirst(id string) *protocol.Reply {
	f := a.first
	if f.req == nil || f.req.Fault.ID != id {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := a.cfg.Clock.Now()
	switch {
	case f.untold == nil:
		return nil
	case f.toldAt.IsZero():
		f.toldAt = now
	case now.Sub(f.toldAt) > time.Duration(f.req.Fault.LeaseMs)*time.Millisecond:
		f.untold = nil
	}
	return f.untold
}

// FirstFailed says why the first request was not held, as the serve process's last words (the
// runner reads them in the container's termination message).
func (a *Agent) FirstFailed(r *protocol.Reply) string {
	return fmt.Sprintf("first request (apply %s) failed: %s: %s", a.first.req.Fault.ID, r.Error.Code, r.Error.Message)
}
