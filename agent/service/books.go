package service

import (
	"fmt"
	"sync"
	"time"

	"chaos-run/agent/fault"
	"chaos-run/agent/firewall"
	"chaos-run/agent/lease"
	"chaos-run/agent/protocol"
)

// record is one fault the agent holds.
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
	// applied is what its apply ran and found (its commands, the orphans it reverted first),
	// told again to an apply of it asked again (by exec, where the runner's line was slow); set
	// once, under the request lock
	applied *protocol.Reply
}

// books are what the agent holds and has held: a record per fault it holds, in the order they
// were applied, their leases, the ids it reverted (remembered for its life: a late apply of one
// is refused), and the orphans it reverted at start that no reply has told yet. One mutex
// guards them; it is never held while the kernel is changed or a command runs, so a peer's
// status and a renewal never wait behind a request.
type books struct {
	mu     sync.Mutex
	faults map[string]*record
	order  []string
	leases *lease.Table
	// orphans reverted at start, not yet told to anyone: the next apply or sweep reply carries
	// them, so the runner that brought this agent learns what it cleaned up
	untold []protocol.RevertOutcome
	// the last requested reverts' replies, told again to a revert of the same fault (the runner
	// asks by exec when its line to the agent is slow): its readings are not lost
	reverts     map[string]*protocol.Reply
	revertOrder []string
}

// keptReverts bounds the reverts kept to tell again: a run asks again within seconds.
const keptReverts = 64

// keepRevert keeps a requested revert's reply (its commands and outcome) to tell again.
func (b *books) keepRevert(out protocol.RevertOutcome, commands []protocol.CommandRun) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reverts == nil {
		b.reverts = map[string]*protocol.Reply{}
	}
	if _, known := b.reverts[out.FaultID]; !known {
		b.revertOrder = append(b.revertOrder, out.FaultID)
	}
	b.reverts[out.FaultID] = &protocol.Reply{Commands: commands, Reverted: []protocol.RevertOutcome{out}}
	if len(b.revertOrder) > keptReverts {
		delete(b.reverts, b.revertOrder[0])
		b.revertOrder = b.revertOrder[1:]
	}
}

// toldRevertOf is the reply a requested revert of id gave, if it is kept.
func (b *books) toldRevertOf(id string) (*protocol.Reply, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.reverts[id]
	return t, ok
}

func newBooks() books {
	return books{faults: map[string]*record{}, leases: lease.NewTable()}
}

// get is the record of a held fault (nil: not held).
func (b *books) get(id string) *record {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.faults[id]
}

// ended says whether (and how) a fault id was reverted.
func (b *books) ended(id string) (lease.Ended, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leases.Ended(id)
}

// forbid remembers a fault id asked to be reverted that was never held, so that its apply,
// should it come after all, is refused.
func (b *books) forbid(id, reason string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leases.End(id, reason, now)
}

// add records a fault now held; its lease runs until leaseEnd from now on, unless it is held
// only because its rollback was incomplete (pending: retried, never renewed).
func (b *books) add(rec *record, leaseEnd time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[rec.id] = rec
	b.order = append(b.order, rec.id)
	if !rec.pending {
		b.leases.Hold(rec.id, leaseEnd)
	}
}

// settle keeps the books after a revert of rec: confirmed, the fault ends and its id is
// remembered as reverted; not, it stays, pending, its revert retried at retryAt. empty: no
// fault is held any more.
func (b *books) settle(rec *record, out protocol.RevertOutcome, now, retryAt time.Time) (empty bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !out.Confirmed {
		b.leases.Drop(rec.id)
		rec.pending, rec.reason, rec.left, rec.retryAt = true, out.Reason, out.Remaining, retryAt
		return false
	}
	delete(b.faults, rec.id)
	for i, id := range b.order {
		if id == rec.id {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
	b.leases.End(rec.id, out.Reason, now)
	return len(b.faults) == 0
}

// pendingError: a fault being reverted, whose revert is not complete yet, is renewed no more.
type pendingError struct{ reason string }

func (e *pendingError) Error() string { return "being reverted (" + e.reason + ")" }

// renew gives a held fault a new lease from now: its record and state as they stand then; else
// a *pendingError or the lease table's error.
func (b *books) renew(id string, now time.Time, leaseFor time.Duration) (*record, protocol.FaultState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.faults[id]
	if rec != nil && rec.pending {
		return nil, protocol.FaultState{}, &pendingError{reason: rec.reason}
	}
	if err := b.leases.Renew(id, now.Add(leaseFor)); err != nil {
		return nil, protocol.FaultState{}, err
	}
	rec.lease = leaseFor
	return rec, b.stateLocked(rec, now), nil
}

// records are the held faults, in the order they were applied.
func (b *books) records() []*record {
	b.mu.Lock()
	defer b.mu.Unlock()
	recs := make([]*record, 0, len(b.order))
	for _, id := range b.order {
		recs = append(recs, b.faults[id])
	}
	return recs
}

// states are the held faults as FaultStates, in the order they were applied.
func (b *books) states(now time.Time) []protocol.FaultState {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []protocol.FaultState
	for _, id := range b.order {
		out = append(out, b.stateLocked(b.faults[id], now))
	}
	return out
}

// state is a record as a FaultState (from memory: objects and the last read-back).
func (b *books) state(rec *record, now time.Time) protocol.FaultState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stateLocked(rec, now)
}

func (b *books) stateLocked(rec *record, now time.Time) protocol.FaultState {
	detail := rec.held.Detail()
	if rec.pending {
		detail = fmt.Sprintf("being reverted (%s); not complete yet: %d objects remain", rec.reason, len(rec.left))
	}
	st := protocol.FaultState{
		ID: rec.id, RunID: rec.runID, Kind: rec.held.Kind(), Interface: rec.held.Interface(),
		Families: append([]int{}, rec.held.Families()...), Objects: rec.held.Objects(),
		LeaseLeftMs: b.leases.Left(rec.id, now).Milliseconds(), Detail: detail,
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

// due are the faults whose lease lapsed by now, and those whose revert is to be retried.
func (b *books) due(now time.Time) (lapsed []string, retry []*record) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range b.order {
		if rec := b.faults[id]; rec.pending && !now.Before(rec.retryAt) {
			retry = append(retry, rec)
		}
	}
	return b.leases.Expired(now), retry
}

// stillLapsed is the record of a fault whose lease is still over at now (a renewal may have come
// since it was found due), or nil.
func (b *books) stillLapsed(id string, now time.Time) *record {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.faults[id]
	if rec == nil || !b.leases.Held(id) || b.leases.Left(id, now) != 0 {
		return nil
	}
	return rec
}

// next is when something falls due (a lease's end, a retry), or until if that comes first.
func (b *books) next(until time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.leases.Next(); ok && d.Before(until) {
		until = d
	}
	for _, rec := range b.faults {
		if rec.pending && rec.retryAt.Before(until) {
			until = rec.retryAt
		}
	}
	return until
}

// empty: no fault is held.
func (b *books) empty() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.faults) == 0
}

// tell keeps orphans reverted at start for the next reply that carries them.
func (b *books) tell(out []protocol.RevertOutcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.untold = append(b.untold, out...)
}

// takeUntold returns the orphans reverted at start that no reply has carried yet, once.
func (b *books) takeUntold() []protocol.RevertOutcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.untold
	b.untold = nil
	return out
}
