// Package lease keeps the serve loop's leases: every fault has a deadline on the monotonic
// clock; when it passes, the loop reverts the fault. Faults that ended — and faults reverted
// before this agent ever held them — are remembered (a bounded history) so a late renew or
// revert of one is answered precisely, and a late apply of one is refused.
package lease

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Clock tells the time. The real one is time.Now, whose readings carry the monotonic clock
// (Sub and Before use it, so a wall-clock step cannot end a lease early); tests use Fake.
type Clock interface {
	Now() time.Time
}

// Real is the process's clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// Fake is a clock tests move by hand.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake starts a fake clock.
func NewFake() *Fake { return &Fake{t: time.Unix(1_000_000, 0)} }

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the clock on.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// Ended is how a fault stopped being held.
type Ended struct {
	ID     string
	Reason string // a protocol revert reason
	At     time.Time
}

// Errors of Renew.
var (
	ErrUnknown = errors.New("unknown fault")
	ErrEnded   = errors.New("fault ended")
)

// EndedError says how a fault that is no longer held ended.
type EndedError struct{ Ended }

func (e *EndedError) Error() string {
	return fmt.Sprintf("fault %s was already reverted: %s", e.ID, e.Reason)
}
func (e *EndedError) Unwrap() error { return ErrEnded }

// HistorySize bounds the history of ended faults: the oldest is forgotten past it. A fault id is
// at most 22 bytes, so the history weighs at most about 2 MB; filling it within one agent's life
// (its TTL, 10 minutes by default) takes 27 reverts a second, each a `kubectl exec` of the
// runner's (strangers cannot revert: see service), so within a TTL nothing is forgotten.
const HistorySize = 16384

// Table is the lease table. It is not safe for concurrent use: the agent guards it.
type Table struct {
	deadlines map[string]time.Time
	ended     map[string]Ended
	order     []string // ended ids, oldest first (an id appears once)
}

// NewTable makes an empty table.
func NewTable() *Table {
	return &Table{deadlines: map[string]time.Time{}, ended: map[string]Ended{}}
}

// Hold starts (or restarts) a fault's lease.
func (t *Table) Hold(id string, deadline time.Time) {
	t.deadlines[id] = deadline
	t.forget(id)
}

// Held: the fault has a lease.
func (t *Table) Held(id string) bool {
	_, ok := t.deadlines[id]
	return ok
}

// Renew moves a held fault's deadline; a fault not held answers ErrUnknown or an *EndedError.
func (t *Table) Renew(id string, deadline time.Time) error {
	if _, ok := t.deadlines[id]; ok {
		t.deadlines[id] = deadline
		return nil
	}
	if e, ok := t.Ended(id); ok {
		return &EndedError{e}
	}
	return fmt.Errorf("%w %s", ErrUnknown, id)
}

// Drop stops a fault's lease without ending it (its revert is under way).
func (t *Table) Drop(id string) { delete(t.deadlines, id) }

// Left is how long a fault's lease has to run (0 when lapsed or not held).
func (t *Table) Left(id string, now time.Time) time.Duration {
	d, ok := t.deadlines[id]
	if !ok || !now.Before(d) {
		return 0
	}
	return d.Sub(now)
}

// Expired lists the held faults whose deadline has passed, sorted.
func (t *Table) Expired(now time.Time) []string {
	var out []string
	for id, d := range t.deadlines {
		if !now.Before(d) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Next is the earliest deadline (ok=false when nothing is held).
func (t *Table) Next() (time.Time, bool) {
	var next time.Time
	ok := false
	for _, d := range t.deadlines {
		if !ok || d.Before(next) {
			next, ok = d, true
		}
	}
	return next, ok
}

// End stops holding a fault (if it was held) and remembers why it ended.
func (t *Table) End(id, reason string, now time.Time) {
	delete(t.deadlines, id)
	t.forget(id)
	t.ended[id] = Ended{ID: id, Reason: reason, At: now}
	t.order = append(t.order, id)
	if len(t.order) > HistorySize {
		drop := len(t.order) - HistorySize
		for _, old := range t.order[:drop] {
			delete(t.ended, old)
		}
		t.order = append([]string(nil), t.order[drop:]...)
	}
}

// Ended: how a fault that is not held any more ended.
func (t *Table) Ended(id string) (Ended, bool) {
	e, ok := t.ended[id]
	return e, ok
}

func (t *Table) forget(id string) {
	if _, ok := t.ended[id]; !ok {
		return
	}
	delete(t.ended, id)
	for i, old := range t.order {
		if old == id {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
}
