package dns_test

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/dns"
	"chaos-run/agent/internal/dnstest"
)

// upstream is a nameserver of the test's on loopback (UDP and TCP on one port): every A query
// answered with 192.0.2.53, authoritative.
type upstream struct {
	*dnstest.Nameserver
	addr netip.AddrPort
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{Nameserver: &dnstest.Nameserver{A: [4]byte{192, 0, 2, 53}}}
	pc, ln := loopbackPair(t)
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go u.ServeUDP(pc)
	go u.ServeTCP(ln)
	return u
}

// startResolver runs a resolver on loopback whose UDP queries were "sent to" u and whose TCP
// connections' original destination is u.
func startResolver(t testing.TB, cfg dns.Config, u *upstream) (*dns.Server, netip.AddrPort) {
	uc, ln := loopbackPair(t)
	cfg.TCPNameserver = func(net.Conn) (netip.AddrPort, error) { return u.addr, nil }
	s := dns.Start(cfg, []dns.UDPListener{{Conn: uc, Nameserver: u.addr}}, []net.Listener{ln})
	t.Cleanup(s.Stop)
	return s, uc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// loopbackPair is a UDP socket and a TCP listener on one port of 127.0.0.1 (another port
// tried when the UDP one's is taken for TCP).
func loopbackPair(t testing.TB) (*net.UDPConn, net.Listener) {
	for try := 0; ; try++ {
		uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", uc.LocalAddr().String())
		if err == nil {
			return uc, ln
		}
		uc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
}

func ask(t testing.TB, at netip.AddrPort, name string, qtype dnsmessage.Type, tcp bool, timeout time.Duration) ([]byte, []byte, error) {
	t.Helper()
	q, err := dns.NewQuery(0x1234, name, qtype)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dns.Exchange(context.Background(), at, q, tcp, timeout)
	return q, bytes.Clone(out), err
}

func rcodeOf(t testing.TB, msg []byte) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		t.Fatal(err)
	}
	_, addrs, err := dns.ParseAnswer(msg, h.ID, dnsmessage.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	_, six, _ := dns.ParseAnswer(msg, h.ID, dnsmessage.TypeAAAA)
	return h.RCode, append(addrs, six...)
}

func TestUnmatchedQueriesAreForwardedUntouched(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"*.svc.cluster.local"})
	s, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: 100}, u)
	for _, tcp := range []bool{false, true} {
		q, out, err := ask(t, at, "api.example.com.", dnsmessage.TypeA, tcp, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := u.Received()
		if !bytes.Equal(got[len(got)-1], q) {
			t.Fatalf("tcp %v: the nameserver got %x, not the query %x", tcp, got[len(got)-1], q)
		}
		if !bytes.Equal(out, u.Answer(q)) {
			t.Fatalf("tcp %v: the client got %x, not the nameserver's answer", tcp, out)
		}
	}
	if c := s.Counts(); c.Queries != 2 || c.UDP != 1 || c.TCP != 1 || c.Forwarded != 2 || c.Matched != 0 || c.Faulted != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestEachAnswer(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"*.svc.cluster.local"})
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.1.2.4"), netip.MustParseAddr("2001:db8::7")}
	for _, c := range []struct {
		answer string
		qtype  dnsmessage.Type
		rcode  dnsmessage.RCode
		addrs  int
	}{
		{dns.AnswerNXDomain, dnsmessage.TypeA, dnsmessage.RCodeNameError, 0},
		{dns.AnswerServFail, dnsmessage.TypeA, dnsmessage.RCodeServerFailure, 0},
		{dns.AnswerRefused, dnsmessage.TypeAAAA, dnsmessage.RCodeRefused, 0},
		{dns.AnswerAddresses, dnsmessage.TypeA, dnsmessage.RCodeSuccess, 2},
		{dns.AnswerAddresses, dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, 1},
		{dns.AnswerAddresses, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, 0},
	} {
		s, at := startResolver(t, dns.Config{Patterns: pats, Answer: c.answer, Addresses: addrs, Rate: 100}, u)
		for _, tcp := range []bool{false, true} {
			before := len(u.Received())
			_, out, err := ask(t, at, "DB.prod.svc.cluster.local.", c.qtype, tcp, time.Second)
			if err != nil {
				t.Fatalf("%s tcp %v: %v", c.answer, tcp, err)
			}
			rcode, got := rcodeOf(t, out)
			if rcode != c.rcode || len(got) != c.addrs || len(u.Received()) != before {
				t.Fatalf("%s %v tcp %v: %v %v (the nameserver asked: %v)", c.answer, c.qtype, tcp, rcode, got, len(u.Received()) != before)
			}
		}
		if n := s.Counts(); n.Matched != 2 || n.Faulted != 2 || n.Forwarded != 0 {
			t.Fatalf("%s: %+v", c.answer, n)
		}
	}
}

func TestTimeoutAnswersNothingAndDelayHoldsTheRealAnswer(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"slow.example.com"})
	s, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerTimeout, Rate: 100}, u)
	for _, tcp := range []bool{false, true} {
		if _, _, err := ask(t, at, "slow.example.com.", dnsmessage.TypeA, tcp, 200*time.Millisecond); err == nil {
			t.Fatalf("tcp %v: answered", tcp)
		}
	}
	if c := s.Counts(); c.Timeout != 2 || c.Forwarded != 0 {
		t.Fatalf("%+v", c)
	}
	s, at = startResolver(t, dns.Config{Patterns: pats, Delay: 150 * time.Millisecond, Rate: 100}, u)
	began := time.Now()
	q, out, err := ask(t, at, "slow.example.com.", dnsmessage.TypeA, false, time.Second)
	if err != nil || !bytes.Equal(out, u.Answer(q)) || time.Since(began) < 150*time.Millisecond {
		t.Fatalf("%v after %v: %x", err, time.Since(began), out)
	}
	if c := s.Counts(); c.Delayed != 1 || c.Forwarded != 1 || c.Faulted != 1 {
		t.Fatalf("%+v", c)
	}
}

// The rate: of n matched queries, the faulted count is Binomial(n, rate): within 5 standard
// deviations of its mean (a false failure once in 1.7 million runs).
func TestRateIsBinomial(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"*"})
	const n, rate = 1500, 30.0
	s, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: rate}, u)
	nx := 0
	for i := 0; i < n; i++ {
		_, out, err := ask(t, at, "x.example.com.", dnsmessage.TypeA, false, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rc, _ := rcodeOf(t, out); rc == dnsmessage.RCodeNameError {
			nx++
		}
	}
	mean, sd := n*rate/100, math.Sqrt(n*rate/100*(1-rate/100))
	if math.Abs(float64(nx)-mean) > 5*sd {
		t.Fatalf("%d of %d faulted at %v%%: outside %.0f ± %.0f", nx, n, rate, mean, 5*sd)
	}
	if c := s.Counts(); c.NXDomain != int64(nx) || c.Forwarded != int64(n-nx) || c.Matched != n {
		t.Fatalf("%+v, %d NXDOMAIN seen", c, nx)
	}
}

func TestMalformedPacketsAreDroppedAndOddQueriesForwarded(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"*"})
	s, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: 100}, u)
	c, err := net.Dial("udp", at.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, _ := dns.NewQuery(9, "x.", dnsmessage.TypeA)
	resp := bytes.Clone(q)
	resp[2] |= 0x80
	for _, m := range [][]byte{{1, 2, 3}, resp} {
		_, _ = c.Write(m)
	}
	// two questions: not one the resolver parses, so the nameserver's to answer
	two := bytes.Clone(q)
	two[5] = 2
	_, _ = c.Write(two)
	deadline := time.Now().Add(2 * time.Second)
	for s.Counts().Malformed != 2 || s.Counts().Forwarded != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%+v", s.Counts())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAnUnreachableNameserverIsAnUpstreamError(t *testing.T) {
	dead := &upstream{addr: netip.MustParseAddrPort("127.0.0.1:9")} // discard: nothing answers
	pats, _ := dns.CompilePatterns([]string{"nothing.matches"})
	s, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: 100, UpstreamTimeout: 100 * time.Millisecond}, dead)
	if _, _, err := ask(t, at, "a.b.", dnsmessage.TypeA, false, 400*time.Millisecond); err == nil {
		t.Fatal("answered")
	}
	for deadline := time.Now().Add(time.Second); s.Counts().UpstreamErrors != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%+v", s.Counts())
		}
	}
}

func TestResolveCountsOutcomesWithTheSearchList(t *testing.T) {
	u := newUpstream(t)
	pats, _ := dns.CompilePatterns([]string{"bad.example.com"})
	_, at := startResolver(t, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: 100}, u)
	rc := dns.ResolvConf{Nameservers: []netip.Addr{at.Addr()}, Port: at.Port(), Search: []string{"example.com"}, Ndots: 5}
	res := dns.Resolve(context.Background(), rc, dns.ResolveSpec{Names: []string{"bad", "good"}, Type: dnsmessage.TypeA, Count: 20, Timeout: time.Second})
	bad, good := res[0], res[1]
	if bad.Resolutions != 20 || bad.Rcodes["NXDOMAIN"] != 0 || bad.Answered != 20 || bad.FQDN != "bad." {
		// "bad.example.com." is NXDOMAIN, then "bad." is answered by the nameserver
		t.Fatalf("bad: %+v", bad)
	}
	if good.Answered != 20 || good.FQDN != "good.example.com." || len(good.Addresses) != 1 || good.Addresses[0] != "192.0.2.53" || good.LatencyMs == nil {
		t.Fatalf("good: %+v", good)
	}
	res = dns.Resolve(context.Background(), rc, dns.ResolveSpec{Names: []string{"bad.example.com."}, Type: dnsmessage.TypeA, Count: 3, Timeout: time.Second, TCP: true})
	if res[0].Rcodes["NXDOMAIN"] != 3 || res[0].Answered != 0 || res[0].LatencyMs == nil {
		t.Fatalf("absolute: %+v", res[0])
	}
}

func TestSummarizeIsNearestRank(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- {
		s = append(s, float64(i))
	}
	l := dns.Summarize(s)
	if l.Min != 1 || l.P50 != 50 || l.P90 != 90 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Fatalf("%+v", l)
	}
	if dns.Summarize(nil) != nil {
		t.Fatal("nil")
	}
}

// Forwarding knows the resolver's own UDP socket to the nameserver while its query waits for an
// answer, and forgets it once answered: the dns fault's apply leaves exactly those flows' conntrack
// entries alone when it deletes the pod's earlier ones.
func TestForwardingKnowsTheResolversOwnSocketsWhileTheyWait(t *testing.T) {
	ns, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nsAddr := ns.LocalAddr().(*net.UDPAddr).AddrPort()
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := dns.Start(dns.Config{}, []dns.UDPListener{{Conn: uc, Nameserver: nsAddr}}, nil)
	defer s.Stop()
	answered := make(chan error, 1)
	go func() {
		_, _, err := ask(t, uc.LocalAddr().(*net.UDPAddr).AddrPort(), "db.test.", dnsmessage.TypeA, false, 2*time.Second)
		answered <- err
	}()
	buf := make([]byte, dns.MaxMessage)
	_ = ns.SetDeadline(time.Now().Add(2 * time.Second))
	n, from, err := ns.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Forwarding(from) {
		t.Fatalf("the resolver's socket %s, its query unanswered, is not known as forwarding", from)
	}
	if s.Forwarding(netip.AddrPortFrom(from.Addr(), from.Port()+1)) {
		t.Fatal("another port is known as forwarding")
	}
	answer := (&dnstest.Nameserver{A: [4]byte{192, 0, 2, 53}}).Answer(buf[:n])
	if _, err := ns.WriteToUDPAddrPort(answer, from); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Second); s.Forwarding(from); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the socket %s, answered, is still known as forwarding", from)
		}
	}
}
