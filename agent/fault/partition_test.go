package fault

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/internal/fakekernel"
	"chaos-run/agent/lease"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

func nftPod() (*fakekernel.Kernel, *lease.Fake) {
	k := fakekernel.New()
	k.Nftables = true
	c := lease.NewFake()
	k.Now = c.Now
	return k, c
}

func envOf(k *fakekernel.Kernel) (*Env, *exec.Log) {
	log := exec.NewLog(k)
	return &Env{Ctx: context.Background(), Exec: log, Kernel: k, Agent: "agent-a", RunID: "r1", Claims: ownership.NewClaims("agent-a"),
		Backend: func() (firewall.Backend, error) { return firewall.Detect(context.Background(), k, k.ReadFile, "probe") }, ReadFile: k.ReadFile}, log
}

func partitionReq(id string, leaseMs int64, scope *protocol.Scope) protocol.FaultRequest {
	return protocol.FaultRequest{ID: id, LeaseMs: leaseMs, Spec: protocol.FaultSpec{Kind: protocol.KindPartition, Scope: scope}}
}

// Where nf_tables answers, a partition is one nftables transaction made over netlink — no
// program runs for it — and the kernel ends it by itself once its lease (+ the margin) passes
// without a renewal; each renewal moves that end.
func TestPartitionHeldThroughNftablesExpiresInTheKernel(t *testing.T) {
	k, c := nftPod()
	env, log := envOf(k)
	out := Partition{}.Apply(env, partitionReq("p1", 15000, &protocol.Scope{Port: 80}))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	runs := log.Runs()
	var forks []string
	for _, r := range runs {
		if r.Argv[0] != exec.Netlink {
			forks = append(forks, strings.Join(r.Argv, " "))
		}
	}
	if len(forks) != 0 {
		t.Fatalf("programs run: %q", forks)
	}
	made := runs[len(runs)-1]
	if !slices.Equal(made.Argv, []string{exec.Netlink, "nft", "-f", "-"}) || !strings.Contains(made.Stdin, "create table inet CHAOS-p1\n") ||
		!strings.Contains(made.Stdin, `add element inet CHAOS-p1 lease { "eth0" timeout 16000ms }`) ||
		!strings.Contains(made.Stdin, "add rule inet CHAOS-p1 output oifname @lease meta nfproto ipv4 meta l4proto udp th dport 80 counter drop\n") {
		t.Fatalf("record %+v", made)
	}
	held := out.Held
	if e, ok := held.(Expiring); !ok || !e.ExpiresInKernel() {
		t.Fatal("a partition through nftables does not say it expires in the kernel")
	}
	objs := held.Objects()
	if objs[0].Type != protocol.ObjTable || objs[0].Name != "CHAOS-p1" || objs[0].Table != "inet" || len(objs) != 9 {
		t.Fatalf("objects %+v", objs)
	}
	if !strings.Contains(held.Detail(), "partition on eth0 (nftables, IPv4): table inet CHAOS-p1: drop rules (4 in output, 4 in input)") {
		t.Fatalf("detail %q", held.Detail())
	}
	renewedThenLapsed(t, env, c, held)
	remaining, detail := held.Revert(env)
	if len(remaining) != 0 || detail != "table inet CHAOS-p1 removed" {
		t.Fatalf("revert: %+v %q", remaining, detail)
	}
	if _, err := k.NftTables(); err != nil {
		t.Fatal(err)
	}
	if remaining, detail = held.Revert(env); len(remaining) != 0 || !strings.Contains(detail, "nothing there") {
		t.Fatalf("second revert: %+v %q", remaining, detail)
	}
}

// renewedThenLapsed: a fault made with a 15 s lease (the kernel's end 16 s on), renewed 10 s later
// for 15 s more, is in effect past its first end; with no renewal after that, the kernel ends it
// 16 s after the last one.
func renewedThenLapsed(t *testing.T, env *Env, c *lease.Fake, held Held) {
	t.Helper()
	c.Advance(10 * time.Second)
	if err := RenewInKernel(env, held, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(15 * time.Second)
	if _, err := held.Check(env); err != nil {
		t.Fatalf("25 s in, 15 s after a renewal for 15 s: %v", err)
	}
	c.Advance(1100 * time.Millisecond)
	if _, err := held.Check(env); !errors.Is(err, firewall.ErrLeaseLapsedInKernel) {
		t.Fatalf("after lease + margin without a renewal: %v", err)
	}
}

// Without the renewal call, the kernel ends the fault at its first lease (the test above fails
// its 25 s check without RenewInKernel); and a renewal on the iptables fallback does nothing.
func TestPartitionFallsBackToIptablesWithoutNftables(t *testing.T) {
	k := fakekernel.New()
	env, log := envOf(k)
	out := Partition{}.Apply(env, partitionReq("p2", 15000, &protocol.Scope{CIDR: "192.0.2.0/24"}))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	var restores int
	for _, r := range log.Runs() {
		if r.Argv[0] == exec.Netlink {
			t.Fatalf("a netlink change without nf_tables: %+v", r)
		}
		if r.Argv[0] == "iptables-nft-restore" {
			restores++
		}
	}
	if restores != 1 || !strings.Contains(out.Held.Detail(), "iptables-nft; it needs an agent to end it") {
		t.Fatalf("restores %d, detail %q", restores, out.Held.Detail())
	}
	if e, ok := out.Held.(Expiring); !ok || e.ExpiresInKernel() {
		t.Fatal("the iptables fallback says it expires in the kernel")
	}
	n := len(k.Calls())
	if err := RenewInKernel(env, out.Held, time.Minute); err != nil || len(k.Calls()) != n {
		t.Fatalf("renewal of an iptables partition: %v, %d calls", err, len(k.Calls())-n)
	}
}

// nf_tables without the inet family (Debian's UML kernel): the one transaction fails and leaves
// nothing, and the partition is iptables'; the record says both.
func TestPartitionFallsBackWhereNftablesHasNoInetFamily(t *testing.T) {
	k, _ := nftPod()
	k.NoInet = true
	k.Works = map[firewall.Backend]bool{firewall.Legacy: true}
	env, log := envOf(k)
	out := Partition{}.Apply(env, partitionReq("p5", 15000, nil))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	var argv0 []string
	for _, r := range log.Runs() {
		argv0 = append(argv0, strings.Join(r.Argv[:min(2, len(r.Argv))], " "))
	}
	if !slices.Equal(argv0, []string{exec.Netlink + " nft", "iptables-legacy-save", "iptables-legacy-restore --noflush", "iptables-legacy-save"}) || log.Runs()[0].ExitCode != 2 {
		t.Fatalf("%q", argv0)
	}
	if !strings.Contains(out.Held.Detail(), "iptables-legacy; it needs an agent to end it") {
		t.Fatal(out.Held.Detail())
	}
}

func TestPartitionNftScopeAndRefusals(t *testing.T) {
	k, _ := nftPod()
	k.AddLink("net6", []int{6})
	env, log := envOf(k)
	out := Partition{}.Apply(env, protocol.FaultRequest{ID: "p3", LeaseMs: 1000, Spec: protocol.FaultSpec{Kind: protocol.KindPartition, Interface: "net6",
		Scope: &protocol.Scope{CIDR: "2001:db8::/32", Protocol: "tcp"}}})
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	script := log.Runs()[len(log.Runs())-1].Stdin
	if !strings.Contains(script, "add rule inet CHAOS-p3 output oifname @lease meta nfproto ipv6 ip6 daddr 2001:db8::/32 meta l4proto tcp counter drop\n") ||
		!strings.Contains(script, "add rule inet CHAOS-p3 input iifname @lease meta nfproto ipv6 ip6 saddr 2001:db8::/32 meta l4proto tcp counter drop\n") ||
		strings.Contains(script, "ipv4") {
		t.Fatalf("script:\n%s", script)
	}
	// the same fault id again: its table is there, held by no live agent (this env claims none)
	again := Partition{}.Apply(env, protocol.FaultRequest{ID: "p3", LeaseMs: 1000, Spec: protocol.FaultSpec{Kind: protocol.KindPartition, Interface: "net6"}})
	if again.Err == nil || again.Err.Code != protocol.ErrApplyFailed || !strings.Contains(again.Err.Message, "nftables table inet CHAOS-p3 exists already") {
		t.Fatalf("%+v", again.Err)
	}
	env.Claims.Unanswered = []string{"agent-b"}
	again = Partition{}.Apply(env, protocol.FaultRequest{ID: "p3", LeaseMs: 1000, Spec: protocol.FaultSpec{Kind: protocol.KindPartition, Interface: "net6"}})
	if again.Err == nil || again.Err.Code != protocol.ErrConflict || again.Err.Owner.Agent != "agent-b" {
		t.Fatalf("%+v", again.Err)
	}
	// a transaction the kernel refuses leaves nothing, and says so
	k.Fail = func(argv []string, _ string) (exec.Result, bool) {
		return exec.Result{ExitCode: 1, Stderr: "nftables: conn.Receive: operation not permitted"}, argv[0] == "nft"
	}
	refused := Partition{}.Apply(env, partitionReq("p4", 1000, nil))
	if refused.Err == nil || refused.Err.Code != protocol.ErrApplyFailed || !strings.Contains(refused.Err.Message, "nothing was changed") || refused.Held != nil {
		t.Fatalf("%+v", refused)
	}
}
