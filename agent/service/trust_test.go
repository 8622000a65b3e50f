package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/protocol"
)

func TestAuthorizeTellsTheAgentsOwnRequesterFromStrangers(t *testing.T) {
	root := Self{UID: 0, MountNS: "mnt:[4026532001]"}
	nonRoot := Self{UID: 65532, MountNS: "mnt:[4026532001]"}
	cases := []struct {
		name string
		self Self
		peer Peer
		own  bool
		why  string
	}{
		{"root in the agent's mount namespace (the runner's exec)", root, Peer{PID: 42, UID: 0, MountNS: "mnt:[4026532001]"}, true, ""},
		{"the agent's own UID in its mount namespace (a non-root agent)", nonRoot, Peer{PID: 42, UID: 65532, MountNS: "mnt:[4026532001]"}, true, ""},
		{"root in a non-root agent's mount namespace", nonRoot, Peer{PID: 42, UID: 0, MountNS: "mnt:[4026532001]"}, true, ""},
		{"root of another container (another mount namespace)", root, Peer{PID: 7, UID: 0, MountNS: "mnt:[4026532999]"}, false, "another mount namespace"},
		{"another UID in the agent's mount namespace", root, Peer{PID: 42, UID: 101, MountNS: "mnt:[4026532001]"}, false, "UID 101, neither root nor the agent's UID 0"},
		{"a process of another PID namespace", root, Peer{PID: 0, UID: 0}, false, "not visible"},
		{"a peer whose namespace could not be read", root, Peer{PID: 42, UID: 0, Problem: "cannot read the mount namespace of PID 42: permission denied"}, false, "permission denied"},
		{"a peer that exited before it was identified", root, Peer{PID: 42, UID: 0, MountNS: "mnt:[4026532001]", Problem: "PID 42 exited before its identity was read"}, false, "exited"},
		{"an agent that cannot read its own namespace trusts no one", Self{UID: 0}, Peer{PID: 42, UID: 0, MountNS: ""}, false, "its own mount namespace"},
	}
	for _, c := range cases {
		own, why := Authorize(c.self, c.peer)
		if own != c.own || !strings.Contains(why, c.why) {
			t.Errorf("%s: own=%v why=%q", c.name, own, why)
		}
	}
}

func TestPeerCredIdentifiesThisProcessOverARealSocket(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan Peer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- Peer{Problem: err.Error()}
			return
		}
		got <- PeerCred(c)
		c.Close()
	}()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := <-got
	self := SelfIdentity()
	if p.Problem != "" || p.PID != os.Getpid() || p.UID != os.Geteuid() || p.MountNS != self.MountNS || !strings.HasPrefix(p.MountNS, "mnt:[") {
		t.Fatalf("peer %+v, self %+v (pid %d)", p, self, os.Getpid())
	}
	if own, why := Authorize(self, p); !own {
		t.Fatalf("this process is not its own requester: %s", why)
	}
}

// serving runs the agent's real serve loop on a unix socket of the test's, with the peer
// identity given; send returns the reply to one raw request.
func serving(t *testing.T, a *Agent, peer *Peer) func(raw string) *protocol.Reply {
	t.Helper()
	if peer != nil {
		a.cfg.Identify = func(net.Conn) Peer { return *peer }
	}
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "agent"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve(context.Background(), ln) }()
	t.Cleanup(func() { ln.Close() })
	return func(raw string) *protocol.Reply {
		t.Helper()
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.UnixConn).CloseWrite()
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		var r protocol.Reply
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("reply %q: %v", out, err)
		}
		if err := protocol.ValidateReply(&r); err != nil {
			t.Fatalf("reply does not validate: %v", err)
		}
		return &r
	}
}

// The lab's exploit: a process of another container of the pod (root there, the agent's
// environment, its own copy of chaos-agent) reads the fault's id and reverts it.
func TestAStrangerMayOnlyAskWhatTheAgentHoldsFromMemory(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.self = Self{UID: 0, MountNS: "mnt:[4026532001]"}
	stranger := Peer{PID: 9, UID: 0, MountNS: "mnt:[4026532777]"}
	send := serving(t, a, &stranger)
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	calls := len(p.k.Calls())

	peek := send(`{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`)
	mustOK(t, peek)
	if len(peek.Faults) != 1 || peek.Faults[0].ID != "aaaa-s1" {
		t.Fatalf("a peer's status: %+v", peek.Faults)
	}
	for _, raw := range []string{
		revertReq("aaaa", "aaaa-s1"),
		renewReq("aaaa", "aaaa-s1", 1000),
		applyReq("aaaa", "aaaa-s9", 30000, netem100),
		`{"protocol":1,"op":"status","runId":"aaaa"}`,
		`{"protocol":1,"op":"sweep","runId":"aaaa","own":true}`,
	} {
		r := send(raw)
		mustFail(t, r, protocol.ErrForbidden, 4)
		if !strings.Contains(r.Error.Message, "another mount namespace") || !strings.Contains(r.Error.Message, "nothing was done") {
			t.Fatalf("%s: %s", raw, r.Error.Message)
		}
	}
	if len(p.k.Calls()) != calls {
		t.Fatalf("a stranger's requests ran commands: %v", p.k.Calls()[calls:])
	}
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" {
		t.Fatalf("the fault is gone: %+v", root)
	}
	// and the lease was not cut to 1 s: the fault lapses when the runner's lease says
	if left := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`).Faults[0].LeaseLeftMs; left != 30000 {
		t.Fatalf("lease left %d", left)
	}
}

func TestTheAgentsOwnRequesterIsServedOverTheRealPeerCheck(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	send := serving(t, a, nil) // PeerCred: this test process is in the agent's mount namespace
	mustOK(t, send(applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	r := send(revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	if !r.Reverted[0].Confirmed {
		t.Fatalf("%+v", r.Reverted)
	}
}

// squat: the lock's name is bound by something that is no agent (the test)
func squat(p *pod) func() {
	p.lock.ch <- struct{}{}
	return func() { <-p.lock.ch }
}

func TestASquattedLockRefusesAnApplyAtOnceAndTouchesNothing(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	p.agent("chaos-agent-bbbb", "bbbb") // a live agent that does not hold the lock
	a.cfg.LockWait = time.Hour          // what a squatter would cost without the detection
	defer squat(p)()
	done := make(chan *protocol.Reply, 1)
	go func() { done <- a.Handle(context.Background(), []byte(applyReq("aaaa", "aaaa-s1", 30000, netem100))) }()
	select {
	case r := <-done:
		mustFail(t, r, protocol.ErrApplyFailed, 1)
		if !strings.Contains(r.Error.Message, "@chaos-agent/v1/lock is squatted") || !strings.Contains(r.Error.Message, "nothing was done") || len(r.Commands) != 0 {
			t.Fatalf("%+v %v", r.Error, argvs(r))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the apply waited for the squatter")
	}
	if len(p.k.Calls()) != 0 {
		t.Fatalf("ran %v", p.k.Calls())
	}
}

func TestLeaseLapseAndShutdownRevertWithoutWaitingForASquatter(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.cfg.RevertLockWait = time.Hour
	p.k.AddLink("eth1", []int{4})
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100)))
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s2", 60000, `{"kind":"netem","interface":"eth1","netem":{"delayMs":5}}`)))
	defer squat(p)()
	p.clock.Advance(3 * time.Second)
	ticked := make(chan struct{})
	go func() { a.Tick(context.Background()); close(ticked) }()
	select {
	case <-ticked:
	case <-time.After(20 * time.Second):
		t.Fatal("the lease loop waited for the squatter")
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("the lapsed fault is still there: %+v", root)
	}
	shut := make(chan bool, 1)
	go func() { shut <- a.Shutdown(context.Background(), protocol.ReasonTerminated) }()
	select {
	case ok := <-shut:
		if !ok {
			t.Fatal("not everything reverted")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM's revert waited for the squatter")
	}
	if root := rootOf(t, p.k, "eth1"); !root.IsDefault() {
		t.Fatalf("still there at exit: %+v", root)
	}
}

func TestARevertRequestGoesOnWithoutASquattedLockAndSaysSo(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.cfg.RevertLockWait = time.Hour
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	defer squat(p)()
	done := make(chan *protocol.Reply, 1)
	go func() { done <- a.Handle(context.Background(), []byte(revertReq("aaaa", "aaaa-s1"))) }()
	var r *protocol.Reply
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the revert waited for the squatter")
	}
	mustOK(t, r)
	if !r.Reverted[0].Confirmed || !strings.Contains(r.Reverted[0].Detail, "reverted without the pod's lock") || !strings.Contains(r.Reverted[0].Detail, "squatted") {
		t.Fatalf("%+v", r.Reverted[0])
	}
}

func TestALockHeldByALiveAgentIsWaitedFor(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	// b holds the lock (and says so) for a while: no squatter
	b.locking.Add(1)
	p.lock.ch <- struct{}{}
	go func() {
		time.Sleep(400 * time.Millisecond)
		<-p.lock.ch
		b.locking.Add(-1)
	}()
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
}

func TestALockWhoseHolderCannotBeToldIsWaitedForWithinTheBound(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	a.cfg.LockWait = 300 * time.Millisecond
	p.silent["chaos-agent-mute"] = true // a live agent that does not answer: it may hold the lock
	defer squat(p)()
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100))
	mustFail(t, r, protocol.ErrApplyFailed, 1)
	if !strings.Contains(r.Error.Message, "live agent chaos-agent-mute did not answer") || strings.Contains(r.Error.Message, "squatted") {
		t.Fatalf("%s", r.Error.Message)
	}
}

// Whatever serves a socket named like an agent's may answer a peer's question: its reply is
// read up to a bound, not into the asking agent's memory whole.
func TestAPeersReplyIsBounded(t *testing.T) {
	name := fmt.Sprintf("chaos-agent-big%d", time.Now().UnixNano()%1_000_000)
	ln, err := net.Listen("unix", protocol.SocketAddress(name))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte(`{"protocol":1,"op":"status","ok":true,"faults":[` + strings.Repeat(`{"id":"x"},`, 1<<17) + `{}]}`))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	no := false
	_, err = SocketPeers{}.Status(ctx, name, &protocol.Request{Protocol: 1, Op: protocol.OpStatus, RunID: "a", ScanOrphans: &no})
	if err == nil || !strings.Contains(err.Error(), "reply larger than 131072 bytes") {
		t.Fatalf("%v", err)
	}
}
