package service

import (
	"context"

	"chaos-run/agent/exec"
	"chaos-run/agent/protocol"
)

// status says what the agent holds, each fault read back from the kernel, and the orphans it
// sees (not reverted). Call under the request lock.
func (a *Agent) status(ctx context.Context) *protocol.Reply {
	log := exec.NewLog(a.cfg.Exec)
	r := a.reply(protocol.OpStatus, nil)
	env := a.env(ctx, log, nil)
	for _, rec := range a.books.records() {
		if !rec.pending {
			if _, err := rec.held.Check(env); err != nil {
				st := a.books.state(rec, a.cfg.Clock.Now())
				st.Detail = "NOT in effect: " + err.Error()
				r.Faults = append(r.Faults, st)
				continue
			}
		}
		r.Faults = append(r.Faults, a.books.state(rec, a.cfg.Clock.Now()))
	}
	if a.cfg.NoOrphanScan {
		// a kill or stress agent has no NET_ADMIN to read the network namespace with
		r.Commands = log.Runs()
		return r
	}
	orphans := a.findOrphans(ctx, log, a.claims(ctx), scanQdiscs|scanChains)
	for _, o := range orphans.list() {
		r.Orphans = append(r.Orphans, protocol.RevertOutcome{FaultID: o.faultID, Confirmed: false, Reason: protocol.ReasonOrphan,
			Detail: "seen, not reverted: " + o.words + orphans.blockedWords()})
	}
	r.Commands = log.Runs()
	return r
}

// peerStatus is what the agent holds, from memory, without any lock a request holds: how the
// agents of a pod learn each other's claims (the asker may hold the pod's lock while this
// agent waits for it), and all a stranger may ask.
func (a *Agent) peerStatus() *protocol.Reply {
	r := a.reply(protocol.OpStatus, nil)
	r.Faults = a.books.states(a.cfg.Clock.Now())
	return r
}
