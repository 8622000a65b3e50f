package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAttrsRoundTrip(t *testing.T) {
	b := Attrs(Attr{Type: 10, Data: []byte{1, 2, 3}}, Attr{Type: 2, Data: nil}, Attr{Type: 0x8003, Data: []byte{9, 9, 9, 9}})
	if len(b) != 8+4+8 || binary.NativeEndian.Uint16(b) != 7 {
		t.Fatalf("% x", b)
	}
	as := ParseAttrs(b)
	if len(as) != 3 || as[0].Type != 10 || !slices.Equal(as[0].Data, []byte{1, 2, 3}) || as[1].Type != 2 || len(as[1].Data) != 0 || as[2].Type != 3 {
		t.Fatalf("%+v", as)
	}
	if len(ParseAttrs([]byte{200, 0, 1, 0})) != 0 {
		t.Fatal("an attribute longer than its buffer parsed")
	}
}

// A netem's dump holds latency and jitter in ticks of 64 ns, and in 64-bit attributes only when
// the ticks cannot say them exactly.
func TestDecodeNetem(t *testing.T) {
	qopt := make([]byte, NetemQoptSize)
	binary.NativeEndian.PutUint32(qopt[0:], 100e6/64)       // 100 ms
	binary.NativeEndian.PutUint32(qopt[4:], 1000)           // limit
	binary.NativeEndian.PutUint32(qopt[8:], 0xFFFFFFFF/100) // 1 %
	binary.NativeEndian.PutUint32(qopt[20:], 10e6/64)       // 10 ms
	n := DecodeNetem(qopt)
	if n.LatencyUs != 100000 || n.JitterUs != 10000 || n.Limit != 1000 || n.LossPct < 0.99 || n.LossPct > 1.01 {
		t.Fatalf("%+v", n)
	}
	exact := append(qopt, Attrs(Attr{Type: NetemLatency64, Data: binary.NativeEndian.AppendUint64(nil, 1500)})...)
	if n := DecodeNetem(exact); n.LatencyUs != 1.5 {
		t.Fatalf("%+v", n)
	}
	if q := Described(Qdisc{Kind: "netem", Options: qopt}); !slices.Equal(q.Words, []string{"limit", "1000", "delay", "100ms", "10ms", "loss", "1%"}) {
		t.Fatalf("%q", q.Words)
	}
	if DecodeNetem(qopt[:10]) != nil {
		t.Fatal("a short dump decoded")
	}
}

func TestOptionWords(t *testing.T) {
	prio := binary.NativeEndian.AppendUint32(nil, 3)
	prio = append(prio, 1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
	if w := optionWords("prio", prio); len(w) != 19 || w[1] != "3" {
		t.Fatalf("%q", w)
	}
	if w := optionWords("bfifo", binary.NativeEndian.AppendUint32(nil, 65536)); !slices.Equal(w, []string{"limit", "65536b"}) {
		t.Fatalf("%q", w)
	}
	parms := make([]byte, 36)
	binary.NativeEndian.PutUint32(parms[8:], 1250000)      // 10 Mbit/s in bytes
	binary.NativeEndian.PutUint32(parms[24:], 95268)       // limit
	binary.NativeEndian.PutUint32(parms[28:], 26214400/64) // 26.2144 ms of buffer: 32768 bytes at that rate
	if w := optionWords("tbf", Attrs(Attr{Type: 1, Data: parms})); !slices.Equal(w, []string{"rate", "10000000bit", "burst", "32768b", "limit", "95268b"}) {
		t.Fatalf("%q", w)
	}
	if optionWords("fq_codel", []byte{1, 2, 3, 4}) != nil {
		t.Fatal("words for a kind the agent does not read")
	}
}

func TestChangeArgv(t *testing.T) {
	c := QdiscChange{Op: QdiscAdd, Iface: "eth0", Parent: MakeHandle(0xc000, 1), Handle: MakeHandle(0x8001, 0), Kind: "fq_codel", Options: []byte{1}}
	if got := c.Argv(); !slices.Equal(got, []string{"tc", "qdisc", "add", "dev", "eth0", "parent", "c000:1", "handle", "8001:", "fq_codel", OptionsAsRead}) {
		t.Fatalf("%q", got)
	}
	d := QdiscChange{Op: QdiscDelete, Iface: "eth0", Parent: HandleRoot, Handle: MakeHandle(0xc000, 0)}
	if got := d.Argv(); !slices.Equal(got, []string{"tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c000:"}) {
		t.Fatalf("%q", got)
	}
}

// struct tc_u32_sel as the kernel reads it: a terminal selector, its key count, then per key
// mask and value in network order and the offset in host order.
func TestU32Selector(t *testing.T) {
	keys := []U32Key{{Val: 0xc0000200, Mask: 0xffffff00, Off: 16}, {Val: 80, Mask: 0xffff, Off: 20}}
	sel := u32Selector(keys)
	if len(sel) != 48 || sel[0] != 1 || sel[2] != 2 || !slices.Equal(sel[16:24], []byte{0xff, 0xff, 0xff, 0, 0xc0, 0, 2, 0}) {
		t.Fatalf("% x", sel)
	}
	if !slices.Equal(U32Keys(sel), keys) {
		t.Fatalf("%+v", U32Keys(sel))
	}
}

func TestSockDiagRequest(t *testing.T) {
	c := Conn{Local: netip.MustParseAddrPort("[::ffff:192.0.2.1]:80"), Remote: netip.MustParseAddrPort("198.51.100.7:41000")}
	b := sockDiagRequest(c)
	if len(b) != 56 || b[0] != unix.AF_INET || b[1] != unix.IPPROTO_TCP || binary.BigEndian.Uint16(b[8:]) != 80 || binary.BigEndian.Uint16(b[10:]) != 41000 ||
		!slices.Equal(b[12:16], []byte{192, 0, 2, 1}) || !slices.Equal(b[28:32], []byte{198, 51, 100, 7}) || binary.NativeEndian.Uint32(b[48:]) != 0xFFFFFFFF {
		t.Fatalf("% x", b)
	}
	v6 := sockDiagRequest(Conn{Local: netip.MustParseAddrPort("[2001:db8::1]:80"), Remote: netip.MustParseAddrPort("[2001:db8::2]:5000")})
	if v6[0] != unix.AF_INET6 || v6[27] != 1 || v6[43] != 2 {
		t.Fatalf("% x", v6)
	}
}

// The errors of a kernel whose nf_tables cannot hold the agent's tables are told apart from the
// others: the agent falls back to iptables-legacy on them only.
func TestNftErrors(t *testing.T) {
	for _, e := range []error{unix.EPROTONOSUPPORT, unix.EOPNOTSUPP, unix.EAFNOSUPPORT} {
		if err := nftError(fmt.Errorf("conn.Receive: %w", e)); !errors.Is(err, ErrNoNftables) || !errors.Is(err, e) {
			t.Errorf("%v: %v", e, err)
		}
	}
	for _, e := range []error{unix.EPERM, unix.EEXIST, unix.ENOENT} {
		if err := nftError(e); errors.Is(err, ErrNoNftables) {
			t.Errorf("%v taken for a kernel without nf_tables", e)
		}
	}
}

func TestAtLeast(t *testing.T) {
	for release, want := range map[string]bool{"6.18.44-fc-v1300": true, "4.19.0": true, "4.18.0-553.el8_10.x86_64": false, "3.10.0-1160.el7.x86_64": false, "5.4": true, "4.20-rc1": true, "": false, "x.y": false} {
		if got := AtLeast(release, 4, 19); got != want {
			t.Errorf("AtLeast(%q, 4, 19) = %v", release, got)
		}
	}
}
