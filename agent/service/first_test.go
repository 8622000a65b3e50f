package service

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/protocol"
)

// The fault the agent starts with is held at once, and the runner's first renewal confirms it,
// carrying what the apply did (its commands) — once.
func TestFirstRequestIsHeldAndItsFirstRenewalTellsTheApply(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	if perr := a.SetFirst([]byte(applyReq("aaaa", "aaaa-s1", 2000, netem100))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	r := a.ApplyFirst(context.Background())
	mustOK(t, r)
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" {
		t.Fatalf("not held: %+v", root)
	}
	confirm := do(t, a, renewReq("aaaa", "aaaa-s1", 2000))
	mustOK(t, confirm)
	if confirm.Fault == nil || confirm.Fault.ID != "aaaa-s1" || len(confirm.Commands) == 0 || !strings.Contains(strings.Join(argvs(confirm)[0], " "), "netem delay 100ms") {
		t.Fatalf("the confirmation does not tell the apply: %+v %v", confirm.Fault, argvs(confirm))
	}
	// a renewal within a lease of it (the same one, asked again by exec) carries it too; one later, no more
	if again := do(t, a, renewReq("aaaa", "aaaa-s1", 2000)); len(again.Commands) != len(confirm.Commands) {
		t.Fatalf("a renewal at once after it does not carry the apply: %v", argvs(again))
	}
	p.clock.Advance(1900 * time.Millisecond)
	mustOK(t, do(t, a, renewReq("aaaa", "aaaa-s1", 2000)))
	p.clock.Advance(1900 * time.Millisecond)
	later := do(t, a, renewReq("aaaa", "aaaa-s1", 2000))
	mustOK(t, later)
	if len(later.Commands) != 0 {
		t.Fatalf("the apply told a lease after its first telling: %v", argvs(later))
	}
}

// The apply's reply is written to the container's log once, one line after the prefix the runner
// looks for, so the runner learns the fault is held without an exec; a first request that fails
// writes none (its reason is the agent's last log line).
func TestTheFirstRequestsReplyIsAnnouncedOnceInTheLog(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	var lines []string
	a.cfg.Announce = func(line string) { lines = append(lines, line) }
	if perr := a.SetFirst([]byte(applyReq("aaaa", "aaaa-s1", 2000, netem100))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	mustOK(t, a.ApplyFirst(context.Background()))
	if len(lines) != 1 || !strings.HasPrefix(lines[0], protocol.FirstReplyPrefix) || strings.Contains(lines[0], "\n") {
		t.Fatalf("announced %q", lines)
	}
	var r protocol.Reply
	raw := strings.TrimPrefix(lines[0], protocol.FirstReplyPrefix)
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatalf("not a reply: %v: %s", err, lines[0])
	}
	// written as an exec's reply is: the schema's arrays present even when empty, never null
	if want, _ := protocol.Encode(&r); string(want) != raw || strings.Contains(raw, ":null") {
		t.Fatalf("the announced reply is not written as the schema wants it:\n%s\nwant\n%s", raw, want)
	}
	if err := protocol.ValidateReply(&r); err != nil || !r.OK || r.Op != protocol.OpApply || r.Fault == nil || r.Fault.ID != "aaaa-s1" || len(r.Commands) == 0 {
		t.Fatalf("the announced reply does not tell the apply (%v): %+v", err, r)
	}
	if r.Agent.Name != "chaos-agent-aaaa" {
		t.Fatalf("the announced reply does not say its agent: %+v", r.Agent)
	}

	// a fault that ran no command and holds no kernel object (a stress): its arrays are [], not null
	lines = nil
	a.announce(&protocol.Reply{Protocol: 1, Op: protocol.OpApply, OK: true, Agent: r.Agent, Fault: &protocol.FaultState{ID: "aaaa-s1", RunID: "aaaa", Kind: protocol.KindStress}})
	if len(lines) != 1 || strings.Contains(lines[0], "null") || !strings.Contains(lines[0], `"commands":[]`) {
		t.Fatalf("announced %q", lines)
	}

	failing := p.agent("chaos-agent-bbbb", "bbbb")
	lines = nil
	failing.cfg.Announce = func(line string) { lines = append(lines, line) }
	if perr := failing.SetFirst([]byte(applyReq("bbbb", "bbbb-s1", 2000, `{"kind":"netem","interface":"eth9","netem":{"delayMs":1}}`))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	mustFail(t, failing.ApplyFirst(context.Background()), protocol.ErrNoInterface, 1)
	if len(lines) != 0 {
		t.Fatalf("a failed first request announced %q", lines)
	}
}

// Nobody confirms (the runner died, or never saw the container run): the lease that started with
// the agent lapses and the agent reverts the fault; a late confirmation is told so.
func TestAnUnconfirmedFirstRequestLapsesWithItsLease(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	if perr := a.SetFirst([]byte(applyReq("aaaa", "aaaa-s1", 2000, netem100))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	mustOK(t, a.ApplyFirst(context.Background()))
	p.clock.Advance(1900 * time.Millisecond)
	a.Tick(context.Background())
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" {
		t.Fatal("reverted before its lease lapsed")
	}
	p.clock.Advance(200 * time.Millisecond)
	a.Tick(context.Background())
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("unconfirmed, its lease lapsed, still held: %+v", root)
	}
	mustFail(t, do(t, a, renewReq("aaaa", "aaaa-s1", 2000)), protocol.ErrLeaseLapsed, 1)
	mustFail(t, do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100)), protocol.ErrReverted, 1)
}

// A first request is refused as strictly as an exec's, and more: nothing is kept, nothing runs.
func TestBadFirstRequestsAreRefusedAndNothingIsHeld(t *testing.T) {
	cases := map[string]struct{ raw, says string }{
		"not JSON":                 {`{"protocol":1,`, "one JSON object"},
		"schema":                   {applyReq("aaaa", "aaaa-s1", 2000, `{"kind":"netem","netem":{"delayMs":-5}}`), "invalid request"},
		"unknown field":            {`{"protocol":1,"op":"apply","runId":"aaaa","evil":true,"fault":{"id":"aaaa-s1","leaseMs":2000,"spec":` + netem100 + `}}`, "invalid request"},
		"a revert":                 {revertReq("aaaa", "aaaa-s1"), "must be an apply, not revert"},
		"a dry run":                {`{"protocol":1,"op":"apply","runId":"aaaa","dryRun":true,"fault":{"id":"aaaa-s1","leaseMs":2000,"spec":` + netem100 + `}}`, "not a dry run"},
		"another run":              {applyReq("bbbb", "bbbb-s1", 2000, netem100), `of run "bbbb"; this agent serves run "aaaa"`},
		"a kind it does not serve": {applyReq("aaaa", "aaaa-s1", 2000, `{"kind":"kill","signal":"SIGKILL"}`), "does not serve fault kind kill"},
		"too big":                  {strings.Repeat(" ", protocol.MaxRequestBytes+1), "at most"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := newPod(t)
			a := p.agent("chaos-agent-aaaa", "aaaa")
			perr := a.SetFirst([]byte(c.raw))
			if perr == nil || perr.Code != protocol.ErrBadRequest || !strings.Contains(perr.Message, c.says) {
				t.Fatalf("want bad-request saying %q, got %+v", c.says, perr)
			}
			if r := a.ApplyFirst(context.Background()); r != nil {
				t.Fatalf("a refused first request was applied: %+v", r)
			}
			if calls := p.k.Calls(); len(calls) != 0 {
				t.Fatalf("ran %v", p.k.Argvs())
			}
		})
	}
}

// A valid first request whose apply fails leaves nothing held and says why, for the runner.
func TestAFirstRequestThatFailsHoldsNothingAndSaysWhy(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	if perr := a.SetFirst([]byte(applyReq("aaaa", "aaaa-s1", 2000, `{"kind":"netem","interface":"eth9","netem":{"delayMs":1}}`))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	r := a.ApplyFirst(context.Background())
	mustFail(t, r, protocol.ErrNoInterface, 1)
	if got := a.FirstFailed(r); !strings.HasPrefix(got, "first request (apply aaaa-s1) failed: no-interface: ") {
		t.Fatalf("said %q", got)
	}
	if !a.books.empty() {
		t.Fatalf("holds %+v", a.books.records())
	}
}

// The runner's confirmation (or its revert, after an interrupt) can arrive while the agent is
// still applying the fault it started with: it waits for that apply, never finding nothing; a
// peer's status is answered meanwhile. A revert that comes first reverts the fault once held.
func TestOwnRequestsWaitForTheFirstApplyPeersDoNot(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	if perr := a.SetFirst([]byte(applyReq("aaaa", "aaaa-s1", 30000, netem100))); perr != nil {
		t.Fatalf("refused: %+v", perr)
	}
	reverted := make(chan *protocol.Reply, 1)
	go func() { reverted <- a.Handle(context.Background(), []byte(revertReq("aaaa", "aaaa-s1"))) }()
	peer := do(t, a, `{"protocol":1,"op":"status","runId":"bbbb","scanOrphans":false}`)
	mustOK(t, peer)
	select {
	case r := <-reverted:
		t.Fatalf("the revert did not wait for the first apply: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	mustOK(t, a.ApplyFirst(context.Background()))
	r := <-reverted
	mustOK(t, r)
	if !r.Reverted[0].Confirmed || strings.Contains(r.Reverted[0].Detail, "never applied it") {
		t.Fatalf("revert: %+v", r.Reverted)
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("still held after its revert: %+v", root)
	}
}
