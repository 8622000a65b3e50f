// Package service is the agent's serve process: it holds faults under leases, answers one
// request per connection, reverts on lease lapse, at its TTL and on SIGTERM, and finds and
// reverts the orphans of gone agents. Requests are serialized by one mutex; changes to the
// kernel also take the network namespace's lock, shared with the other agents of the pod.
//
// By job: agent.go wires an Agent and makes its replies; conn.go serves the socket (one
// request, one reply per connection; who connected, by trust.go); dispatch.go sends a request
// where it goes, under the locks it needs; apply.go, revert.go, renew.go, status.go and
// sweep.go are the ops; books.go keeps what is held and its leases; lifecycle.go is the serve
// process's life (orphans at start, the lease loop, the TTL, shutdown); lock.go takes the pod's
// lock and tells a squatter; peers.go asks the other agents what they hold; orphans.go finds and
// reverts what no live agent holds; firewall.go says which firewall the faults use.
package service

import (
	"context"
	"io"
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
	// Announce writes one line to stdout (the container's log, which the runner reads): the
	// first request's reply (first.go), the replies of the stdin's requests (lines.go); called
	// one at a time (sayLine). Nil: not written.
	Announce func(line string)
	// Lines, where the runner holds a stream to the agent (its container's stdin), carries its
	// requests, one per line; their replies go out through Announce (lines.go). Nil: none.
	Lines io.Reader
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
	// agent's own identity to compare with (default SelfIdentity). See trust.go.
	Identify Identify
	Self     *Self
	// LockWait bounds the wait for the pod's lock while a live agent holds it, for what cannot
	// go without it (an apply, an orphan scan; default 10 s); RevertLockWait, for a revert of
	// this agent's own faults, which then goes without it (default 3 s). SquatCheckAfter is how
	// long the lock is busy before the agent asks who holds it (default 50 ms).
	LockWait, RevertLockWait, SquatCheckAfter time.Duration
}

// Agent is the serve process's state.
type Agent struct {
	cfg      Config
	deadline time.Time
	self     Self

	reqMu sync.Mutex // one request (or loop action) at a time
	// books: what the agent holds and has held (a mutex of its own, never held while the kernel
	// changes)
	books books
	// firewall: which firewall its firewall faults use
	firewall firewallUse
	// exiting: the TTL is over or a signal came; everything is being reverted, and whatever
	// would change anything is refused
	exiting atomic.Bool
	// locking counts the lock takings under way or held (AgentInfo.locking)
	locking atomic.Int32
	// holdsLock: one of this agent's own requests holds the pod's lock now
	holdsLock atomic.Bool
	// strangers counts the strangers' connections being served
	strangers atomic.Int32
	// strangerNoted is when a stranger's connection was last said in the log (unix ns): at most
	// one line per strangerNoteEvery, whatever the pod's processes do
	strangerNoted atomic.Int64
	// linesNoted is when a dropped line of stdin was last said in the log (unix ns)
	linesNoted atomic.Int64
	// quiet: the serve process is ending; no reply of the stdin's follows its last words in the
	// log (lines.go: hush)
	sayMu sync.Mutex
	quiet bool

	// conns are the connections being served
	conns sync.WaitGroup
	// done is closed when the serve process is to end (ExitAfterEvent, ExitWhenIdle)
	done     chan struct{}
	doneOnce sync.Once
	eventErr error
	// first: the apply the agent started with (first.go)
	first *firstRequest
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
		cfg.Kinds = map[string]fault.Kind{protocol.KindNetem: fault.Netem{}, protocol.KindPartition: fault.Partition{}, protocol.KindHTTP: fault.HTTP{}, protocol.KindGRPC: fault.GRPC{}, protocol.KindDNS: fault.DNS{}}
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
	return &Agent{cfg: cfg, self: *cfg.Self, deadline: cfg.Clock.Now().Add(cfg.TTL), books: newBooks(), done: make(chan struct{}), first: newFirstRequest()}
}

func (a *Agent) logf(format string, args ...any) { a.cfg.Logf(format, args...) }

// Done is closed once the serve process is to end: an event is done (ExitAfterEvent), or the
// faults it held are all over (ExitWhenIdle).
func (a *Agent) Done() <-chan struct{} { return a.done }

// end ends the serve process (Done).
func (a *Agent) end() { a.doneOnce.Do(func() { close(a.done) }) }

func (a *Agent) info() protocol.AgentInfo {
	left := a.deadline.Sub(a.cfg.Clock.Now())
	if left < 0 {
		left = 0
	}
	info := protocol.AgentInfo{Name: a.cfg.Name, RunID: a.cfg.RunID, Version: a.cfg.Version, TTLLeftMs: left.Milliseconds(), Locking: a.locking.Load() > 0}
	a.firewall.describe(&info)
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

// env is what a fault kind works with while serving one request (ex records what ran).
func (a *Agent) env(ctx context.Context, ex exec.Executor, claims *ownership.Claims) *fault.Env {
	return &fault.Env{
		Ctx: ctx, Exec: ex, Kernel: a.cfg.Kernel, Agent: a.cfg.Name, RunID: a.cfg.RunID, Claims: claims,
		Backend:  func() (firewall.Backend, error) { return a.firewall.detect(ctx, ex, &a.cfg) },
		ReadFile: a.cfg.ReadFile,
		Logf:     a.cfg.Logf,
	}
}
