package fault

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// httpKind is the http kind with its proxy on loopback (the fake namespace has no addresses to
// listen on) and a short drain.
func httpKind(t *testing.T) HTTP {
	return HTTP{
		Listen: func([]int) ([]net.Listener, int, error) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				return nil, 0, err
			}
			t.Cleanup(func() { ln.Close() })
			return []net.Listener{ln}, ln.Addr().(*net.TCPAddr).Port, nil
		},
		Target: func(net.Conn) (string, error) { return "127.0.0.1:1", nil },
		Drain:  50 * time.Millisecond,
	}
}

func httpReq(id string, leaseMs int64) protocol.FaultRequest {
	rate := 100.0
	return protocol.FaultRequest{ID: id, LeaseMs: leaseMs, Spec: protocol.FaultSpec{Kind: protocol.KindHTTP,
		HTTP: &protocol.HTTPParams{Port: 80, ErrorRate: &rate, ErrorCode: 503}}}
}

// what ran and was done, in order: "(netlink) nft", "iptables-nft-save"...
func argv0(log *exec.Log) []string {
	var out []string
	for _, r := range log.Runs() {
		out = append(out, strings.Join(r.Argv[:min(2, len(r.Argv))], " "))
	}
	return out
}

// Where nf_tables answers, an HTTP fault's redirect and reset are one nftables transaction made
// over netlink — no program runs for it, not even the iptables backend's detection — and the
// kernel ends them by itself once the lease (+ the margin) passes without a renewal.
func TestHTTPHeldThroughNftablesExpiresInTheKernel(t *testing.T) {
	k, c := nftPod()
	k.AddLink("net1", []int{4, 6})
	k.AddConnection(kernel.Conn{Local: netip.MustParseAddrPort("198.18.0.5:80"), Remote: netip.MustParseAddrPort("198.18.0.9:41000")})
	env, log := envOf(k)
	req := httpReq("h1", 15000)
	req.Spec.Interface = "net1"
	out := httpKind(t).Apply(env, req)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	held := out.Held.(*httpHeld)
	defer held.proxy.Stop(0)
	if got := argv0(log); !slices.Equal(got, []string{exec.Netlink + " nft", exec.Netlink + " ss"}) {
		t.Fatalf("done: %q (no program may run)", got)
	}
	made := log.Runs()[0]
	for _, want := range []string{
		"create table inet CHAOS-h1\n",
		`add element inet CHAOS-h1 lease { "net1" timeout 16000ms }`,
		"add chain inet CHAOS-h1 prerouting { type nat hook prerouting priority -100; policy accept; }\n",
		"add rule inet CHAOS-h1 prerouting iifname @lease meta nfproto ipv6 meta l4proto tcp th dport 80 counter redirect to :" + held.proxyPort(),
		"add rule inet CHAOS-h1 input iifname @lease meta nfproto ipv4 meta l4proto tcp th dport 80 ct state established counter reject with tcp reset\n",
	} {
		if !strings.Contains(made.Stdin, want) {
			t.Fatalf("no %q in the record:\n%s", want, made.Stdin)
		}
	}
	if e, ok := out.Held.(Expiring); !ok || !e.ExpiresInKernel() || held.Firewall() != protocol.FirewallNftables {
		t.Fatal("an http fault through nftables does not say it expires in the kernel")
	}
	if objs := held.Objects(); objs[0].Type != protocol.ObjTable || objs[0].Name != "CHAOS-h1" || objs[0].Table != "inet" || objs[len(objs)-1].Type != protocol.ObjProxy {
		t.Fatalf("objects %+v", objs)
	}
	if d := held.Detail(); !strings.Contains(d, "http on port 80 of net1 (nftables, IPv4+IPv6): proxy :"+held.proxyPort()+"; table inet CHAOS-h1: port 80 redirected to") ||
		!strings.Contains(d, "(2 in prerouting, 2 in input)") || !strings.Contains(d, "the kernel ends it by itself in 16s") || !strings.Contains(d, "1 connection opened before the fault reset (sock_destroy)") {
		t.Fatalf("detail %q", d)
	}
	renewedThenLapsed(t, env, c, held)
}

func (h *httpHeld) proxyPort() string { return strings.TrimPrefix(h.proxyObject().Name, "tcp :") }

// The revert over nftables: one transaction takes the reset rules away and replaces the
// redirects by the drain rule while the proxy still serves; then the proxy stops, then the table
// goes. If that transaction fails, nothing else happens: the proxy keeps serving the redirect
// that is left, and the revert is retried.
func TestHTTPRevertThroughNftablesDrainsFirst(t *testing.T) {
	k, _ := nftPod()
	env, log := envOf(k)
	out := httpKind(t).Apply(env, httpReq("h2", 15000))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	held := out.Held.(*httpHeld)
	refuse := true
	var serving []bool
	k.Fail = func(argv []string, stdin string) (exec.Result, bool) {
		if strings.HasPrefix(stdin, "flush chain") {
			serving = append(serving, held.proxy.Serving())
		}
		if argv[0] == "nft" && argv[1] == "delete" {
			serving = append(serving, held.proxy.Serving())
		}
		return exec.Result{ExitCode: 1, Stderr: "nftables: conn.Receive: no buffer space available"}, refuse && strings.HasPrefix(stdin, "flush chain")
	}
	remaining, detail := held.Revert(env)
	if len(remaining) == 0 || !held.proxy.Serving() || !strings.Contains(detail, "not replaced") || !strings.Contains(detail, "stay") {
		t.Fatalf("a failed drain: %+v %q, serving %v", remaining, detail, held.proxy.Serving())
	}
	if tables, _ := k.NftTables(); len(tables) != 1 {
		t.Fatalf("tables %v", tables)
	}
	refuse = false
	log2 := exec.NewLog(k)
	env.Exec = log2
	remaining, detail = held.Revert(env)
	if len(remaining) != 0 || held.proxy.Serving() || !strings.Contains(detail, "replaced by the drain rule; proxy :") || !strings.HasSuffix(detail, "table inet CHAOS-h2 removed") {
		t.Fatalf("revert: %+v %q", remaining, detail)
	}
	if !slices.Equal(serving, []bool{true, true, false}) {
		t.Fatalf("the proxy served at the drains and the delete: %v (want it serving through the drain, stopped before the delete)", serving)
	}
	runs := log2.Runs()
	if len(runs) != 2 || runs[0].Stdin != "flush chain inet CHAOS-h2 input\nflush chain inet CHAOS-h2 prerouting\nadd rule inet CHAOS-h2 prerouting ct status dnat counter return\n" ||
		!slices.Equal(runs[1].Argv, []string{exec.Netlink, "nft", "delete", "table", "inet", "CHAOS-h2"}) {
		t.Fatalf("revert's record %+v", runs)
	}
	if failedDrain := log.Runs()[len(log.Runs())-1]; len(log.Runs()) != 2 || failedDrain.ExitCode == 0 || !strings.HasPrefix(failedDrain.Stdin, "flush chain") {
		t.Fatalf("the failed drain's record: %+v", log.Runs())
	}
}

// One proxy per port, whatever holds the other's redirect: another agent's nftables table, or an
// iptables chain (an agent of an earlier version) — refused as a conflict with its owner.
func TestHTTPOnePortOneProxyAcrossFirewalls(t *testing.T) {
	k, _ := nftPod()
	env, _ := envOf(k)
	first := httpKind(t).Apply(env, httpReq("h3", 15000))
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	defer first.Held.(*httpHeld).proxy.Stop(0)
	env.Claims.Chains[firewall.NftKey(firewall.NftRef("h3"))] = protocol.Owner{Agent: "agent-b", RunID: "rb", FaultID: "h3"}
	second := httpKind(t).Apply(env, httpReq("h4", 15000))
	if second.Err == nil || second.Err.Code != protocol.ErrConflict || second.Err.Owner.FaultID != "h3" || !strings.Contains(second.Err.Message, "port 80 is already redirected by fault h3 of run rb (agent agent-b)") {
		t.Fatalf("%+v", second.Err)
	}
	// another port is free
	other := httpReq("h5", 15000)
	other.Spec.HTTP.Port = 8080
	if o := httpKind(t).Apply(env, other); o.Err != nil {
		t.Fatal(o.Err)
	} else {
		o.Held.(*httpHeld).proxy.Stop(0)
	}
	// an earlier agent's iptables-nft redirect of port 9090
	tx := firewall.Redirect{FaultID: "old", Iface: "eth0", Port: 9090, ProxyPort: 40000}.ApplyTransaction()
	if r := k.Run(env.Ctx, firewall.RestoreArgv(firewall.NFT, 4), tx); !r.OK() {
		t.Fatal(r.Why())
	}
	env.Claims.Chains[ownership.ChainKey{Family: 4, Table: "nat", Name: "CHAOS-old"}] = protocol.Owner{Agent: "agent-old", RunID: "ro", FaultID: "old"}
	old := httpReq("h6", 15000)
	old.Spec.HTTP.Port = 9090
	if o := httpKind(t).Apply(env, old); o.Err == nil || o.Err.Code != protocol.ErrConflict || o.Err.Owner.Agent != "agent-old" {
		t.Fatalf("%+v", o.Err)
	}
}

// nf_tables without the inet family (Debian's UML kernel): the one transaction fails and leaves
// nothing; the fault is iptables' — whose backend is detected only then — and needs an agent.
func TestHTTPFallsBackWhereNftablesHasNoInetFamily(t *testing.T) {
	k, _ := nftPod()
	k.NoInet = true
	k.Works = map[firewall.Backend]bool{firewall.Legacy: true}
	env, log := envOf(k)
	out := httpKind(t).Apply(env, httpReq("h7", 15000))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	held := out.Held.(*httpHeld)
	defer held.proxy.Stop(0)
	if got := argv0(log); !slices.Equal(got, []string{exec.Netlink + " nft", "iptables-legacy-restore --noflush", "iptables-legacy-save"}) || log.Runs()[0].ExitCode != 2 {
		t.Fatalf("%q", got)
	}
	if held.ExpiresInKernel() || held.Firewall() != protocol.FirewallIptablesLegacy || !strings.Contains(held.Detail(), "(iptables-legacy; it needs an agent to end it)") {
		t.Fatalf("%v %s %q", held.ExpiresInKernel(), held.Firewall(), held.Detail())
	}
}
