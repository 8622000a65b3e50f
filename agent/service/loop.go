package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
	a.mu.Lock()
	a.untold = append(a.untold, out...)
	a.mu.Unlock()
	return out
}

// Tick does what is due: reverts faults whose lease lapsed, retries incomplete reverts. It
// reports ttl=true when the agent's TTL is over (the caller then shuts down).
func (a *Agent) Tick(ctx context.Context) (ttl bool) {
	now := a.cfg.Clock.Now()
	if !now.Before(a.deadline) {
		return true
	}
	a.mu.Lock()
	expired := a.leases.Expired(now)
	var retry []*record
	for _, id := range a.order {
		if rec := a.faults[id]; rec.pending && !now.Before(rec.retryAt) {
			retry = append(retry, rec)
		}
	}
	a.mu.Unlock()
	if len(expired) == 0 && len(retry) == 0 {
		return false
	}
	// a lapsed lease is reverted with the lock if it comes soon, else without it: never later
	// for what another process holds
	release, _ := a.lockForRevert(ctx)
	defer release()
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	log := exec.NewLog(a.cfg.Exec)
	for _, id := range expired {
		a.mu.Lock()
		rec := a.faults[id]
		// a renew may have come in between
		still := rec != nil && a.leases.Held(id) && a.leases.Left(id, a.cfg.Clock.Now()) == 0
		a.mu.Unlock()
		if still {
			a.logf("lease of %s lapsed: reverting it", id)
			a.revertRecord(ctx, log, rec, protocol.ReasonLeaseLapsed)
		}
	}
	for _, rec := range retry {
		a.revertRecord(ctx, log, rec, rec.reason)
	}
	return false
}

// NextWake is when the loop should look again.
func (a *Agent) NextWake() time.Duration {
	now := a.cfg.Clock.Now()
	next := a.deadline
	a.mu.Lock()
	if d, ok := a.leases.Next(); ok && d.Before(next) {
		next = d
	}
	for _, rec := range a.faults {
		if rec.pending && rec.retryAt.Before(next) {
			next = rec.retryAt
		}
	}
	a.mu.Unlock()
	wait := next.Sub(now)
	if wait < 0 {
		wait = 0
	}
	if wait > time.Second {
		wait = time.Second
	}
	return wait
}

// Shutdown reverts everything the agent holds (reason: ttl or terminated), retrying an
// incomplete revert a few times, and refuses requests from then on. It returns whether all
// was confirmed.
func (a *Agent) Shutdown(ctx context.Context, reason string) bool {
	a.mu.Lock()
	a.exiting = true
	a.mu.Unlock()
	if len(a.records()) == 0 {
		// nothing held; a request under way may still be adding a fault: wait for it
		a.reqMu.Lock()
		empty := len(a.records()) == 0
		a.reqMu.Unlock()
		if empty {
			return true
		}
	}
	// reverting matters more than the lock: briefly, then without it
	release, _ := a.lockForRevert(ctx)
	defer release()
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	log := exec.NewLog(a.cfg.Exec)
	for attempt := 0; ; attempt++ {
		recs := a.records()
		if len(recs) == 0 {
			return true
		}
		if attempt == 3 {
			for _, rec := range recs {
				a.logf("exiting with %s not reverted: %d objects remain (a later agent in this pod, or chaos-run sweep, reverts them as orphans)", rec.id, len(rec.left))
			}
			return false
		}
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		for _, rec := range recs {
			a.revertRecord(ctx, log, rec, reason)
		}
	}
}

// Serve answers requests on ln until it is closed: one request per connection, one reply.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			a.logf("accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a.conns.Add(1)
		go func() {
			defer a.conns.Done()
			a.serveConn(ctx, conn)
		}()
	}
}

// Strangers' connections (see peer.go) are served a few at a time, with a small request: all
// they may ask is a status from memory.
const (
	maxStrangers      = 8
	maxStrangerBytes  = 4 << 10
	strangerReadLimit = 2 * time.Second
)

func (a *Agent) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	own, why := Authorize(a.self, a.cfg.Identify(conn))
	limit, wait := int64(protocol.MaxRequestBytes), 10*time.Second
	if !own {
		if a.strangers.Add(1) > maxStrangers {
			a.strangers.Add(-1)
			return
		}
		defer a.strangers.Add(-1)
		limit, wait = maxStrangerBytes, strangerReadLimit
	}
	raw := readRequest(conn, limit, wait)
	var rep *protocol.Reply
	var then func()
	if own {
		rep, then = a.HandleDeferred(ctx, raw)
	} else {
		rep = a.HandleStranger(raw, why)
	}
	out, err := protocol.Encode(rep)
	if err != nil {
		out = []byte(`{"protocol":1,"op":"status","ok":false,"agent":{"name":"","runId":"","version":"","ttlLeftMs":0},"commands":[],"error":{"code":"internal","message":"could not encode the reply"}}`)
	}
	if !own {
		// a stranger's reply goes out within a short while or not at all: nothing waits on it
		_ = conn.SetWriteDeadline(time.Now().Add(strangerReadLimit))
		_, _ = conn.Write(out)
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write(out)
	// `chaos-agent request` closes its side only once it has printed the reply (the peers, at
	// once). Until then this agent must neither do a deed that may end the requester too (a
	// kill of its PID namespace's init) nor exit (a kill or stress agent whose work is over:
	// its container's end would kill the requester, an exec in it, before it printed). Wait
	// for that close, but not for ever.
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
	if then != nil {
		then()
	}
}

// readRequest reads one JSON value: a requester that half-closes after it (the peers) and one
// that keeps the connection open until it has printed the reply (`chaos-agent request`) are
// both served. What is not JSON is returned as it came, for Parse to say what is wrong with it.
func readRequest(conn net.Conn, limit int64, wait time.Duration) []byte {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	var msg json.RawMessage
	dec := json.NewDecoder(io.LimitReader(conn, limit+1))
	if err := dec.Decode(&msg); err == nil {
		return msg
	} else if !errors.Is(err, io.EOF) {
		rest, _ := io.ReadAll(dec.Buffered())
		return rest
	}
	return []byte{}
}

// Run is the serve process: it serves on ln, reverts orphans, then runs the lease loop until
// the TTL ends or a signal comes; either way it reverts everything. Exit status: 0 when all
// was reverted, 3 when something could not be.
func (a *Agent) Run(ctx context.Context, ln net.Listener, signals <-chan os.Signal) int {
	go func() { _ = a.Serve(ctx, ln) }()
	a.Startup(ctx)
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
