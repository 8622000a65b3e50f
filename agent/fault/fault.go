// Package fault is the small interface every fault kind implements (netem, partition, http,
// stress, kill), and the environment a kind works in.
package fault

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/kernel"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
)

// Env is what a fault kind works with while serving one request.
type Env struct {
	Ctx    context.Context
	Exec   exec.Executor // the request's (it records what ran)
	Kernel kernel.Reader
	Agent  string
	RunID  string
	// Claims: what this agent's other faults and the live peers hold, and which peers did not
	// answer.
	Claims *ownership.Claims
	// Backend is the iptables backend that works here (detected once per agent, when a firewall
	// fault first falls back to iptables).
	Backend func() (firewall.Backend, error)
	// ReadFile reads a file of /proc (nil: os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// Logf writes one line to the agent's log (may be nil).
	Logf func(format string, a ...any)
}

func (e *Env) logf(format string, a ...any) {
	if e.Logf != nil {
		e.Logf(format, a...)
	}
}

func (e *Env) readFile(path string) ([]byte, error) {
	if e.ReadFile != nil {
		return e.ReadFile(path)
	}
	return os.ReadFile(path)
}

// Kind applies one kind of fault.
type Kind interface {
	// Apply makes the fault. On failure it rolls back what it did; if the rollback could not be
	// confirmed, Outcome.Held is what remains (the agent keeps retrying its revert).
	Apply(env *Env, f protocol.FaultRequest) Outcome
}

// Outcome is how an apply went.
type Outcome struct {
	Held Held
	Err  *protocol.ReplyError
	// Rollback: how undoing a failed apply went (nil when nothing had to be undone).
	Rollback *protocol.RevertOutcome
	// Then, for an event (kill), is the deed itself: run once the reply has reached the runner,
	// since the deed may end this agent.
	Then func() error
}

// failed is an apply refused or failed before anything was made.
func failed(code, format string, a ...any) Outcome {
	return Outcome{Err: &protocol.ReplyError{Code: code, Message: fmt.Sprintf(format, a...)}}
}

// Local marks kinds that touch nothing in the network namespace (stress, kill): applying them
// needs neither the namespace's lock nor an orphan scan.
type Local interface{ Local() }

// DryRunner is a kind that can say what it would do, changing nothing (apply with dryRun).
type DryRunner interface {
	DryRun(env *Env, f protocol.FaultRequest) Outcome
}

// Event marks a held value that is an event (kill): nothing is held, nothing reverted.
type Event interface{ Event() }

// Stated is a held value with more to say in its FaultState than the common fields.
type Stated interface {
	State(st *protocol.FaultState)
}

// Reading is a held value that measures (stress): its last reading goes into the revert's outcome.
type Reading interface {
	Reading() *protocol.StressReading
}

// Counting is a held value that counts what it did (http: its proxy): the counts go into the
// revert's outcome.
type Counting interface {
	Counts() *protocol.HTTPReading
}

// Firewalled is a held firewall fault (partition, http): it says what holds its rules —
// protocol.FirewallNftables, or the iptables fallback's backend (AgentInfo.Firewall).
type Firewalled interface {
	Firewall() string
}

// Held is a fault in the kernel.
type Held interface {
	Kind() string
	Interface() string
	Families() []int
	// Objects are what the fault made, as the reply names them (also what peers read as claims).
	Objects() []protocol.KernelObject
	// Detail is the last read-back, in words.
	Detail() string
	// Check reads the kernel back: is the fault still in effect?
	Check(env *Env) (string, error)
	// Revert undoes the fault, keeping going past failures, and reads the kernel back:
	// remaining is what is still there (nothing: confirmed).
	Revert(env *Env) (remaining []protocol.KernelObject, detail string)
}

// Interface resolves the fault's interface: the one named, which must exist in this network
// namespace, or the default route's.
func (e *Env) Interface(name string) (string, *protocol.ReplyError) {
	if name == "" {
		iface, err := e.Kernel.DefaultInterface()
		if err != nil {
			return "", &protocol.ReplyError{Code: protocol.ErrNoInterface, Message: err.Error() + "; name the interface in the fault"}
		}
		return iface, nil
	}
	links, err := e.Kernel.Links()
	if err != nil {
		return "", &protocol.ReplyError{Code: protocol.ErrInternal, Message: err.Error()}
	}
	for _, l := range links {
		if l.Name == name {
			return name, nil
		}
	}
	return "", &protocol.ReplyError{Code: protocol.ErrNoInterface, Message: fmt.Sprintf("no interface %q in this pod's network namespace", name)}
}

// Families are the address families a fault covers: those the interface has an address of,
// narrowed by the scope's CIDR.
func (e *Env) Families(iface string, scope *protocol.Scope) ([]int, *protocol.ReplyError) {
	have, err := e.Kernel.Families(iface)
	if err != nil {
		if errors.Is(err, kernel.ErrNoInterface) {
			return nil, &protocol.ReplyError{Code: protocol.ErrNoInterface, Message: err.Error()}
		}
		return nil, &protocol.ReplyError{Code: protocol.ErrInternal, Message: err.Error()}
	}
	if scope == nil || scope.CIDR == "" {
		return have, nil
	}
	want, err := CIDRFamily(scope.CIDR)
	if err != nil {
		return nil, &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: err.Error()}
	}
	for _, f := range have {
		if f == want {
			return []int{f}, nil
		}
	}
	return nil, &protocol.ReplyError{Code: protocol.ErrApplyFailed,
		Message: fmt.Sprintf("the scope's CIDR %s is IPv%d, and %s has no IPv%d address", scope.CIDR, want, iface, want)}
}

// CIDRFamily is 4 or 6 for an address or prefix.
func CIDRFamily(cidr string) (int, error) {
	var addr netip.Addr
	if p, err := netip.ParsePrefix(cidr); err == nil {
		addr = p.Addr()
	} else if a, err := netip.ParseAddr(cidr); err == nil {
		addr = a
	} else {
		return 0, fmt.Errorf("scope.cidr %q is not an address or a prefix", cidr)
	}
	if addr.Is4() || addr.Is4In6() {
		return 4, nil
	}
	return 6, nil
}

// OwnerWords names an owner for a message: "fault F of run R (agent A)".
func OwnerWords(o protocol.Owner, self string) string {
	if o.Agent == self {
		return fmt.Sprintf("fault %s of run %s (this agent)", o.FaultID, o.RunID)
	}
	return fmt.Sprintf("fault %s of run %s (agent %s), which is still live", o.FaultID, o.RunID, o.Agent)
}
