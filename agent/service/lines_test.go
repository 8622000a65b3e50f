package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"chaos-run/agent/protocol"
)

// lineReplies collects what the agent writes for the stream's requests, by tag.
type lineReplies struct {
	mu     sync.Mutex
	byTag  map[string]*protocol.Reply
	others []string
	got    chan string
}

func (l *lineReplies) announce(t *testing.T) func(string) {
	return func(line string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		rest, ok := strings.CutPrefix(line, protocol.LineReplyPrefix)
		if !ok || strings.Contains(line, "\n") {
			l.others = append(l.others, line)
			return
		}
		tag, raw, _ := strings.Cut(rest, " ")
		var r protocol.Reply
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Errorf("the reply to %s is not a Reply: %v: %s", tag, err, raw)
		}
		l.byTag[tag] = &r
		l.got <- tag
	}
}

// waitFor waits until the reply tagged tag was written.
func (l *lineReplies) waitFor(t *testing.T, tag string) *protocol.Reply {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		r := l.byTag[tag]
		l.mu.Unlock()
		if r != nil {
			return r
		}
		select {
		case <-l.got:
		case <-deadline:
			t.Fatalf("no reply tagged %s", tag)
		}
	}
}

// lineAgent is an agent serving the lines written to feed, its replies collected; ended closes
// when ServeLines returns.
func lineAgent(t *testing.T) (*pod, *Agent, *lineReplies, *io.PipeWriter, <-chan struct{}) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	got := &lineReplies{byTag: map[string]*protocol.Reply{}, got: make(chan string, 16)}
	a.cfg.Announce = got.announce(t)
	in, feed := io.Pipe()
	ended := make(chan struct{})
	go func() { a.ServeLines(context.Background(), in); close(ended) }()
	return p, a, got, feed, ended
}

// Requests that come on the agent's stdin, a tag and a request a line, are served as its own
// requester's: a fault renewed and reverted that way holds and ends in the kernel, and each reply
// comes back as one line with its tag. What is not a tag and a request, or is longer
// than a request may be, is dropped without stopping the stream; its end ends ServeLines.
func TestRequestsOnStdinAreServedAndAnsweredByTag(t *testing.T) {
	p, a, got, feed, ended := lineAgent(t)
	send := func(line string) {
		if _, err := feed.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}

	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100)))
	send(`{"no":"tag"}`)
	send("bad!tag " + renewReq("aaaa", "aaaa-s1", 2000))
	send("long " + strings.Repeat("x", protocol.MaxRequestBytes+100))
	send("r1 " + renewReq("aaaa", "aaaa-s1", 2000))
	if r := got.waitFor(t, "r1"); !r.OK || r.Op != protocol.OpRenew {
		t.Fatalf("the renewal after the dropped lines: %+v", r)
	}
	send("b1 not json")
	if r := got.waitFor(t, "b1"); r.OK || r.Error == nil || r.Error.Code != protocol.ErrBadRequest {
		t.Fatalf("a tagged line that is no request: %+v", r)
	}
	send("v1 " + revertReq("aaaa", "aaaa-s1"))
	mustOK(t, got.waitFor(t, "v1"))
	if root := rootOf(t, p.k, "eth0"); root.Kind == "netem" {
		t.Fatalf("the revert that came on stdin left the netem: %+v", root)
	}
	_ = feed.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeLines did not end with its stdin")
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.byTag) != 3 || len(got.others) != 0 {
		t.Fatalf("answered %d tags (want r1 b1 v1), other lines %q", len(got.byTag), got.others)
	}
}

// A line is read whole at any length up to the limit, across the reader's buffer (4096 bytes); one
// over it is dropped up to its newline, the next read whole; the end of the input ends a last
// line with no newline, and follows a dropped one.
func TestReadLineAtItsBoundaries(t *testing.T) {
	const limit = 10000
	line := func(n int) string { return strings.Repeat("x", n-1) + "\n" }
	for _, tc := range []struct {
		name  string
		input string
		want  []string // "!" : errLineTooLong
	}{
		{"the buffer's size exactly", line(4096) + line(5), []string{line(4096), line(5)}},
		{"the limit exactly", line(limit) + line(3), []string{line(limit), line(3)}},
		{"over the limit", line(limit+1) + line(3), []string{"!", line(3)}},
		{"over it, far, then more", line(3*limit) + line(4097), []string{"!", line(4097)}},
		{"no newline at the end", line(3) + "abc", []string{line(3), "abc"}},
		{"over the limit at the end", line(3) + strings.Repeat("y", limit+5), []string{line(3), "!"}},
	} {
		r := bufio.NewReaderSize(strings.NewReader(tc.input), 4096)
		var got []string
		for {
			l, err := readLine(r, limit)
			switch {
			case errors.Is(err, errLineTooLong):
				got = append(got, "!")
				continue
			case len(l) > 0:
				got = append(got, string(l))
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s: %v", tc.name, err)
				}
				break
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d lines, want %d", tc.name, len(got), len(tc.want))
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%s: line %d is %d bytes, want %d", tc.name, i, len(got[i]), len(tc.want[i]))
			}
		}
	}
}

// Only what the line is for is served on it: a sweep or a status is refused, nothing done; an
// apply is done, and the same apply asked again (by exec, the line being slow) is told what
// applied it.
func TestOnlyAppliesRenewalsAndRevertsComeOnTheLine(t *testing.T) {
	p, a, got, feed, _ := lineAgent(t)
	defer feed.Close()
	for tag, req := range map[string]string{
		"sw": `{"protocol":1,"op":"sweep","runId":"aaaa","own":true}`,
		"st": `{"protocol":1,"op":"status","runId":"aaaa"}`,
	} {
		if _, err := feed.Write([]byte(tag + " " + req + "\n")); err != nil {
			t.Fatal(err)
		}
		if r := got.waitFor(t, tag); r.OK || r.Error == nil || r.Error.Code != protocol.ErrForbidden {
			t.Fatalf("%s on the line: %+v", tag, r)
		}
	}
	if _, err := feed.Write([]byte("ap " + applyReq("aaaa", "aaaa-s1", 2000, netem100) + "\n")); err != nil {
		t.Fatal(err)
	}
	applied := got.waitFor(t, "ap")
	mustOK(t, applied)
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" {
		t.Fatalf("the apply on the line holds nothing: %+v", root)
	}
	again := do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100))
	mustOK(t, again)
	if len(again.Commands) < len(applied.Commands) || again.Commands[0].Argv[len(again.Commands[0].Argv)-1] != applied.Commands[0].Argv[len(applied.Commands[0].Argv)-1] {
		t.Fatalf("the apply asked again does not tell what applied it: %+v", again.Commands)
	}
}

// A revert asked again (by exec, where the runner's line was slow) is told as it was the first
// time — what it ran and the fault's readings — not as a fault already gone; so it is once the
// agent is exiting, where a revert never asked before is refused.
func TestARevertAskedAgainIsToldAsTheFirstTime(t *testing.T) {
	for _, exiting := range []bool{false, true} {
		p := newPod(t)
		a := p.agent("chaos-agent-aaaa", "aaaa")
		mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100)))
		first := do(t, a, revertReq("aaaa", "aaaa-s1"))
		mustOK(t, first)
		a.exiting.Store(exiting)
		again := do(t, a, revertReq("aaaa", "aaaa-s1"))
		mustOK(t, again)
		a1, _ := json.Marshal(first.Reverted)
		a2, _ := json.Marshal(again.Reverted)
		if string(a1) != string(a2) || len(again.Commands) != len(first.Commands) || len(again.Commands) == 0 {
			t.Fatalf("exiting %v: asked again, the revert says\n%s (%d commands)\nwhere it said\n%s (%d commands)", exiting, a2, len(again.Commands), a1, len(first.Commands))
		}
		if r := do(t, a, revertReq("aaaa", "aaaa-s9")); exiting && (r.OK || r.Error == nil || r.Error.Code != protocol.ErrExiting) {
			t.Fatalf("a revert never asked before, while exiting: %+v", r)
		}
	}
}

// The pod's lock held by one of the agent's own requests (an apply on the runner's line) is not
// a squat to another of its requests (the same apply asked again by exec): that one waits, and
// says who holds it, where it used to find no live agent claiming it and call it squatted.
func TestTheAgentsOwnHoldOfTheLockIsNotASquat(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.cfg.SquatCheckAfter = 10 * time.Millisecond
	release, problem := a.takeLock(context.Background(), time.Second)
	if problem != nil {
		t.Fatalf("the first taking: %s", problem.message())
	}
	_, second := a.takeLock(context.Background(), 400*time.Millisecond)
	release()
	if second == nil || second.squatted || !strings.Contains(second.words, "another request of this agent holds it") {
		t.Fatalf("the second taking, while the first holds it: %+v", second)
	}
}
