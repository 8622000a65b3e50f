// Package netem turns a netem fault into qdisc and filter changes over rtnetlink (each with the
// tc command line that would do the same, for the record), keeps a root qdisc that was there
// before inside the fault's tree (so it survives the agent's death), and takes such a tree down
// again, putting the saved root back exactly.
//
// Unscoped: netem is the interface's root qdisc, `M:`. Scoped (cidr/port/protocol): a 4-band
// prio root `M:` whose priomap keeps ordinary traffic in bands 1-3, netem `M+1:` under band 4,
// and u32 filters sending the selected traffic to band 4. A root qdisc someone else set
// (foreign) is re-created under `M:1`: as netem's child (unscoped), or in prio band 1 with a
// priomap sending all unmatched traffic there (scoped).
package netem

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// Params are a netem's parameters twice: in tc's words (only those given, in the order of
// `tc qdisc show`) and as the TCA_OPTIONS netem takes (struct tc_netem_qopt, then attributes).
type Params struct {
	Words []string
	Raw   []byte
}

// netem's defaults, as tc sets them: a queue of 1000 packets.
const netemLimit = 1000

// Encode builds a netem's parameters.
func Encode(p *protocol.NetemParams) (Params, error) {
	if p == nil {
		return Params{}, fmt.Errorf("netem needs at least one parameter")
	}
	var w []string
	var qopt [6]uint32 // latency, limit, loss, gap, duplicate, jitter
	qopt[1] = netemLimit
	var attrs []kernel.Attr
	if p.DelayMs != nil {
		w = append(w, "delay", tcTime(*p.DelayMs))
		qopt[0] = ticks(*p.DelayMs)
		attrs = append(attrs, kernel.Attr{Type: kernel.NetemLatency64, Data: s64(nanos(*p.DelayMs))})
		if p.JitterMs != nil {
			w = append(w, tcTime(*p.JitterMs))
			qopt[5] = ticks(*p.JitterMs)
			attrs = append(attrs, kernel.Attr{Type: kernel.NetemJitter64, Data: s64(nanos(*p.JitterMs))})
			if p.Correlation != nil {
				w = append(w, tcPercent(*p.Correlation))
				attrs = append(attrs, kernel.Attr{Type: kernel.NetemCorr, Data: u32s(probability(*p.Correlation), 0, 0)})
			}
		}
		if t := DistTable(p.Distribution); t != nil {
			// uniform has no table: netem's own jitter is uniform
			w = append(w, "distribution", p.Distribution)
			attrs = append(attrs, kernel.Attr{Type: kernel.NetemDelayDist, Data: distBytes(t)})
		}
	}
	if p.Loss != nil {
		w = append(w, "loss", tcPercent(*p.Loss))
		qopt[2] = probability(*p.Loss)
	}
	if p.Duplicate != nil {
		w = append(w, "duplicate", tcPercent(*p.Duplicate))
		qopt[4] = probability(*p.Duplicate)
	}
	if p.Corrupt != nil {
		w = append(w, "corrupt", tcPercent(*p.Corrupt))
		attrs = append(attrs, kernel.Attr{Type: kernel.NetemCorrupt, Data: u32s(probability(*p.Corrupt), 0)})
	}
	if p.Reorder != nil {
		w = append(w, "reorder", tcPercent(*p.Reorder))
		qopt[3] = 1 // tc's gap when none is given: every other packet may be sent at once
		attrs = append(attrs, kernel.Attr{Type: kernel.NetemReorder, Data: u32s(probability(*p.Reorder), 0)})
	}
	if p.Rate != "" {
		bps, err := RateBytes(p.Rate)
		if err != nil {
			return Params{}, err
		}
		w = append(w, "rate", p.Rate)
		rate32 := uint32(min(bps, math.MaxUint32))
		if bps >= 1<<32 {
			attrs = append(attrs, kernel.Attr{Type: kernel.NetemRate64, Data: u64(bps)})
		}
		attrs = append(attrs, kernel.Attr{Type: kernel.NetemRate, Data: u32s(rate32, 0, 0, 0)})
	}
	if len(w) == 0 {
		return Params{}, fmt.Errorf("netem needs at least one parameter")
	}
	return Params{Words: w, Raw: append(u32s(qopt[:]...), kernel.Attrs(attrs...)...)}, nil
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.NativeEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func s64(v int64) []byte { return u64(uint64(v)) }

func nanos(ms float64) int64 { return int64(math.Round(ms * 1e6)) }

// ticks is a time in scheduler ticks, as struct tc_netem_qopt holds it (the 64-bit attribute
// beside it is what the kernel uses).
func ticks(ms float64) uint32 {
	return uint32(min(uint64(nanos(ms))>>kernel.PschedShift, math.MaxUint32))
}

// probability is a percentage as netem takes it: a fraction of 2^32-1, as tc rounds it.
func probability(pct float64) uint32 {
	return uint32(math.RoundToEven(pct / 100 * math.MaxUint32))
}

// tc's rate units (case-insensitive, as tc reads them), in bits per second per unit.
var rateUnits = []struct {
	suffix string
	bits   float64
}{
	{"kibit", 1024}, {"mibit", 1 << 20}, {"gibit", 1 << 30}, {"tibit", 1 << 40},
	{"kibps", 8 * 1024}, {"mibps", 8 << 20}, {"gibps", 8 << 30}, {"tibps", 8 << 40},
	{"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12},
	{"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}, {"tbps", 8e12},
	{"bit", 1}, {"bps", 8},
}

// RateBytes reads a rate in tc's syntax (`1mbit`, `10mbps`) as bytes per second.
func RateBytes(rate string) (uint64, error) {
	lower := strings.ToLower(rate)
	for _, u := range rateUnits {
		if num, ok := strings.CutSuffix(lower, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				break
			}
			bytes := math.Floor(v * u.bits / 8)
			if bytes < 1 || bytes > math.MaxUint64/2 {
				return 0, fmt.Errorf("netem rate %q is out of range", rate)
			}
			return uint64(bytes), nil
		}
	}
	return 0, fmt.Errorf("netem rate %q is not in tc's syntax (e.g. 1mbit, 500kbit, 10mbps)", rate)
}

// tcTime: whole milliseconds as `100ms`, fractions as microseconds (`1500us`).
func tcTime(ms float64) string {
	if ms == math.Trunc(ms) {
		return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(math.Round(ms*1000), 'f', -1, 64) + "us"
}

func tcPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// Scoped: the scope selects some traffic (else netem takes all of it).
func Scoped(s *protocol.Scope) bool {
	return s != nil && (s.CIDR != "" || s.Port != 0 || s.Protocol != "")
}

// Priomaps of the scoped prio root: ordinary traffic in bands 1-3 (like pfifo_fast), or, when a
// saved root lives in band 1, everything unmatched in band 1.
var (
	PriomapPlain   = [16]uint8{1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}
	PriomapForeign = [16]uint8{}
)

// prioOptions is a 4-band prio's struct tc_prio_qopt, and its words.
func prioOptions(priomap [16]uint8) ([]byte, []string) {
	b := u32s(4)
	b = append(b, priomap[:]...)
	w := []string{"bands", "4", "priomap"}
	for _, v := range priomap {
		w = append(w, strconv.Itoa(int(v)))
	}
	return b, w
}

// Layout is everything that decides a netem fault's changes.
type Layout struct {
	Iface    string
	Major    uint16 // M: the root; a scoped fault also uses M+1 for netem
	Params   Params
	Scope    *protocol.Scope
	Families []int    // the u32 filters' families (scoped)
	Foreign  *Foreign // a root qdisc kept inside the tree, or nil
}

// Majors is how many qdisc majors a fault with this scope needs.
func Majors(scope *protocol.Scope) int {
	if Scoped(scope) {
		return 2
	}
	return 1
}

func handle(major uint16) string { return kernel.HandleString(kernel.MakeHandle(major, 0)) }

func class(major, minor uint16) string { return kernel.HandleString(kernel.MakeHandle(major, minor)) }

// NetemMajor is the major of the layout's netem qdisc.
func (l Layout) NetemMajor() uint16 {
	if Scoped(l.Scope) {
		return l.Major + 1
	}
	return l.Major
}

// Step is one change of a layout: a qdisc or a filter.
type Step struct {
	Qdisc  *kernel.QdiscChange
	Filter *kernel.FilterChange
}

// Argv is the step's tc command line.
func (s Step) Argv() []string {
	if s.Qdisc != nil {
		return s.Qdisc.Argv()
	}
	return s.Filter.Argv()
}

// Steps are the changes to make, in order; stop at the first failure. The root goes first
// (replace, when it takes a foreign root's place in one step), the foreign root next, under M:1.
func (l Layout) Steps() []Step {
	op := kernel.QdiscAdd
	if l.Foreign != nil {
		op = kernel.QdiscReplace
	}
	root := kernel.MakeHandle(l.Major, 0)
	var out []Step
	nest := func() {
		if l.Foreign != nil {
			c := l.Foreign.Change(l.Iface, kernel.MakeHandle(l.Major, 1))
			out = append(out, Step{Qdisc: &c})
		}
	}
	if !Scoped(l.Scope) {
		out = append(out, Step{Qdisc: &kernel.QdiscChange{Op: op, Iface: l.Iface, Parent: kernel.HandleRoot, Handle: root,
			Kind: "netem", Options: l.Params.Raw, Words: l.Params.Words}})
		nest()
		return out
	}
	priomap := PriomapPlain
	if l.Foreign != nil {
		priomap = PriomapForeign
	}
	opts, words := prioOptions(priomap)
	out = append(out, Step{Qdisc: &kernel.QdiscChange{Op: op, Iface: l.Iface, Parent: kernel.HandleRoot, Handle: root, Kind: "prio", Options: opts, Words: words}})
	nest()
	out = append(out, Step{Qdisc: &kernel.QdiscChange{Op: kernel.QdiscAdd, Iface: l.Iface, Parent: kernel.MakeHandle(l.Major, 4),
		Handle: kernel.MakeHandle(l.Major+1, 0), Kind: "netem", Options: l.Params.Raw, Words: l.Params.Words}})
	for _, f := range l.Filters() {
		out = append(out, Step{Filter: &f})
	}
	return out
}

var protocolNumber = map[string]uint32{"tcp": 6, "udp": 17}

// u32 offsets in the network header, as tc's `match ip`/`match ip6` use them (no IPv4 options,
// no IPv6 extension headers).
type u32Offsets struct {
	sel, proto           string
	protocol, dst, ports int32
}

var offsets = map[int]u32Offsets{
	4: {sel: "ip", proto: "ip", protocol: 9, dst: 16, ports: 20},
	6: {sel: "ip6", proto: "ipv6", protocol: 6, dst: 24, ports: 40},
}

// Filters are the u32 filters of a scoped fault: one per (family, port role), each sending its
// match to band 4.
func (l Layout) Filters() []kernel.FilterChange {
	if !Scoped(l.Scope) {
		return nil
	}
	s := l.Scope
	roles := []string{""}
	if s.Port != 0 {
		roles = []string{"sport", "dport"}
	}
	var out []kernel.FilterChange
	prio := uint16(1)
	for _, family := range l.Families {
		o := offsets[family]
		ethProto := kernel.EthPIP
		if family == 6 {
			ethProto = kernel.EthPIPv6
		}
		for _, role := range roles {
			var sel selector
			if s.CIDR != "" {
				sel.prefix(o, s.CIDR)
			}
			if s.Protocol != "" {
				sel.key(uint32(protocolNumber[s.Protocol]), 0xff, o.protocol, 1)
				sel.words = append(sel.words, "match", o.sel, "protocol", strconv.Itoa(int(protocolNumber[s.Protocol])), "0xff")
			}
			if role != "" {
				off := o.ports
				if role == "dport" {
					off += 2
				}
				sel.key(uint32(s.Port), 0xffff, off, 2)
				sel.words = append(sel.words, "match", o.sel, role, strconv.Itoa(s.Port), "0xffff")
			}
			out = append(out, kernel.FilterChange{Iface: l.Iface, Parent: kernel.MakeHandle(l.Major, 0), Protocol: ethProto,
				Priority: prio, ClassID: kernel.MakeHandle(l.Major, 4), Keys: sel.keys, Words: sel.words})
			prio++
		}
	}
	return out
}

// selector builds a u32 selector as tc packs it: values of 1, 2 or 4 bytes at a byte offset,
// shifted into their place in the 32-bit word that holds them; keys on one word merge.
type selector struct {
	keys  []kernel.U32Key
	words []string
}

func (s *selector) key(val, mask uint32, off int32, size int) {
	shift := 8 * (4 - size - int(off&3))
	val, mask = val<<shift, mask<<shift
	off &^= 3
	for i := range s.keys {
		if s.keys[i].Off == off {
			s.keys[i].Val |= val & mask
			s.keys[i].Mask |= mask
			return
		}
	}
	s.keys = append(s.keys, kernel.U32Key{Val: val & mask, Mask: mask, Off: off})
}

// prefix matches the destination against a CIDR (or one address): one key per 32-bit word the
// prefix covers.
func (s *selector) prefix(o u32Offsets, cidr string) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		a, aerr := netip.ParseAddr(cidr)
		if aerr != nil {
			return // the CIDR was checked before the layout was built
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	addr := p.Masked().Addr().Unmap().AsSlice()
	for i := 0; i < p.Bits(); i += 32 {
		mask := uint32(math.MaxUint32)
		if left := p.Bits() - i; left < 32 {
			mask <<= 32 - left
		}
		s.key(binary.BigEndian.Uint32(addr[i/8:]), mask, o.dst+int32(i/8), 4)
	}
	s.words = append(s.words, "match", o.sel, "dst", cidr)
}

// Objects are the kernel objects the layout makes, as the reply names them.
func (l Layout) Objects() []protocol.KernelObject {
	var out []protocol.KernelObject
	if Scoped(l.Scope) {
		out = append(out,
			protocol.KernelObject{Type: protocol.ObjQdisc, Name: handle(l.Major), Detail: "prio root of " + l.Iface},
			protocol.KernelObject{Type: protocol.ObjQdisc, Name: handle(l.Major + 1), Detail: "netem under " + class(l.Major, 4) + " on " + l.Iface})
		for _, f := range l.Filters() {
			fam := 4
			if f.Protocol == kernel.EthPIPv6 {
				fam = 6
			}
			out = append(out, protocol.KernelObject{Type: protocol.ObjFilter, Name: handle(l.Major) + " prio " + strconv.Itoa(int(f.Priority)),
				Family: fam, Detail: "u32 " + strings.Join(f.Words, " ") + " flowid " + class(l.Major, 4)})
		}
	} else {
		out = append(out, protocol.KernelObject{Type: protocol.ObjQdisc, Name: handle(l.Major), Detail: "netem root of " + l.Iface})
	}
	if l.Foreign != nil {
		out = append(out, protocol.KernelObject{Type: protocol.ObjSavedRoot, Name: kernel.HandleString(l.Foreign.Handle),
			Detail: l.Foreign.Shown() + " (was the root of " + l.Iface + ", kept under " + class(l.Major, 1) + ")"})
	}
	return out
}

// RevertSteps take the tree down: deleting the root takes its children and filters with it (the
// handle makes the kernel refuse to delete a root that is not ours). A saved root goes back after.
func RevertSteps(iface string, major uint16, foreign *Foreign) []kernel.QdiscChange {
	out := []kernel.QdiscChange{{Op: kernel.QdiscDelete, Iface: iface, Parent: kernel.HandleRoot, Handle: kernel.MakeHandle(major, 0)}}
	if foreign != nil {
		out = append(out, foreign.Change(iface, kernel.HandleRoot))
	}
	return out
}
