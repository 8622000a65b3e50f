package service

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// The http fault through the serve process, in a fake namespace (its iptables and sockets)
// with a real proxy on loopback in front of a real application of the test: the redirect
// itself is the kernel's (kerneltest, the lab).

type httpPod struct {
	*pod
	app *httptest.Server
}

func newHTTPPod(t *testing.T) *httpPod {
	p := newPod(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	t.Cleanup(app.Close)
	p.kinds = map[string]fault.Kind{
		protocol.KindNetem: fault.Netem{}, protocol.KindPartition: fault.Partition{},
		protocol.KindHTTP: fault.HTTP{
			Listen: func([]int) ([]net.Listener, int, error) {
				ln, err := net.Listen("tcp4", "127.0.0.1:0")
				if err != nil {
					return nil, 0, err
				}
				return []net.Listener{ln}, ln.Addr().(*net.TCPAddr).Port, nil
			},
			Target: func(net.Conn) (string, error) { return app.Listener.Addr().String(), nil },
			Drain:  200 * time.Millisecond,
		},
	}
	return &httpPod{pod: p, app: app}
}

const http503 = `{"kind":"http","http":{"port":80,"errorRate":100,"errorCode":503,"exclude":["/healthz"]}}`

// proxyPort is the port of the fault's proxy, from its state.
func proxyPort(t *testing.T, st *protocol.FaultState) int {
	t.Helper()
	for _, o := range st.Objects {
		if o.Type == protocol.ObjProxy {
			var port int
			if _, err := fmt.Sscanf(o.Name, "tcp :%d", &port); err == nil {
				return port
			}
		}
	}
	t.Fatalf("no proxy in %+v", st.Objects)
	return 0
}

func get(port int, path string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func chainsEverywhere(k interface {
	Chains(firewall.Backend, int, string) []string
}) []string {
	var out []string
	for _, b := range []firewall.Backend{firewall.NFT, firewall.Legacy} {
		for _, fam := range []int{4, 6} {
			for _, table := range []string{"filter", "nat"} {
				for _, c := range k.Chains(b, fam, table) {
					out = append(out, fmt.Sprintf("%s/%d/%s/%s", b, fam, table, c))
				}
			}
		}
	}
	return out
}

func TestHTTPApplyMakesTheRedirectAndTheProxyAndRevertTakesThemDown(t *testing.T) {
	p := newHTTPPod(t)
	p.k.AddLink("net1", []int{4, 6})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"http","interface":"net1","http":{"port":80,"errorRate":100,"errorCode":503,"exclude":["/healthz"]}}`))
	mustOK(t, r)
	st := r.Fault
	if st.Kind != protocol.KindHTTP || st.Interface != "net1" || !slices.Equal(st.Families, []int{4, 6}) {
		t.Fatalf("state %+v", st)
	}
	port := proxyPort(t, st)
	// one transaction per family, both tables: the redirect first, then the reset rule
	var restores []exec.Call
	for _, c := range p.k.Calls() {
		if strings.HasSuffix(c.Argv[0], "-restore") {
			restores = append(restores, c)
		}
	}
	wantTx := fmt.Sprintf("*nat\n:CHAOS-aaaa-s1 - [0:0]\n-A CHAOS-aaaa-s1 -i net1 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports %d\n-I PREROUTING 1 -m comment --comment chaos-run:aaaa-s1 -j CHAOS-aaaa-s1\nCOMMIT\n"+
		"*filter\n:CHAOS-aaaa-s1 - [0:0]\n-A CHAOS-aaaa-s1 -i net1 -p tcp -m tcp --dport 80 -m conntrack --ctstate ESTABLISHED -j REJECT --reject-with tcp-reset\n-I INPUT 1 -m comment --comment chaos-run:aaaa-s1 -j CHAOS-aaaa-s1\nCOMMIT\n", port)
	if len(restores) != 2 || !slices.Equal(restores[0].Argv, []string{"iptables-nft-restore", "--noflush", "-w"}) ||
		!slices.Equal(restores[1].Argv, []string{"ip6tables-nft-restore", "--noflush", "-w"}) || restores[0].Stdin != wantTx || restores[1].Stdin != wantTx {
		t.Fatalf("transactions %+v\nwant stdin\n%s", restores, wantTx)
	}
	for _, fam := range []int{4, 6} {
		for _, table := range []string{"nat", "filter"} {
			if c := p.k.Chains(firewall.NFT, fam, table); !slices.Equal(c, []string{"CHAOS-aaaa-s1"}) {
				t.Fatalf("IPv%d %s chains %v", fam, table, c)
			}
		}
	}
	// the proxy serves, with the fault: an error, except on the excluded path
	if code, _, err := get(port, "/checkout"); err != nil || code != 503 {
		t.Fatalf("through the proxy: %d %v", code, err)
	}
	if code, body, err := get(port, "/healthz"); err != nil || code != 200 || body != "app" {
		t.Fatalf("excluded: %d %q %v", code, body, err)
	}
	if s := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa"}`); !strings.Contains(s.Faults[0].Detail, "2 requests (1 faulted, 1 answered with the error)") {
		t.Fatalf("status detail %q", s.Faults[0].Detail)
	}

	// while reverting: what each transaction does, and whether the proxy serves at that moment
	var steps []string
	p.k.Fail = func(argv []string, stdin string) (exec.Result, bool) {
		if !strings.HasSuffix(argv[0], "-restore") {
			return exec.Result{}, false
		}
		what := strings.SplitN(stdin, "\n", 2)[0]
		switch {
		case strings.Contains(stdin, "-X "):
			what += " remove"
		case strings.Contains(stdin, "-F CHAOS-aaaa-s1\n-A CHAOS-aaaa-s1 -i net1 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j RETURN\nCOMMIT\n"):
			what += " drain"
		}
		serving := "proxy serving"
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err != nil {
			serving = "proxy stopped"
		} else {
			c.Close()
		}
		steps = append(steps, argv[0]+" "+what+", "+serving)
		return exec.Result{}, false
	}
	r = do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustOK(t, r)
	p.k.Fail = nil
	if !r.Reverted[0].Confirmed || !strings.Contains(r.Reverted[0].Detail, fmt.Sprintf("proxy :%d stopped", port)) {
		t.Fatalf("revert %+v", r.Reverted[0])
	}
	if left := chainsEverywhere(p.k); len(left) != 0 {
		t.Fatalf("chains left: %v", left)
	}
	for _, fam := range []int{4, 6} {
		for _, table := range []string{"nat", "filter"} {
			if rs := p.k.Rules(firewall.NFT, fam, table); len(rs) != 0 {
				t.Fatalf("IPv%d %s rules left: %v", fam, table, rs)
			}
		}
	}
	if _, _, err := get(port, "/"); err == nil {
		t.Fatal("the proxy still serves after the revert")
	}
	// the reset rule first; then no more redirects, while the proxy still serves the connections
	// it has (a rule that redirects nothing keeps conntrack and NAT in use: their last packets
	// need them); then the proxy stops; then the nat chains go
	want := []string{
		"ip6tables-nft-restore *filter remove, proxy serving",
		"iptables-nft-restore *filter remove, proxy serving",
		"iptables-nft-restore *nat drain, proxy serving",
		"ip6tables-nft-restore *nat drain, proxy serving",
		"ip6tables-nft-restore *nat remove, proxy stopped",
		"iptables-nft-restore *nat remove, proxy stopped",
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("revert steps\n%q\nwant\n%q", steps, want)
	}
}

func TestHTTPResetsTheConnectionsOpenedBeforeIt(t *testing.T) {
	ap := netip.MustParseAddrPort
	from := kernel.Conn{Local: ap("198.18.0.5:80"), Remote: ap("198.18.0.9:41000")}
	from6 := kernel.Conn{Local: ap("[fd00:c612::5]:80"), Remote: ap("[fd00:c612::9]:41001")}
	loop := kernel.Conn{Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:41002")}
	self := kernel.Conn{Local: ap("198.18.0.5:80"), Remote: ap("198.18.0.5:41003")}
	other := kernel.Conn{Local: ap("198.18.0.5:8080"), Remote: ap("198.18.0.9:41004")}
	for _, destroy := range []bool{true, false} {
		t.Run(fmt.Sprintf("sock_destroy %v", destroy), func(t *testing.T) {
			p := newHTTPPod(t)
			p.k.NoSockDestroy = !destroy
			for _, c := range []kernel.Conn{from, from6, loop, self, other} {
				p.k.AddConnection(c)
			}
			a := p.agent("chaos-agent-aaaa", "aaaa")
			r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, http503))
			mustOK(t, r)
			// over sock_diag, in the agent's process: recorded as the ss command that does it
			var kills []protocol.CommandRun
			for _, c := range r.Commands {
				if c.Argv[0] == "ss" {
					t.Fatalf("ss ran: %q", c.Argv)
				}
				if c.Argv[0] == exec.Netlink && c.Argv[1] == "ss" {
					kills = append(kills, c)
				}
			}
			want := []string{exec.Netlink, "ss", "-K", "-t", "-n", "-H", "state", "established", "sport", "=", ":80", "and", "(", "dst", "198.18.0.9:41000", "or", "dst", "[fd00:c612::9]:41001", ")"}
			if len(kills) != 1 || !slices.Equal(kills[0].Argv, want) || (kills[0].ExitCode == 0) != destroy {
				t.Fatalf("kills %+v, want %q", kills, want)
			}
			left, _ := p.k.Connections(80)
			if destroy {
				if !slices.Equal(left, []kernel.Conn{loop, self}) {
					t.Fatalf("left %v", left)
				}
				if !strings.Contains(r.Fault.Detail, "2 connections opened before the fault reset (sock_destroy)") {
					t.Fatalf("detail %q", r.Fault.Detail)
				}
			} else if !strings.Contains(r.Fault.Detail, "2 connections opened before the fault could not be destroyed here") ||
				!strings.Contains(r.Fault.Detail, "the reset rule ends them at their next packet") {
				t.Fatalf("detail %q", r.Fault.Detail)
			}
		})
	}
}

func TestHTTPOnePortOneProxy(t *testing.T) {
	p := newHTTPPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, http503)))
	r := do(t, b, applyReq("bbbb", "bbbb-s1", 30000, `{"kind":"http","http":{"port":80,"delayMs":10}}`))
	mustFail(t, r, protocol.ErrConflict, 4)
	if r.Error.Owner == nil || r.Error.Owner.Agent != "chaos-agent-aaaa" || r.Error.Owner.FaultID != "aaaa-s1" ||
		!strings.Contains(r.Error.Message, "port 80 is already redirected by fault aaaa-s1 of run aaaa (agent chaos-agent-aaaa), which is still live") {
		t.Fatalf("%+v %+v", r.Error, r.Error.Owner)
	}
	// the same agent, a second fault on the port
	r = do(t, a, applyReq("aaaa", "aaaa-s2", 30000, `{"kind":"http","http":{"port":80,"delayMs":10}}`))
	mustFail(t, r, protocol.ErrConflict, 4)
	// another port is another proxy
	mustOK(t, do(t, b, applyReq("bbbb", "bbbb-s2", 30000, `{"kind":"http","http":{"port":8080,"delayMs":10}}`)))
}

func TestHTTPLeaseLapseStopsTheProxy(t *testing.T) {
	p := newHTTPPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 2000, http503))
	mustOK(t, r)
	port := proxyPort(t, r.Fault)
	p.clock.Advance(2500 * time.Millisecond)
	a.Tick(context.Background())
	if left := chainsEverywhere(p.k); len(left) != 0 {
		t.Fatalf("chains left after the lapse: %v", left)
	}
	if _, _, err := get(port, "/"); err == nil {
		t.Fatal("the proxy serves after its lease lapsed")
	}
	mustFail(t, do(t, a, renewReq("aaaa", "aaaa-s1", 2000)), protocol.ErrLeaseLapsed, 1)
}

func TestHTTPShutdownStopsTheProxy(t *testing.T) {
	for _, reason := range []string{protocol.ReasonTerminated, protocol.ReasonTTL} {
		t.Run(reason, func(t *testing.T) {
			p := newHTTPPod(t)
			a := p.agent("chaos-agent-aaaa", "aaaa")
			r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, http503))
			mustOK(t, r)
			port := proxyPort(t, r.Fault)
			if !a.Shutdown(context.Background(), reason) {
				t.Fatal("shutdown did not revert everything")
			}
			if left := chainsEverywhere(p.k); len(left) != 0 {
				t.Fatalf("chains left: %v", left)
			}
			if _, _, err := get(port, "/"); err == nil {
				t.Fatal("the proxy serves after the agent's shutdown")
			}
		})
	}
}

// An agent that dies takes its proxy with it (goroutines); its rules stay, and the next agent
// finds them by their names in both tables and reverts them.
func TestHTTPRulesOfADeadAgentAreOrphansInBothTables(t *testing.T) {
	p := newHTTPPod(t)
	p.k.AddLink("net1", []int{4, 6})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	mustOK(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"http","interface":"net1","http":{"port":80,"delayMs":100}}`)))
	p.kill("chaos-agent-aaaa")
	b := p.agent("chaos-agent-bbbb", "bbbb")
	out := b.Startup(context.Background())
	var names []string
	for _, o := range out {
		if !o.Confirmed || o.Reason != protocol.ReasonOrphan || o.FaultID != "aaaa-s1" {
			t.Fatalf("orphan %+v", o)
		}
		names = append(names, strings.SplitN(o.Detail, ",", 2)[0])
	}
	want := []string{"IPv4 filter chain CHAOS-aaaa-s1 (nft)", "IPv4 nat chain CHAOS-aaaa-s1 (nft)", "IPv6 filter chain CHAOS-aaaa-s1 (nft)", "IPv6 nat chain CHAOS-aaaa-s1 (nft)"}
	if !slices.Equal(names, want) {
		t.Fatalf("orphans %q, want %q", names, want)
	}
	if left := chainsEverywhere(p.k); len(left) != 0 {
		t.Fatalf("chains left: %v", left)
	}
	// and the port is free for a new fault
	mustOK(t, do(t, b, applyReq("bbbb", "bbbb-s1", 30000, http503)))
}

func TestHTTPFailedTransactionRollsBackRulesAndProxy(t *testing.T) {
	p := newHTTPPod(t)
	p.k.AddLink("net1", []int{4, 6})
	p.k.Fail = func(argv []string, _ string) (exec.Result, bool) {
		if argv[0] == "ip6tables-nft-restore" {
			return exec.Result{ExitCode: 1, Stderr: "ip6tables-restore: line 3 failed\n"}, true
		}
		return exec.Result{}, false
	}
	var port int
	kind := p.kinds[protocol.KindHTTP].(fault.HTTP)
	listen := kind.Listen
	kind.Listen = func(f []int) ([]net.Listener, int, error) {
		lns, pt, err := listen(f)
		port = pt
		return lns, pt, err
	}
	p.kinds[protocol.KindHTTP] = kind
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, `{"kind":"http","interface":"net1","http":{"port":80,"delayMs":1}}`))
	mustFail(t, r, protocol.ErrApplyFailed, 1)
	if len(r.Reverted) != 1 || !r.Reverted[0].Confirmed {
		t.Fatalf("rollback %+v", r.Reverted)
	}
	if left := chainsEverywhere(p.k); len(left) != 0 {
		t.Fatalf("chains left: %v", left)
	}
	if _, _, err := get(port, "/"); err == nil {
		t.Fatal("the proxy serves after a failed apply")
	}
}

// A reset rule that will not come off keeps the redirect and the proxy: with the redirect gone
// and the rule left, every direct connection would be reset.
func TestHTTPIncompleteRevertKeepsTheProxyServingAndIsRetried(t *testing.T) {
	p := newHTTPPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 30000, http503))
	mustOK(t, r)
	port := proxyPort(t, r.Fault)
	broken := true
	p.k.Fail = func(argv []string, stdin string) (exec.Result, bool) {
		if broken && (strings.HasSuffix(argv[0], "-restore") && strings.HasPrefix(stdin, "*filter") || slices.Contains(argv, "filter")) {
			return exec.Result{ExitCode: 4, Stderr: "iptables: Resource temporarily unavailable.\n"}, true
		}
		return exec.Result{}, false
	}
	r = do(t, a, revertReq("aaaa", "aaaa-s1"))
	mustFail(t, r, protocol.ErrRevertIncomplete, 3)
	var types []string
	for _, o := range r.Reverted[0].Remaining {
		types = append(types, o.Type+" "+o.Table)
	}
	if !slices.Contains(types, "chain nat") || !slices.Contains(types, "proxy ") || !slices.Contains(types, "chain filter") {
		t.Fatalf("remaining %q", types)
	}
	if c := p.k.Chains(firewall.NFT, 4, "nat"); len(c) != 1 {
		t.Fatalf("the redirect went while the reset rule stayed: nat %v", c)
	}
	if code, _, err := get(port, "/"); err != nil || code != 503 {
		t.Fatalf("the proxy stopped while a redirect to it is left: %d %v", code, err)
	}
	broken = false
	p.clock.Advance(6 * time.Second)
	a.Tick(context.Background())
	if left := chainsEverywhere(p.k); len(left) != 0 {
		t.Fatalf("chains left after the retry: %v", left)
	}
	if _, _, err := get(port, "/"); err == nil {
		t.Fatal("the proxy serves after the retried revert")
	}
}

func TestHTTPNeedsItsParameters(t *testing.T) {
	p := newHTTPPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	for _, spec := range []string{`{"kind":"http"}`, `{"kind":"http","http":{"port":0}}`, `{"kind":"http","http":{"port":80,"jitterMs":5}}`} {
		mustFail(t, do(t, a, applyReq("aaaa", "aaaa-s1", 30000, spec)), protocol.ErrBadRequest, 2)
	}
	if calls := p.k.Calls(); len(calls) != 0 {
		t.Fatalf("ran %v", calls)
	}
}

// Each fault's state says whether the kernel ends it by itself, and when after the last renewal
// (the runner's journal keeps it per pod); the agent says which firewall its firewall faults
// use. Where nf_tables answers: http and partition expire in the kernel at lease + 1 s, and the
// iptables backend is never detected (no program runs); netem needs the agent.
func TestTheFaultStateSaysWhatExpiresInTheKernel(t *testing.T) {
	p := newHTTPPod(t)
	p.k.Nftables = true
	p.k.Now = p.clock.Now
	a := p.agent("chaos-agent-aaaa", "aaaa")
	if r := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa"}`); r.Agent.Firewall != "" {
		t.Fatalf("firewall %q before any firewall fault", r.Agent.Firewall)
	}
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 20000, http503))
	mustOK(t, r)
	if !r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != 21000 || r.Agent.Firewall != protocol.FirewallNftables || r.Agent.IptablesBackend != "" {
		t.Fatalf("http: expires %v in %d ms; agent %+v", r.Fault.ExpiresInKernel, r.Fault.KernelLeaseMs, r.Agent)
	}
	for _, c := range r.Commands {
		if c.Argv[0] != exec.Netlink {
			t.Fatalf("ran %q", c.Argv)
		}
	}
	r = do(t, a, renewReq("aaaa", "aaaa-s1", 5000))
	mustOK(t, r)
	if r.Fault.KernelLeaseMs != 6000 {
		t.Fatalf("after a renewal for 5 s: %d", r.Fault.KernelLeaseMs)
	}
	r = do(t, a, applyReq("aaaa", "aaaa-s2", 20000, `{"kind":"partition","scope":{"port":5432}}`))
	mustOK(t, r)
	if !r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != 21000 {
		t.Fatalf("partition: %+v", r.Fault)
	}
	r = do(t, a, applyReq("aaaa", "aaaa-s3", 20000, netem100))
	mustOK(t, r)
	if r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != 0 {
		t.Fatalf("netem: %+v", r.Fault)
	}
	st := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa"}`)
	if len(st.Faults) != 3 || !st.Faults[0].ExpiresInKernel || st.Faults[0].KernelLeaseMs != 6000 {
		t.Fatalf("status %+v", st.Faults)
	}
	for _, id := range []string{"aaaa-s1", "aaaa-s2", "aaaa-s3"} {
		mustOK(t, do(t, a, revertReq("aaaa", id)))
	}
}

// Where nf_tables does not answer, an http fault is iptables' (the backend detected then) and
// needs an agent to end it.
func TestTheFaultStateOfTheIptablesFallback(t *testing.T) {
	p := newHTTPPod(t)
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-s1", 20000, http503))
	mustOK(t, r)
	if r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != 0 || r.Agent.Firewall != protocol.FirewallIptablesNft || r.Agent.IptablesBackend != "nft" {
		t.Fatalf("%+v %+v", r.Fault, r.Agent)
	}
	mustOK(t, do(t, a, revertReq("aaaa", "aaaa-s1")))
}
