package dns_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"chaos-run/agent/dns"
)

// The cost of a dns fault to a query it does not match: the same UDP query asked of a nameserver
// on loopback directly, and through the resolver, which forwards it untouched (a socket of its
// own per query, as a redirected query gets). The difference of the two p50-ms is the latency the
// fault adds to an unfaulted query (the target: p50 ≤ 0.2 ms); the kernel's redirect is
// not in it (a NAT lookup, microseconds).
//
//	go test -run '^$' -bench UnfaultedQuery ./dns
func BenchmarkUnfaultedQuery(b *testing.B) {
	u := newUpstream(b)
	pats, _ := dns.CompilePatterns([]string{"*.svc.cluster.local"})
	_, through := startResolver(b, dns.Config{Patterns: pats, Answer: dns.AnswerNXDomain, Rate: 100}, u)
	q, err := dns.NewQuery(0x4242, "api.example.com.", dnsmessage.TypeA)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		at   func() []byte
	}{
		{"direct", func() []byte { out, _ := dns.Exchange(context.Background(), u.addr, q, false, time.Second); return out }},
		{"through-resolver", func() []byte {
			out, _ := dns.Exchange(context.Background(), through, q, false, time.Second)
			return out
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			took := make([]float64, 0, b.N)
			for i := 0; i < b.N; i++ {
				began := time.Now()
				if c.at() == nil {
					b.Fatal("no answer")
				}
				took = append(took, float64(time.Since(began))/float64(time.Millisecond))
			}
			l := dns.Summarize(took)
			b.ReportMetric(l.P50, "p50-ms")
			b.ReportMetric(l.P90, "p90-ms")
		})
	}
}
