package service

import (
	"context"
	"net"
	"os"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/protocol"
)

// Startup reverts the orphans that gone agents left in the namespace.
func (a *Agent) Startup(ctx context.Context) []protocol.RevertOutcome {
	if a.cfg.NoOrphanScan {
		return nil
	}
	release, problem := a.takeLock(ctx, a.cfg.LockWait)
	if problem != nil {
		a.logf("start: no orphan scan: %s", problem.message())
		return nil
	}
	defer release()
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	log := exec.NewLog(a.cfg.Exec)
	out := a.revertOrphans(ctx, log, a.claims(ctx), scanQdiscs|scanChains)
	if len(out) == 0 {
		a.logf("start: no orphans in this pod")
	}
	a.books.tell(out)
	return out
}

// Tick does what is due: reverts faults whose lease lapsed, retries incomplete reverts. It
// reports ttl=true when the agent's TTL is over (the caller then shuts down).
func (a *Agent) Tick(ctx context.Context) (ttl bool) {
	now := a.cfg.Clock.Now()
	if !now.Before(a.deadline) {
		return true
	}
	lapsed, retry := a.books.due(now)
	if len(lapsed) == 0 && len(retry) == 0 {
		return false
	}
	a.reverting(ctx, func(log *exec.Log) {
		for _, id := range lapsed {
			// a renewal may have come in between
			if rec := a.books.stillLapsed(id, a.cfg.Clock.Now()); rec != nil {
				a.logf("lease of %s lapsed: reverting it", id)
				a.revertRecord(ctx, log, rec, protocol.ReasonLeaseLapsed)
			}
		}
		for _, rec := range retry {
			a.revertRecord(ctx, log, rec, rec.reason)
		}
	})
	return false
}

// reverting runs revert as the reverts the agent starts itself run (a lapsed lease, a retry,
// the TTL, a signal): with the pod's lock if it comes soon, else without it — never later for
// what another process holds — under the request lock, with a log of its own.
func (a *Agent) reverting(ctx context.Context, revert func(log *exec.Log)) {
	release, _ := a.lockForRevert(ctx)
	defer release()
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	revert(exec.NewLog(a.cfg.Exec))
}

// NextWake is when the loop should look again (within a second).
func (a *Agent) NextWake() time.Duration {
	wait := a.books.next(a.deadline).Sub(a.cfg.Clock.Now())
	return min(max(wait, 0), time.Second)
}

// Shutdown reverts everything the agent holds (reason: ttl or terminated), retrying an
// incomplete revert a few times, and refuses requests from then on. It returns whether all
// was confirmed.
func (a *Agent) Shutdown(ctx context.Context, reason string) bool {
	a.exiting.Store(true)
	a.hush()
	if a.books.empty() {
		// nothing held; a request under way may still be adding a fault: wait for it
		a.reqMu.Lock()
		empty := a.books.empty()
		a.reqMu.Unlock()
		if empty {
			return true
		}
	}
	all := false
	a.reverting(ctx, func(log *exec.Log) {
		for attempt := 0; ; attempt++ {
			recs := a.books.records()
			if len(recs) == 0 {
				all = true
				return
			}
			if attempt == 3 {
				for _, rec := range recs {
					a.logf("exiting with %s not reverted: %d objects remain (a later agent in this pod, or chaos-run sweep, reverts them as orphans)", rec.id, len(rec.left))
				}
				return
			}
			if attempt > 0 {
				time.Sleep(time.Second)
			}
			for _, rec := range recs {
				a.revertRecord(ctx, log, rec, reason)
			}
		}
	})
	return all
}

// Run is the serve process: it serves on ln, reverts orphans, then runs the lease loop until
// the TTL ends or a signal comes; either way it reverts everything. Exit status: 0 when all
// was reverted, 3 when something could not be.
func (a *Agent) Run(ctx context.Context, ln net.Listener, signals <-chan os.Signal) int {
	go func() { _ = a.Serve(ctx, ln) }()
	if a.cfg.Lines != nil {
		go a.ServeLines(ctx, a.cfg.Lines)
	}
	a.Startup(ctx)
	if r := a.ApplyFirst(ctx); r != nil && !r.OK {
		// nothing of it is held (an apply that fails rolls back): the agent ends, its reason last
		// in its log (the runner reads it as the container's termination message)
		all := a.Shutdown(ctx, protocol.ReasonApplyFailed)
		_ = ln.Close()
		a.logf("%s", a.FirstFailed(r))
		if !all {
			return 3
		}
		return protocol.ExitCode(r)
	}
	reason := protocol.ReasonTTL
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for {
		select {
		case s := <-signals:
			a.logf("%s: reverting everything and exiting", s)
			reason = protocol.ReasonTerminated
			break loop
		case <-a.done:
			a.logf("what this agent was added for is done: exiting")
			// the reply that ended it is still on its way: stop accepting, let it go out
			_ = ln.Close()
			waited := make(chan struct{})
			go func() { a.conns.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(10 * time.Second):
			}
			break loop
		case <-timer.C:
			if a.Tick(ctx) {
				a.logf("TTL reached: reverting everything and exiting")
				break loop
			}
			timer.Reset(a.NextWake())
		}
	}
	ok := a.Shutdown(ctx, reason)
	_ = ln.Close()
	if !ok {
		return 3
	}
	if a.eventErr != nil {
		return 1
	}
	return 0
}
