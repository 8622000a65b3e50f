// Package netem turns a netem fault into tc argv, keeps a root qdisc that was there before inside
// the fault's tree (so it survives the agent's death), and takes such a tree down again,
// putting the saved root back exactly.
//
// Unscoped: netem is the interface's root qdisc, `M:`. Scoped (cidr/port/protocol): a 4-band
// prio root `M:` whose priomap keeps ordinary traffic in bands 1-3, netem `M+1:` under band 4,
// and u32 filters sending the selected traffic to band 4. A root qdisc someone else set
// (foreign) is re-created under `M:1`: as netem's child (unscoped), or in prio band 1 with a
// priomap sending all unmatched traffic there (scoped).
package netem

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"chaos-run/agent/kernel"
	"chaos-run/agent/protocol"
)

// Options are netem's options as tc argv, only those given, in the order of `tc qdisc show`.
func Options(p *protocol.NetemParams) ([]string, error) {
	if p == nil {
		return nil, fmt.Errorf("netem needs at least one parameter")
	}
	var out []string
	if p.DelayMs != nil {
		out = append(out, "delay", tcTime(*p.DelayMs))
		if p.JitterMs != nil {
			out = append(out, tcTime(*p.JitterMs))
			if p.Correlation != nil {
				out = append(out, tcPercent(*p.Correlation))
			}
		}
		if p.Distribution != "" {
			out = append(out, "distribution", p.Distribution)
		}
	}
	if p.Loss != nil {
		out = append(out, "loss", tcPercent(*p.Loss))
	}
	if p.Duplicate != nil {
		out = append(out, "duplicate", tcPercent(*p.Duplicate))
	}
	if p.Corrupt != nil {
		out = append(out, "corrupt", tcPercent(*p.Corrupt))
	}
	if p.Reorder != nil {
		out = append(out, "reorder", tcPercent(*p.Reorder))
	}
	if p.Rate != "" {
		out = append(out, "rate", p.Rate)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("netem needs at least one parameter")
	}
	return out, nil
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
	PriomapPlain   = strings.Fields("1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1")
	PriomapForeign = strings.Fields("0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0")
)

// Layout is everything that decides a netem fault's commands.
type Layout struct {
	Iface    string
	Major    uint16 // M: the root; a scoped fault also uses M+1 for netem
	Options  []string
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

// NetemHandle is the handle of the netem qdisc of the layout.
func (l Layout) NetemMajor() uint16 {
	if Scoped(l.Scope) {
		return l.Major + 1
	}
	return l.Major
}

// Apply is the argv to run, in order; stop at the first failure.
func (l Layout) Apply() [][]string {
	tcq := func(args ...string) []string {
		return append([]string{"tc", "qdisc"}, args...)
	}
	root := handle(l.Major)
	verb := "add"
	if l.Foreign != nil {
		// replace takes the foreign root's place in one step; it is re-created below, under M:1
		verb = "replace"
	}
	var out [][]string
	nest := func() {
		if l.Foreign != nil {
			out = append(out, tcq(append([]string{"add", "dev", l.Iface, "parent", class(l.Major, 1), "handle", l.Foreign.Handle, l.Foreign.Kind}, l.Foreign.Options...)...))
		}
	}
	if !Scoped(l.Scope) {
		out = append(out, tcq(append([]string{verb, "dev", l.Iface, "root", "handle", root, "netem"}, l.Options...)...))
		nest()
		return out
	}
	priomap := PriomapPlain
	if l.Foreign != nil {
		priomap = PriomapForeign
	}
	out = append(out, tcq(append([]string{verb, "dev", l.Iface, "root", "handle", root, "prio", "bands", "4", "priomap"}, priomap...)...))
	nest()
	out = append(out, tcq(append([]string{"add", "dev", l.Iface, "parent", class(l.Major, 4), "handle", handle(l.Major + 1), "netem"}, l.Options...)...))
	out = append(out, l.Filters()...)
	return out
}

var protocolNumber = map[string]string{"tcp": "6", "udp": "17"}

// Filters are the u32 filters of a scoped fault: one per (family, port role), each sending its
// match to band 4.
func (l Layout) Filters() [][]string {
	if !Scoped(l.Scope) {
		return nil
	}
	s := l.Scope
	roles := []string{""}
	if s.Port != 0 {
		roles = []string{"sport", "dport"}
	}
	var out [][]string
	prio := 1
	for _, family := range l.Families {
		sel, proto := "ip", "ip"
		if family == 6 {
			sel, proto = "ip6", "ipv6"
		}
		for _, role := range roles {
			argv := []string{"tc", "filter", "add", "dev", l.Iface, "parent", handle(l.Major), "protocol", proto, "prio", strconv.Itoa(prio), "u32"}
			if s.CIDR != "" {
				argv = append(argv, "match", sel, "dst", s.CIDR)
			}
			if s.Protocol != "" {
				argv = append(argv, "match", sel, "protocol", protocolNumber[s.Protocol], "0xff")
			}
			if role != "" {
				argv = append(argv, "match", sel, role, strconv.Itoa(s.Port), "0xffff")
			}
			argv = append(argv, "flowid", class(l.Major, 4))
			out = append(out, argv)
			prio++
		}
	}
	return out
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
			if f[8] == "ipv6" {
				fam = 6
			}
			out = append(out, protocol.KernelObject{Type: protocol.ObjFilter, Name: handle(l.Major) + " prio " + f[10], Family: fam, Detail: strings.Join(f[11:], " ")})
		}
	} else {
		out = append(out, protocol.KernelObject{Type: protocol.ObjQdisc, Name: handle(l.Major), Detail: "netem root of " + l.Iface})
	}
	if l.Foreign != nil {
		out = append(out, protocol.KernelObject{Type: protocol.ObjSavedRoot, Name: l.Foreign.Handle, Detail: l.Foreign.Shown + " (was the root of " + l.Iface + ", kept under " + class(l.Major, 1) + ")"})
	}
	return out
}

// RevertArgv takes the tree down: deleting the root takes its children and filters with it
// (`handle` makes tc refuse to delete a root that is not ours). A saved root goes back after.
func RevertArgv(iface string, major uint16, foreign *Foreign) [][]string {
	out := [][]string{{"tc", "qdisc", "del", "dev", iface, "root", "handle", handle(major)}}
	if foreign != nil {
		out = append(out, foreign.RootArgv(iface))
	}
	return out
}
