package fault

import (
	"fmt"
	"strings"
	"time"

	"chaos-run/agent/protocol"
	"chaos-run/agent/stress"
)

// Stress is the stress fault kind: CPU workers and a memory stressor in the agent.
type Stress struct {
	Spawn  stress.Spawner
	Cgroup stress.Cgroup
	// Deadline is when the agent's TTL ends: a memory stressor ends by itself then.
	Deadline func() time.Time
}

// Local implements Local.
func (Stress) Local() {}

type stressHeld struct {
	s    *stress.Stress
	spec protocol.FaultSpec
}

func (h *stressHeld) Kind() string                     { return protocol.KindStress }
func (h *stressHeld) Interface() string                { return "" }
func (h *stressHeld) Families() []int                  { return nil }
func (h *stressHeld) Objects() []protocol.KernelObject { return h.s.Objects() }

func (h *stressHeld) Detail() string { return stressWords(h.spec, h.s.Reading()) }

func (h *stressHeld) State(st *protocol.FaultState) {
	r := h.s.Reading()
	st.Stress = &r
}

func (h *stressHeld) Reading() *protocol.StressReading {
	r := h.s.Reading()
	return &r
}

// Check: the stressors still run (the OOM killer may have taken the memory stressor).
func (h *stressHeld) Check(*Env) (string, error) {
	if ended := h.s.MemoryEnded(); ended != "" {
		return "", fmt.Errorf("the memory stressor ended: %s", ended)
	}
	return h.Detail(), nil
}

func (h *stressHeld) Revert(*Env) ([]protocol.KernelObject, string) {
	left := h.s.Stop()
	r := h.s.Reading()
	if len(left) > 0 {
		return left, fmt.Sprintf("%d stressors still run", len(left))
	}
	return nil, "every stressor stopped: " + stressWords(h.spec, r)
}

func stressWords(spec protocol.FaultSpec, r protocol.StressReading) string {
	var parts []string
	if c := r.CPU; c != nil {
		w := fmt.Sprintf("%d CPU worker%s at %g%% (achieved %.1f%% over %.1fs)", c.Workers, plural(c.Workers), c.Load, c.AchievedLoad, r.ElapsedMs/1000)
		if c.ThrottledMs != nil && r.ElapsedMs > 0 {
			w += fmt.Sprintf(", throttled %.0f%% of the time by the pod's CPU limit", 100**c.ThrottledMs/r.ElapsedMs)
		}
		parts = append(parts, w)
	}
	if m := r.Memory; m != nil {
		w := fmt.Sprintf("memory %s of %s allocated (pid %d)", bytesWords(m.AllocatedBytes), bytesWords(m.Bytes), m.PID)
		if m.Ended != "" {
			w += "; the stressor ended: " + m.Ended
		}
		parts = append(parts, w)
	}
	return "stress: " + strings.Join(parts, "; ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func bytesWords(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGi", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMi", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKi", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Apply implements Kind.
func (k Stress) Apply(env *Env, f protocol.FaultRequest) Outcome {
	spec := f.Spec
	if spec.CPU == nil && spec.Memory == nil {
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrBadRequest, Message: "a stress fault needs cpu or memory"}}
	}
	deadline := time.Now().Add(24 * time.Hour)
	if k.Deadline != nil {
		deadline = k.Deadline()
	}
	s, err := stress.Start(stress.Config{CPU: spec.CPU, Memory: spec.Memory, Spawn: k.Spawn, Cgroup: k.Cgroup, Deadline: deadline})
	if err != nil {
		return Outcome{Err: &protocol.ReplyError{Code: protocol.ErrApplyFailed, Message: err.Error() + "; nothing was started"}}
	}
	return Outcome{Held: &stressHeld{s: s, spec: spec}}
}
