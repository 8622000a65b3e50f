package service

import (
	"context"
	"sync"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/protocol"
)

// firewallUse is what the agent says of the firewall its firewall faults use: the iptables
// backend, detected once — when a fault first falls back to iptables, never where nftables made
// its table (detection forks) — and what the last firewall fault it made used.
type firewallUse struct {
	mu       sync.Mutex
	backend  firewall.Backend
	err      error
	detected bool
	// using is AgentInfo.Firewall ("" before a firewall fault was made)
	using string
}

// detect finds the iptables backend that works here, once (a failure is tried again next time).
func (u *firewallUse) detect(ctx context.Context, ex exec.Executor, cfg *Config) (firewall.Backend, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.detected {
		u.backend, u.err = firewall.Detect(ctx, ex, cfg.ReadFile, cfg.ProbeChain)
		if u.err == nil {
			u.detected = true
			cfg.Logf("iptables backend: %s", u.backend)
		}
	}
	return u.backend, u.err
}

// made notes what a firewall fault just made uses (fault.Firewalled).
func (u *firewallUse) made(using string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.using = using
}

// describe fills in what AgentInfo says of the firewall.
func (u *firewallUse) describe(info *protocol.AgentInfo) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.detected:
		info.IptablesBackend = string(u.backend)
	case u.err != nil:
		info.IptablesBackend = "none"
	}
	info.Firewall = u.using
}
