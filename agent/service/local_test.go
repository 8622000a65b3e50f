package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"chaos-run/agent/fault"
	"chaos-run/agent/kill"
	"chaos-run/agent/protocol"
	"chaos-run/agent/stress"
)

// A memory stressor that ends when killed (by the agent) or when the test says so (the kernel).
type child struct {
	once   sync.Once
	exited chan struct{}
	status syscall.WaitStatus
	mu     sync.Mutex
	kills  int
}

func (c *child) PID() int                   { return 321 }
func (c *child) Allocated() int64           { return 8 << 20 }
func (c *child) Exited() <-chan struct{}    { return c.exited }
func (c *child) Status() syscall.WaitStatus { return c.status }
func (c *child) Kill() error {
	c.mu.Lock()
	c.kills++
	c.mu.Unlock()
	c.end(syscall.WaitStatus(syscall.SIGKILL))
	return nil
}
func (c *child) end(ws syscall.WaitStatus) { c.once.Do(func() { c.status = ws; close(c.exited) }) }

type spawner struct {
	mu       sync.Mutex
	children []*child
}

func (s *spawner) Spawn(int64, time.Time) (stress.Child, error) {
	c := &child{exited: make(chan struct{})}
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
	return c, nil
}

type cgroup struct{}

func (cgroup) Sample() stress.Sample {
	z := int64(0)
	return stress.Sample{Version: 1, UsageNs: &z, OOMKills: &z, ThrottleSource: "test"}
}

func stressAgent(p *pod, sp *spawner) *Agent {
	a := p.agent("chaos-agent-ssss", "ssss")
	a.cfg.Kinds[protocol.KindStress] = fault.Stress{Spawn: sp, Cgroup: cgroup{}}
	return a
}

const stressSpec = `{"kind":"stress","cpu":{"workers":1,"load":5},"memory":{"bytes":8388608}}`

func TestStressIsAppliedWithoutTheLockAndRevertedWithItsReading(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := stressAgent(p, sp)
	// the namespace lock is taken by someone else: a stress fault does not need it
	p.lock.ch <- struct{}{}
	r := do(t, a, applyReq("ssss", "ssss-s1", 5000, stressSpec))
	<-p.lock.ch
	mustOK(t, r)
	if r.Fault.Kind != "stress" || r.Fault.Stress == nil || r.Fault.Stress.CPU.Workers != 1 || r.Fault.Stress.Memory.PID != 321 {
		t.Fatalf("%+v", r.Fault)
	}
	var types []string
	for _, o := range r.Fault.Objects {
		types = append(types, o.Type)
	}
	if fmt.Sprint(types) != "[thread process]" {
		t.Fatalf("objects %v", r.Fault.Objects)
	}
	if len(p.k.Calls()) != 0 {
		t.Fatalf("a stress fault ran commands: %v", p.k.Calls())
	}
	mustOK(t, do(t, a, renewReq("ssss", "ssss-s1", 5000)))
	rv := do(t, a, revertReq("ssss", "ssss-s1"))
	mustOK(t, rv)
	out := rv.Reverted[0]
	if !out.Confirmed || out.Stress == nil || out.Stress.Memory.OOMKilled || !strings.Contains(out.Detail, "every stressor stopped") {
		t.Fatalf("%+v", out)
	}
	if sp.children[0].kills != 1 {
		t.Fatal("the memory stressor was not stopped")
	}
}

func TestStressEndsWhenItsLeaseLapses(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := stressAgent(p, sp)
	mustOK(t, do(t, a, applyReq("ssss", "ssss-s1", 2000, stressSpec)))
	p.clock.Advance(2100 * time.Millisecond)
	a.Tick(context.Background())
	if sp.children[0].kills != 1 {
		t.Fatal("the lease lapsed and the memory stressor still runs")
	}
	mustFail(t, do(t, a, renewReq("ssss", "ssss-s1", 2000)), protocol.ErrLeaseLapsed, 1)
}

func TestStressEndsWhenTheAgentIsTerminated(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := stressAgent(p, sp)
	mustOK(t, do(t, a, applyReq("ssss", "ssss-s1", 60000, stressSpec)))
	if !a.Shutdown(context.Background(), protocol.ReasonTerminated) {
		t.Fatal("not all reverted")
	}
	if sp.children[0].kills != 1 {
		t.Fatal("SIGTERM and the memory stressor still runs")
	}
}

func TestAnOOMKilledStressorShowsInStatus(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := stressAgent(p, sp)
	mustOK(t, do(t, a, applyReq("ssss", "ssss-s1", 60000, stressSpec)))
	sp.children[0].end(syscall.WaitStatus(syscall.SIGKILL))
	st := do(t, a, `{"protocol":1,"op":"status","runId":"ssss"}`)
	if len(st.Faults) != 1 || !strings.Contains(st.Faults[0].Detail, "NOT in effect: the memory stressor ended: killed by SIGKILL, which the agent did not send: the OOM killer took it") || !st.Faults[0].Stress.Memory.OOMKilled {
		t.Fatalf("%+v", st.Faults)
	}
	rv := do(t, a, revertReq("ssss", "ssss-s1"))
	if !rv.Reverted[0].Stress.Memory.OOMKilled || sp.children[0].kills != 0 {
		t.Fatalf("%+v", rv.Reverted[0].Stress.Memory)
	}
}

type proc struct{ status map[int]string }

func (p proc) PIDs() ([]int, error)            { return []int{1}, nil }
func (p proc) Status(pid int) (string, error)  { return p.status[pid], nil }
func (p proc) Cmdline(pid int) (string, error) { return "nginx: master process\x00", nil }
func (p proc) Cgroup(pid int) (string, error)  { return "", nil }

type tracer struct {
	mu    sync.Mutex
	calls []string
}

func (t *tracer) note(s string)                     { t.mu.Lock(); t.calls = append(t.calls, s); t.mu.Unlock() }
func (t *tracer) Open(pid int) (kill.Handle, error) { return kill.Handle{PID: pid, FD: -1}, nil }
func (t *tracer) Close(kill.Handle)                 {}
func (t *tracer) Alive(kill.Handle) error           { return nil }
func (t *tracer) CanSignal(kill.Handle) error       { t.note("can-signal"); return nil }
func (t *tracer) CanTrace(kill.Handle) error        { t.note("can-trace"); return nil }
func (t *tracer) Kill(_ kill.Handle, s unix.Signal) error {
	t.note(fmt.Sprint("kill ", int(s)))
	return nil
}
func (t *tracer) PtraceKill(kill.Handle) error { t.note("ptrace-kill"); return nil }

// the masks of nginx's master process on the real node
const nginxStatus = "Name:\tnginx\nPPid:\t0\nSigBlk:\t0000000000000000\nSigIgn:\t0000000040001000\nSigCgt:\t0000000018016a07\n"

func killAgent(p *pod, tr *tracer) *Agent {
	a := New(Config{Name: "chaos-kill-kkkk-s1", RunID: "kkkk", Version: "test", TTL: time.Minute,
		Exec: p.k, Kernel: p.k, Clock: p.clock, Peers: p, Lock: p.lock, ReadFile: p.k.ReadFile,
		Kinds:        map[string]fault.Kind{protocol.KindKill: fault.Kill{Proc: proc{status: map[int]string{1: nginxStatus}}, Tracer: tr}},
		NoOrphanScan: true, ExitAfterEvent: true, Logf: p.t.Logf})
	return a
}

func killReq(signal string, dry bool) string {
	return fmt.Sprintf(`{"protocol":1,"op":"apply","runId":"kkkk","dryRun":%v,"fault":{"id":"kkkk-s1","leaseMs":1000,"spec":{"kind":"kill","signal":%q,"container":"web"}}}`, dry, signal)
}

func TestAKillsDryRunSaysHowAndSendsNothing(t *testing.T) {
	p := newPod(t)
	tr := &tracer{}
	a := killAgent(p, tr)
	r := do(t, a, killReq("SIGKILL", true))
	mustOK(t, r)
	k := r.Fault.Kill
	if k == nil || k.PID != 1 || k.Mechanism != "ptrace" || !k.Init || k.Signal != "SIGKILL" {
		t.Fatalf("%+v", r.Fault)
	}
	if fmt.Sprint(tr.calls) != "[can-trace]" {
		t.Fatalf("a dry run sent something: %v", tr.calls)
	}
	select {
	case <-a.Done():
		t.Fatal("a dry run ended the kill agent")
	default:
	}
}

func TestAKillCalledOffAfterItsDryRunEndsTheKillAgent(t *testing.T) {
	p := newPod(t)
	tr := &tracer{}
	a := killAgent(p, tr)
	mustOK(t, do(t, a, killReq("SIGKILL", true)))
	mustOK(t, do(t, a, `{"protocol":1,"op":"revert","runId":"kkkk","faultId":"kkkk-s1"}`))
	select {
	case <-a.Done():
	default:
		t.Fatal("the kill agent stays after its kill was called off")
	}
	if fmt.Sprint(tr.calls) != "[can-trace]" {
		t.Fatalf("calling the kill off sent something: %v", tr.calls)
	}
}

func TestAnUndeliverableSignalIsRefusedBeforeAnything(t *testing.T) {
	p := newPod(t)
	tr := &tracer{}
	a := killAgent(p, tr)
	for _, dry := range []bool{true, false} {
		r := do(t, a, killReq("SIGABRT", dry))
		mustFail(t, r, protocol.ErrUnsupported, 4)
		if !strings.Contains(r.Error.Message, "does not handle SIGABRT") || !strings.Contains(r.Error.Message, "nothing was done") {
			t.Fatal(r.Error.Message)
		}
	}
	if len(tr.calls) != 0 {
		t.Fatalf("refused, yet: %v", tr.calls)
	}
}

func TestAKillRepliesFirstThenSignalsAndTheKillAgentEnds(t *testing.T) {
	p := newPod(t)
	tr := &tracer{}
	a := killAgent(p, tr)
	r, then := a.HandleDeferred(context.Background(), []byte(killReq("SIGTERM", false)))
	mustOK(t, r)
	if r.Fault.Kill.Mechanism != "kill" || r.Fault.Kill.Disposition != "handled" {
		t.Fatalf("%+v", r.Fault.Kill)
	}
	if fmt.Sprint(tr.calls) != "[can-signal]" || then == nil {
		t.Fatalf("signalled before the reply was out: %v", tr.calls)
	}
	then()
	if fmt.Sprint(tr.calls) != "[can-signal kill 15]" {
		t.Fatalf("%v", tr.calls)
	}
	select {
	case <-a.Done():
	default:
		t.Fatal("the kill agent did not end after its kill")
	}
	// nothing is held: a revert of it says so
	rv := do(t, a, revertReq("kkkk", "kkkk-s1"))
	mustOK(t, rv)
	if !a.books.empty() {
		t.Fatal("a kill was held")
	}
}

func TestOnlyKillsOfferADryRun(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, `{"protocol":1,"op":"apply","runId":"aaaa","dryRun":true,"fault":{"id":"f1","leaseMs":5000,"spec":`+netem100+`}}`)
	mustFail(t, r, protocol.ErrBadRequest, 2)
	// and the network agent does not do kills
	mustFail(t, do(t, a, killReq("SIGKILL", false)), protocol.ErrBadRequest, 2)
}

var _ kill.Tracer = (*tracer)(nil)

func TestAStressAgentEndsOnceItsFaultIsOver(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := New(Config{Name: "chaos-stress-ssss-s1", RunID: "ssss", Version: "test", TTL: time.Minute,
		Exec: p.k, Kernel: p.k, Clock: p.clock, Peers: p, Lock: p.lock, ReadFile: p.k.ReadFile,
		Kinds:        map[string]fault.Kind{protocol.KindStress: fault.Stress{Spawn: sp, Cgroup: cgroup{}}},
		NoOrphanScan: true, ExitWhenIdle: true, Logf: p.t.Logf})
	mustOK(t, do(t, a, applyReq("ssss", "ssss-s1", 5000, stressSpec)))
	select {
	case <-a.Done():
		t.Fatal("ended while holding its fault")
	default:
	}
	mustOK(t, do(t, a, revertReq("ssss", "ssss-s1")))
	select {
	case <-a.Done():
	default:
		t.Fatal("a stress agent whose fault is reverted did not end")
	}
}

func TestTheDeedWaitsUntilTheRequesterHasTheReplyAndLetsGo(t *testing.T) {
	p := newPod(t)
	tr := &tracer{}
	a := killAgent(p, tr)
	name := fmt.Sprintf("chaos-kill-test%d", time.Now().UnixNano()%1_000_000)
	ln, err := net.Listen("unix", protocol.SocketAddress(name))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = a.Serve(context.Background(), ln) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// a peer's question, half-closed at once, is answered as before
	st, err := protocol.Exchange(ctx, name, &protocol.Request{Protocol: 1, Op: protocol.OpStatus, RunID: "kkkk"}, protocol.MaxReplyBytes)
	if err != nil || !st.OK {
		t.Fatalf("%v %+v", err, st)
	}
	out, done, err := protocol.CallHolding(ctx, name, []byte(killReq("SIGTERM", false)))
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.Reply
	if err := json.Unmarshal(out, &r); err != nil || !r.OK {
		t.Fatalf("%v %s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	tr.mu.Lock()
	calls := fmt.Sprint(tr.calls)
	tr.mu.Unlock()
	if calls != "[can-signal]" {
		t.Fatalf("the deed did not wait for the requester to let go: %s", calls)
	}
	done()
	deadline := time.Now().Add(3 * time.Second)
	for {
		tr.mu.Lock()
		calls = fmt.Sprint(tr.calls)
		tr.mu.Unlock()
		if calls == "[can-signal kill 15]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deed after the requester let go: %s", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
