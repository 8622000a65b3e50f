package netem

import (
	"fmt"
	"math"
	"strings"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Change makes one qdisc change and records it in ex (a request's log) as its tc command line.
func Change(ex exec.Executor, k kernel.Writer, c kernel.QdiscChange) error {
	start := time.Now()
	err := k.ChangeQdisc(c)
	return exec.Done(ex, c.Argv(), "", time.Since(start), err)
}

// Apply makes the layout's changes in order and stops at the first failure: failed is its
// index (-1: all made).
func Apply(ex exec.Executor, k kernel.Writer, l Layout) (failed int, err error) {
	for i, s := range l.Steps() {
		start := time.Now()
		if s.Qdisc != nil {
			err = k.ChangeQdisc(*s.Qdisc)
		} else {
			err = k.AddU32(*s.Filter)
		}
		if exec.Done(ex, s.Argv(), "", time.Since(start), err) != nil {
			return i, fmt.Errorf("%s: %w", strings.Join(s.Argv(), " "), err)
		}
	}
	return -1, nil
}

// DeleteQdisc removes one qdisc (with its children) at parent, only if its handle is handle.
func DeleteQdisc(ex exec.Executor, k kernel.Writer, iface string, parent, handle uint32) error {
	return Change(ex, k, kernel.QdiscChange{Op: kernel.QdiscDelete, Iface: iface, Parent: parent, Handle: handle})
}

// Verify reads the interface back and says whether the layout is in effect, in words.
func Verify(rd kernel.StateReader, l Layout, p *protocol.NetemParams) (string, error) {
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
	parts = append(parts, strings.Join(l.Params.Words, " "), "on "+l.Iface)
	if f := l.Foreign; f != nil {
		var kept *kernel.Qdisc
		for i := range qs {
			if qs[i].Handle == f.Handle && !qs[i].IsIngress() {
				kept = &qs[i]
			}
		}
		if kept == nil || kept.Parent != kernel.MakeHandle(l.Major, 1) {
			return "", fmt.Errorf("the saved root %s is not under %s on %s", kernel.HandleString(f.Handle), class(l.Major, 1), l.Iface)
		}
		if !f.Same(*kept) {
			return "", &MismatchError{Iface: l.Iface, Want: f, Got: *kept}
		}
		parts = append(parts, fmt.Sprintf("(keeps %s %s, the root that was there, under %s)", f.Kind, kernel.HandleString(f.Handle), class(l.Major, 1)))
	}
	return strings.Join(parts, " "), nil
}

// MismatchError: a re-created qdisc does not read back as the one that was there.
type MismatchError struct {
	Iface string
	Want  *Foreign
	Got   kernel.Qdisc
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the re-created qdisc on %s reads back as %s (options %x), not %s (options %x)", e.Iface,
		ForeignOf(e.Got).Shown(), e.Got.Options, e.Want.Shown(), e.Want.Options)
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
// Changes keep going past failures; what counts is what the kernel holds after. remaining is
// empty when nothing of the tree is left and the foreign root (if any) is back exactly.
func Revert(ex exec.Executor, k kernel.Kernel, t Tree, saved *Foreign) (remaining []protocol.KernelObject, detail string) {
	major := t.Majors[0]
	qs, err := k.Qdiscs(t.Iface)
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
				saved = ForeignOf(*n)
			}
		}
		touched = true
		for _, c := range RevertSteps(t.Iface, major, saved) {
			if err := Change(ex, k, c); err != nil {
				notes = append(notes, strings.Join(c.Argv(), " ")+": "+err.Error())
			}
		}
	case saved != nil && (rs.Root == nil || rs.Root.IsDefault()):
		// the tree went (an earlier attempt, or someone) but the saved root did not come back
		touched = true
		if err := Change(ex, k, saved.Change(t.Iface, kernel.HandleRoot)); err != nil {
			notes = append(notes, "putting back "+saved.Shown()+": "+err.Error())
		}
	}
	qs, err = k.Qdiscs(t.Iface)
	if err != nil {
		return []protocol.KernelObject{{Type: protocol.ObjQdisc, Name: handle(major), Detail: err.Error()}}, "cannot read the qdiscs of " + t.Iface + " back: " + err.Error()
	}
	remaining = treeLeft(qs, t)
	words := fmt.Sprintf("took down %s on %s", handle(major), t.Iface)
	if !touched {
		words = fmt.Sprintf("%s is not on %s", handle(major), t.Iface)
	}
	if saved != nil {
		w, left := savedBack(qs, t.Iface, saved, touched)
		words += w
		remaining = append(remaining, left...)
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

// treeLeft is what of the tree's majors the interface still holds.
func treeLeft(qs []kernel.Qdisc, t Tree) []protocol.KernelObject {
	in := map[uint16]bool{}
	for _, m := range t.Majors {
		in[m] = true
	}
	var out []protocol.KernelObject
	for _, q := range qs {
		if in[q.Major()] {
			out = append(out, protocol.KernelObject{Type: protocol.ObjQdisc, Name: kernel.HandleString(q.Handle), Detail: q.Kind + " on " + t.Iface})
		}
	}
	return out
}

// savedBack says whether the saved root is the interface's root again, exactly.
func savedBack(qs []kernel.Qdisc, iface string, saved *Foreign, touched bool) (string, []protocol.KernelObject) {
	rs := RootOf(qs)
	switch {
	case rs.Root != nil && saved.Same(*rs.Root) && touched:
		return fmt.Sprintf(", put back its root %s exactly", saved.Shown()), nil
	case rs.Root != nil && saved.Same(*rs.Root):
		return fmt.Sprintf(", its root %s is as it was", saved.Shown()), nil
	}
	got := "nothing"
	if rs.Root != nil {
		got = ForeignOf(*rs.Root).Shown()
	}
	return "", []protocol.KernelObject{{Type: protocol.ObjSavedRoot, Name: kernel.HandleString(saved.Handle),
		Detail: fmt.Sprintf("%s's root should be %s, it is %s", iface, saved.Shown(), got)}}
}
