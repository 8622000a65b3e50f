package netem

import (
	"fmt"
	"strings"

	"chaos-run/agent/kernel"
)

// Foreign is a root qdisc that something other than chaos-run set (handle other than 0:, major
// outside the agent's range), as `tc qdisc show` prints it.
type Foreign struct {
	Kind    string
	Handle  string   // `8001:`
	Options []string // what tc prints after the handle and its place, which tc parses back
	Shown   string   // Normalize(its line): the text a restore must give back exactly
}

// RootArgv re-adds it as the interface's root.
func (f *Foreign) RootArgv(iface string) []string {
	return append([]string{"tc", "qdisc", "add", "dev", iface, "root", "handle", f.Handle, f.Kind}, f.Options...)
}

// Normalize is a `tc qdisc show` line without what is bookkeeping or placement, not
// configuration: `refcnt N`, `root`, `parent X`. A root and the same qdisc nested elsewhere
// normalize to the same text.
func Normalize(line string) string {
	f := strings.Fields(line)
	out := make([]string, 0, len(f))
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "refcnt", "parent":
			i++
			continue
		case "root":
			continue
		}
		out = append(out, f[i])
	}
	return strings.Join(out, " ")
}

// ShowLines splits `tc qdisc show dev IF` output into one line per qdisc (continuation lines,
// which start with blanks, are joined to theirs).
func ShowLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(l, "qdisc ") || len(lines) == 0 {
			lines = append(lines, strings.TrimSpace(l))
			continue
		}
		lines[len(lines)-1] += " " + strings.TrimSpace(l)
	}
	return lines
}

// FindShown is the line of the qdisc with this handle (`8001:`) in `tc qdisc show` output.
func FindShown(out, handle string) (string, bool) {
	for _, l := range ShowLines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "qdisc" && f[2] == handle {
			return l, true
		}
	}
	return "", false
}

// ParseForeign reads a qdisc's line (root or nested) into what re-creates it.
func ParseForeign(line string) (*Foreign, error) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "qdisc" {
		return nil, fmt.Errorf("not a tc qdisc line: %q", line)
	}
	var opts []string
	for i := 3; i < len(f); i++ {
		switch f[i] {
		case "refcnt", "parent":
			i++
			continue
		case "root":
			continue
		}
		opts = append(opts, f[i])
	}
	return &Foreign{Kind: f[1], Handle: f[2], Options: opts, Shown: Normalize(line)}, nil
}

// Recreatable are the kinds whose `tc qdisc show` line tc parses back into the same qdisc (no
// classes a user adds, options printed in tc's input syntax). Others are refused rather than
// lost: pfifo_fast takes no options, htb/hfsc/drr/qfq/cbq/ets hold user classes, mq/multiq and
// red print options tc cannot parse back.
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
func CheckRestorable(iface string, s RootState, shown string) error {
	r := s.Root
	desc := fmt.Sprintf("%s %s", r.Kind, kernel.HandleString(r.Handle))
	switch {
	case s.Egress > 1:
		return fmt.Errorf("%s has a qdisc tree (root %s and %d more qdiscs); chaos-run refuses to replace what it cannot restore exactly", iface, desc, s.Egress-1)
	case s.Filters > 0:
		return fmt.Errorf("%s's root qdisc %s has %d tc filters; chaos-run refuses to replace what it cannot restore exactly", iface, desc, s.Filters)
	case !Recreatable[r.Kind]:
		return fmt.Errorf("%s's root qdisc is %s, which chaos-run cannot re-create exactly (it re-creates %s); remove it or choose another interface", iface, desc, strings.Join(recreatableList(), ", "))
	case shown == "":
		return fmt.Errorf("tc does not show %s's root qdisc %s", iface, desc)
	}
	return nil
}

func recreatableList() []string {
	order := []string{"tbf", "netem", "fq_codel", "fq", "sfq", "codel", "pfifo", "bfifo", "pfifo_head_drop", "prio"}
	return order
}
