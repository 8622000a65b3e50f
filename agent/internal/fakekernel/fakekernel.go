// Package fakekernel is a test double of a pod's network namespace: a kernel.Kernel (what the
// agent reads and changes over netlink: qdiscs, u32 filters, nftables tables) and an
// exec.Executor that understands the iptables and ss commands the agent still runs, over one
// state, so unit tests see their changes take effect (or fail) without root or a kernel. Every
// change is recorded in one list (Calls): a program's argv, or a netlink change's equivalent tc
// or nft command line; Fail can make any of them fail.
package fakekernel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
)

type qdisc struct {
	q kernel.Qdisc
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
	u32      []kernel.FilterChange
	// Known are the qdisc kinds this kernel has (nil: all). The host here has no netem or prio.
	Known map[string]bool
	// RefuseNest makes adding a qdisc of kind under a parent of parentKind fail.
	RefuseNest func(parentKind, kind string) bool
	// Works says which iptables backends work (both by default).
	Works  map[firewall.Backend]bool
	tables map[nsKey]map[string]*table
	// Fail, when it answers ok, makes a command (or a netlink change, by its command line) fail
	// instead of running.
	Fail  func(argv []string, stdin string) (exec.Result, bool)
	calls []exec.Call
	// Nftables: nf_tables answers (off by default: the fake's partitions go through its
	// iptables). Now is its clock for set elements' timeouts (default time.Now).
	Nftables bool
	// NoInet: nf_tables answers, but without the inet family (Debian's UML kernel): making a
	// table fails with EAFNOSUPPORT.
	NoInet bool
	Now    func() time.Time
	nft    map[kernel.NftRef]*nftTable
	conns  []kernel.Conn
	// NoSockDestroy: DestroyConnections destroys nothing (a kernel without
	// CONFIG_INET_DIAG_DESTROY refuses SOCK_DESTROY).
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

// record notes a command or change and asks Fail about it: a failure result, or nil.
func (k *Kernel) record(argv []string, stdin string) *exec.Result {
	k.mu.Lock()
	k.calls = append(k.calls, exec.Call{Argv: slices.Clone(argv), Stdin: stdin})
	fail := k.Fail
	k.mu.Unlock()
	if fail != nil {
		if r, ok := fail(argv, stdin); ok {
			return &r
		}
	}
	return nil
}

// failure is a netlink change's error made from a Fail result.
func failure(r *exec.Result) error {
	if r.Err != nil {
		return r.Err
	}
	return errors.New(strings.TrimSpace(r.Stderr + " (exit status " + strconv.Itoa(r.ExitCode) + ")"))
}

// Run implements exec.Executor. There is no tc here: the agent changes qdiscs over netlink.
func (k *Kernel) Run(_ context.Context, argv []string, stdin string) exec.Result {
	if r := k.record(argv, stdin); r != nil {
		return *r
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case strings.Contains(argv[0], "tables-"):
		return k.iptables(argv, stdin)
	}
	return errf(127, "%s: not found", argv[0])
}

func errf(code int, format string, a ...any) exec.Result {
	return exec.Result{ExitCode: code, Stderr: fmt.Sprintf(format, a...) + "\n"}
}

// Links implements kernel.StateReader.
func (k *Kernel) Links() ([]kernel.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.links), nil
}

// Qdiscs implements kernel.StateReader.
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

// Filters implements kernel.StateReader.
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

// Families implements kernel.StateReader.
func (k *Kernel) Families(iface string) ([]int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.hasLink(iface) {
		return nil, fmt.Errorf("%s: %w", iface, kernel.ErrNoInterface)
	}
	return slices.Clone(k.families[iface]), nil
}

// DefaultInterface implements kernel.StateReader.
func (k *Kernel) DefaultInterface() (string, error) {
	if k.Default == "" {
		return "", fmt.Errorf("no default route in this network namespace")
	}
	return k.Default, nil
}

// AddConnection adds an established TCP connection (as the namespace's side sees it).
func (k *Kernel) AddConnection(c kernel.Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns = append(k.conns, c)
}

// Connections implements kernel.StateReader.
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

// DestroyConnections implements kernel.Writer: the connections named go (unless NoSockDestroy:
// EOPNOTSUPP, as a kernel without CONFIG_INET_DIAG_DESTROY answers).
func (k *Kernel) DestroyConnections(conns []kernel.Conn) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.NoSockDestroy {
		return 0, errors.New("operation not supported")
	}
	n := 0
	k.conns = slices.DeleteFunc(k.conns, func(c kernel.Conn) bool {
		if slices.Contains(conns, c) {
			n++
			return true
		}
		return false
	})
	return n, nil
}
