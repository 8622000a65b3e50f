package dns

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzParseQuery: whatever a pod sends the resolver, parsing it and answering it (each action's
// answer is built from the parsed query) never panics, and what is built parses back as a
// response to the same question.
func FuzzParseQuery(f *testing.F) {
	for _, name := range []string{"example.com.", "a.b.svc.cluster.local.", "x."} {
		msg, _ := NewQuery(7, name, dnsmessage.TypeA)
		f.Add(msg)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1})
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
	pats, _ := CompilePatterns([]string{"*.svc.cluster.local", "api-*.example.com"})
	f.Fuzz(func(t *testing.T, msg []byte) {
		q, err := ParseQuery(msg)
		if err != nil {
			return
		}
		_ = pats.Match(q.Name())
		for _, build := range []func() ([]byte, error){
			func() ([]byte, error) { return RcodeAnswer(q, dnsmessage.RCodeNameError) },
			func() ([]byte, error) { return AddressAnswer(q, addrs) },
		} {
			out, err := build()
			if err != nil {
				continue
			}
			var p dnsmessage.Parser
			h, err := p.Start(out)
			if err != nil || !h.Response || h.ID != q.Header.ID {
				t.Fatalf("built %x: %v %+v", out, err, h)
			}
			back, err := p.Question()
			if err != nil || back.Name.String() != q.Name() || back.Type != q.Question.Type {
				t.Fatalf("question back: %v %+v", err, back)
			}
		}
	})
}
