package dns

import (
	"slices"
	"strings"
	"testing"
)

func TestParseResolvConfAsGlibc(t *testing.T) {
	rc := ParseResolvConf([]byte("# kubelet\nsearch a.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\nnameserver 2001:db8::53\n" +
		"nameserver 10.0.0.2\nnameserver 10.0.0.3\noptions ndots:5 timeout:2\n; done\n" + strings.Repeat("x", 100)))
	if len(rc.Nameservers) != 3 || rc.Nameservers[1].String() != "2001:db8::53" || rc.Ndots != 5 || !slices.Equal(rc.Search, []string{"a.svc.cluster.local", "svc.cluster.local"}) {
		t.Fatalf("%+v", rc)
	}
	if got := ParseResolvConf([]byte("options ndots:99\n")); got.Ndots != 15 || len(got.Nameservers) != 0 {
		t.Fatalf("%+v", got)
	}
	if c := rc.Candidates("web"); !slices.Equal(c, []string{"web.a.svc.cluster.local.", "web.svc.cluster.local.", "web."}) {
		t.Fatalf("%q", c)
	}
	rc.Ndots = 1
	if c := rc.Candidates("example.com"); c[0] != "example.com." || len(c) != 3 {
		t.Fatalf("%q", c)
	}
	if c := rc.Candidates("example.com."); !slices.Equal(c, []string{"example.com."}) {
		t.Fatalf("%q", c)
	}
}
