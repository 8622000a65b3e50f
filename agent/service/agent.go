// Package service is the agent's serve process: it holds faults under leases, answers one
// request per connection, reverts on lease lapse, at its TTL and on SIGTERM, and finds and
// reverts the orphans of gone agents. Requests are serialized by one mutex; changes to the
// kernel also take the network namespace's lock, shared with the other agents of the pod.
package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/lease"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Peers finds and asks the other agents of the network namespace.
type Peers interface {
	// Live lists the agents whose sockets listen in this network namespace (self included).
	Live() ([]string, error)
	// Status asks one agent what it holds.
	Status(ctx context.Context, agent string, req *protocol.Request) (*protocol.Reply, error)
}

// Config wires an agent.
type Config struct {
	Name    string
	RunID   string
	Version string
	TTL     time.Duration
	Exec    exec.Executor
	Kernel  kernel.Reader
	Clock   lease.Clock
	Peers   Peers
	Lock    ownership.Locker
	// ReadFile reads /proc files (the iptables backend detection, the legacy table names).
	ReadFile func(string) ([]byte, error)
	// Logf writes one log line (stderr: kubectl logs).
	Logf func(format string, a ...any)
	// Kinds maps fault kinds to their mechanics (default: netem, partition and http).
	Kinds map[string]fault.Kind
	// RetryEvery is how often an incomplete revert is tried again (default 5 s).
	RetryEvery time.Duration
	// PeerTimeout bounds one peer's answer (default 3 s).
	PeerTimeout time.Duration
	// ProbeChain names the backend detection's throw-away chain.
	ProbeChain string
	// NoOrphanScan: this agent serves only faults that touch nothing in the network namespace
	// (a kill agent, which has no NET_ADMIN to read iptables with): no orphan scan at start.
	NoOrphanScan bool
	// ExitAfterEvent: once an event (a kill) is done, the serve process ends (a kill agent is
	// one per kill).
	ExitAfterEvent bool
	// ExitWhenIdle: once a fault was held and none is any more (reverted, or its lease lapsed),
	// the serve process ends (a stress agent is one per stress step).
	ExitWhenIdle bool
	// Identify says who is at the other end of a connection (default PeerCred); Self is the
	// agent's own identity to compare with (default SelfIdentity). See peer.go.
	Identify Identify
	Self     *Self
	// LockWait bounds the wait for the pod's lock while a live agent holds it, for what cannot
	// go without it (an apply, an orphan scan; default 10 s); RevertLockWait, for a revert of
	// this agent's own faults, which then goes without it (default 3 s). SquatCheckAfter is how
	// long the lock is busy before the agent asks who holds it (default 50 ms).
	LockWait, RevertLockWait, SquatCheckAfter time.Duration
}

type record struct {
	id      string
	runID   string
	held    fault.Held
	pending bool   // a revert did not complete: retried
	reason  string // why it is being reverted
	retryAt time.Time
	left    []protocol.KernelObject // what the last revert attempt left
	// lease is the one last given (apply, renew): a fault that expires in the kernel ends by
	// itself that long (+ firewall.ExpiryMargin) after it
	lease time.Duration
}

// Agent is the serve process's state.
type Agent struct {
	cfg      Config
	deadline time.Time

	reqMu sync.Mutex // one request (or loop action) at a time

	mu      sync.Mutex // guards what follows; never held while running a command
	faults  map[string]*record
	order   []string
	leases  *lease.Table
	exiting bool
	// locking counts the lock takings under way or held (AgentInfo.locking)
	locking atomic.Int32
	// strangers counts the strangers' connections being served
	strangers atomic.Int32
	self      Self
	// orphans reverted at start, not yet told to anyone: the next apply or sweep reply carries
	// them, so the runner that brought this agent learns what it cleaned up
	untold []protocol.RevertOutcome

	backendMu  sync.Mutex
	backend    firewall.Backend
	backendErr error
	detected   bool
	// firewall is what the firewall faults made here use (AgentInfo.Firewall; "" before one)
	firewall string

	// conns are the connections being served
	conns sync.WaitGroup
	// done is closed when the serve process is to end (ExitAfterEvent, ExitWhenIdle)
	done     chan struct{}
	doneOnce sync.Once
	eventErr error
}

// New makes an agent; its TTL runs from now.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = lease.Real{}
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Kinds == nil {
		cfg.Kinds = map[string]fault.Kind{protocol.KindNetem: fault.Netem{}, protocol.KindPartition: fault.Partition{}, protocol.KindHTTP: fault.HTTP{}}
	}
	if cfg.RetryEvery == 0 {
		cfg.RetryEvery = 5 * time.Second
	}
	if cfg.PeerTimeout == 0 {
		cfg.PeerTimeout = 3 * time.Second
	}
	if cfg.ProbeChain == "" {
		cfg.ProbeChain = "chaos-probe"
	}
	if cfg.ReadFile == nil {
		cfg.ReadFile = firewall.ReadFile
	}
	if cfg.Identify == nil {
		cfg.Identify = PeerCred
	}
	if cfg.Self == nil {
		self := SelfIdentity()
		cfg.Self = &self
	}
	if cfg.LockWait == 0 {
		cfg.LockWait = 10 * time.Second
	}
	if cfg.RevertLockWait == 0 {
		cfg.RevertLockWait = 3 * time.Second
	}
	if cfg.SquatCheckAfter == 0 {
		cfg.SquatCheckAfter = 50 * time.Millisecond
	}
	return &Agent{cfg: cfg, self: *cfg.Self, deadline: cfg.Clock.Now().Add(cfg.TTL), faults: map[string]*record{}, leases: lease.NewTable(), done: make(chan struct{})}
}

func (a *Agent) logf(format string, args ...any) { a.cfg.Logf(format, args...) }

// Backend detects the iptables backend once.
func (a *Agent) Backend(ctx context.Context, ex exec.Executor) (firewall.Backend, error) {
	a.backendMu.Lock()
	defer a.backendMu.Unlock()
	if !a.detected {
		a.backend, a.backendErr = firewall.Detect(ctx, ex, a.cfg.ReadFile, a.cfg.ProbeChain)
		if a.backendErr == nil {
			a.detected = true
			a.logf("iptables backend: %s", a.backend)
		}
	}
	return a.backend, a.backendErr
}

func (a *Agent) info() protocol.AgentInfo {
	now := a.cfg.Clock.Now()
	left := a.deadline.Sub(now)
	if left < 0 {
		left = 0
	}
	info := protocol.AgentInfo{Name: a.cfg.Name, RunID: a.cfg.RunID, Version: a.cfg.Version, TTLLeftMs: left.Milliseconds(), Locking: a.locking.Load() > 0}
	a.backendMu.Lock()
	switch {
	case a.detected:
		info.IptablesBackend = string(a.backend)
	case a.backendErr != nil:
		info.IptablesBackend = "none"
	}
	info.Firewall = a.firewall
	a.backendMu.Unlock()
	return info
}

func (a *Agent) reply(op string, log *exec.Log) *protocol.Reply {
	r := &protocol.Reply{Protocol: protocol.Version, Op: op, OK: true, Agent: a.info()}
	if log != nil {
		r.Commands = log.Runs()
	}
	return r
}

func failed(r *protocol.Reply, e *protocol.ReplyError) *protocol.Reply {
	r.OK = false
	r.Error = e
	return r
}

func (a *Agent) env(ctx context.Context, ex exec.Executor, claims *ownership.Claims) *fault.Env {
	return &fault.Env{
		Ctx: ctx, Exec: ex, Kernel: a.cfg.Kernel, Agent: a.cfg.Name, RunID: a.cfg.RunID, Claims: claims,
		Backend:  func() (firewall.Backend, error) { return a.Backend(ctx, ex) },
		ReadFile: a.cfg.ReadFile,
		Logf:     a.cfg.Logf,
	}
}

// state is a record as a FaultState (from memory: objects and the last read-back).
func (a *Agent) state(rec *record, now time.Time) protocol.FaultState {
	detail := rec.held.Detail()
	if rec.pending {
		detail = fmt.Sprintf("being reverted (%s); not complete yet: %d objects remain", rec.reason, len(rec.left))
	}
	st := protocol.FaultState{
		ID: rec.id, RunID: rec.runID, Kind: rec.held.Kind(), Interface: rec.held.Interface(),
		Families: append([]int{}, rec.held.Families()...), Objects: rec.held.Objects(),
		LeaseLeftMs: a.leases.Left(rec.id, now).Milliseconds(), Detail: detail,
	}
	if e, ok := rec.held.(fault.Expiring); ok && e.ExpiresInKernel() {
		st.ExpiresInKernel = true
		st.KernelLeaseMs = (rec.lease + firewall.ExpiryMargin).Milliseconds()
	}
	if s, ok := rec.held.(fault.Stated); ok {
		s.State(&st)
	}
	return st
}

// Done is closed once the serve process is to end: an event is done (ExitAfterEvent), or the
// faults it held are all over (ExitWhenIdle).
func (a *Agent) Done() <-chan struct{} { return a.done }

// idle ends an ExitWhenIdle agent once it holds nothing. Call with a.mu held.
func (a *Agent) idle() {
	if a.cfg.ExitWhenIdle && len(a.faults) == 0 {
		a.doneOnce.Do(func() { close(a.done) })
	}
}

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

// HandleStranger serves one raw request of a stranger (see peer.go; why says how it was told
// from the agent's own requester): only a status from memory, `scanOrphans: false`.
func (a *Agent) HandleStranger(raw []byte, why string) *protocol.Reply {
	req, perr := protocol.Parse(raw)
	if perr != nil {
		r := failed(a.reply(protocol.GuessOp(raw), nil), perr)
		r.Agent = a.info()
		return r
	}
	if req.Op == protocol.OpStatus && req.ScanOrphans != nil && !*req.ScanOrphans {
		return a.peerStatus()
	}
	what := req.Op
	if req.Op == protocol.OpStatus {
		what = "status with an orphan scan"
	}
	a.logf("refused a %s request from a stranger: %s", what, why)
	r := failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrForbidden,
		Message: fmt.Sprintf("chaos-agent %s takes %s requests only from its own container (root or its UID, in its mount namespace: the runner's exec); this requester is not: %s. "+
			"Any process of the pod may ask status with scanOrphans false; nothing was done", a.cfg.Name, what, why)})
	r.Agent = a.info()
	return r
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
	var then func()
	r := a.handle(ctx, req, &then)
	r.Agent = a.info() // as it stands after the request (a backend may have been detected)
	return r, then
}

func (a *Agent) handle(ctx context.Context, req *protocol.Request, then *func()) *protocol.Reply {
	if req.Op == protocol.OpStatus && req.ScanOrphans != nil && !*req.ScanOrphans {
		// another agent asking what this one holds: from memory, without any lock a request
		// holds (that agent may be holding the namespace lock while this one waits for it)
		return a.peerStatus()
	}
	if req.Op == protocol.OpRenew {
		// a renewal touches only the lease table: it must not wait behind another run's apply
		// (orphan scans, peers, a slow node), or that run would make this one's lease lapse
		if r := a.refuseExiting(req); r != nil {
			return r
		}
		return a.renew(req)
	}
	// the pod's lock, where it is needed, is taken before the request lock: waiting for it
	// (behind another agent, or to tell a squatter) never holds up the lease loop
	switch req.Op {
	case protocol.OpApply:
		return a.handleApply(ctx, req, then)
	case protocol.OpRevert:
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
					a.doneOnce.Do(func() { close(a.done) })
				}
			}
			return r
		})
	case protocol.OpStatus:
		return a.serially(req, func() *protocol.Reply { return a.status(ctx) })
	case protocol.OpSweep:
		return a.sweep(ctx, req)
	}
	return failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "unknown op " + req.Op})
}

// refuseExiting refuses what changes anything once the agent is exiting.
func (a *Agent) refuseExiting(req *protocol.Request) *protocol.Reply {
	a.mu.Lock()
	exiting := a.exiting
	a.mu.Unlock()
	if !exiting || req.Op == protocol.OpStatus {
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
	a.mu.Lock()
	ended, was := a.leases.Ended(req.Fault.ID)
	a.mu.Unlock()
	if !was {
		return nil
	}
	a.logf("apply %s refused: it was reverted (%s) %s ago", req.Fault.ID, ended.Reason, a.cfg.Clock.Now().Sub(ended.At).Round(time.Millisecond))
	return failed(a.reply(protocol.OpApply, nil), &protocol.ReplyError{Code: protocol.ErrReverted,
		Message: fmt.Sprintf("fault %s was reverted (%s) %s ago, before this apply reached the agent: a fault id reported reverted is never applied again; nothing was done",
			req.Fault.ID, ended.Reason, a.cfg.Clock.Now().Sub(ended.At).Round(time.Millisecond))})
}

func (a *Agent) peerStatus() *protocol.Reply {
	r := a.reply(protocol.OpStatus, nil)
	now := a.cfg.Clock.Now()
	a.mu.Lock()
	for _, id := range a.order {
		r.Faults = append(r.Faults, a.state(a.faults[id], now))
	}
	a.mu.Unlock()
	return r
}

// lock takes the pod's lock for what cannot go without it (an apply, an orphan scan).
func (a *Agent) lock(ctx context.Context) (func(), *protocol.ReplyError) {
	release, problem := a.takeLock(ctx, a.cfg.LockWait)
	if problem != nil {
		msg := problem.message()
		if problem.squatted {
			msg += "; nothing was done"
		}
		a.logf("%s", msg)
		return nil, &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: msg}
	}
	return release, nil
}

// apply applies a fault that touches the network namespace. Call with the pod's lock taken and
// under the request lock.
func (a *Agent) apply(ctx context.Context, req *protocol.Request, kind fault.Kind) *protocol.Reply {
	f := *req.Fault
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpApply, nil)
	defer func() { r.Commands = log.Runs() }()
	a.mu.Lock()
	rec := a.faults[f.ID]
	a.mu.Unlock()
	if rec != nil {
		if rec.pending {
			return failed(r, &protocol.ReplyError{Code: protocol.ErrApplyFailed,
				Message: fmt.Sprintf("fault %s is being reverted (%s) and its revert is not complete; it cannot be applied again until it is", f.ID, rec.reason)})
		}
		// idempotent: the fault as it stands
		env := a.env(ctx, log, nil)
		if _, err := rec.held.Check(env); err != nil {
			a.logf("apply %s again: held, but the read-back says: %v", f.ID, err)
		}
		st := a.state(rec, a.cfg.Clock.Now())
		r.Fault = &st
		return r
	}
	claims := a.claims(ctx)
	scan := scanQdiscs
	if f.Spec.Kind == protocol.KindPartition || f.Spec.Kind == protocol.KindHTTP {
		scan = scanChains
	}
	r.Orphans = append(a.takeUntold(), a.revertOrphans(ctx, log, claims, scan)...)
	out := kind.Apply(a.env(ctx, log, claims), f)
	now := a.cfg.Clock.Now()
	if out.Rollback != nil {
		out.Rollback.FaultID, out.Rollback.RunID, out.Rollback.Agent = f.ID, req.RunID, a.cfg.Name
		r.Reverted = append(r.Reverted, *out.Rollback)
	}
	if out.Held != nil {
		rec := &record{id: f.ID, runID: req.RunID, held: out.Held, lease: time.Duration(f.LeaseMs) * time.Millisecond}
		if fw, ok := out.Held.(fault.Firewalled); ok {
			a.backendMu.Lock()
			a.firewall = fw.Firewall()
			a.backendMu.Unlock()
		}
		a.mu.Lock()
		a.faults[f.ID] = rec
		a.order = append(a.order, f.ID)
		if out.Err != nil {
			rec.pending, rec.reason, rec.retryAt = true, protocol.ReasonApplyFailed, now.Add(a.cfg.RetryEvery)
			if out.Rollback != nil {
				rec.left = out.Rollback.Remaining
			}
		} else {
			// the lease runs from when the fault is in effect
			a.leases.Hold(f.ID, now.Add(time.Duration(f.LeaseMs)*time.Millisecond))
		}
		st := a.state(rec, now)
		a.mu.Unlock()
		r.Fault = &st
	}
	if out.Err != nil {
		a.logf("apply %s (%s) failed: %s", f.ID, f.Spec.Kind, out.Err.Message)
		return failed(r, out.Err)
	}
	a.logf("applied %s: %s (lease %dms)", f.ID, out.Held.Detail(), f.LeaseMs)
	return r
}

// applyLocal applies a fault that touches nothing in the network namespace (stress, kill):
// no namespace lock, no orphan scan. A dry run only says how; an event (kill) is not held, and
// its deed is handed back to run once the reply is out.
func (a *Agent) applyLocal(ctx context.Context, req *protocol.Request, kind fault.Kind, then *func()) *protocol.Reply {
	f := *req.Fault
	r := a.reply(protocol.OpApply, nil)
	env := a.env(ctx, exec.NewLog(a.cfg.Exec), nil)
	now := a.cfg.Clock.Now()
	state := func(h fault.Held) *protocol.FaultState {
		st := a.state(&record{id: f.ID, runID: req.RunID, held: h}, now)
		st.LeaseLeftMs = 0
		return &st
	}
	if req.DryRun {
		dr, ok := kind.(fault.DryRunner)
		if !ok {
			return failed(r, &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "a dry run is offered only by kill faults"})
		}
		out := dr.DryRun(env, f)
		if out.Err != nil {
			return failed(r, out.Err)
		}
		r.Fault = state(out.Held)
		a.logf("dry run of %s: %s", f.ID, out.Held.Detail())
		return r
	}
	a.mu.Lock()
	rec := a.faults[f.ID]
	a.mu.Unlock()
	if rec != nil {
		st := a.state(rec, now)
		r.Fault = &st
		return r
	}
	out := kind.Apply(env, f)
	if out.Err != nil {
		a.logf("apply %s (%s) refused or failed: %s", f.ID, f.Spec.Kind, out.Err.Message)
		return failed(r, out.Err)
	}
	if _, event := out.Held.(fault.Event); event {
		r.Fault = state(out.Held)
		a.logf("event %s: %s", f.ID, out.Held.Detail())
		if out.Then != nil {
			deed := out.Then
			*then = func() {
				err := deed()
				if err != nil {
					a.logf("event %s failed: %v", f.ID, err)
				} else {
					a.logf("event %s done", f.ID)
				}
				if a.cfg.ExitAfterEvent {
					a.eventErr = err
					a.doneOnce.Do(func() { close(a.done) })
				}
			}
		}
		return r
	}
	rec = &record{id: f.ID, runID: req.RunID, held: out.Held}
	a.mu.Lock()
	a.faults[f.ID] = rec
	a.order = append(a.order, f.ID)
	a.leases.Hold(f.ID, now.Add(time.Duration(f.LeaseMs)*time.Millisecond))
	st := a.state(rec, now)
	a.mu.Unlock()
	r.Fault = &st
	a.logf("applied %s: %s (lease %dms)", f.ID, out.Held.Detail(), f.LeaseMs)
	return r
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
	a.mu.Lock()
	defer a.mu.Unlock()
	if out.Confirmed {
		delete(a.faults, rec.id)
		for i, id := range a.order {
			if id == rec.id {
				a.order = append(a.order[:i], a.order[i+1:]...)
				break
			}
		}
		a.leases.End(rec.id, reason, now)
		a.logf("reverted %s (%s): %s", rec.id, reason, detail)
		a.idle()
	} else {
		a.leases.Drop(rec.id)
		rec.pending, rec.reason, rec.left, rec.retryAt = true, reason, remaining, now.Add(a.cfg.RetryEvery)
		a.logf("revert of %s (%s) incomplete, retrying every %s: %s", rec.id, reason, a.cfg.RetryEvery, detail)
	}
	return out
}

// revert reverts one fault (note: how the pod's lock was had, for the outcome). Call under the
// request lock.
func (a *Agent) revert(ctx context.Context, req *protocol.Request, note string) *protocol.Reply {
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpRevert, nil)
	a.mu.Lock()
	rec := a.faults[req.FaultID]
	ended, wasEnded := a.leases.Ended(req.FaultID)
	a.mu.Unlock()
	if rec == nil {
		out := protocol.RevertOutcome{FaultID: req.FaultID, Agent: a.cfg.Name, Confirmed: true}
		if wasEnded {
			out.Reason = ended.Reason
			out.Detail = "already reverted: " + ended.Reason
		} else {
			// remembered, so that its apply, should it come after all, is refused
			a.mu.Lock()
			a.leases.End(req.FaultID, protocol.ReasonRequested, a.cfg.Clock.Now())
			a.mu.Unlock()
			out.Reason = protocol.ReasonRequested
			out.Detail = fmt.Sprintf("chaos-agent %s does not hold fault %s (it never applied it); an apply of it that comes later is refused", a.cfg.Name, req.FaultID)
		}
		r.Reverted = []protocol.RevertOutcome{out}
		return r
	}
	out := a.revertRecord(ctx, log, rec, protocol.ReasonRequested)
	if note != "" {
		out.Detail += "; " + note
	}
	r.Commands = log.Runs()
	r.Reverted = []protocol.RevertOutcome{out}
	if !out.Confirmed {
		return failed(r, &protocol.ReplyError{Code: protocol.ErrRevertIncomplete, Message: out.Detail})
	}
	return r
}

func (a *Agent) renew(req *protocol.Request) *protocol.Reply {
	r := a.reply(protocol.OpRenew, nil)
	now := a.cfg.Clock.Now()
	// a fault the kernel ends by itself (a partition held through nftables) has its lease
	// renewed in the kernel too, once the books are unlocked (deferred first, it runs last)
	var held fault.Held
	defer func() {
		if err := fault.RenewInKernel(a.env(context.Background(), a.cfg.Exec, nil), held, time.Duration(req.LeaseMs)*time.Millisecond); err != nil {
			a.logf("renewed %s, but not its lease in the kernel: %v", req.FaultID, err)
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := a.faults[req.FaultID]
	if rec != nil && rec.pending {
		code := protocol.ErrUnknownFault
		if rec.reason == protocol.ReasonLeaseLapsed {
			code = protocol.ErrLeaseLapsed
		}
		return failed(r, &protocol.ReplyError{Code: code, Message: fmt.Sprintf("fault %s is being reverted (%s); its revert is not complete yet and is retried", req.FaultID, rec.reason)})
	}
	err := a.leases.Renew(req.FaultID, now.Add(time.Duration(req.LeaseMs)*time.Millisecond))
	var ended *lease.EndedError
	switch {
	case err == nil:
		held, rec.lease = rec.held, time.Duration(req.LeaseMs)*time.Millisecond
		st := a.state(rec, now)
		r.Fault = &st
		return r
	case errors.As(err, &ended) && ended.Reason == protocol.ReasonLeaseLapsed:
		return failed(r, &protocol.ReplyError{Code: protocol.ErrLeaseLapsed,
			Message: fmt.Sprintf("the lease of fault %s lapsed %s ago and the agent reverted it", req.FaultID, now.Sub(ended.At).Round(time.Millisecond))})
	case errors.As(err, &ended):
		return failed(r, &protocol.ReplyError{Code: protocol.ErrUnknownFault, Message: ended.Error()})
	}
	return failed(r, &protocol.ReplyError{Code: protocol.ErrUnknownFault, Message: fmt.Sprintf("chaos-agent %s never held fault %s", a.cfg.Name, req.FaultID)})
}

func (a *Agent) status(ctx context.Context) *protocol.Reply {
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpStatus, nil)
	recs := a.records()
	env := a.env(ctx, log, nil)
	for _, rec := range recs {
		if !rec.pending {
			if _, err := rec.held.Check(env); err != nil {
				a.mu.Lock()
				st := a.state(rec, a.cfg.Clock.Now())
				a.mu.Unlock()
				st.Detail = "NOT in effect: " + err.Error()
				r.Faults = append(r.Faults, st)
				continue
			}
		}
		a.mu.Lock()
		r.Faults = append(r.Faults, a.state(rec, a.cfg.Clock.Now()))
		a.mu.Unlock()
	}
	if a.cfg.NoOrphanScan {
		// a kill or stress agent has no NET_ADMIN to read the network namespace with
		r.Commands = log.Runs()
		return r
	}
	claims := a.claims(ctx)
	orphans := a.findOrphans(ctx, log, claims, scanQdiscs|scanChains)
	for _, o := range orphans.list() {
		r.Orphans = append(r.Orphans, protocol.RevertOutcome{FaultID: o.faultID, Confirmed: false, Reason: protocol.ReasonOrphan,
			Detail: "seen, not reverted: " + o.words + orphans.blockedWords()})
	}
	r.Commands = log.Runs()
	return r
}

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
		r.Orphans = a.takeUntold()
		if !a.cfg.NoOrphanScan {
			r.Orphans = append(r.Orphans, a.revertOrphans(ctx, log, a.claims(ctx), scanQdiscs|scanChains)...)
		}
	}
	if req.Own != nil && *req.Own {
		// this agent's own faults are reverted with the lock or, when it cannot be had, without
		for _, rec := range a.records() {
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

// records are the held faults, in the order they were applied.
func (a *Agent) records() []*record {
	a.mu.Lock()
	defer a.mu.Unlock()
	recs := make([]*record, 0, len(a.order))
	for _, id := range a.order {
		recs = append(recs, a.faults[id])
	}
	return recs
}

// takeUntold returns the orphans reverted at start that no reply has carried yet, once.
func (a *Agent) takeUntold() []protocol.RevertOutcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.untold
	a.untold = nil
	return out
}

// claims gathers what this agent and every live peer hold.
func (a *Agent) claims(ctx context.Context) *ownership.Claims {
	c := ownership.NewClaims(a.cfg.Name)
	now := a.cfg.Clock.Now()
	a.mu.Lock()
	for _, id := range a.order {
		c.Add(a.cfg.Name, a.state(a.faults[id], now))
	}
	a.mu.Unlock()
	replies, silent := a.askPeers(ctx)
	c.Unanswered = silent
	for _, name := range sortedKeys(replies) {
		for _, f := range replies[name].Faults {
			c.Add(name, f)
		}
	}
	return c
}

// maxPeers bounds how many live agents are asked at once: a pod has a few, but any process of
// the pod can bind names that look like agents' sockets, and each costs a connection and up to
// protocol.MaxPeerReplyBytes of reply (4 MiB in all).
const maxPeers = 32

// askPeers asks every live agent but this one what it holds (status from memory), all at once
// and within PeerTimeout in all — a peer that does not answer (a stranger's socket named like
// an agent's, a wedged agent) costs that much once, not once per peer: the replies by name,
// and the live agents that did not answer (sorted).
func (a *Agent) askPeers(ctx context.Context) (map[string]*protocol.Reply, []string) {
	replies := map[string]*protocol.Reply{}
	if a.cfg.Peers == nil {
		return replies, nil
	}
	live, err := a.cfg.Peers.Live()
	if err != nil {
		a.logf("cannot list the live agents: %v", err)
		return replies, []string{"(unknown: " + err.Error() + ")"}
	}
	var names, silent []string
	for _, name := range live {
		switch {
		case name == a.cfg.Name:
		case len(names) == maxPeers:
			silent = append(silent, name)
		default:
			names = append(names, name)
		}
	}
	no := false
	q := &protocol.Request{Protocol: protocol.Version, Op: protocol.OpStatus, RunID: a.cfg.RunID, ScanOrphans: &no}
	pctx, cancel := context.WithTimeout(ctx, a.cfg.PeerTimeout)
	defer cancel()
	type answer struct {
		name, why string
		rep       *protocol.Reply
	}
	answers := make(chan answer, len(names))
	for _, name := range names {
		go func() {
			rep, err := a.cfg.Peers.Status(pctx, name, q)
			why := ""
			switch {
			case err != nil:
				why = err.Error()
			case rep == nil || (!rep.OK && rep.Error == nil):
				why = "no reply"
			case !rep.OK:
				why = rep.Error.Message
			}
			answers <- answer{name: name, why: why, rep: rep}
		}()
	}
	for range names {
		an := <-answers
		if an.why != "" {
			a.logf("live agent %s did not say what it holds (%s): leaving alone what could be its", an.name, an.why)
			silent = append(silent, an.name)
			continue
		}
		replies[an.name] = an.rep
	}
	sort.Strings(silent)
	return replies, silent
}

func sortedKeys(m map[string]*protocol.Reply) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
