//go:build kernel

package kerneltest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// What the agent does over netlink, on a real kernel: partitions as nftables tables that the
// kernel ends by itself when nobody renews them (host kernel: nf_tables with the inet family),
// the iptables-legacy fallback where nf_tables cannot hold them (Debian's UML kernel: nf_tables
// without the inet, ip and ip6 families), and netem, prio and u32 filters whose tc words in the
// reply, replayed by the real tc, give the same kernel state (UML: sch_netem and sch_prio).

// expectNftables says what agent/test-kernel knows of the kernel the tests run on: whether
// nf_tables holds inet tables there. A test that depends on it fails without it rather than
// take the other branch unnoticed.
func expectNftables(t *testing.T) bool {
	t.Helper()
	switch os.Getenv("CHAOS_AGENT_EXPECT_NFTABLES") {
	case "1":
		return true
	case "0":
		return false
	}
	t.Fatal("CHAOS_AGENT_EXPECT_NFTABLES is not set: run the kernel tests through agent/test-kernel")
	return false
}

// chaosTables lists the CHAOS- nftables tables of the pod's namespace, as "inet CHAOS-x".
func (ns *netns) chaosTables(t *testing.T) []string {
	t.Helper()
	var out []string
	inNetns(t, ns.pod, func() {
		refs, err := firewall.NftTables(kernel.Netlink{})
		if err != nil && !errors.Is(err, kernel.ErrNoNftables) {
			t.Error(err)
		}
		for _, r := range refs {
			out = append(out, r.String())
		}
	})
	return out
}

// leftovers lists every chaos-run firewall object of the pod: CHAOS- chains in iptables (both
// backends, both families) and CHAOS- nftables tables.
func (ns *netns) leftovers(t *testing.T) []string {
	t.Helper()
	var found []string
	for _, fam := range []string{"iptables", "ip6tables"} {
		for _, b := range []string{"nft", "legacy"} {
			if out, err := ns.in(fam + "-" + b + "-save"); err == nil && strings.Contains(out, "CHAOS-") {
				found = append(found, fam+"-"+b)
			}
		}
	}
	return append(found, ns.chaosTables(t)...)
}

// forked lists the programs a reply's commands ran (what was done over netlink aside).
func forked(r *protocol.Reply) []string {
	var out []string
	for _, c := range r.Commands {
		if c.Argv[0] != exec.Netlink {
			out = append(out, c.Argv[0])
		}
	}
	return out
}

func blocked(ns *netns, addr string) bool {
	ok, _ := ns.dial(addr, 300*time.Millisecond)
	return !ok
}

// A partition is an nftables table of the fault's own where the kernel can hold one, made and
// read back over netlink (no program runs);
// where it cannot, the one failed transaction left nothing and the partition is
// iptables-legacy's.
func TestPartitionThroughTheKernelsFirewall(t *testing.T) {
	nft := expectNftables(t)
	ns := newNetns(t)
	ns.listen(8080)
	ns.listen(8081)
	ns.serve("agent-p1")
	r, code := ns.request("agent-p1", apply("p1", "p1-part", obj{"kind": "partition", "scope": obj{"port": 8080}}))
	mustOK(t, r, code)
	if len(r.Fault.Families) != 2 {
		t.Fatalf("families %v (the pod has IPv4 and IPv6)", r.Fault.Families)
	}
	for _, addr := range []string{"192.0.2.2:8080", "[2001:db8::2]:8080"} {
		if !blocked(ns, addr) {
			t.Fatalf("%s reachable under the partition", addr)
		}
	}
	if ok, _ := ns.dial("192.0.2.2:8081", 2*time.Second); !ok {
		t.Fatal("port 8081 unreachable: the partition is not scoped")
	}
	progs := forked(r)
	if nft {
		if r.Agent.Firewall != protocol.FirewallNftables || !r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != 61000 ||
			!strings.Contains(r.Fault.Detail, "(nftables, IPv4+IPv6)") || !slices.Equal(ns.chaosTables(t), []string{"inet CHAOS-p1-part"}) {
			t.Fatalf("agent %+v, fault %+v, tables %q", r.Agent, r.Fault, ns.chaosTables(t))
		}
		// no program runs: not even the iptables backend's detection (it is needed only where
		// nf_tables cannot hold the table)
		if len(progs) != 0 || r.Agent.IptablesBackend != "" {
			t.Fatalf("programs run: %q, iptables backend %q", progs, r.Agent.IptablesBackend)
		}
	} else {
		// the one transaction nf_tables refused, recorded; then iptables-legacy's
		var refused []protocol.CommandRun
		for _, c := range r.Commands {
			if c.Argv[0] == exec.Netlink {
				refused = append(refused, c)
			}
		}
		save := ns.mustIn("iptables-legacy-save")
		if r.Agent.IptablesBackend != "legacy" || r.Agent.Firewall != protocol.FirewallIptablesLegacy || r.Fault.ExpiresInKernel || !strings.Contains(save, `-A INPUT -m comment --comment "chaos-run:p1-part" -j CHAOS-p1-part`) ||
			len(refused) != 1 || refused[0].ExitCode == 0 || !strings.Contains(refused[0].Stderr, "cannot hold inet tables") || len(ns.chaosTables(t)) != 0 {
			t.Fatalf("backend %s, commands %+v\n%s", r.Agent.IptablesBackend, r.Commands, save)
		}
	}
	r, code = ns.request("agent-p1", revert("p1", "p1-part"))
	mustOK(t, r, code)
	if left := ns.leftovers(t); len(left) != 0 {
		t.Fatalf("after the revert: %q", left)
	}
	if ok, _ := ns.dial("192.0.2.2:8080", 2*time.Second); !ok {
		t.Fatal("port 8080 unreachable after the revert")
	}
}

// unblockedAfter polls addr until it connects and says how long after since that took.
func unblockedAfter(t *testing.T, ns *netns, addr string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for time.Since(since) < limit {
		if ok, _ := ns.dial(addr, 200*time.Millisecond); ok {
			return time.Since(since)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s still unreachable %s after", addr, limit)
	return 0
}

// The kernel-held expiry: with the agent SIGKILLed (and no runner), a partition ends by itself
// within lease + margin of its last renewal — not before its lease — and renewals move that end.
func TestTheKernelEndsAPartitionNobodyRenews(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("Debian's UML kernel has no inet family in nf_tables: partitions there are iptables-legacy's, which need an agent (TestPartitionThroughTheKernelsFirewall covers that)")
	}
	const lease = 2 * time.Second
	ns := newNetns(t)
	ns.listen(8080)
	a := ns.serve("agent-e1")
	req := apply("e1", "e1-part", obj{"kind": "partition", "scope": obj{"port": 8080}})
	req["fault"].(obj)["leaseMs"] = lease.Milliseconds()
	r, code := ns.request("agent-e1", req)
	mustOK(t, r, code)
	lastRenewal := ns.renewFor(t, "agent-e1", "e1", "e1-part", lease, func(since time.Duration) {
		if !blocked(ns, "192.0.2.2:8080") {
			t.Fatalf("port 8080 reachable %s after the apply, while renewed", since.Round(time.Millisecond))
		}
	})
	// the agent dies: nobody reverts, nobody renews
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	took := unblockedAfter(t, ns, "192.0.2.2:8080", lastRenewal, lease+firewall.ExpiryMargin+3*time.Second)
	ns.endedInTheKernel(t, "the partition", took, lease, "inet CHAOS-e1-part", "agent-e2")
}

// renewFor renews a fault for 5 s, every 600 ms — well past its first lease + margin — checking
// after each renewal that it is in effect (since: from the start); it returns when it renewed
// last.
func (ns *netns) renewFor(t *testing.T, agent, runID, faultID string, lease time.Duration, inEffect func(since time.Duration)) time.Time {
	t.Helper()
	start := time.Now()
	var last time.Time
	for time.Since(start) < 5*time.Second {
		time.Sleep(600 * time.Millisecond)
		r, code := ns.request(agent, obj{"protocol": 1, "op": "renew", "runId": runID, "faultId": faultID, "leaseMs": lease.Milliseconds()})
		mustOK(t, r, code)
		last = time.Now()
		inEffect(time.Since(start))
	}
	return last
}

// endedInTheKernel checks when the kernel ended a fault nobody renewed — took after the last
// renewal: not before its lease, not after lease + margin (and a second of polling) — and that
// its table, inert, stays until an orphan scan: the next agent's start removes it.
func (ns *netns) endedInTheKernel(t *testing.T, what string, took, lease time.Duration, table, nextAgent string) {
	t.Helper()
	t.Logf("MEASURE %s ended %s after its last renewal (lease %s + margin %s), with no agent", what, took.Round(time.Millisecond), lease, firewall.ExpiryMargin)
	if took < lease {
		t.Fatalf("the kernel ended %s %s after the last renewal, before its %s lease", what, took, lease)
	}
	if took > lease+firewall.ExpiryMargin+time.Second {
		t.Fatalf("%s lasted %s after the last renewal; the kernel's end is lease + margin = %s", what, took, lease+firewall.ExpiryMargin)
	}
	if got := ns.chaosTables(t); !slices.Equal(got, []string{table}) {
		t.Fatalf("tables %q", got)
	}
	ns.serve(nextAgent)
	waitServing(t, ns, nextAgent)
	for deadline := time.Now().Add(10 * time.Second); len(ns.chaosTables(t)) != 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if left := ns.leftovers(t); len(left) != 0 {
		t.Fatalf("left after the next agent's orphan scan: %q", left)
	}
}

// The tc words of a netem fault's reply are what the agent did: the same commands run by the
// real tc in a twin namespace give the same qdiscs and filters, option for option and key for
// key.
func TestTcWordsReplayToTheSameKernelState(t *testing.T) {
	ns := newNetns(t)
	if !hasNetem(t, ns) {
		t.Skip("no sch_netem/sch_prio in this kernel: agent/test-kernel runs it in the UML kernel")
	}
	ns.serve("agent-w1")
	for i, spec := range []obj{
		{"kind": "netem", "scope": obj{"port": 8080, "protocol": "tcp"}, "netem": obj{"delayMs": 100, "jitterMs": 10, "correlation": 25, "distribution": "normal", "loss": 0.5}},
		{"kind": "netem", "scope": obj{"cidr": "2001:db8::/48"}, "netem": obj{"delayMs": 20, "jitterMs": 5, "distribution": "paretonormal", "duplicate": 1, "corrupt": 0.1, "reorder": 25, "rate": "10mbit"}},
		{"kind": "netem", "netem": obj{"delayMs": 1.5, "loss": 30, "rate": "5gbit"}},
	} {
		id := fmt.Sprintf("w1-n%d", i)
		r, code := ns.request("agent-w1", apply("w1", id, spec))
		mustOK(t, r, code)
		if progs := forked(r); len(progs) != 0 {
			t.Fatalf("programs run for a netem: %q", progs)
		}
		twin := newNetns(t)
		for _, c := range r.Commands {
			twin.mustIn(c.Argv[1:]...)
		}
		for _, show := range [][]string{{"tc", "qdisc", "show", "dev", "eth0"}, {"tc", "filter", "show", "dev", "eth0"}} {
			got, want := ns.mustIn(show...), twin.mustIn(show...)
			if got != want {
				t.Fatalf("%s after %+v:\n%s\nthe real tc's:\n%s", strings.Join(show, " "), r.Commands, got, want)
			}
		}
		r, code = ns.request("agent-w1", revert("w1", id))
		mustOK(t, r, code)
	}
}

// Destroying connections over sock_diag (the HTTP fault's reset of the connections from before
// it, what `ss -K` does): both
// families, the peer sees the reset at once. A kernel without CONFIG_INET_DIAG_DESTROY (Debian's
// UML) refuses with EOPNOTSUPP, and the connections stay.
func TestDestroyConnectionsOverSockDiag(t *testing.T) {
	ns := newNetns(t)
	var ln net.Listener
	inNetns(t, ns.pod, func() {
		var err error
		if ln, err = net.Listen("tcp", ":8080"); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var clients []net.Conn
	inNetns(t, ns.peer, func() {
		for _, addr := range []string{"192.0.2.1:8080", "[2001:db8::1]:8080"} {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			clients = append(clients, c)
		}
	})
	if t.Failed() {
		return
	}
	var conns []kernel.Conn
	var destroyed int
	var err error
	inNetns(t, ns.pod, func() {
		deadline := time.Now().Add(2 * time.Second)
		for len(conns) < 2 && time.Now().Before(deadline) {
			conns, _ = kernel.Netlink{}.Connections(8080)
		}
		destroyed, err = kernel.Netlink{}.DestroyConnections(conns)
	})
	if len(conns) != 2 {
		t.Fatalf("connections on 8080: %+v", conns)
	}
	if errors.Is(err, syscall.EOPNOTSUPP) {
		t.Logf("this kernel cannot destroy sockets (no CONFIG_INET_DIAG_DESTROY): %v", err)
		return
	}
	if err != nil || destroyed != 2 {
		t.Fatalf("destroyed %d: %v", destroyed, err)
	}
	for _, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, rerr := c.Read(make([]byte, 1)); !errors.Is(rerr, syscall.ECONNRESET) {
			t.Fatalf("%s: the client's read after the destroy: %v", c.RemoteAddr(), rerr)
		}
	}
}
