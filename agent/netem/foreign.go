package netem

import (
	"bytes"
	"fmt"
	"strings"

	"chaos-run/agent/kernel"
)

// Foreign is a root qdisc that something other than chaos-run set (handle other than 0:, major
// outside the agent's range), as the kernel dumped it: its options are what re-creates it (a
// qdisc's dump holds its configuration in the form its change takes), and what the re-created
// one must read back as.
type Foreign struct {
	Kind    string
	Handle  uint32
	Options []byte
	Words   []string // its options in tc's words, where the agent can tell them
}

// ForeignOf keeps a qdisc as a foreign root.
func ForeignOf(q kernel.Qdisc) *Foreign {
	return &Foreign{Kind: q.Kind, Handle: q.Handle, Options: bytes.Clone(q.Options), Words: q.Words}
}

// Shown names it in words: `tbf 8001: rate 10000000bit burst 32768b limit 65536b`.
func (f *Foreign) Shown() string {
	s := f.Kind + " " + kernel.HandleString(f.Handle)
	if len(f.Words) > 0 {
		s += " " + strings.Join(f.Words, " ")
	}
	return s
}

// Change re-creates it under parent (kernel.HandleRoot: as the interface's root again).
func (f *Foreign) Change(iface string, parent uint32) kernel.QdiscChange {
	return kernel.QdiscChange{Op: kernel.QdiscAdd, Iface: iface, Parent: parent, Handle: f.Handle, Kind: f.Kind, Options: f.Options, Words: f.Words}
}

// Same: q is this qdisc, configured the same (its dump is the same).
func (f *Foreign) Same(q kernel.Qdisc) bool {
	return q.Kind == f.Kind && q.Handle == f.Handle && bytes.Equal(q.Options, f.Options)
}

// Recreatable are the kinds the agent re-creates from their dump (their options are all the
// configuration they have: no classes a user adds). Others are refused rather than lost:
// pfifo_fast takes no options, htb/hfsc/drr/qfq/cbq/ets hold user classes, mq/multiq live only
// at the root of a multiqueue device.
var Recreatable = map[string]bool{
	"tbf": true, "netem": true, "fq_codel": true, "fq": true, "sfq": true, "pfifo": true,
	"bfifo": true, "pfifo_head_drop": true, "codel": true, "prio": true,
}

// RootState is what a netem fault finds at an interface's root.
type RootState struct {
	Root    *kernel.Qdisc // nil: no root qdisc listed
	Egress  int           // egress qdiscs listed (ingress/clsact aside)
	Filters int           // filters attached to the root
}

// RootOf reads the root qdisc out of an interface's qdiscs.
func RootOf(qs []kernel.Qdisc) RootState {
	var s RootState
	for i := range qs {
		if qs[i].IsIngress() {
			continue
		}
		s.Egress++
		if qs[i].IsRoot() {
			s.Root = &qs[i]
		}
	}
	return s
}

// CheckRestorable says why a foreign root cannot be kept and restored exactly, or nil.
func CheckRestorable(iface string, s RootState) error {
	r := s.Root
	desc := fmt.Sprintf("%s %s", r.Kind, kernel.HandleString(r.Handle))
	switch {
	case s.Egress > 1:
		return fmt.Errorf("%s has a qdisc tree (root %s and %d more qdiscs); chaos-run refuses to replace what it cannot restore exactly", iface, desc, s.Egress-1)
	case s.Filters > 0:
		return fmt.Errorf("%s's root qdisc %s has %d tc filters; chaos-run refuses to replace what it cannot restore exactly", iface, desc, s.Filters)
	case !Recreatable[r.Kind]:
		return fmt.Errorf("%s's root qdisc is %s, which chaos-run cannot re-create exactly (it re-creates %s); remove it or choose another interface", iface, desc, strings.Join(recreatableList(), ", "))
	case r.Stab:
		return fmt.Errorf("%s's root qdisc %s has a size table (stab), which chaos-run cannot read back whole to restore it; chaos-run refuses to replace it", iface, desc)
	}
	return nil
}

func recreatableList() []string {
	return []string{"tbf", "netem", "fq_codel", "fq", "sfq", "codel", "pfifo", "bfifo", "pfifo_head_drop", "prio"}
}
