//go:build kernel

package kerneltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"chaos-run/agent/firewall"
	"chaos-run/agent/protocol"
)

// HTTP faults on a real kernel: the agent serves in the "pod" namespace, an application of the
// test listens there, clients of the test connect from the "peer" namespace (192.0.2.2,
// 2001:db8::2) to the pod's addresses. The kernel's nat REDIRECT brings the connections to the
// agent's proxy; the application says, for each request, which address it came from: the
// client's (direct) or the pod's own (through the proxy, which connects from inside the pod).

// app is an HTTP application in the pod's namespace on port.
type app struct {
	srv  *httptest.Server
	mu   sync.Mutex
	from []string // the remote address of each request, in order
}

func (ns *netns) httpApp(port int) *app {
	a := &app{}
	var ln net.Listener
	inNetns(ns.t, ns.pod, func() {
		var err error
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
			ns.t.Fatal(err)
		}
	})
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a.mu.Lock()
		a.from = append(a.from, host)
		a.mu.Unlock()
		io.WriteString(w, "app "+r.URL.Path)
	}))
	a.srv.Listener.Close()
	a.srv.Listener = ln
	a.srv.Start()
	ns.t.Cleanup(a.srv.Close)
	return a
}

func (a *app) lastFrom() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.from) == 0 {
		return ""
	}
	return a.from[len(a.from)-1]
}

// client is an HTTP client in the peer namespace (keep-alive, one connection per host), with
// its dials counted.
type client struct {
	*http.Client
	dials int
	mu    sync.Mutex
}

func (ns *netns) client() *client {
	c := &client{}
	tr := &http.Transport{
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			var err error
			inNetns(ns.t, ns.peer, func() { conn, err = (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, network, addr) })
			c.mu.Lock()
			c.dials++
			c.mu.Unlock()
			return conn, err
		},
	}
	c.Client = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ns.t.Cleanup(tr.CloseIdleConnections)
	return c
}

func (c *client) get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) dialCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}

func httpApply(runID, id string, params obj) obj {
	return apply(runID, id, obj{"kind": "http", "http": params})
}

func proxyPortOf(t *testing.T, st *protocol.FaultState) string {
	t.Helper()
	for _, o := range st.Objects {
		if o.Type == protocol.ObjProxy {
			return strings.TrimPrefix(o.Name, "tcp :")
		}
	}
	t.Fatalf("no proxy in %+v", st.Objects)
	return ""
}

// nothingLeft: no CHAOS- chain in any table, family or iptables backend, no CHAOS- nftables
// table, and nothing listens on the proxy's port.
func (ns *netns) nothingLeft(t *testing.T, proxyPort string) {
	t.Helper()
	if left := ns.leftovers(t); len(left) != 0 {
		t.Fatalf("after the revert: %q", left)
	}
	if proxyPort != "" {
		for _, state := range [][]string{{"-l"}, {"state", "established"}} {
			argv := append(append([]string{"ss", "-t", "-n", "-H"}, state...), "sport", "=", ":"+proxyPort)
			if out := ns.mustIn(argv...); strings.TrimSpace(out) != "" {
				t.Fatalf("%q after the revert:\n%s", argv, out)
			}
		}
	}
}

// The firewall this kernel offers: the host's nf_tables (the fault's own table, which expires in
// the kernel), UML's iptables-legacy (the fallback, which needs an agent).
func TestHTTPFaultOnAKeepAliveClientFromBeforeItAndAfterIt(t *testing.T) {
	nft := expectNftables(t)
	ns := newNetns(t)
	a := ns.httpApp(8080)
	ns.serve("agent-h1")
	cl := ns.client()
	url := "http://192.0.2.1:8080"
	if code, body := cl.get(t, url+"/checkout"); code != 200 || body != "app /checkout" || a.lastFrom() != "192.0.2.2" {
		t.Fatalf("before: %d %q from %s", code, body, a.lastFrom())
	}
	if cl.dialCount() != 1 {
		t.Fatalf("%d dials", cl.dialCount())
	}
	// the client's keep-alive connection is open, idle, direct
	r, code := ns.request("agent-h1", httpApply("h1", "h1-http", obj{"port": 8080, "errorRate": 100, "errorCode": 503, "exclude": []string{"/healthz"}}))
	mustOK(t, r, code)
	if len(r.Fault.Families) != 2 || r.Fault.ExpiresInKernel != nft {
		t.Fatalf("families %v, expires in the kernel: %v", r.Fault.Families, r.Fault.ExpiresInKernel)
	}
	port := proxyPortOf(t, r.Fault)
	t.Logf("applied: %s", r.Fault.Detail)
	// the same client sees the fault: its connection from before does not go around the proxy
	if code, _ := cl.get(t, url+"/checkout"); code != 503 {
		t.Fatalf("the keep-alive client from before the fault got %d", code)
	}
	if cl.dialCount() != 2 {
		t.Fatalf("%d dials: the client did not reconnect", cl.dialCount())
	}
	if code, body := cl.get(t, url+"/healthz"); code != 200 || body != "app /healthz" || a.lastFrom() != "192.0.2.1" {
		t.Fatalf("excluded path: %d %q from %s (want through the proxy, from the pod's own address)", code, body, a.lastFrom())
	}
	if code, _ := cl.get(t, "http://[2001:db8::1]:8080/checkout"); code != 503 {
		t.Fatalf("IPv6: %d", code)
	}
	ns.httpRulesAre(t, nft, "h1-http", 8080, port, r)
	dials := cl.dialCount()
	r, code = ns.request("agent-h1", revert("h1", "h1-http"))
	mustOK(t, r, code)
	t.Logf("reverted: %s", r.Reverted[0].Detail)
	// what the proxy did comes back counted, for the runner's report
	if c := r.Reverted[0].HTTP; c == nil || c.Requests != 3 || c.Faulted != 2 || c.Errors != 2 || c.Relayed != 0 || c.Connections != 2 {
		t.Fatalf("the revert's counts: %+v", c)
	}
	// after the revert the same client sees no fault, and goes to the application directly
	if code, body := cl.get(t, url+"/checkout"); code != 200 || body != "app /checkout" || a.lastFrom() != "192.0.2.2" {
		t.Fatalf("after: %d %q from %s", code, body, a.lastFrom())
	}
	if cl.dialCount() != dials+1 {
		t.Fatalf("%d dials, want %d: the proxy did not close the client's connection", cl.dialCount(), dials+1)
	}
	ns.nothingLeft(t, port)
}

// httpRulesAre checks an HTTP fault's rules as a person on the node would list them: `nft list
// table` (nftables: no program ran for them) or iptables-legacy-save (the fallback).
func (ns *netns) httpRulesAre(t *testing.T, nft bool, id string, appPort int, proxyPort string, r *protocol.Reply) {
	t.Helper()
	var listing string
	var want []string
	if nft {
		if progs := forked(r); len(progs) != 0 || r.Agent.Firewall != protocol.FirewallNftables {
			t.Fatalf("programs run: %q, firewall %q", progs, r.Agent.Firewall)
		}
		listing = ns.mustIn("nft", "list", "table", "inet", "CHAOS-"+id)
		want = []string{
			`elements = { "eth0" timeout 1m1s expires `,
			"type nat hook prerouting priority dstnat; policy accept;",
			fmt.Sprintf(`iifname @lease meta nfproto ipv6 tcp dport %d counter packets 1 bytes 80 redirect to :%s`, appPort, proxyPort),
			"type filter hook input priority filter; policy accept;",
			fmt.Sprintf(`iifname @lease meta nfproto ipv4 tcp dport %d ct state established counter packets`, appPort),
			"reject with tcp reset",
		}
	} else {
		if r.Agent.Firewall != protocol.FirewallIptablesLegacy {
			t.Fatalf("firewall %q", r.Agent.Firewall)
		}
		listing = ns.mustIn("iptables-legacy-save")
		want = []string{
			fmt.Sprintf(`-A PREROUTING -m comment --comment "chaos-run:%s" -j CHAOS-%s`, id, id),
			fmt.Sprintf("-A CHAOS-%s -i eth0 -p tcp -m tcp --dport %d -j REDIRECT --to-ports %s", id, appPort, proxyPort),
			fmt.Sprintf(`-A INPUT -m comment --comment "chaos-run:%s" -j CHAOS-%s`, id, id),
			fmt.Sprintf("-A CHAOS-%s -i eth0 -p tcp -m tcp --dport %d -m conntrack --ctstate ESTABLISHED -j REJECT --reject-with tcp-reset", id, appPort),
		}
	}
	for _, w := range want {
		if !strings.Contains(listing, w) {
			t.Fatalf("no %q in\n%s", w, listing)
		}
	}
}

// A raw connection that was open (and idle) before the fault does not carry a request around
// the proxy: where the kernel destroys sockets it is closed at once, elsewhere its next request
// is answered with a reset.
func TestHTTPAConnectionFromBeforeIsReset(t *testing.T) {
	ns := newNetns(t)
	ns.httpApp(8080)
	ns.serve("agent-h2")
	var c net.Conn
	inNetns(t, ns.peer, func() {
		var err error
		if c, err = net.Dial("tcp", "192.0.2.1:8080"); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	req := "GET /x HTTP/1.1\r\nHost: pod\r\n\r\n"
	io.WriteString(c, req)
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("%q %v", buf[:n], err)
	}
	r, code := ns.request("agent-h2", httpApply("h2", "h2-http", obj{"port": 8080, "errorRate": 100, "errorCode": 503}))
	mustOK(t, r, code)
	t.Logf("%s", r.Fault.Detail)
	destroyed := strings.Contains(r.Fault.Detail, "1 connection opened before the fault reset (sock_destroy)")
	if !destroyed && !strings.Contains(r.Fault.Detail, "could not be destroyed here") {
		t.Fatalf("detail %q", r.Fault.Detail)
	}
	_, _ = io.WriteString(c, req)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(buf)
	if err == nil {
		t.Fatalf("the connection from before the fault answered %q around the proxy", buf[:n])
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("read: %v, want a reset", err)
	}
	t.Logf("sock_destroy here: %v; the old connection's next read: %v", destroyed, err)
}

// TLS on the faulted port goes through the proxy untouched, byte for byte.
func TestHTTPLeavesTLSUntouched(t *testing.T) {
	ns := newNetns(t)
	// a raw application: it records what it gets and sends bytes of its own
	sent := make([]byte, 200_000)
	rand.Read(sent)
	hello := make([]byte, 30_000)
	rand.Read(hello)
	hello[0], hello[1], hello[2] = 0x16, 0x03, 0x01
	var ln net.Listener
	inNetns(t, ns.pod, func() {
		var err error
		if ln, err = net.Listen("tcp", ":8443"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	got := make(chan []byte, 1)
	from := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		from <- c.RemoteAddr().String()
		b := make([]byte, len(hello))
		io.ReadFull(c, b)
		got <- b
		c.Write(sent)
	}()
	// and a real TLS server on 8444
	tlsApp := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	inNetns(t, ns.pod, func() {
		l, err := net.Listen("tcp", ":8444")
		if err != nil {
			t.Fatal(err)
		}
		tlsApp.Listener.Close()
		tlsApp.Listener = l
	})
	tlsApp.StartTLS()
	defer tlsApp.Close()

	ns.serve("agent-h3")
	for _, p := range []int{8443, 8444} {
		r, code := ns.request("agent-h3", httpApply("h3", fmt.Sprintf("h3-%d", p), obj{"port": p, "errorRate": 100, "errorCode": 503, "delayMs": 2000}))
		mustOK(t, r, code)
	}
	var c net.Conn
	inNetns(t, ns.peer, func() {
		var err error
		if c, err = net.Dial("tcp", "192.0.2.1:8443"); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	c.Write(hello)
	back := make([]byte, len(sent))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(<-got, hello) || !bytes.Equal(back, sent) {
		t.Fatal("bytes changed on their way through the proxy")
	}
	if f := <-from; !strings.HasPrefix(f, "192.0.2.1:") {
		t.Fatalf("the connection came from %s: not through the proxy", f)
	}
	cl := ns.client()
	cl.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	start := time.Now()
	if code, body := cl.get(t, "https://192.0.2.1:8444/"); code != 200 || body != "secret" {
		t.Fatalf("HTTPS through the fault: %d %q", code, body)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("HTTPS took %s: the 2s delay applied to TLS", took)
	}
	st, _ := ns.request("agent-h3", obj{"protocol": 1, "op": "status", "runId": "h3"})
	for _, f := range st.Faults {
		if !strings.Contains(f.Detail, "1 relayed as they are), 0 requests") {
			t.Fatalf("%s: %s", f.ID, f.Detail)
		}
	}
}

// The agent dies (SIGKILL): its proxy goes with it, its rules stay (the port refuses
// connections meanwhile, until its lease ends them in the kernel where nf_tables holds them: a
// minute here); the next agent's sweep reverts them, and the port answers directly again.
func TestHTTPRulesOfAKilledAgentAreRevertedByTheNext(t *testing.T) {
	ns := newNetns(t)
	a := ns.httpApp(8080)
	killed := ns.serve("agent-hk")
	ns.serve("agent-hn")
	waitServing(t, ns, "agent-hn")
	r, code := ns.request("agent-hk", httpApply("hk", "hk-http", obj{"port": 8080, "delayMs": 10}))
	mustOK(t, r, code)
	port := proxyPortOf(t, r.Fault)
	cl := ns.client()
	if code, _ := cl.get(t, "http://192.0.2.1:8080/"); code != 200 || a.lastFrom() != "192.0.2.1" {
		t.Fatalf("%d from %s", code, a.lastFrom())
	}
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = killed.Wait()
	if ok, _ := ns.dialFromPeer("192.0.2.1:8080", time.Second); ok {
		t.Fatal("the port accepts with its proxy dead: is the redirect gone already?")
	}
	r, code = ns.request("agent-hn", obj{"protocol": 1, "op": "sweep", "runId": "hn", "own": false})
	mustOK(t, r, code)
	var tables []string
	for _, o := range r.Orphans {
		if !o.Confirmed {
			t.Fatalf("orphan %+v", o)
		}
		tables = append(tables, strings.SplitN(o.Detail, ",", 2)[0])
	}
	if want := 4; expectNftables(t) {
		if len(tables) != 1 || !strings.HasPrefix(tables[0], "nftables table inet CHAOS-hk-http") {
			t.Fatalf("orphans %q: want the fault's table", tables)
		}
	} else if len(tables) != want {
		t.Fatalf("orphans %q: want the nat and filter chains of both families", tables)
	}
	ns.nothingLeft(t, port)
	cl2 := ns.client()
	if code, _ := cl2.get(t, "http://192.0.2.1:8080/"); code != 200 || a.lastFrom() != "192.0.2.2" {
		t.Fatalf("after the sweep: %d from %s", code, a.lastFrom())
	}
}

// dialFromPeer connects from the peer's namespace.
func (ns *netns) dialFromPeer(addr string, timeout time.Duration) (bool, time.Duration) {
	var ok bool
	var took time.Duration
	inNetns(ns.t, ns.peer, func() {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, timeout)
		took = time.Since(start)
		if err == nil {
			ok = true
			c.Close()
		}
	})
	return ok, took
}

// At the revert the proxy closes the connections it holds, and their clients see the close (a
// FIN, translated back to the port they connected to), not a silence: found in the lab, where a
// keep-alive client kept a connection the proxy had closed, because the FIN left from the proxy's
// port once the last rule needing conntrack and NAT in the namespace was gone.
func TestHTTPRevertClosesTheProxysConnectionsVisibly(t *testing.T) {
	ns := newNetns(t)
	ns.httpApp(8080)
	ns.serve("agent-h5")
	r, code := ns.request("agent-h5", httpApply("h5", "h5-http", obj{"port": 8080, "errorRate": 100, "errorCode": 503}))
	mustOK(t, r, code)
	var c net.Conn
	inNetns(t, ns.peer, func() {
		var err error
		if c, err = net.Dial("tcp", "192.0.2.1:8080"); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: pod\r\n\r\n")
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 503") {
		t.Fatalf("%q %v", buf[:n], err)
	}
	r, code = ns.request("agent-h5", revert("h5", "h5-http"))
	mustOK(t, r, code)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(buf)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after the revert the client's connection read %q, %v; want EOF (the proxy closed it)", buf[:n], err)
	}
}

// Issue 19 item 1 on a real kernel: a client that pipelines requests and never reads their
// answers (4 KiB errors) fills the sockets' buffers and the proxy's write waits. The revert —
// which holds the agent's request lock and the pod-wide lock meanwhile, so that ticks, the TTL,
// SIGTERM and other agents wait on it — stops the proxy within its drain and a reset; then the
// port answers directly and no rule is left.
func TestHTTPRevertIsBoundedWithAClientThatNeverReads(t *testing.T) {
	ns := newNetns(t)
	a := ns.httpApp(8080)
	agent := ns.serve("agent-h7")
	r, code := ns.request("agent-h7", httpApply("h7", "h7-http", obj{"port": 8080, "errorRate": 100, "errorCode": 503, "errorBody": strings.Repeat("e", 4096)}))
	mustOK(t, r, code)
	port := proxyPortOf(t, r.Fault)
	var c net.Conn
	inNetns(t, ns.peer, func() {
		var err error
		if c, err = net.Dial("tcp", "192.0.2.1:8080"); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	go c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: pod\r\n\r\n"), 20_000))
	// the proxy answers what the buffers take, then its next write waits
	time.Sleep(2 * time.Second)
	st, _ := ns.request("agent-h7", obj{"protocol": 1, "op": "status", "runId": "h7"})
	if len(st.Faults) != 1 || !regexp.MustCompile(`, [1-9]\d* answered with the error`).MatchString(st.Faults[0].Detail) || strings.Contains(st.Faults[0].Detail, " 20000 answered") {
		t.Fatalf("the proxy is not waiting to write its answers: %+v", st.Faults)
	}
	var wedged atomic.Bool
	watchdog := time.AfterFunc(20*time.Second, func() {
		// ends the request this test waits for
		wedged.Store(true)
		_ = agent.Process.Kill()
	})
	start := time.Now()
	r, code = ns.request("agent-h7", revert("h7", "h7-http"))
	watchdog.Stop()
	if wedged.Load() {
		t.Fatal("the revert was still running after 20 s (the agent was killed to end the test)")
	}
	mustOK(t, r, code)
	t.Logf("reverted in %s: %s", time.Since(start).Round(time.Millisecond), r.Reverted[0].Detail)
	if !strings.Contains(r.Reverted[0].Detail, "1 connection still in a request after 1s reset") {
		t.Fatalf("the revert did not reset the connection that never read: %s", r.Reverted[0].Detail)
	}
	ns.nothingLeft(t, port)
	if code, body := ns.client().get(t, "http://192.0.2.1:8080/after"); code != 200 || body != "app /after" || a.lastFrom() != "192.0.2.2" {
		t.Fatalf("after the revert: %d %q from %s (want the application, directly)", code, body, a.lastFrom())
	}
}

// getOnce sends one GET on a connection of its own from the peer's namespace and returns the
// answer's status line ("" and the error when there is none: refused, reset, timed out).
func (ns *netns) getOnce(addr, path string, timeout time.Duration) (string, error) {
	var status string
	var err error
	inNetns(ns.t, ns.peer, func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, timeout); err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if _, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n"); err != nil {
			return
		}
		buf := make([]byte, 64)
		var n int
		n, err = c.Read(buf)
		status, _, _ = strings.Cut(string(buf[:n]), "\r\n")
	})
	return status, err
}

// Issue 19 item 2, where nf_tables holds the fault: the agent AND the runner die holding an HTTP
// fault (SIGKILL, nobody renews, nobody reverts). The kernel closed the dead proxy's connections
// with it — their clients see it at once, translated back to the port they came in on — and
// refuses new ones while the redirect points at the dead port; within lease + margin of the last
// renewal the redirect ends in the kernel and the port answers the application directly again,
// with no agent. Renewals move that end, so it never comes before the lease.
func TestTheKernelEndsAnHTTPFaultNobodyRenews(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("Debian's UML kernel has no inet family in nf_tables: its HTTP faults are iptables-legacy's, which need an agent (TestHTTPRulesOfAKilledAgentAreRevertedByTheNext covers that)")
	}
	const lease = 2 * time.Second
	ns := newNetns(t)
	a := ns.httpApp(8080)
	agent := ns.serve("agent-he")
	req := httpApply("he", "he-http", obj{"port": 8080, "errorRate": 100, "errorCode": 503})
	req["fault"].(obj)["leaseMs"] = lease.Milliseconds()
	r, code := ns.request("agent-he", req)
	mustOK(t, r, code)
	if !r.Fault.ExpiresInKernel || r.Fault.KernelLeaseMs != (lease+firewall.ExpiryMargin).Milliseconds() {
		t.Fatalf("the fault state: expires in the kernel %v, after %d ms", r.Fault.ExpiresInKernel, r.Fault.KernelLeaseMs)
	}
	// a client holds a keep-alive connection through the proxy
	var held net.Conn
	inNetns(t, ns.peer, func() {
		var err error
		if held, err = net.Dial("tcp", "192.0.2.1:8080"); err != nil {
			t.Fatal(err)
		}
	})
	defer held.Close()
	io.WriteString(held, "GET /held HTTP/1.1\r\nHost: pod\r\n\r\n")
	buf := make([]byte, 4096)
	held.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := held.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 503") {
		t.Fatalf("through the proxy: %q %v", buf[:n], err)
	}
	lastRenewal := ns.renewFor(t, "agent-he", "he", "he-http", lease, func(since time.Duration) {
		if status, err := ns.getOnce("192.0.2.1:8080", "/renewed", time.Second); status != "HTTP/1.1 503 Service Unavailable" {
			t.Fatalf("%s after the apply, while renewed: %q %v", since.Round(time.Millisecond), status, err)
		}
	})
	// the agent dies, and with it the proxy; nobody renews, nobody reverts
	if err := agent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = agent.Wait()
	died := time.Now()
	// the connection through the dead proxy: closed by the kernel, and its client sees it
	held.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := held.Read(buf)
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the client of the dead proxy read %q, %v; want its connection closed", buf[:n], err)
	}
	t.Logf("MEASURE the client of the dead proxy saw %v %s after the death", err, time.Since(died).Round(time.Millisecond))
	// meanwhile the redirect points at the dead proxy's port: refused, not hanging
	if status, err := ns.getOnce("192.0.2.1:8080", "/meanwhile", time.Second); status != "" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a connection while the redirect outlives the proxy: %q %v (want refused)", status, err)
	}
	var took time.Duration
	for deadline := lastRenewal.Add(lease + firewall.ExpiryMargin + 3*time.Second); ; time.Sleep(50 * time.Millisecond) {
		if status, _ := ns.getOnce("192.0.2.1:8080", "/after", 300*time.Millisecond); status == "HTTP/1.1 200 OK" {
			took = time.Since(lastRenewal)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("port 8080 still not the application's %s after the last renewal", time.Since(lastRenewal).Round(time.Millisecond))
		}
	}
	if a.lastFrom() != "192.0.2.2" {
		t.Fatalf("the answer came from %s, not directly from the client", a.lastFrom())
	}
	ns.endedInTheKernel(t, "the HTTP fault (the port answering the application again)", took, lease, "inet CHAOS-he-http", "agent-hf")
}
