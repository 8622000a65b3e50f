package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// The pod's lock is a name any process of the pod can bind (ownership.SocketLock), so the agent
// never waits for it unboundedly and tells an agent that holds it from a squatter: an agent says
// it holds the lock, or is taking it, in every reply (AgentInfo.locking) from before it binds the
// name until after it closed it. Held while every live agent answers that it does not hold it —
// twice, a moment apart, with the name still bound in between — the lock is squatted. Limits: a
// squatter that also serves a socket named like an agent and does not answer makes the question
// undecided (the wait is then bounded, not shortened); an agent of an earlier version, which
// does not say, is taken for a squatter while it holds the lock.

// lockProblem is why the lock could not be had.
type lockProblem struct {
	squatted bool
	words    string
}

func (p *lockProblem) message() string {
	if p.squatted {
		return "the pod's chaos-agent lock " + protocol.LockAddress() + " is squatted: " + p.words
	}
	return "could not take the pod's chaos-agent lock " + protocol.LockAddress() + ": " + p.words
}

const squatWords = "its name is bound, and no live chaos-agent of this pod holds it or is taking it — another process of the pod has bound it; " +
	"no fault that needs the lock can be applied until that process lets it go (the name shows in the pod's /proc/net/unix)"

// takeLock takes the pod's lock, waiting at most wait while a live agent holds it; a squatted
// lock is reported at once (within a fraction of a second).
func (a *Agent) takeLock(ctx context.Context, wait time.Duration) (func(), *lockProblem) {
	a.locking.Add(1)
	held := false
	defer func() {
		if !held {
			a.locking.Add(-1)
		}
	}()
	start := time.Now()
	backoff := 5 * time.Millisecond
	nextCheck := start.Add(a.cfg.SquatCheckAfter)
	streak := 0
	holder := "a live agent holds it"
	for {
		release, err := a.cfg.Lock.TryAcquire()
		if err == nil {
			held = true
			a.holdsLock.Store(true)
			return func() { a.holdsLock.Store(false); release(); a.locking.Add(-1) }, nil
		}
		if !errors.Is(err, ownership.ErrLockBusy) {
			return nil, &lockProblem{words: err.Error()}
		}
		if now := time.Now(); !now.Before(nextCheck) {
			claimant, silent := a.lockClaimed(ctx)
			switch {
			case a.holdsLock.Load():
				// another request of this agent's holds it (the same apply asked again by exec
				// while its copy on the runner's line runs, say): not a squat, a wait
				streak, holder = 0, "another request of this agent holds it"
			case claimant != "":
				streak, holder = 0, "live agent "+claimant+" holds it"
			case len(silent) > 0:
				streak, holder = 0, "live agent "+strings.Join(silent, ", ")+" did not answer whether it holds it"
			default:
				streak++
				if streak == 2 {
					return nil, &lockProblem{squatted: true, words: squatWords}
				}
			}
			nextCheck = time.Now().Add(time.Second)
			if streak == 1 {
				nextCheck = time.Now().Add(a.cfg.SquatCheckAfter)
			}
		}
		if time.Since(start)+backoff > wait {
			return nil, &lockProblem{words: fmt.Sprintf("held for %s (%s)", wait, holder)}
		}
		select {
		case <-ctx.Done():
			return nil, &lockProblem{words: ctx.Err().Error()}
		case <-time.After(backoff):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// lockClaimed asks the live agents whether one holds the lock or is taking it: the first that
// says so, or those that did not answer.
func (a *Agent) lockClaimed(ctx context.Context) (claimant string, silent []string) {
	replies, silent := a.askPeers(ctx)
	for _, name := range sortedKeys(replies) {
		if replies[name].Agent.Locking {
			return name, nil
		}
	}
	return "", silent
}

// lockForRevert takes the lock for a revert, briefly: a revert of this agent's own objects goes
// on without it rather than wait behind a squatter or a wedged agent (the lease, the TTL and
// SIGTERM must not depend on what another process holds). release is never nil; note, when
// not empty, says the revert went without the lock, and why.
func (a *Agent) lockForRevert(ctx context.Context) (release func(), note string) {
	release, problem := a.takeLock(ctx, a.cfg.RevertLockWait)
	if problem != nil {
		a.logf("reverting without the pod's lock: %s", problem.message())
		return func() {}, "reverted without the pod's lock (" + problem.message() + ")"
	}
	return release, ""
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
