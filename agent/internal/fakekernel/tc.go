package fakekernel

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"chaos-run/agent/kernel"
)

// SetRoot puts a root qdisc on iface, as a user would (for tests of foreign roots): opts are its
// options in tc's words, which the fake keeps as they are (they are its dump).
func (k *Kernel) SetRoot(iface, kind string, handle uint32, opts ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.clearEgress(iface)
	k.qdiscs = append(k.qdiscs, qdisc{q: worded(kernel.Qdisc{Iface: iface, Kind: kind, Handle: handle, Parent: kernel.HandleRoot}, opts)})
}

// AddQdisc adds a qdisc under parent (for tests of trees the agent refuses).
func (k *Kernel) AddQdisc(iface, kind string, handle, parent uint32, opts ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.qdiscs = append(k.qdiscs, qdisc{q: worded(kernel.Qdisc{Iface: iface, Kind: kind, Handle: handle, Parent: parent}, opts)})
}

// AddFilter adds a filter (for tests of roots with filters).
func (k *Kernel) AddFilter(f kernel.Filter) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.filters = append(k.filters, f)
}

// QdiscLines is `tc qdisc show dev IF` as the fake prints it.
func (k *Kernel) QdiscLines(iface string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.show(iface)
}

func (k *Kernel) clearEgress(iface string) {
	var keep []qdisc
	for _, q := range k.qdiscs {
		if q.q.Iface != iface || q.q.IsIngress() {
			keep = append(keep, q)
		}
	}
	k.qdiscs = keep
	var kf []kernel.Filter
	for _, f := range k.filters {
		if f.Iface != iface {
			kf = append(kf, f)
		}
	}
	k.filters = kf
}

func (k *Kernel) hasLink(iface string) bool {
	for _, l := range k.links {
		if l.Name == iface {
			return true
		}
	}
	return false
}

// worded is a qdisc a test configured in tc's words: its options are those words (the fake's
// dump), and netem's and prio's parameters are read from them.
func worded(q kernel.Qdisc, opts []string) kernel.Qdisc {
	q.Words = slices.Clone(opts)
	q.Options = []byte(strings.Join(opts, " "))
	switch q.Kind {
	case "netem":
		n := &kernel.NetemOptions{}
		for i := 0; i+1 < len(opts); i++ {
			switch opts[i] {
			case "delay":
				n.LatencyUs = tcTimeUs(opts[i+1])
			case "loss":
				v, _ := strconv.ParseFloat(strings.TrimSuffix(opts[i+1], "%"), 64)
				n.LossPct = v
			}
		}
		q.Netem = n
	case "prio":
		p := &kernel.PrioOptions{Bands: 3}
		for i := 0; i+1 < len(opts); i++ {
			if opts[i] == "bands" {
				p.Bands, _ = strconv.Atoi(opts[i+1])
			}
		}
		q.Prio = p
	}
	return q
}

func tcTimeUs(s string) float64 {
	for _, u := range []struct {
		suffix string
		us     float64
	}{{"us", 1}, {"ms", 1000}, {"s", 1e6}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.us
		}
	}
	return 0
}

// the kernel's refusals, in its words
var (
	errExclusive = errors.New("RTNETLINK answers: file exists: Error: Exclusivity flag on, cannot modify.")
	errNoParent  = errors.New("RTNETLINK answers: no such file or directory: Error: Failed to find qdisc with specified classid.")
	errNoQdisc   = errors.New("RTNETLINK answers: invalid argument: Error: Cannot find specified qdisc on specified device.")
	errZero      = errors.New("RTNETLINK answers: invalid argument: Error: Cannot delete qdisc with handle of zero.")
	errNotRoot   = errors.New("RTNETLINK answers: no such file or directory: Error: Specified qdisc handle does not match the root's.")
	errUnknown   = errors.New("RTNETLINK answers: no such file or directory: Error: Specified qdisc kind is unknown.")
)

// change records a tc change, asks Fail about it, and takes the lock for it (unlock after):
// an error when it fails or its interface is not here.
func (k *Kernel) change(argv []string, iface string) (unlock func(), err error) {
	if r := k.record(argv, ""); r != nil {
		return nil, failure(r)
	}
	k.mu.Lock()
	if !k.hasLink(iface) {
		k.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", iface, kernel.ErrNoInterface)
	}
	return k.mu.Unlock, nil
}

// ChangeQdisc implements kernel.Writer.
func (k *Kernel) ChangeQdisc(c kernel.QdiscChange) error {
	unlock, err := k.change(c.Argv(), c.Iface)
	if err != nil {
		return err
	}
	defer unlock()
	if c.Op == kernel.QdiscDelete {
		return k.delete(c)
	}
	if k.Known != nil && !k.Known[c.Kind] {
		return errUnknown
	}
	nq := qdisc{q: kernel.Qdisc{Iface: c.Iface, Kind: c.Kind, Handle: c.Handle, Parent: c.Parent}}
	if string(c.Options) == strings.Join(c.Words, " ") {
		// a qdisc re-created from the dump of one a test set in words
		nq.q = worded(nq.q, c.Words)
	} else {
		// the agent's own netem or prio: decoded as the kernel would
		nq.q.Options = slices.Clone(c.Options)
		nq.q = kernel.Described(nq.q)
		nq.q.Words = slices.Clone(c.Words)
	}
	for _, q := range k.qdiscs {
		replacing := c.Op == kernel.QdiscReplace && c.Parent == kernel.HandleRoot && q.q.IsRoot()
		if q.q.Iface == c.Iface && c.Handle != 0 && q.q.Handle == c.Handle && !q.q.IsDefault() && !replacing {
			return errExclusive
		}
	}
	if c.Parent == kernel.HandleRoot {
		if root := k.root(c.Iface); c.Op == kernel.QdiscAdd && root != nil && !root.q.IsDefault() {
			return errExclusive
		}
		k.clearEgress(c.Iface)
		k.qdiscs = append(k.qdiscs, nq)
		return nil
	}
	var p *qdisc
	for j := range k.qdiscs {
		if k.qdiscs[j].q.Iface == c.Iface && k.qdiscs[j].q.Major() == uint16(c.Parent>>16) && !k.qdiscs[j].q.IsIngress() {
			p = &k.qdiscs[j]
		}
	}
	if p == nil {
		return errNoParent
	}
	if k.RefuseNest != nil && k.RefuseNest(p.q.Kind, c.Kind) {
		return fmt.Errorf("RTNETLINK answers: operation not supported: Error: %s cannot be a child of %s.", c.Kind, p.q.Kind)
	}
	k.qdiscs = append(k.qdiscs, nq)
	return nil
}

func (k *Kernel) delete(c kernel.QdiscChange) error {
	if c.Parent != kernel.HandleRoot {
		return k.delUnder(c.Iface, c.Parent, c.Handle)
	}
	root := k.root(c.Iface)
	if root == nil || root.q.IsDefault() {
		return errZero
	}
	if c.Handle != 0 && root.q.Handle != c.Handle {
		return errNotRoot
	}
	k.clearEgress(c.Iface)
	k.qdiscs = append(k.qdiscs, qdisc{q: kernel.Qdisc{Iface: c.Iface, Kind: "noqueue", Parent: kernel.HandleRoot}})
	return nil
}

func (k *Kernel) root(iface string) *qdisc {
	for j := range k.qdiscs {
		if k.qdiscs[j].q.Iface == iface && k.qdiscs[j].q.IsRoot() {
			return &k.qdiscs[j]
		}
	}
	return nil
}

func (k *Kernel) delUnder(iface string, parent, handle uint32) error {
	gone := map[uint16]bool{}
	for _, q := range k.qdiscs {
		if q.q.Iface == iface && q.q.Parent == parent && (handle == 0 || q.q.Handle == handle) {
			gone[q.q.Major()] = true
		}
	}
	if len(gone) == 0 {
		return errNoQdisc
	}
	for changed := true; changed; {
		changed = false
		for _, q := range k.qdiscs {
			if q.q.Iface == iface && !gone[q.q.Major()] && gone[uint16(q.q.Parent>>16)] && !q.q.IsRoot() {
				gone[q.q.Major()] = true
				changed = true
			}
		}
	}
	var keep []qdisc
	for _, q := range k.qdiscs {
		if q.q.Iface != iface || !gone[q.q.Major()] || q.q.IsRoot() {
			keep = append(keep, q)
		}
	}
	k.qdiscs = keep
	return nil
}

func (k *Kernel) show(iface string) string {
	var b strings.Builder
	for _, q := range k.qdiscs {
		if q.q.Iface != iface {
			continue
		}
		place := "parent " + kernel.HandleString(q.q.Parent)
		if q.q.IsRoot() {
			place = "root refcnt 2"
		}
		h := kernel.HandleString(q.q.Handle)
		if q.q.Handle == 0 {
			h = "0:"
		}
		line := fmt.Sprintf("qdisc %s %s %s", q.q.Kind, h, place)
		if len(q.q.Words) > 0 {
			line += " " + strings.Join(q.q.Words, " ")
		}
		b.WriteString(line + " \n")
	}
	return b.String()
}

// AddU32 implements kernel.Writer.
func (k *Kernel) AddU32(f kernel.FilterChange) error {
	unlock, err := k.change(f.Argv(), f.Iface)
	if err != nil {
		return err
	}
	defer unlock()
	found := false
	for _, q := range k.qdiscs {
		if q.q.Iface == f.Iface && q.q.Handle == f.Parent {
			found = true
		}
	}
	if !found {
		return errors.New("RTNETLINK answers: invalid argument: Error: Parent Qdisc doesn't exists.")
	}
	k.filters = append(k.filters, kernel.Filter{Iface: f.Iface, Kind: "u32", Parent: f.Parent, Protocol: f.Protocol, Priority: f.Priority, ClassID: f.ClassID})
	k.u32 = append(k.u32, f)
	return nil
}

// U32 are the u32 filters added over netlink, as they were asked for (selector keys and all).
func (k *Kernel) U32() []kernel.FilterChange {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.u32)
}
