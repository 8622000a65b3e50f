package netem

import (
	"context"
	"fmt"
	"math"
	"strings"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Show runs `tc qdisc show dev IF`: the text a foreign qdisc is re-created from and compared
// with (netlink reads the structure; tc's text is what tc parses back).
func Show(ctx context.Context, ex exec.Executor, iface string) (string, error) {
	r := ex.Run(ctx, []string{"tc", "qdisc", "show", "dev", iface}, "")
	if !r.OK() {
		return "", fmt.Errorf("tc qdisc show dev %s: %s", iface, r.Why())
	}
	return r.Stdout, nil
}

// Verify reads the interface back and says whether the layout is in effect, in words.
func Verify(ctx context.Context, ex exec.Executor, rd kernel.Reader, l Layout, p *protocol.NetemParams) (string, error) {
	qs, err := rd.Qdiscs(l.Iface)
	if err != nil {
		return "", err
	}
	find := func(major uint16) *kernel.Qdisc {
		for i := range qs {
			if qs[i].Handle == kernel.MakeHandle(major, 0) && !qs[i].IsIngress() {
				return &qs[i]
			}
		}
		return nil
	}
	root := find(l.Major)
	if root == nil || !root.IsRoot() {
		return "", fmt.Errorf("no root qdisc %s on %s (found %s)", handle(l.Major), l.Iface, describe(qs))
	}
	nm := find(l.NetemMajor())
	var parts []string
	if Scoped(l.Scope) {
		if root.Kind != "prio" || (root.Prio != nil && root.Prio.Bands != 4) {
			return "", fmt.Errorf("root qdisc %s on %s is %s, not a 4-band prio", handle(l.Major), l.Iface, root.Kind)
		}
		if nm == nil || nm.Kind != "netem" || nm.Parent != kernel.MakeHandle(l.Major, 4) {
			return "", fmt.Errorf("no netem %s under %s on %s (found %s)", handle(l.Major+1), class(l.Major, 4), l.Iface, describe(qs))
		}
		fs, err := rd.Filters(l.Iface, kernel.MakeHandle(l.Major, 0))
		if err != nil {
			return "", err
		}
		n := 0
		for _, f := range fs {
			if f.Kind == "u32" && f.ClassID == kernel.MakeHandle(l.Major, 4) {
				n++
			}
		}
		if want := len(l.Filters()); n < want {
			return "", fmt.Errorf("%d of %d u32 filters to %s on %s", n, want, class(l.Major, 4), l.Iface)
		}
		parts = append(parts, fmt.Sprintf("prio %s with netem %s under band 4 and %d u32 filters (%s)", handle(l.Major), handle(l.Major+1), n, scopeWords(l.Scope, l.Families)))
	} else {
		if root.Kind != "netem" {
			return "", fmt.Errorf("root qdisc %s on %s is %s, not netem", handle(l.Major), l.Iface, root.Kind)
		}
		nm = root
		parts = append(parts, "netem "+handle(l.Major))
	}
	if err := checkNetem(nm, p); err != nil {
		return "", fmt.Errorf("netem %s on %s: %v", kernel.HandleString(nm.Handle), l.Iface, err)
	}
	parts = append(parts, strings.Join(l.Options, " "), "on "+l.Iface)
	if l.Foreign != nil {
		f := l.Foreign
		var kept *kernel.Qdisc
		for i := range qs {
			if kernel.HandleString(qs[i].Handle) == f.Handle {
				kept = &qs[i]
			}
		}
		if kept == nil || kept.Parent != kernel.MakeHandle(l.Major, 1) {
			return "", fmt.Errorf("the saved root %s is not under %s on %s", f.Handle, class(l.Major, 1), l.Iface)
		}
		text, err := Show(ctx, ex, l.Iface)
		if err != nil {
			return "", err
		}
		line, _ := FindShown(text, f.Handle)
		if got := Normalize(line); got != f.Shown {
			return "", &MismatchError{Iface: l.Iface, Want: f.Shown, Got: got}
		}
		parts = append(parts, fmt.Sprintf("(keeps %s %s, the root that was there, under %s)", f.Kind, f.Handle, class(l.Major, 1)))
	}
	return strings.Join(parts, " "), nil
}

// MismatchError: a re-created qdisc does not read back as the one that was there.
type MismatchError struct {
	Iface     string
	Want, Got string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the re-created qdisc on %s reads back as %q, not %q", e.Iface, e.Got, e.Want)
}

// checkNetem compares what netlink reads back with the parameters asked for, where netlink's
// fields can hold them (delays up to ~4 min in ticks, loss as a fraction of 2^32).
func checkNetem(q *kernel.Qdisc, p *protocol.NetemParams) error {
	if q.Netem == nil || p == nil {
		return nil
	}
	if p.DelayMs != nil && *p.DelayMs < 200000 {
		want := *p.DelayMs * 1000
		if math.Abs(q.Netem.LatencyUs-want) > math.Max(2, want*0.001) {
			return fmt.Errorf("delay reads back as %gus, not %gus", q.Netem.LatencyUs, want)
		}
	}
	if p.Loss != nil && math.Abs(q.Netem.LossPct-*p.Loss) > 0.01 {
		return fmt.Errorf("loss reads back as %.4g%%, not %g%%", q.Netem.LossPct, *p.Loss)
	}
	return nil
}

func scopeWords(s *protocol.Scope, families []int) string {
	var w []string
	if s.Protocol != "" {
		w = append(w, s.Protocol)
	}
	if s.Port != 0 {
		w = append(w, fmt.Sprintf("port %d", s.Port))
	}
	if s.CIDR != "" {
		w = append(w, "to "+s.CIDR)
	}
	fam := make([]string, 0, len(families))
	for _, f := range families {
		fam = append(fam, fmt.Sprintf("IPv%d", f))
	}
	w = append(w, strings.Join(fam, "+"))
	return strings.Join(w, " ")
}

func describe(qs []kernel.Qdisc) string {
	var s []string
	for _, q := range qs {
		if q.IsIngress() {
			continue
		}
		place := "parent " + kernel.HandleString(q.Parent)
		if q.IsRoot() {
			place = "root"
		}
		s = append(s, fmt.Sprintf("%s %s %s", q.Kind, kernel.HandleString(q.Handle), place))
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// Tree is one chaos-run qdisc tree on an interface: its root major first, then the other
// majors in it.
type Tree struct {
	Iface  string
	Majors []uint16
}

// FindNested is the foreign qdisc kept inside a tree (a visible qdisc whose parent is one of
// the tree's, with a major outside the agent's range), or nil.
func FindNested(qs []kernel.Qdisc, t Tree) *kernel.Qdisc {
	in := map[uint16]bool{}
	for _, m := range t.Majors {
		in[m] = true
	}
	var found *kernel.Qdisc
	for i := range qs {
		q := &qs[i]
		if q.IsIngress() || q.IsRoot() || q.IsDefault() || ownership.InRange(q.Major()) {
			continue
		}
		if in[uint16(q.Parent>>16)] {
			if found == nil || q.Parent == kernel.MakeHandle(t.Majors[0], 1) {
				found = q
			}
		}
	}
	return found
}

// Revert takes a tree down and puts back the foreign root it kept (saved: the snapshot taken
// at apply time; nil: read it from the tree, as for an orphan), then reads the interface back.
// Commands keep going past failures; what counts is what the kernel holds after. remaining is
// empty when nothing of the tree is left and the foreign root (if any) is back exactly.
func Revert(ctx context.Context, ex exec.Executor, rd kernel.Reader, t Tree, saved *Foreign) (remaining []protocol.KernelObject, detail string) {
	major := t.Majors[0]
	qs, err := rd.Qdiscs(t.Iface)
	if err != nil {
		return []protocol.KernelObject{{Type: protocol.ObjQdisc, Name: handle(major), Detail: err.Error()}}, "cannot read the qdiscs of " + t.Iface + ": " + err.Error()
	}
	rs := RootOf(qs)
	var notes []string
	touched := false
	switch {
	case rs.Root != nil && rs.Root.Major() == major:
		if saved == nil {
			if n := FindNested(qs, t); n != nil {
				text, err := Show(ctx, ex, t.Iface)
				if err == nil {
					if line, ok := FindShown(text, kernel.HandleString(n.Handle)); ok {
						saved, err = ParseForeign(line)
					}
				}
				if saved == nil {
					notes = append(notes, fmt.Sprintf("could not read %s %s kept under %s: %v", n.Kind, kernel.HandleString(n.Handle), handle(major), err))
				}
			}
		}
		touched = true
		for _, argv := range RevertArgv(t.Iface, major, saved) {
			if r := ex.Run(ctx, argv, ""); !r.OK() {
				notes = append(notes, strings.Join(argv[:6], " ")+": "+r.Why())
			}
		}
	case saved != nil && (rs.Root == nil || rs.Root.IsDefault()):
		// the tree went (an earlier attempt, or someone) but the saved root did not come back
		touched = true
		if r := ex.Run(ctx, saved.RootArgv(t.Iface), ""); !r.OK() {
			notes = append(notes, "putting back "+saved.Kind+" "+saved.Handle+": "+r.Why())
		}
	}
	// read back
	qs, err = rd.Qdiscs(t.Iface)
	if err != nil {
		return []protocol.KernelObject{{Type: protocol.ObjQdisc, Name: handle(major), Detail: err.Error()}}, "cannot read the qdiscs of " + t.Iface + " back: " + err.Error()
	}
	in := map[uint16]bool{}
	for _, m := range t.Majors {
		in[m] = true
	}
	for _, q := range qs {
		if in[q.Major()] {
			remaining = append(remaining, protocol.KernelObject{Type: protocol.ObjQdisc, Name: kernel.HandleString(q.Handle), Detail: q.Kind + " on " + t.Iface})
		}
	}
	words := fmt.Sprintf("took down %s on %s", handle(major), t.Iface)
	if !touched {
		words = fmt.Sprintf("%s is not on %s", handle(major), t.Iface)
	}
	if saved != nil {
		rs = RootOf(qs)
		ok := rs.Root != nil && kernel.HandleString(rs.Root.Handle) == saved.Handle
		got := "nothing"
		if ok {
			text, err := Show(ctx, ex, t.Iface)
			line, found := FindShown(text, saved.Handle)
			got = Normalize(line)
			ok = err == nil && found && got == saved.Shown
		} else if rs.Root != nil {
			got = rs.Root.Kind + " " + kernel.HandleString(rs.Root.Handle)
		}
		if ok && touched {
			words += fmt.Sprintf(", put back its root %s %s exactly", saved.Kind, saved.Handle)
		} else if ok {
			words += fmt.Sprintf(", its root %s %s is as it was", saved.Kind, saved.Handle)
		} else {
			remaining = append(remaining, protocol.KernelObject{Type: protocol.ObjSavedRoot, Name: saved.Handle,
				Detail: fmt.Sprintf("%s's root should be %q, it is %q", t.Iface, saved.Shown, got)})
		}
	}
	if len(remaining) > 0 {
		var names []string
		for _, o := range remaining {
			names = append(names, o.Type+" "+o.Name)
		}
		words = fmt.Sprintf("revert of %s on %s incomplete: %s remain", handle(major), t.Iface, strings.Join(names, ", "))
	}
	if len(notes) > 0 {
		words += " (" + strings.Join(notes, "; ") + ")"
	}
	return remaining, words
}
