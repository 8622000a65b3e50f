//go:build kernel

package kerneltest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/dns"
	"chaos-run/agent/firewall"
	"chaos-run/agent/internal/dnstest"
	"chaos-run/agent/protocol"
)

// DNS faults on a real kernel: a nameserver of the test's listens in the "peer" namespace
// (192.0.2.2 and 2001:db8::2, port 53, UDP and TCP); the pod's resolv.conf (bound over the
// agent's /etc/resolv.conf by `ip netns exec`) names it; queries are sent from the pod's
// namespace, as its application would send them, and the kernel's redirect brings them to the
// agent's resolver.

// newNameserver is the test's: every A query answered with 198.51.100.7, AAAA with
// 2001:db8::53, authoritative; it keeps the queries it got.
func newNameserver() *dnstest.Nameserver {
	return &dnstest.Nameserver{A: [4]byte{198, 51, 100, 7}, AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x53}}
}

// dnsPod is a pod whose resolv.conf names the test's nameserver in the peer namespace, with its
// agent serving (in a mount namespace of its own, where that resolv.conf is /etc/resolv.conf).
func dnsPod(t *testing.T, agent string) (*netns, *dnstest.Nameserver, *os.Process) {
	ns := newNetns(t)
	srv := newNameserver()
	for _, addr := range []string{"192.0.2.2:53", "[2001:db8::2]:53"} {
		inNetns(t, ns.peer, func() {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pc.Close(); ln.Close() })
			go srv.ServeUDP(pc)
			go srv.ServeTCP(ln)
		})
	}
	dir := filepath.Join("/etc/netns", ns.pod)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.2\nnameserver 2001:db8::2\nsearch example.test\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := ns.serveVia(agent, "ip", "netns", "exec", ns.pod)
	waitServing(t, ns, agent)
	return ns, srv, c.Process
}

// query sends one query from the pod's namespace to server:53 and returns the query sent and the
// answer (err: none within timeout, or refused).
func (ns *netns) query(t *testing.T, server, name string, qtype dnsmessage.Type, tcp bool, timeout time.Duration) (q, answer []byte, err error) {
	t.Helper()
	n, _ := dnsmessage.NewName(name)
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(time.Now().UnixNano()), RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: n, Type: qtype, Class: dnsmessage.ClassINET})
	q, _ = b.Finish()
	inNetns(t, ns.pod, func() {
		network := "udp"
		if tcp {
			network = "tcp"
		}
		var c net.Conn
		if c, err = net.DialTimeout(network, net.JoinHostPort(server, "53"), timeout); err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if tcp {
			if err = dns.WriteTCPMessage(c, q); err == nil {
				answer, err = dns.ReadTCPMessage(c)
			}
			return
		}
		if _, err = c.Write(q); err != nil {
			return
		}
		buf := make([]byte, 65535)
		var k int
		if k, err = c.Read(buf); err == nil {
			answer = buf[:k]
		}
	})
	return q, answer, err
}

func rcodeAndAddrs(t *testing.T, msg []byte) (dnsmessage.RCode, []string) {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		t.Fatalf("answer %x: %v", msg, err)
	}
	_ = p.SkipAllQuestions()
	var addrs []string
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		switch rh.Type {
		case dnsmessage.TypeA:
			r, _ := p.AResource()
			addrs = append(addrs, net.IP(r.A[:]).String())
		case dnsmessage.TypeAAAA:
			r, _ := p.AAAAResource()
			addrs = append(addrs, net.IP(r.AAAA[:]).String())
		default:
			_ = p.SkipAnswer()
		}
	}
	return h.RCode, addrs
}

func dnsApply(runID, id string, params obj) obj {
	return apply(runID, id, obj{"kind": "dns", "dns": params})
}

// A matched name gets the fault's answer over UDP and TCP, in both families, without the
// nameserver being asked; another name's query reaches the nameserver byte for byte (its ID and
// flags) and its answer comes back byte for byte; the revert's outcome counts it all; after the
// revert the matched name resolves again and nothing is left.
func TestDNSFaultAnswersMatchedNamesAndForwardsTheRestUntouched(t *testing.T) {
	ns, srv, _ := dnsPod(t, "agent-d1")
	r, code := ns.request("agent-d1", dnsApply("d1", "d1-dns", obj{"names": []string{"*.svc.test"}, "answer": "nxdomain"}))
	if !expectNftables(t) {
		if code != 4 || r.Error == nil || r.Error.Code != protocol.ErrUnsupported {
			t.Fatalf("without nf_tables' inet family: exit %d, %+v (want unsupported)", code, r.Error)
		}
		ns.nothingLeft(t, "")
		return
	}
	mustOK(t, r, code)
	t.Logf("applied: %s", r.Fault.Detail)
	if !r.Fault.ExpiresInKernel || r.Fault.Kind != protocol.KindDNS {
		t.Fatalf("%+v", r.Fault)
	}
	for _, c := range []struct {
		server string
		tcp    bool
	}{{"192.0.2.2", false}, {"192.0.2.2", true}, {"2001:db8::2", false}, {"2001:db8::2", true}} {
		_, answer, err := ns.query(t, c.server, "db.prod.svc.test.", dnsmessage.TypeA, c.tcp, 2*time.Second)
		if err != nil {
			t.Fatalf("%s tcp %v: %v", c.server, c.tcp, err)
		}
		if rc, _ := rcodeAndAddrs(t, answer); rc != dnsmessage.RCodeNameError {
			t.Fatalf("%s tcp %v: %v", c.server, c.tcp, rc)
		}
		q, answer, err := ns.query(t, c.server, "api.example.test.", dnsmessage.TypeA, c.tcp, 2*time.Second)
		if err != nil {
			t.Fatalf("%s tcp %v, unmatched: %v", c.server, c.tcp, err)
		}
		got := srv.Received()
		if !bytes.Equal(got[len(got)-1], q) || !bytes.Equal(answer, srv.Answer(q)) {
			t.Fatalf("%s tcp %v: not untouched: sent %x, the nameserver got %x; it answered %x, the pod got %x", c.server, c.tcp, q, got[len(got)-1], srv.Answer(q), answer)
		}
	}
	if srv.AskedFor("db.prod.svc.test.") {
		t.Fatal("the nameserver was asked for the faulted name")
	}
	r, code = ns.request("agent-d1", revert("d1", "d1-dns"))
	mustOK(t, r, code)
	t.Logf("reverted: %s", r.Reverted[0].Detail)
	if d := r.Reverted[0].DNS; d == nil || d.Queries != 8 || d.UDP != 4 || d.TCP != 4 || d.Matched != 4 || d.Faulted.NXDomain != 4 || d.Forwarded != 4 || d.UpstreamErrors != 0 {
		t.Fatalf("the revert's counts: %+v", d)
	}
	_, answer, err := ns.query(t, "192.0.2.2", "db.prod.svc.test.", dnsmessage.TypeA, false, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rc, addrs := rcodeAndAddrs(t, answer); rc != dnsmessage.RCodeSuccess || len(addrs) != 1 || !srv.AskedFor("db.prod.svc.test.") {
		t.Fatalf("after the revert: %v %v", rc, addrs)
	}
	ns.nothingLeft(t, "")
}

// Each answer, and a delay that holds the real answer.
func TestDNSFaultEachAnswer(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("no dns fault without nf_tables' inet family (TestDNSFaultAnswersMatchedNamesAndForwardsTheRestUntouched checks the refusal)")
	}
	ns, srv, _ := dnsPod(t, "agent-d2")
	for i, c := range []struct {
		answer any
		qtype  dnsmessage.Type
		rcode  dnsmessage.RCode
		addrs  []string
	}{
		{"servfail", dnsmessage.TypeA, dnsmessage.RCodeServerFailure, nil},
		{"refused", dnsmessage.TypeAAAA, dnsmessage.RCodeRefused, nil},
		{obj{"addresses": []string{"10.9.8.7", "2001:db8::9"}}, dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"10.9.8.7"}},
		{obj{"addresses": []string{"10.9.8.7", "2001:db8::9"}}, dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, []string{"2001:db8::9"}},
		{obj{"addresses": []string{"10.9.8.7"}}, dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, nil},
	} {
		id := "d2-" + string(rune('a'+i))
		r, code := ns.request("agent-d2", dnsApply("d2", id, obj{"names": []string{"db.svc.test"}, "answer": c.answer}))
		mustOK(t, r, code)
		if i == 0 {
			// one dns fault at a time in a pod: a second would take the first's queries
			r, code := ns.request("agent-d2", dnsApply("d2", "d2-second", obj{"names": []string{"x.test"}, "answer": "refused"}))
			if code != 4 || r.Error == nil || r.Error.Code != protocol.ErrConflict {
				t.Fatalf("a second dns fault: exit %d, %+v", code, r.Error)
			}
		}
		for _, tcp := range []bool{false, true} {
			_, answer, err := ns.query(t, "192.0.2.2", "DB.svc.test.", c.qtype, tcp, 2*time.Second)
			if err != nil {
				t.Fatalf("%v tcp %v: %v", c.answer, tcp, err)
			}
			if rc, addrs := rcodeAndAddrs(t, answer); rc != c.rcode || len(addrs) != len(c.addrs) || (len(addrs) > 0 && addrs[0] != c.addrs[0]) {
				t.Fatalf("%v %v tcp %v: %v %v", c.answer, c.qtype, tcp, rc, addrs)
			}
		}
		ns.mustRequest(t, "agent-d2", revert("d2", id))
	}
	// timeout: no answer at all, over UDP and TCP
	ns.mustRequest(t, "agent-d2", dnsApply("d2", "d2-t", obj{"names": []string{"db.svc.test"}, "answer": "timeout"}))
	for _, tcp := range []bool{false, true} {
		var ne net.Error
		if _, answer, err := ns.query(t, "192.0.2.2", "db.svc.test.", dnsmessage.TypeA, tcp, 500*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("timeout, tcp %v: %x %v", tcp, answer, err)
		}
	}
	r, code := ns.request("agent-d2", revert("d2", "d2-t"))
	mustOK(t, r, code)
	if d := r.Reverted[0].DNS; d == nil || d.Faulted.Timeout != 2 {
		t.Fatalf("%+v", d)
	}
	// a delay without an answer: the real answer, late
	ns.mustRequest(t, "agent-d2", dnsApply("d2", "d2-delay", obj{"names": []string{"db.svc.test"}, "delayMs": 300}))
	began := time.Now()
	q, answer, err := ns.query(t, "192.0.2.2", "db.svc.test.", dnsmessage.TypeA, false, 2*time.Second)
	if took := time.Since(began); err != nil || took < 300*time.Millisecond || !bytes.Equal(answer, srv.Answer(q)) {
		t.Fatalf("delayed: %v after %v: %x", err, took, answer)
	}
	ns.mustRequest(t, "agent-d2", revert("d2", "d2-delay"))
	if !srv.AskedFor("db.svc.test.") {
		t.Fatal("the delayed query did not reach the nameserver")
	}
	ns.nothingLeft(t, "")
}

// The resolve op, from the pod's namespace with its resolv.conf (search list, ndots), sees
// what the application sees: the fault's NXDOMAIN for the matched name, the nameserver's
// answers for the other one.
func TestDNSResolveSeesWhatTheApplicationSees(t *testing.T) {
	ns, _, _ := dnsPod(t, "agent-d3")
	resolve := obj{"protocol": 1, "op": "resolve", "runId": "d3", "names": []string{"db.svc.test", "api"}, "type": "A", "count": 20, "timeoutMs": 1000}
	r, code := ns.request("agent-d3", resolve)
	mustOK(t, r, code)
	if res := r.Resolved; res.ResolvConf != "/etc/resolv.conf" || len(res.Nameservers) != 2 || res.Nameservers[0] != "192.0.2.2" || res.Ndots != 2 || res.Names[0].Answered != 20 || res.Names[1].Answered != 20 || res.Names[1].FQDN != "api.example.test." {
		t.Fatalf("before the fault: %+v", res)
	}
	if !expectNftables(t) {
		return
	}
	ns.mustRequest(t, "agent-d3", dnsApply("d3", "d3-dns", obj{"names": []string{"*.svc.test", "*.svc.test.example.test"}, "answer": "nxdomain"}))
	for _, tcp := range []bool{false, true} {
		resolve["tcp"] = tcp
		r, code = ns.request("agent-d3", resolve)
		mustOK(t, r, code)
		db, api := r.Resolved.Names[0], r.Resolved.Names[1]
		if db.Rcodes["NXDOMAIN"] != 20 || db.Answered != 0 || db.LatencyMs == nil || api.Answered != 20 || len(api.Addresses) != 1 || api.Addresses[0] != "198.51.100.7" {
			t.Fatalf("tcp %v: %+v / %+v", tcp, db, api)
		}
		t.Logf("tcp %v: db %+v, api p50 %.3f ms", tcp, db.Rcodes, api.LatencyMs.P50)
	}
	ns.mustRequest(t, "agent-d3", revert("d3", "d3-dns"))
}

// The agent dies holding the fault (SIGKILL; nobody renews, nobody reverts): meanwhile the
// matched name gets no answer (the redirect points at the dead resolver), and within lease +
// margin of the last renewal the redirect ends in the kernel and the name resolves again. The
// next agent to start removes the dead one's table (an orphan).
func TestTheKernelEndsADNSFaultNobodyRenews(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("no dns fault without nf_tables' inet family")
	}
	const lease = 2 * time.Second
	ns, _, agent := dnsPod(t, "agent-d4")
	req := dnsApply("d4", "d4-dns", obj{"names": []string{"db.svc.test"}, "answer": "servfail"})
	req["fault"].(obj)["leaseMs"] = lease.Milliseconds()
	r, code := ns.request("agent-d4", req)
	mustOK(t, r, code)
	applied := time.Now()
	if r.Fault.KernelLeaseMs != (lease + firewall.ExpiryMargin).Milliseconds() {
		t.Fatalf("kernel lease %d ms", r.Fault.KernelLeaseMs)
	}
	if err := agent.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, answer, err := ns.query(t, "192.0.2.2", "db.svc.test.", dnsmessage.TypeA, false, 300*time.Millisecond); err == nil {
		t.Fatalf("answered while the redirect outlives the resolver: %x", answer)
	}
	for deadline := applied.Add(lease + firewall.ExpiryMargin + 3*time.Second); ; time.Sleep(100 * time.Millisecond) {
		// a new socket each time: a new source port, a new conntrack entry
		if _, answer, err := ns.query(t, "192.0.2.2", "db.svc.test.", dnsmessage.TypeA, false, 300*time.Millisecond); err == nil {
			if rc, _ := rcodeAndAddrs(t, answer); rc == dnsmessage.RCodeSuccess {
				took := time.Since(applied)
				t.Logf("MEASURE the dns fault ended in the kernel %s after the apply (lease %s)", took.Round(time.Millisecond), lease)
				if took < lease {
					t.Fatalf("ended after %s, before its lease", took)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("still faulted %s after the apply", time.Since(applied).Round(time.Millisecond))
		}
	}
	// the emptied table stays until the next agent: its start reverts it as an orphan
	if left := ns.chaosTables(t); len(left) != 1 || left[0] != "inet CHAOS-d4-dns" {
		t.Fatalf("before the next agent: %q (want the dead agent's table)", left)
	}
	// and the flows redirected to the dead resolver keep their NAT to its closed port while
	// the emptied table keeps NAT running: the next agent deletes their entries with the table
	if len(ns.redirectedFlows(t)) == 0 {
		t.Fatal("no conntrack entry of a redirected flow before the next agent")
	}
	ns.serveVia("agent-d5", "ip", "netns", "exec", ns.pod)
	// the table goes first, then its flows' entries (gone before it, a query could be marked
	// again): wait for both, as a loaded machine stretches the moment between them
	for deadline := time.Now().Add(5 * time.Second); len(ns.leftovers(t)) != 0 || len(ns.redirectedFlows(t)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			if left := ns.leftovers(t); len(left) != 0 {
				t.Fatalf("the next agent left %q", left)
			}
			t.Fatalf("the next agent removed the table but left its redirected flows' entries: %q", ns.redirectedFlows(t))
		}
	}
}

// A UDP socket that keeps its source port (c-ares, a caching sidecar) asks through a dns fault,
// which is reverted; a second dns fault is applied within the conntrack entry's 30 s: the same
// socket's next query must reach the second fault's resolver, not the first's closed port (its
// entry, still NATed there, would be used again by the second fault's nat chain). The revert
// deletes the entries of the flows it redirected and only those: the ct mark bits of a "mesh"
// (the test's own table, 0x111 on every UDP flow) are kept on the redirected flow, and another
// flow's entry, with the mesh's mark, outlives the revert.
func TestDNSFaultsRedirectedFlowsDoNotOutliveThem(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("no dns fault without nf_tables' inet family")
	}
	ns, _, _ := dnsPod(t, "agent-d6")
	ns.mustIn("nft", "add table inet chaostest-mesh { chain out { type filter hook output priority -150; meta l4proto udp ct mark set ct mark | 0x111; }; }")
	const sport, otherPort = 40053, 5354
	var c *net.UDPConn
	inNetns(t, ns.pod, func() {
		var err error
		c, err = net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: sport}, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 53})
		if err != nil {
			t.Fatal(err)
		}
		otherFlow(t, otherPort)
	})
	defer c.Close()
	for i, fault := range []struct {
		answer string
		rcode  dnsmessage.RCode
	}{{"nxdomain", dnsmessage.RCodeNameError}, {"servfail", dnsmessage.RCodeServerFailure}} {
		id := fmt.Sprintf("d6-%d", i)
		ns.mustRequest(t, "agent-d6", dnsApply("d6", id, obj{"names": []string{"db.svc.test"}, "answer": fault.answer}))
		answer, err := askOn(c, "db.svc.test.")
		if err != nil {
			t.Fatalf("fault %d (%s): the socket's query, from port %d: %v", i+1, fault.answer, sport, err)
		}
		if rc, _ := rcodeAndAddrs(t, answer); rc != fault.rcode {
			t.Fatalf("fault %d (%s): %v", i+1, fault.answer, rc)
		}
		if _, _, err := ns.query(t, "2001:db8::2", "db.svc.test.", dnsmessage.TypeA, false, 2*time.Second); err != nil {
			t.Fatalf("fault %d, over IPv6: %v", i+1, err)
		}
		if mark, ok := ns.ctMark(t, fmt.Sprintf("sport=%d dport=53 ", sport)); !ok || mark&firewall.FlowMask != firewall.FlowMark || mark&0xfff != 0x111 {
			t.Errorf("fault %d: the redirected flow's ct mark: 0x%x (found %v; want 0x%x with the mesh's 0x111 kept)", i+1, mark, ok, firewall.FlowMark|0x111)
		}
		r := ns.mustRequest(t, "agent-d6", revert("d6", id))
		t.Logf("fault %d reverted: %s", i+1, r.Reverted[0].Detail)
		if left := ns.redirectedFlows(t); len(left) > 0 {
			t.Errorf("fault %d: after the revert the redirected flows' entries are still there: %q", i+1, left)
		}
		if mark, ok := ns.ctMark(t, fmt.Sprintf("dport=%d ", otherPort)); !ok || mark != 0x111 {
			t.Errorf("fault %d: after the revert the other flow's entry: found %v, mark 0x%x (want 0x111)", i+1, ok, mark)
		}
	}
	ns.mustIn("nft", "delete", "table", "inet", "chaostest-mesh")
	ns.nothingLeft(t, "")
}

// otherFlow, called in the pod's namespace, sends a datagram to the peer's port: a UDP flow of
// the pod's that is not DNS, whose conntrack entry the dns fault must leave alone.
func otherFlow(t *testing.T, port int) {
	t.Helper()
	other, err := net.Dial("udp", fmt.Sprintf("192.0.2.2:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = other.Write([]byte("not dns"))
	other.Close()
}

// askOn sends a query for name on c (connected to a nameserver) and reads its answer.
func askOn(c *net.UDPConn, name string) ([]byte, error) {
	n, _ := dnsmessage.NewName(name)
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(time.Now().UnixNano()), RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	q, _ := b.Finish()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	k, err := c.Read(buf)
	return buf[:k], err
}

// ctMark is the ct mark of the pod's conntrack entry whose line holds tuple (its original
// direction), as /proc/net/nf_conntrack lists it.
func (ns *netns) ctMark(t *testing.T, tuple string) (uint32, bool) {
	t.Helper()
	for _, line := range strings.Split(ns.mustIn("cat", "/proc/net/nf_conntrack"), "\n") {
		if !strings.Contains(line, tuple) {
			continue
		}
		_, after, ok := strings.Cut(line, " mark=")
		if !ok {
			t.Fatalf("no mark in %q", line)
		}
		m, err := strconv.ParseUint(strings.Fields(after)[0], 10, 32)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return uint32(m), true
	}
	return 0, false
}

// redirectedFlows are the pod's conntrack entries (both families) marked as a dns fault's.
func (ns *netns) redirectedFlows(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(ns.mustIn("cat", "/proc/net/nf_conntrack"), "\n") {
		if _, after, ok := strings.Cut(line, " mark="); ok {
			if m, err := strconv.ParseUint(strings.Fields(after)[0], 10, 32); err == nil && uint32(m)&firewall.FlowMask == firewall.FlowMark {
				out = append(out, line)
			}
		}
	}
	return out
}

func (ns *netns) mustRequest(t *testing.T, name string, req obj) *protocol.Reply {
	t.Helper()
	r, code := ns.request(name, req)
	mustOK(t, r, code)
	return r
}

// A UDP socket that keeps its source port asks before the fault, in a pod where conntrack runs
// already (here the test's table with a ct rule; in a pod, a mesh's rules, or a previous fault's
// nat chain, whose entries outlive it): its flow's entry is made, unredirected (NAT is decided at
// a flow's first packet). The apply deletes it, so the same socket's next query, in both
// families, is the fault's — not the nameserver's for the entry's 30 s. A TCP connection open
// before the fault is left alone (deleting its entry would reset it mid-stream): its query is
// still answered, by the nameserver. Another UDP flow of the pod keeps its entry.
func TestDNSFaultCatchesUDPFlowsBegunBeforeIt(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("no dns fault without nf_tables' inet family")
	}
	ns, srv, _ := dnsPod(t, "agent-d7")
	ns.mustIn("nft", "add table inet chaostest-ct { chain out { type filter hook output priority 0; ct state new counter; }; }")
	const otherPort = 5355
	var v4, v6 *net.UDPConn
	var tcp net.Conn
	inNetns(t, ns.pod, func() {
		var err error
		if v4, err = net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40153}, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 53}); err != nil {
			t.Fatal(err)
		}
		if v6, err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40153}, &net.UDPAddr{IP: net.ParseIP("2001:db8::2"), Port: 53}); err != nil {
			t.Fatal(err)
		}
		if tcp, err = net.DialTimeout("tcp", "192.0.2.2:53", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		otherFlow(t, otherPort)
	})
	defer v4.Close()
	defer v6.Close()
	defer tcp.Close()
	for _, c := range []*net.UDPConn{v4, v6} {
		answer, err := askOn(c, "db.svc.test.")
		if err != nil {
			t.Fatalf("before the fault, from %s: %v", c.LocalAddr(), err)
		}
		if rc, addrs := rcodeAndAddrs(t, answer); rc != dnsmessage.RCodeSuccess || len(addrs) != 1 {
			t.Fatalf("before the fault, from %s: %v %v", c.LocalAddr(), rc, addrs)
		}
	}
	r := ns.mustRequest(t, "agent-d7", dnsApply("d7", "d7-dns", obj{"names": []string{"db.svc.test"}, "answer": "nxdomain"}))
	t.Logf("applied: %s", r.Fault.Detail)
	if !strings.Contains(r.Fault.Detail, "2 conntrack entries of UDP queries begun before the fault deleted") {
		t.Errorf("the apply's detail does not say the 2 earlier flows' entries were deleted: %s", r.Fault.Detail)
	}
	for _, c := range []*net.UDPConn{v4, v6} {
		answer, err := askOn(c, "db.svc.test.")
		if err != nil {
			t.Fatalf("under the fault, the same socket %s: %v", c.LocalAddr(), err)
		}
		if rc, _ := rcodeAndAddrs(t, answer); rc != dnsmessage.RCodeNameError {
			t.Errorf("under the fault, the same socket %s got %v from the nameserver, unfaulted (want NXDOMAIN)", c.LocalAddr(), rc)
		}
	}
	asked := len(srv.Received())
	_ = tcp.SetDeadline(time.Now().Add(2 * time.Second))
	q, _ := dns.NewQuery(7, "db.svc.test.", dnsmessage.TypeA)
	if err := dns.WriteTCPMessage(tcp, q); err != nil {
		t.Fatalf("the TCP connection open before the fault: %v", err)
	}
	if answer, err := dns.ReadTCPMessage(tcp); err != nil || !bytes.Equal(answer, srv.Answer(q)) || len(srv.Received()) != asked+1 {
		t.Errorf("the TCP connection open before the fault, left alone: %x %v (want the nameserver's answer)", answer, err)
	}
	if _, ok := ns.ctMark(t, fmt.Sprintf("dport=%d ", otherPort)); !ok {
		t.Error("another UDP flow's entry was deleted with the earlier queries'")
	}
	ns.mustRequest(t, "agent-d7", revert("d7", "d7-dns"))
	ns.mustIn("nft", "delete", "table", "inet", "chaostest-ct")
	ns.nothingLeft(t, "")
}

// An IPv6-only pod (no IPv4 address on its interface) whose resolv.conf names only an IPv4
// nameserver — the cluster's IPv4 DNS address, which the kubelet gives it in a lab or a cluster
// whose DNS Service has no IPv6 address — cannot reach it: a dns fault would fault none of its
// queries, so it is refused, unsupported, saying why, with nothing made. With an IPv6 nameserver
// beside it, the fault holds and that nameserver's queries are faulted.
func TestDNSFaultOnAnIPv6OnlyPod(t *testing.T) {
	if !expectNftables(t) {
		t.Skip("no dns fault without nf_tables' inet family")
	}
	ns, _, _ := dnsPod(t, "agent-d8")
	ns.mustIn("ip", "-6", "route", "add", "default", "via", "2001:db8::2", "dev", "eth0")
	ns.mustIn("ip", "addr", "del", "192.0.2.1/24", "dev", "eth0") // its IPv4 default route goes with it
	resolvConf := filepath.Join("/etc/netns", ns.pod, "resolv.conf")
	// written in place: `ip netns exec` bound this file over the agent's /etc/resolv.conf
	if err := os.WriteFile(resolvConf, []byte("nameserver 192.0.2.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, code := ns.request("agent-d8", dnsApply("d8", "d8-dns", obj{"names": []string{"db.svc.test"}, "answer": "nxdomain"}))
	if code != 4 || r.Error == nil || r.Error.Code != protocol.ErrUnsupported || !strings.Contains(r.Error.Message, "192.0.2.2") {
		t.Fatalf("an IPv4 nameserver only, from an IPv6-only pod: exit %d, %+v (want unsupported, naming it)", code, r.Error)
	}
	t.Logf("refused: %s", r.Error.Message)
	ns.nothingLeft(t, "")
	if err := os.WriteFile(resolvConf, []byte("nameserver 192.0.2.2\nnameserver 2001:db8::2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = ns.mustRequest(t, "agent-d8", dnsApply("d8", "d8-dns2", obj{"names": []string{"db.svc.test"}, "answer": "nxdomain"}))
	if !strings.Contains(r.Fault.Detail, "192.0.2.2 (eth0 has no IPv4 address") {
		t.Errorf("the detail does not say why 192.0.2.2 is not redirected: %s", r.Fault.Detail)
	}
	_, answer, err := ns.query(t, "2001:db8::2", "db.svc.test.", dnsmessage.TypeA, false, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rc, _ := rcodeAndAddrs(t, answer); rc != dnsmessage.RCodeNameError {
		t.Fatalf("the IPv6 nameserver's query: %v (want NXDOMAIN)", rc)
	}
	ns.mustRequest(t, "agent-d8", revert("d8", "d8-dns2"))
	ns.nothingLeft(t, "")
}
