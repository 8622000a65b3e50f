// Package fakekernel is a test double of a pod's network namespace: an exec.Executor that
// understands the tc and iptables commands the agent runs, and a kernel.Reader over the same
// state, so unit tests see their commands take effect (or fail) without root or a kernel.
package fakekernel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
)

type qdisc struct {
	q    kernel.Qdisc
	opts []string
}

type rule struct {
	chain string
	spec  []string
}

type table struct {
	chains []string // user chains, in order
	rules  []rule
}

func (t *table) clone() *table {
	c := &table{chains: slices.Clone(t.chains)}
	for _, r := range t.rules {
		c.rules = append(c.rules, rule{chain: r.chain, spec: slices.Clone(r.spec)})
	}
	return c
}

type nsKey struct {
	backend firewall.Backend
	family  int
}

// Kernel is the fake namespace.
type Kernel struct {
	mu       sync.Mutex
	links    []kernel.Link
	families map[string][]int
	Default  string
	qdiscs   []qdisc
	filters  []kernel.Filter
	// Known are the qdisc kinds this kernel has (nil: all). The host here has no netem or prio.
	Known map[string]bool
	// RefuseNest makes adding a qdisc of kind under a parent of parentKind fail.
	RefuseNest func(parentKind, kind string) bool
	// Works says which iptables backends work (both by default).
	Works  map[firewall.Backend]bool
	tables map[nsKey]map[string]*table
	// Fail, when it answers ok, makes a command fail instead of running.
	Fail  func(argv []string, stdin string) (exec.Result, bool)
	calls []exec.Call
	conns []kernel.Conn
	// NoSockDestroy: `ss -K` destroys nothing (a kernel without CONFIG_INET_DIAG_DESTROY: it
	// still exits 0, listing nothing).
	NoSockDestroy bool
}

// New makes a namespace with one interface, eth0 (index 2, IPv4 only), the default route's,
// with the kernel's default root qdisc (noqueue 0:), and both iptables backends working.
func New() *Kernel {
	k := &Kernel{families: map[string][]int{}, Works: map[firewall.Backend]bool{firewall.NFT: true, firewall.Legacy: true}, tables: map[nsKey]map[string]*table{}}
	k.AddLink("lo", []int{4, 6})
	k.AddLink("eth0", []int{4})
	k.Default = "eth0"
	return k
}

// AddLink adds an interface with addresses of these families.
func (k *Kernel) AddLink(name string, families []int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.links = append(k.links, kernel.Link{Name: name, Index: len(k.links) + 1})
	k.families[name] = families
	k.qdiscs = append(k.qdiscs, qdisc{q: kernel.Qdisc{Iface: name, Kind: "noqueue", Handle: 0, Parent: kernel.HandleRoot}})
}

// Calls is every command run, in order.
func (k *Kernel) Calls() []exec.Call {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.calls)
}

// Argvs is the argv of every command run.
func (k *Kernel) Argvs() [][]string {
	var out [][]string
	for _, c := range k.Calls() {
		out = append(out, c.Argv)
	}
	return out
}

// ResetCalls forgets the commands run so far.
func (k *Kernel) ResetCalls() {
	k.mu.Lock()
	k.calls = nil
	k.mu.Unlock()
}

// Run implements exec.Executor.
func (k *Kernel) Run(_ context.Context, argv []string, stdin string) exec.Result {
	k.mu.Lock()
	k.calls = append(k.calls, exec.Call{Argv: slices.Clone(argv), Stdin: stdin})
	fail := k.Fail
	k.mu.Unlock()
	if fail != nil {
		if r, ok := fail(argv, stdin); ok {
			return r
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case len(argv) >= 2 && argv[0] == "tc" && argv[1] == "qdisc":
		return k.tcQdisc(argv[2:])
	case len(argv) >= 2 && argv[0] == "tc" && argv[1] == "filter":
		return k.tcFilter(argv[2:])
	case strings.Contains(argv[0], "tables-"):
		return k.iptables(argv, stdin)
	case argv[0] == "ss":
		return k.ss(argv[1:])
	}
	return errf(127, "%s: not found", argv[0])
}

func errf(code int, format string, a ...any) exec.Result {
	return exec.Result{ExitCode: code, Stderr: fmt.Sprintf(format, a...) + "\n"}
}

func parseHandle(s string) (uint32, bool) {
	if s == "root" {
		return kernel.HandleRoot, true
	}
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, false
	}
	mj, err := strconv.ParseUint(maj, 16, 16)
	if err != nil {
		return 0, false
	}
	var mn uint64
	if min != "" {
		if mn, err = strconv.ParseUint(min, 16, 16); err != nil {
			return 0, false
		}
	}
	return uint32(mj)<<16 | uint32(mn), true
}

// SetRoot puts a root qdisc on iface, as a user would (for tests of foreign roots).
func (k *Kernel) SetRoot(iface, kind string, handle uint32, opts ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.clearEgress(iface)
	k.qdiscs = append(k.qdiscs, qdisc{q: k.typed(kernel.Qdisc{Iface: iface, Kind: kind, Handle: handle, Parent: kernel.HandleRoot}, opts), opts: opts})
}

// AddQdisc adds a qdisc under parent (for tests of trees the agent refuses).
func (k *Kernel) AddQdisc(iface, kind string, handle, parent uint32, opts ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.qdiscs = append(k.qdiscs, qdisc{q: k.typed(kernel.Qdisc{Iface: iface, Kind: kind, Handle: handle, Parent: parent}, opts), opts: opts})
}

// AddFilter adds a filter (for tests of roots with filters).
func (k *Kernel) AddFilter(f kernel.Filter) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.filters = append(k.filters, f)
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

func (k *Kernel) typed(q kernel.Qdisc, opts []string) kernel.Qdisc {
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

// tcQdisc: show | add | replace | del, with dev IF, root or parent P, handle H, KIND OPTS.
func (k *Kernel) tcQdisc(args []string) exec.Result {
	if len(args) < 3 || args[1] != "dev" {
		return errf(1, "Command line is not complete.")
	}
	verb, iface := args[0], args[2]
	if !k.hasLink(iface) {
		return errf(1, "Cannot find device %q", iface)
	}
	if verb == "show" {
		return exec.Result{Stdout: k.show(iface)}
	}
	var parent, handle uint32
	hasHandle := false
	i := 3
	for i < len(args) {
		switch args[i] {
		case "root":
			parent = kernel.HandleRoot
			i++
			continue
		case "parent":
			p, ok := parseHandle(args[i+1])
			if !ok {
				return errf(1, "Invalid parent %q", args[i+1])
			}
			parent = p
			i += 2
			continue
		case "handle":
			h, ok := parseHandle(args[i+1])
			if !ok {
				return errf(1, "Invalid handle %q", args[i+1])
			}
			handle, hasHandle = h, true
			i += 2
			continue
		}
		break
	}
	kind, opts := "", []string(nil)
	if i < len(args) {
		kind, opts = args[i], slices.Clone(args[i+1:])
	}
	switch verb {
	case "del":
		if parent == kernel.HandleRoot {
			root := k.root(iface)
			if root == nil || root.q.IsDefault() {
				return errf(2, "Error: Cannot delete qdisc with handle of zero.")
			}
			if hasHandle && root.q.Handle != handle {
				return errf(2, "Error: Specified qdisc handle does not match the root's.")
			}
			k.clearEgress(iface)
			k.qdiscs = append(k.qdiscs, qdisc{q: kernel.Qdisc{Iface: iface, Kind: "noqueue", Parent: kernel.HandleRoot}})
			return exec.Result{}
		}
		return k.delUnder(iface, parent, handle)
	case "add", "replace":
		if kind == "" {
			return errf(1, "Command line is not complete.")
		}
		if k.Known != nil && !k.Known[kind] {
			return errf(2, "Error: Specified qdisc kind is unknown.")
		}
		nq := qdisc{q: k.typed(kernel.Qdisc{Iface: iface, Kind: kind, Handle: handle, Parent: parent}, opts), opts: opts}
		for _, q := range k.qdiscs {
			if q.q.Iface == iface && hasHandle && q.q.Handle == handle && !q.q.IsDefault() && !(verb == "replace" && parent == kernel.HandleRoot && q.q.IsRoot()) {
				return errf(2, "Error: Exclusivity flag on, cannot modify.")
			}
		}
		if parent == kernel.HandleRoot {
			root := k.root(iface)
			if verb == "add" && root != nil && !root.q.IsDefault() {
				return errf(2, "Error: Exclusivity flag on, cannot modify.")
			}
			k.clearEgress(iface)
			k.qdiscs = append(k.qdiscs, nq)
			return exec.Result{}
		}
		var p *qdisc
		for j := range k.qdiscs {
			if k.qdiscs[j].q.Iface == iface && k.qdiscs[j].q.Major() == uint16(parent>>16) && !k.qdiscs[j].q.IsIngress() {
				p = &k.qdiscs[j]
			}
		}
		if p == nil {
			return errf(2, "Error: Failed to find qdisc with specified classid.")
		}
		if k.RefuseNest != nil && k.RefuseNest(p.q.Kind, kind) {
			return errf(2, "Error: %s cannot be a child of %s.", kind, p.q.Kind)
		}
		k.qdiscs = append(k.qdiscs, nq)
		return exec.Result{}
	}
	return errf(1, "Command %q is unknown", verb)
}

func (k *Kernel) root(iface string) *qdisc {
	for j := range k.qdiscs {
		if k.qdiscs[j].q.Iface == iface && k.qdiscs[j].q.IsRoot() {
			return &k.qdiscs[j]
		}
	}
	return nil
}

func (k *Kernel) delUnder(iface string, parent, handle uint32) exec.Result {
	gone := map[uint16]bool{}
	for _, q := range k.qdiscs {
		if q.q.Iface == iface && q.q.Parent == parent && (handle == 0 || q.q.Handle == handle) {
			gone[q.q.Major()] = true
		}
	}
	if len(gone) == 0 {
		return errf(2, "Error: Cannot find specified qdisc on specified device.")
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
	return exec.Result{}
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
		if len(q.opts) > 0 {
			line += " " + strings.Join(q.opts, " ")
		}
		b.WriteString(line + " \n")
	}
	return b.String()
}

func (k *Kernel) tcFilter(args []string) exec.Result {
	if len(args) < 3 || args[0] != "add" || args[1] != "dev" {
		return errf(1, "only tc filter add dev ... is faked")
	}
	f := kernel.Filter{Iface: args[2], Kind: "u32"}
	if !k.hasLink(f.Iface) {
		return errf(1, "Cannot find device %q", f.Iface)
	}
	for i := 3; i+1 < len(args); i++ {
		switch args[i] {
		case "parent":
			f.Parent, _ = parseHandle(args[i+1])
		case "protocol":
			if args[i+1] == "ip" {
				f.Protocol = 0x0800
			} else {
				f.Protocol = 0x86DD
			}
		case "prio":
			p, _ := strconv.Atoi(args[i+1])
			f.Priority = uint16(p)
		case "flowid":
			f.ClassID, _ = parseHandle(args[i+1])
		}
	}
	found := false
	for _, q := range k.qdiscs {
		if q.q.Iface == f.Iface && q.q.Handle == f.Parent {
			found = true
		}
	}
	if !found {
		return errf(2, "Error: Parent Qdisc doesn't exists.")
	}
	k.filters = append(k.filters, f)
	return exec.Result{}
}

// Links implements kernel.Reader.
func (k *Kernel) Links() ([]kernel.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.links), nil
}

// Qdiscs implements kernel.Reader.
func (k *Kernel) Qdiscs(iface string) ([]kernel.Qdisc, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if iface != "" && !k.hasLink(iface) {
		return nil, fmt.Errorf("%s: %w", iface, kernel.ErrNoInterface)
	}
	var out []kernel.Qdisc
	for _, q := range k.qdiscs {
		if iface == "" || q.q.Iface == iface {
			out = append(out, q.q)
		}
	}
	return out, nil
}

// Filters implements kernel.Reader.
func (k *Kernel) Filters(iface string, parent uint32) ([]kernel.Filter, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []kernel.Filter
	for _, f := range k.filters {
		if f.Iface == iface && f.Parent == parent {
			out = append(out, f)
		}
	}
	return out, nil
}

// Families implements kernel.Reader.
func (k *Kernel) Families(iface string) ([]int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.hasLink(iface) {
		return nil, fmt.Errorf("%s: %w", iface, kernel.ErrNoInterface)
	}
	return slices.Clone(k.families[iface]), nil
}

// DefaultInterface implements kernel.Reader.
func (k *Kernel) DefaultInterface() (string, error) {
	if k.Default == "" {
		return "", fmt.Errorf("no default route in this network namespace")
	}
	return k.Default, nil
}

// QdiscLines is `tc qdisc show dev IF` as the fake prints it.
func (k *Kernel) QdiscLines(iface string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.show(iface)
}

// AddConnection adds an established TCP connection (as the namespace's side sees it).
func (k *Kernel) AddConnection(c kernel.Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns = append(k.conns, c)
}

// Connections implements kernel.Reader.
func (k *Kernel) Connections(port int) ([]kernel.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []kernel.Conn
	for _, c := range k.conns {
		if int(c.Local.Port()) == port {
			out = append(out, c)
		}
	}
	return out, nil
}

// ss fakes `ss -K -t -n -H state established sport = :P and ( dst A or dst B ... )`, the one
// shape the agent runs: it destroys the connections named (unless NoSockDestroy) and prints
// them.
func (k *Kernel) ss(args []string) exec.Result {
	if len(args) < 10 || args[0] != "-K" || args[5] != "established" || args[6] != "sport" || args[7] != "=" {
		return errf(1, "ss: only ss -K -t -n -H state established sport = :P and ( dst ... ) is faked, not %q", args)
	}
	port, err := strconv.Atoi(strings.TrimPrefix(args[8], ":"))
	if err != nil {
		return errf(1, "ss: bad port %q", args[8])
	}
	named := map[string]bool{}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "dst" {
			named[args[i+1]] = true
		}
	}
	var out strings.Builder
	var keep []kernel.Conn
	for _, c := range k.conns {
		remote := c.Remote.String()
		if int(c.Local.Port()) == port && named[remote] && !k.NoSockDestroy {
			fmt.Fprintf(&out, "0 0 %s %s\n", c.Local, c.Remote)
			continue
		}
		keep = append(keep, c)
	}
	k.conns = keep
	return exec.Result{Stdout: out.String()}
}
