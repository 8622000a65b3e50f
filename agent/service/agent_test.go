package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/firewall"
	"chaos-run/agent/internal/fakekernel"
	"chaos-run/agent/kernel"
	"chaos-run/agent/lease"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// pod is a fake pod: one network namespace, the agents serving in it, and the lock they share.
type pod struct {
	t      *testing.T
	k      *fakekernel.Kernel
	clock  *lease.Fake
	lock   *chanLock
	mu     sync.Mutex
	agents map[string]*Agent
	dead   map[string]bool
	silent map[string]bool
	kinds  map[string]fault.Kind // nil: the agent's own
}

type chanLock struct{ ch chan struct{} }

func (l *chanLock) TryAcquire() (func(), error) {
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch }, nil
	default:
		return nil, ownership.ErrLockBusy
	}
}

func newPod(t *testing.T) *pod {
	k := fakekernel.New()
	k.Known = nil // UML-like: netem and prio exist
	return &pod{t: t, k: k, clock: lease.NewFake(), lock: &chanLock{ch: make(chan struct{}, 1)},
		agents: map[string]*Agent{}, dead: map[string]bool{}, silent: map[string]bool{}}
}

func (p *pod) Live() ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n := range p.agents {
		if !p.dead[n] {
			out = append(out, n)
		}
	}
	for n := range p.silent {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (p *pod) Status(ctx context.Context, name string, req *protocol.Request) (*protocol.Reply, error) {
	p.mu.Lock()
	a, silent := p.agents[name], p.silent[name]
	p.mu.Unlock()
	if silent || a == nil {
		return nil, errors.New("connection refused")
	}
	return a.HandleRequest(ctx, req), nil
}

func (p *pod) agent(name, runID string) *Agent {
	a := New(Config{Name: name, RunID: runID, Version: "test", TTL: 10 * time.Minute,
		Exec: p.k, Kernel: p.k, Clock: p.clock, Peers: p, Lock: p.lock, ReadFile: p.k.ReadFile, Kinds: p.kinds,
		Logf: func(f string, args ...any) { p.t.Logf(name+": "+f, args...) }})
	p.mu.Lock()
	p.agents[name] = a
	p.mu.Unlock()
	return a
}

// kill makes an agent gone: its socket vanished, its objects stay in the kernel.
func (p *pod) kill(name string) {
	p.mu.Lock()
	p.dead[name] = true
	delete(p.agents, name)
	p.mu.Unlock()
}

func do(t *testing.T, a *Agent, raw string) *protocol.Reply {
	t.Helper()
	r := a.Handle(context.Background(), []byte(raw))
	if err := protocol.ValidateReply(r); err != nil {
		t.Fatalf("reply does not validate: %v\n%+v", err, r)
	}
	return r
}

func applyReq(runID, id string, leaseMs int, spec string) string {
	return fmt.Sprintf(`{"protocol":1,"op":"apply","runId":%q,"fault":{"id":%q,"leaseMs":%d,"spec":%s}}`, runID, id, leaseMs, spec)
}

func revertReq(runID, id string) string {
	return fmt.Sprintf(`{"protocol":1,"op":"revert","runId":%q,"faultId":%q}`, runID, id)
}

func renewReq(runID, id string, leaseMs int) string {
	return fmt.Sprintf(`{"protocol":1,"op":"renew","runId":%q,"faultId":%q,"leaseMs":%d}`, runID, id, leaseMs)
}

const netem100 = `{"kind":"netem","netem":{"delayMs":100}}`

func mustOK(t *testing.T, r *protocol.Reply) {
	t.Helper()
	if !r.OK {
		t.Fatalf("want ok, got error %+v", r.Error)
	}
}

func mustFail(t *testing.T, r *protocol.Reply, code string, exit int) {
	t.Helper()
	if r.OK || r.Error == nil || r.Error.Code != code {
		t.Fatalf("want error %s, got ok=%v error=%+v", code, r.OK, r.Error)
	}
	if got := protocol.ExitCode(r); got != exit {
		t.Fatalf("exit code %d, want %d", got, exit)
	}
}

func argvs(r *protocol.Reply) [][]string {
	var out [][]string
	for _, c := range r.Commands {
		out = append(out, c.Argv)
	}
	return out
}

// mutations are the commands that change the kernel (not reads, not the backend probe).
func mutations(calls []exec.Call) [][]string {
	var out [][]string
	for _, c := range calls {
		a := c.Argv
		switch {
		case len(a) >= 3 && a[0] == "tc" && a[2] == "show":
		case strings.HasSuffix(a[0], "-save"):
		case len(a) >= 4 && strings.HasPrefix(a[3], "chaos-probe"):
		default:
			out = append(out, a)
		}
	}
	return out
}

func rootOf(t *testing.T, k *fakekernel.Kernel, iface string) kernel.Qdisc {
	t.Helper()
	qs, _ := k.Qdiscs(iface)
	for _, q := range qs {
		if q.IsRoot() {
			return q
		}
	}
	t.Fatalf("no root on %s", iface)
	return kernel.Qdisc{}
}

func TestBadRequestsRunNothing(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	for _, raw := range []string{
		`not json`,
		`{}`,
		`{"protocol":1,"op":"apply","runId":"aaaa"}`,
		applyReq("aaaa", "BAD_ID", 5000, netem100),
		applyReq("aaaa", "f1", 10, netem100),
		applyReq("aaaa", "f1", 5000, `{"kind":"netem","netem":{}}`),
		applyReq("aaaa", "f1", 5000, `{"kind":"netem","netem":{"jitterMs":5}}`),
		applyReq("aaaa", "f1", 5000, `{"kind":"partition","scope":{"port":70000}}`),
		applyReq("aaaa", "f1", 5000, `{"kind":"partition","interface":"eth0; rm -rf /"}`),
		applyReq("aaaa", "f1", 5000, `{"kind":"stress"}`),
		`{"protocol":1,"op":"renew","runId":"aaaa","faultId":"f1"}`,
		`{"protocol":2,"op":"status","runId":"aaaa"}`,
	} {
		r := do(t, a, raw)
		mustFail(t, r, protocol.ErrBadRequest, 2)
		if r.Error.Message == "" {
			t.Errorf("%s: no message", raw)
		}
		if len(r.Commands) != 0 {
			t.Errorf("%s: ran %v", raw, argvs(r))
		}
	}
	if calls := p.k.Calls(); len(calls) != 0 {
		t.Fatalf("bad requests ran commands: %v", calls)
	}
}

func TestBadRequestMessagesSayWhatIsWrong(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	for raw, want := range map[string]string{
		applyReq("aaaa", "f1", 5000, `{"kind":"netem","netem":{"delayMs":-1}}`):   "/fault/spec/netem/delayMs",
		applyReq("aaaa", "f1", 5000, `{"kind":"bogus"}`):                          `/fault/spec/kind: must be one of "netem", "partition"`,
		`{"protocol":1,"op":"explode","runId":"aaaa"}`:                            `/op: must be one of`,
		applyReq("aaaa", "f1", 5000, `{"kind":"netem","netem":{"jitterMs":5}}`):   "delayMs",
		`{"protocol":1,"op":"status","runId":"aaaa","extra":true}`:                "additional properties 'extra'",
		applyReq("aaaa", "f1", 5000, `{"kind":"partition","scope":{"cidr":"x"}}`): "/fault/spec/scope/cidr",
	} {
		r := do(t, a, raw)
		if r.Error == nil || !strings.Contains(r.Error.Message, want) {
			t.Errorf("%s: message %+v does not contain %q", raw, r.Error, want)
		}
	}
}

func TestApplyNetemAndRevert(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100))
	mustOK(t, r)
	want := [][]string{{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"}}
	if got := mutations(p.k.Calls()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commands %q, want %q", got, want)
	}
	if slices.Equal(argvs(r)[len(argvs(r))-1], want[0]) == false && len(r.Commands) == 0 {
		t.Fatal("reply lists no commands")
	}
	if r.Fault == nil || r.Fault.Interface != "eth0" || r.Fault.Kind != "netem" || r.Fault.LeaseLeftMs != 30000 || !slices.Equal(r.Fault.Families, []int{4}) {
		t.Fatalf("fault state %+v", r.Fault)
	}
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" || root.Handle != 0xC0000000 {
		t.Fatalf("root %+v", root)
	}
	// idempotent
	p.k.ResetCalls()
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	if m := mutations(p.k.Calls()); len(m) != 0 {
		t.Fatalf("applying again changed the kernel: %v", m)
	}
	p.k.ResetCalls()
	r = do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	if !r.Reverted[0].Confirmed || r.Reverted[0].Reason != protocol.ReasonRequested {
		t.Fatalf("reverted %+v", r.Reverted)
	}
	want = [][]string{{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"}}
	if got := mutations(p.k.Calls()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("revert commands %q, want %q", got, want)
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("root after revert %+v", root)
	}
	// a second revert is told as the first (the runner asks again by exec where its line is
	// slow), and changes nothing in the kernel
	first := r.Reverted[0]
	p.k.ResetCalls()
	r = do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	if r.Reverted[0].Detail != first.Detail || r.Reverted[0].Reason != protocol.ReasonRequested {
		t.Fatalf("second revert %+v", r.Reverted[0])
	}
	if got := mutations(p.k.Calls()); len(got) != 0 {
		t.Fatalf("a second revert changed the kernel: %q", got)
	}
}

func TestScopedNetemIsPrioTreeWithFilters(t *testing.T) {
	p := newPod(t)
	p.k.AddLink("net1", []int{4, 6})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"netem","interface":"net1","scope":{"port":80,"protocol":"tcp"},"netem":{"delayMs":50,"loss":1.5}}`))
	mustOK(t, r)
	want := [][]string{
		{"tc", "qdisc", "add", "dev", "net1", "root", "handle", "c000:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
		{"tc", "qdisc", "add", "dev", "net1", "parent", "c000:4", "handle", "c001:", "netem", "delay", "50ms", "loss", "1.5%"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "protocol", "6", "0xff", "match", "ip", "sport", "80", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ip", "prio", "2", "u32", "match", "ip", "protocol", "6", "0xff", "match", "ip", "dport", "80", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "3", "u32", "match", "ip6", "protocol", "6", "0xff", "match", "ip6", "sport", "80", "0xffff", "flowid", "c000:4"},
		{"tc", "filter", "add", "dev", "net1", "parent", "c000:", "protocol", "ipv6", "prio", "4", "u32", "match", "ip6", "protocol", "6", "0xff", "match", "ip6", "dport", "80", "0xffff", "flowid", "c000:4"},
	}
	if got := mutations(p.k.Calls()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commands\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(r.Fault.Families, []int{4, 6}) {
		t.Fatalf("families %v", r.Fault.Families)
	}
}

func TestTwoFaultsGetDistinctHandles(t *testing.T) {
	p := newPod(t)
	p.k.AddLink("net1", []int{4})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"netem","scope":{"port":80},"netem":{"delayMs":5}}`)))
	r := do(t, b, applyReq("bbbb", "bbbb-s1", 30000, `{"kind":"netem","interface":"net1","netem":{"delayMs":5}}`))
	mustOK(t, r)
	if root := rootOf(t, p.k, "net1"); root.Handle != 0xC0020000 {
		t.Fatalf("b's root %s, want c002: (a holds c000: and c001:)", kernel.HandleString(root.Handle))
	}
}

func TestConflictWithLivePeerIsRefusedWithOwner(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s2", 30000, netem100)))
	p.k.ResetCalls()
	r := do(t, b, applyReq("bbbb", "bbbb-s1", 30000, netem100))
	mustFail(t, r, protocol.ErrConflict, 4)
	if o := r.Error.Owner; o == nil || *o != (protocol.Owner{Agent: "chaos-agent-aaaa", RunID: "aaaa", FaultID: "aaaa-s2"}) {
		t.Fatalf("owner %+v", r.Error.Owner)
	}
	for _, w := range []string{"eth0's root qdisc c000:", "fault aaaa-s2 of run aaaa (agent chaos-agent-aaaa), which is still live", "does not stack two netem"} {
		if !strings.Contains(r.Error.Message, w) {
			t.Errorf("message %q lacks %q", r.Error.Message, w)
		}
	}
	if m := mutations(p.k.Calls()); len(m) != 0 {
		t.Fatalf("a refused fault changed the kernel: %v", m)
	}
	// the same agent, a second netem on the same interface
	r = do(t, a, applyReq("aaaa", "aaaa-s3", 30000, netem100))
	mustFail(t, r, protocol.ErrConflict, 4)
	if !strings.Contains(r.Error.Message, "(this agent)") {
		t.Fatalf("message %q", r.Error.Message)
	}
	// a partition beside another run's netem coexists
	mustOK(t, do(t, b, applyReq("bbbb", "bbbb-p1", 30000, `{"kind":"partition"}`)))
	// and two partitions of different runs
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition","scope":{"port":53}}`)))
	if root := rootOf(t, p.k, "eth0"); root.Handle != 0xC0000000 {
		t.Fatal("a's netem was touched")
	}
}

func TestPartitionTransactionPerFamily(t *testing.T) {
	p := newPod(t)
	p.k.AddLink("net1", []int{4, 6})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition","interface":"net1","scope":{"port":5432}}`))
	mustOK(t, r)
	var restores []exec.Call
	for _, c := range p.k.Calls() {
		if strings.HasSuffix(c.Argv[0], "-restore") {
			restores = append(restores, c)
		}
	}
	wantTx := `*filter
:CHAOS-aaaa-p1 - [0:0]
-A CHAOS-aaaa-p1 -o net1 -p tcp -m multiport --ports 5432 -j DROP
-A CHAOS-aaaa-p1 -o net1 -p udp -m multiport --ports 5432 -j DROP
-A CHAOS-aaaa-p1 -i net1 -p tcp -m multiport --ports 5432 -j DROP
-A CHAOS-aaaa-p1 -i net1 -p udp -m multiport --ports 5432 -j DROP
-I OUTPUT 1 -m comment --comment chaos-run:aaaa-p1 -j CHAOS-aaaa-p1
-I INPUT 1 -m comment --comment chaos-run:aaaa-p1 -j CHAOS-aaaa-p1
COMMIT
`
	if len(restores) != 2 ||
		!slices.Equal(restores[0].Argv, []string{"iptables-nft-restore", "--noflush", "-w"}) ||
		!slices.Equal(restores[1].Argv, []string{"ip6tables-nft-restore", "--noflush", "-w"}) ||
		restores[0].Stdin != wantTx || restores[1].Stdin != wantTx {
		t.Fatalf("restores %+v", restores)
	}
	if !slices.Equal(r.Fault.Families, []int{4, 6}) {
		t.Fatalf("families %v", r.Fault.Families)
	}
	p.k.ResetCalls()
	mustOK(t, do(t, a, revertReq("aaaa", "aaaa-p1")))
	for _, fam := range []int{4, 6} {
		if c := p.k.Chains(firewall.NFT, fam, "filter"); len(c) != 0 {
			t.Fatalf("IPv%d chains left: %v", fam, c)
		}
		if rs := p.k.Rules(firewall.NFT, fam, "filter"); len(rs) != 0 {
			t.Fatalf("IPv%d rules left: %v", fam, rs)
		}
	}
}

func TestPartitionFamiliesFollowThePodAndTheCIDR(t *testing.T) {
	p := newPod(t)
	p.k.AddLink("v6only", []int{6})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition","interface":"v6only"}`))
	mustOK(t, r)
	if !slices.Equal(r.Fault.Families, []int{6}) {
		t.Fatalf("families %v", r.Fault.Families)
	}
	for _, c := range p.k.Calls() {
		if c.Argv[0] == "iptables-nft-restore" {
			t.Fatal("IPv4 rules for an IPv6-only interface")
		}
	}
	// a v4 CIDR on a v4-only pod: only iptables, even though ip6tables would work
	r = do(t, a, applyReq("aaaa", "aaaa-p2", 30000, `{"kind":"partition","scope":{"cidr":"192.0.2.0/24"}}`))
	mustOK(t, r)
	if !slices.Equal(r.Fault.Families, []int{4}) {
		t.Fatalf("families %v", r.Fault.Families)
	}
	// a v6 CIDR on a v4-only interface: nothing to apply
	r = do(t, a, applyReq("aaaa", "aaaa-p3", 30000, `{"kind":"partition","scope":{"cidr":"2001:db8::/32"}}`))
	mustFail(t, r, protocol.ErrApplyFailed, 1)
}

func TestNoInterface(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustFail(t, do(t, a, applyReq("aaaa", "f1", 30000, `{"kind":"netem","interface":"eth9","netem":{"delayMs":1}}`)), protocol.ErrNoInterface, 1)
	p.k.Default = ""
	mustFail(t, do(t, a, applyReq("aaaa", "f1", 30000, netem100)), protocol.ErrNoInterface, 1)
}

func TestNoBackend(t *testing.T) {
	p := newPod(t)
	p.k.Works = map[firewall.Backend]bool{}
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "f1", 30000, `{"kind":"partition"}`))
	mustFail(t, r, protocol.ErrNoBackend, 1)
	if r.Agent.IptablesBackend != "none" {
		t.Fatalf("backend %q", r.Agent.IptablesBackend)
	}
}

func TestPartialFailureRollsBack(t *testing.T) {
	t.Run("scoped netem: a filter fails, the tree goes", func(t *testing.T) {
		p := newPod(t)
		p.k.Fail = func(argv []string, _ string) (exec.Result, bool) {
			if argv[0] == "tc" && argv[1] == "filter" {
				return exec.Result{ExitCode: 2, Stderr: "Error: u32: no memory\n"}, true
			}
			return exec.Result{}, false
		}
		a := p.agent("chaos-agent-aaaa", "aaaa")
		r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"netem","scope":{"port":80},"netem":{"delayMs":5}}`))
		mustFail(t, r, protocol.ErrApplyFailed, 1)
		want := [][]string{
			{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"},
			{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:4", "handle", "c001:", "netem", "delay", "5ms"},
			{"tc", "filter", "add", "dev", "eth0", "parent", "c000:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "sport", "80", "0xffff", "flowid", "c000:4"},
			{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"},
		}
		if got := mutations(p.k.Calls()); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("commands\n%q\nwant\n%q", got, want)
		}
		if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
			t.Fatalf("left %+v", root)
		}
		if len(r.Reverted) != 1 || !r.Reverted[0].Confirmed || r.Reverted[0].Reason != protocol.ReasonApplyFailed {
			t.Fatalf("rollback %+v", r.Reverted)
		}
		if s := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa"}`); len(s.Faults) != 0 {
			t.Fatalf("still holds %+v", s.Faults)
		}
	})
	t.Run("partition: the IPv6 transaction fails, IPv4 is undone", func(t *testing.T) {
		p := newPod(t)
		p.k.AddLink("net1", []int{4, 6})
		p.k.Fail = func(argv []string, _ string) (exec.Result, bool) {
			if argv[0] == "ip6tables-nft-restore" {
				return exec.Result{ExitCode: 1, Stderr: "ip6tables-restore: line 3 failed\n"}, true
			}
			return exec.Result{}, false
		}
		a := p.agent("chaos-agent-aaaa", "aaaa")
		r := do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition","interface":"net1"}`))
		mustFail(t, r, protocol.ErrApplyFailed, 1)
		if c := p.k.Chains(firewall.NFT, 4, "filter"); len(c) != 0 {
			t.Fatalf("IPv4 chain left: %v", c)
		}
		if rs := p.k.Rules(firewall.NFT, 4, "filter"); len(rs) != 0 {
			t.Fatalf("IPv4 rules left: %v", rs)
		}
		last := r.Commands[len(r.Commands)-2]
		if last.Argv[0] != "iptables-nft-restore" || !strings.Contains(last.Stdin, "-D OUTPUT -m comment --comment \"chaos-run:aaaa-p1\" -j CHAOS-aaaa-p1") || !strings.Contains(last.Stdin, "-X CHAOS-aaaa-p1") {
			t.Fatalf("rollback transaction %+v", last)
		}
	})
}

func TestRevertIncompleteIsRetried(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	broken := true
	p.k.Fail = func(argv []string, _ string) (exec.Result, bool) {
		if broken && len(argv) > 2 && argv[2] == "del" {
			return exec.Result{ExitCode: 2, Stderr: "RTNETLINK answers: Device or resource busy\n"}, true
		}
		return exec.Result{}, false
	}
	r := do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustFail(t, r, protocol.ErrRevertIncomplete, 3)
	if len(r.Reverted[0].Remaining) != 1 || r.Reverted[0].Remaining[0].Name != "c000:" {
		t.Fatalf("remaining %+v", r.Reverted[0].Remaining)
	}
	broken = false
	p.clock.Advance(2 * time.Second)
	a.Tick(context.Background())
	if root := rootOf(t, p.k, "eth0"); root.IsDefault() {
		t.Fatal("retried before RetryEvery")
	}
	p.clock.Advance(4 * time.Second)
	a.Tick(context.Background())
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("not retried: %+v", root)
	}
	if r := do(t, a, revertReq("aaaa", "aaaa-s1")); !r.OK || r.Reverted[0].Detail != "already reverted: requested" {
		t.Fatalf("after retry %+v", r.Reverted)
	}
}

func TestLeaseExpiryAndRenewal(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	ctx := context.Background()
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 2000, netem100)))
	p.clock.Advance(1500 * time.Millisecond)
	a.Tick(ctx)
	r := do(t, a, renewReq("aaaa", "aaaa-s1", 2000))
	mustOK(t, r)
	if r.Fault.LeaseLeftMs != 2000 {
		t.Fatalf("lease left %d", r.Fault.LeaseLeftMs)
	}
	p.clock.Advance(1500 * time.Millisecond)
	a.Tick(ctx)
	if root := rootOf(t, p.k, "eth0"); root.Kind != "netem" {
		t.Fatal("reverted although renewed")
	}
	p.clock.Advance(600 * time.Millisecond)
	a.Tick(ctx)
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("lease lapsed, fault still there: %+v", root)
	}
	r = do(t, a, renewReq("aaaa", "aaaa-s1", 2000))
	mustFail(t, r, protocol.ErrLeaseLapsed, 1)
	r = do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	if r.Reverted[0].Reason != protocol.ReasonLeaseLapsed || r.Reverted[0].Detail != "already reverted: lease-lapsed" {
		t.Fatalf("revert after lapse %+v", r.Reverted[0])
	}
	mustFail(t, do(t, a, renewReq("aaaa", "never", 2000)), protocol.ErrUnknownFault, 1)
}

func TestTTLRevertsEverything(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	ctx := context.Background()
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 86400000, netem100)))
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-p1", 86400000, `{"kind":"partition"}`)))
	p.clock.Advance(9 * time.Minute)
	if a.Tick(ctx) {
		t.Fatal("TTL too early")
	}
	p.clock.Advance(time.Minute)
	if !a.Tick(ctx) {
		t.Fatal("TTL not reached")
	}
	if !a.Shutdown(ctx, protocol.ReasonTTL) {
		t.Fatal("shutdown incomplete")
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("netem left: %+v", root)
	}
	if c := p.k.Chains(firewall.NFT, 4, "filter"); len(c) != 0 {
		t.Fatalf("chains left: %v", c)
	}
	mustFail(t, do(t, a, applyReq("aaaa", "aaaa-s2", 5000, netem100)), protocol.ErrExiting, 1)
	if r := do(t, a, revertReq("aaaa", "aaaa-p1")); r.OK {
		t.Fatal("revert accepted while exiting")
	}
}

func TestForeignRootIsKeptAndRestored(t *testing.T) {
	tbf := []string{"rate", "1Mbit", "burst", "1600b", "lat", "50ms"}
	for _, tc := range []struct {
		name  string
		spec  string
		apply [][]string
	}{
		{"unscoped", netem100, [][]string{
			{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "netem", "delay", "100ms"},
			{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
		}},
		{"scoped", `{"kind":"netem","scope":{"cidr":"192.0.2.0/24"},"netem":{"delayMs":100}}`, [][]string{
			{"tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "c000:", "prio", "bands", "4", "priomap", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
			{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
			{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:4", "handle", "c001:", "netem", "delay", "100ms"},
			{"tc", "filter", "add", "dev", "eth0", "parent", "c000:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", "192.0.2.0/24", "flowid", "c000:4"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t)
			p.k.SetRoot("eth0", "tbf", 0x80010000, tbf...)
			before := p.k.QdiscLines("eth0")
			a := p.agent("chaos-agent-aaaa", "aaaa")
			r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, tc.spec))
			mustOK(t, r)
			if got := mutations(p.k.Calls()); !slices.EqualFunc(got, tc.apply, slices.Equal) {
				t.Fatalf("commands\n%q\nwant\n%q", got, tc.apply)
			}
			saved := false
			for _, o := range r.Fault.Objects {
				saved = saved || (o.Type == protocol.ObjSavedRoot && o.Name == "8001:")
			}
			if !saved {
				t.Fatalf("no saved-root object in %+v", r.Fault.Objects)
			}
			p.k.ResetCalls()
			r = do(t, a, revertReq("aaaa", "aaaa-s1"))
			mustOK(t, r)
			want := [][]string{
				{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"},
				{"tc", "qdisc", "add", "dev", "eth0", "root", "handle", "8001:", "tbf", "rate", "1Mbit", "burst", "1600b", "lat", "50ms"},
			}
			if got := mutations(p.k.Calls()); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("revert commands\n%q\nwant\n%q", got, want)
			}
			if after := p.k.QdiscLines("eth0"); after != before {
				t.Fatalf("root not restored exactly:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

func TestUnrestorableRootsAreRefusedUntouched(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(k *fakekernel.Kernel)
		want  string
	}{
		{"htb holds user classes", func(k *fakekernel.Kernel) { k.SetRoot("eth0", "htb", 0x10000, "r2q", "10", "default", "0x10") }, "cannot re-create exactly"},
		{"a tree", func(k *fakekernel.Kernel) {
			k.SetRoot("eth0", "prio", 0x10000, "bands", "3", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1")
			k.AddQdisc("eth0", "tbf", 0x100000, 0x10001, "rate", "1Mbit", "burst", "1600b", "lat", "50ms")
		}, "qdisc tree"},
		{"filters on the root", func(k *fakekernel.Kernel) {
			k.SetRoot("eth0", "prio", 0x10000, "bands", "3", "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1")
			k.AddFilter(kernel.Filter{Iface: "eth0", Kind: "u32", Parent: 0x10000, Protocol: 0x0800, Priority: 1, ClassID: 0x10001})
		}, "tc filters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t)
			tc.setup(p.k)
			before := p.k.QdiscLines("eth0")
			a := p.agent("chaos-agent-aaaa", "aaaa")
			r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100))
			mustFail(t, r, protocol.ErrUnrestorable, 4)
			if !strings.Contains(r.Error.Message, tc.want) {
				t.Fatalf("message %q lacks %q", r.Error.Message, tc.want)
			}
			if m := mutations(p.k.Calls()); len(m) != 0 {
				t.Fatalf("changed the kernel: %v", m)
			}
			if p.k.QdiscLines("eth0") != before {
				t.Fatal("qdiscs changed")
			}
		})
	}
}

func TestRefusedNestingPutsTheRootBack(t *testing.T) {
	p := newPod(t)
	p.k.SetRoot("eth0", "netem", 0x50000, "delay", "3ms")
	before := p.k.QdiscLines("eth0")
	p.k.RefuseNest = func(parent, kind string) bool { return parent == "netem" && kind == "netem" }
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100))
	mustFail(t, r, protocol.ErrUnrestorable, 4)
	if !strings.Contains(r.Error.Message, "refused to keep eth0's root qdisc netem 5:") {
		t.Fatalf("message %q", r.Error.Message)
	}
	if after := p.k.QdiscLines("eth0"); after != before {
		t.Fatalf("root not put back:\n%s\nwas\n%s", after, before)
	}
}

func TestOrphansOfADeadAgentAreReverted(t *testing.T) {
	p := newPod(t)
	p.k.SetRoot("eth0", "tbf", 0x80010000, "rate", "1Mbit", "burst", "1600b", "lat", "50ms")
	before := p.k.QdiscLines("eth0")
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition"}`)))
	b := p.agent("chaos-agent-bbbb", "bbbb")
	// while a lives, b sees nothing to take
	r := do(t, b, `{"protocol":1,"op":"sweep","runId":"bbbb","own":false}`)
	mustOK(t, r)
	if len(r.Orphans) != 0 {
		t.Fatalf("a live agent's objects taken as orphans: %+v", r.Orphans)
	}
	p.kill("chaos-agent-aaaa")
	r = do(t, b, `{"protocol":1,"op":"status","runId":"bbbb"}`)
	if len(r.Orphans) != 2 || r.Orphans[0].Confirmed {
		t.Fatalf("status orphans %+v", r.Orphans)
	}
	r = do(t, b, `{"protocol":1,"op":"sweep","runId":"bbbb","own":false}`)
	mustOK(t, r)
	if len(r.Orphans) != 2 || !r.Orphans[0].Confirmed || !r.Orphans[1].Confirmed || r.Orphans[1].FaultID != "aaaa-p1" {
		t.Fatalf("sweep orphans %+v", r.Orphans)
	}
	if after := p.k.QdiscLines("eth0"); after != before {
		t.Fatalf("the dead agent's saved root not restored:\n%s\nwas\n%s", after, before)
	}
	if c := p.k.Chains(firewall.NFT, 4, "filter"); len(c) != 0 {
		t.Fatalf("chains left: %v", c)
	}
}

func TestStartupRevertsOrphans(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"netem","scope":{"port":80},"netem":{"delayMs":5}}`)))
	p.kill("chaos-agent-aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	out := b.Startup(context.Background())
	if len(out) != 1 || !out[0].Confirmed {
		t.Fatalf("startup %+v", out)
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("orphan left: %+v", root)
	}
	// the runner that brought b learns of it in b's first apply reply, and only there
	r := do(t, b, applyReq("bbbb", "bbbb-s1", 30000, `{"kind":"partition","scope":{"port":9,"protocol":"tcp"}}`))
	mustOK(t, r)
	if len(r.Orphans) != 1 || !r.Orphans[0].Confirmed {
		t.Fatalf("first apply's orphans %+v", r.Orphans)
	}
	again := do(t, b, applyReq("bbbb", "bbbb-s2", 30000, `{"kind":"partition","scope":{"port":10,"protocol":"tcp"}}`))
	mustOK(t, again)
	if len(again.Orphans) != 0 {
		t.Fatalf("second apply's orphans %+v", again.Orphans)
	}
}

func TestStartupOrphansAreToldBySweep(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	p.kill("chaos-agent-aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	b.Startup(context.Background())
	r := do(t, b, `{"protocol":1,"op":"sweep","runId":"bbbb","own":false}`)
	mustOK(t, r)
	if len(r.Orphans) != 1 || !r.Orphans[0].Confirmed {
		t.Fatalf("sweep's orphans %+v", r.Orphans)
	}
}

func TestOrphanBeforeApplyIsReverted(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	p.kill("chaos-agent-aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	r := do(t, b, applyReq("bbbb", "bbbb-s1", 30000, `{"kind":"netem","netem":{"delayMs":7}}`))
	mustOK(t, r)
	if len(r.Orphans) != 1 || !r.Orphans[0].Confirmed {
		t.Fatalf("orphans %+v", r.Orphans)
	}
}

func TestUnansweringPeerBlocksOrphanRemoval(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	// a is alive (its socket listens) but does not answer
	p.kill("chaos-agent-aaaa")
	p.mu.Lock()
	p.silent["chaos-agent-aaaa"] = true
	p.mu.Unlock()
	b := p.agent("chaos-agent-bbbb", "bbbb")
	p.k.ResetCalls()
	r := do(t, b, `{"protocol":1,"op":"sweep","runId":"bbbb","own":false}`)
	mustFail(t, r, protocol.ErrRevertIncomplete, 3)
	if len(r.Orphans) != 1 || r.Orphans[0].Confirmed || !strings.Contains(r.Orphans[0].Detail, "chaos-agent-aaaa did not say") {
		t.Fatalf("orphans %+v", r.Orphans)
	}
	r = do(t, b, applyReq("bbbb", "bbbb-s1", 30000, netem100))
	mustFail(t, r, protocol.ErrConflict, 4)
	if r.Error.Owner == nil || r.Error.Owner.Agent != "chaos-agent-aaaa" {
		t.Fatalf("owner %+v", r.Error.Owner)
	}
	if m := mutations(p.k.Calls()); len(m) != 0 {
		t.Fatalf("touched what may be a silent agent's: %v", m)
	}
}

func TestSweepOwn(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	r := do(t, a, `{"protocol":1,"op":"sweep","runId":"aaaa","own":true}`)
	mustOK(t, r)
	if len(r.Reverted) != 1 || r.Reverted[0].Reason != protocol.ReasonSweep {
		t.Fatalf("reverted %+v", r.Reverted)
	}
}

func TestBackendDetectedOnceAndLegacyPreferredWhenItHoldsTables(t *testing.T) {
	p := newPod(t)
	// legacy already holds a table in this namespace (kube-proxy in legacy mode, say)
	p.k.Run(context.Background(), []string{"iptables-legacy", "-w", "-N", "KUBE-X"}, "")
	p.k.ResetCalls()
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-p1", 30000, `{"kind":"partition"}`))
	mustOK(t, r)
	if r.Agent.IptablesBackend != "legacy" {
		t.Fatalf("backend %q", r.Agent.IptablesBackend)
	}
	r = do(t, a, applyReq("aaaa", "aaaa-p2", 30000, `{"kind":"partition","scope":{"port":1}}`))
	for _, c := range r.Commands {
		if strings.Contains(c.Argv[len(c.Argv)-1], "chaos-probe") {
			t.Fatalf("detected again: %v", c.Argv)
		}
	}
}

func TestPeerStatusTakesNoLock(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	done := make(chan *protocol.Reply, 1)
	go func() {
		done <- a.Handle(context.Background(), []byte(`{"protocol":1,"op":"status","runId":"bbbb","scanOrphans":false}`))
	}()
	select {
	case r := <-done:
		if len(r.Faults) != 1 || r.Faults[0].Objects[0].Name != "c000:" {
			t.Fatalf("peer status %+v", r.Faults)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a peer's status waited for the request lock")
	}
}

func TestRenewDoesNotWaitBehindAnotherRequest(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)))
	// another run's request holds the agent (a slow apply: orphan scans, peers, a loaded node)
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	done := make(chan *protocol.Reply, 1)
	go func() {
		done <- a.Handle(context.Background(), []byte(`{"protocol":1,"op":"renew","runId":"aaaa","faultId":"aaaa-s1","leaseMs":30000}`))
	}()
	select {
	case r := <-done:
		mustOK(t, r)
	case <-time.After(5 * time.Second):
		t.Fatal("a renewal waited behind another request: the lease it renews could lapse meanwhile")
	}
}

func TestARevertThatOvertakesItsApplyMakesTheLateApplyRefused(t *testing.T) {
	p := newPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	// the runner's ledger reverts an entry whose apply has not reached the agent yet
	r := do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	if !r.Reverted[0].Confirmed || !strings.Contains(r.Reverted[0].Detail, "never applied it") {
		t.Fatalf("revert of a fault never held: %+v", r.Reverted)
	}
	// then the apply arrives, late: refused, nothing done
	late := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100))
	mustFail(t, late, protocol.ErrReverted, 1)
	if !strings.Contains(late.Error.Message, "aaaa-s1 was reverted (requested)") || len(late.Commands) != 0 {
		t.Fatalf("late apply: %+v %v", late.Error, argvs(late))
	}
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("the late apply installed the fault: %+v", root)
	}
	if st := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa","scanOrphans":false}`); len(st.Faults) != 0 {
		t.Fatalf("holds %+v", st.Faults)
	}
	// a fault reverted after it was held is refused again as well (its lease lapsed here)
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s2", 2000, netem100)))
	p.clock.Advance(3 * time.Second)
	a.Tick(context.Background())
	mustFail(t, do(t, a, applyReq("aaaa", "aaaa-s2", 2000, netem100)), protocol.ErrReverted, 1)
	if root := rootOf(t, p.k, "eth0"); !root.IsDefault() {
		t.Fatalf("re-applied after its lease lapsed: %+v", root)
	}
	// the memory lasts the agent's life: still refused near its TTL
	p.clock.Advance(9 * time.Minute)
	mustFail(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, netem100)), protocol.ErrReverted, 1)
}

func TestAStressAppliedAfterItsRevertIsRefused(t *testing.T) {
	p := newPod(t)
	sp := &spawner{}
	a := stressAgent(p, sp)
	mustOK(t, do(t, a, revertReq("ssss", "ssss-s3")))
	mustFail(t, do(t, a, applyReq("ssss", "ssss-s3", 30000, stressSpec)), protocol.ErrReverted, 1)
	if len(sp.children) != 0 {
		t.Fatal("the late stress apply started a stressor")
	}
}
