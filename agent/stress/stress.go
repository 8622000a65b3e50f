package stress

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"chaos-run/agent/protocol"
)

// Stress is one stress fault's stressors and what they measured.
type Stress struct {
	cpu     *CPU
	mem     Child
	memAsk  int64
	cg      Cgroup
	start   time.Time
	first   Sample
	mu      sync.Mutex
	last    *Sample // taken when stopped
	stopped bool
	killed  bool // the agent sent the SIGKILL that ended the memory stressor
	end     time.Time
}

// Config is what to start.
type Config struct {
	CPU    *protocol.StressCPU
	Memory *protocol.StressMemory
	Spawn  Spawner
	Cgroup Cgroup
	// Deadline: the memory stressor ends by itself then, whatever happens (the agent's TTL).
	Deadline time.Time
}

// Start starts every stressor asked for; on failure nothing is left running.
func Start(cfg Config) (*Stress, error) {
	s := &Stress{cg: cfg.Cgroup, start: time.Now()}
	if s.cg != nil {
		s.first = s.cg.Sample()
	}
	if cfg.Memory != nil {
		c, err := cfg.Spawn.Spawn(cfg.Memory.Bytes, cfg.Deadline)
		if err != nil {
			return nil, fmt.Errorf("starting the memory stressor: %v", err)
		}
		s.mem, s.memAsk = c, cfg.Memory.Bytes
	}
	if cfg.CPU != nil {
		s.cpu = StartCPU(cfg.CPU.Workers, cfg.CPU.Load)
	}
	return s, nil
}

// Objects are the stressors: the workers' threads and the memory stressor's process.
func (s *Stress) Objects() []protocol.KernelObject {
	var out []protocol.KernelObject
	if s.cpu != nil {
		for _, tid := range s.cpu.TIDs() {
			out = append(out, protocol.KernelObject{Type: protocol.ObjThread, Name: fmt.Sprint(tid), Detail: fmt.Sprintf("cpu worker at %g%%", s.cpu.Load)})
		}
	}
	if s.mem != nil {
		out = append(out, protocol.KernelObject{Type: protocol.ObjProcess, Name: fmt.Sprint(s.mem.PID()), Detail: fmt.Sprintf("memory stressor of %d bytes", s.memAsk)})
	}
	return out
}

// MemoryEnded says why the memory stressor ended on its own, or "" while it runs (or if the
// agent stopped it).
func (s *Stress) MemoryEnded() string {
	if s.mem == nil {
		return ""
	}
	select {
	case <-s.mem.Exited():
	default:
		return ""
	}
	s.mu.Lock()
	killed := s.killed
	s.mu.Unlock()
	if killed {
		return ""
	}
	st := s.mem.Status()
	if st.Signaled() && st.Signal() == syscall.SIGKILL {
		return "killed by SIGKILL, which the agent did not send: the OOM killer took it"
	}
	if st.Signaled() {
		return "killed by " + st.Signal().String()
	}
	return fmt.Sprintf("exited with status %d", st.ExitStatus())
}

// Reading is what the stressors measured so far (or until they were stopped).
func (s *Stress) Reading() protocol.StressReading {
	s.mu.Lock()
	now := time.Now()
	if s.stopped {
		now = s.end
	}
	var sample Sample
	if s.last != nil {
		sample = *s.last
	} else if s.cg != nil {
		s.mu.Unlock()
		sample = s.cg.Sample()
		s.mu.Lock()
	}
	s.mu.Unlock()
	r := protocol.StressReading{ElapsedMs: ms(now.Sub(s.start))}
	if s.cpu != nil {
		c := &protocol.CPUReading{Workers: s.cpu.Workers, Load: s.cpu.Load, AchievedLoad: round2(s.cpu.Achieved()), CPUTimeMs: ms(s.cpu.Used())}
		if w, ok := s.cpu.Waited(); ok {
			v := ms(w)
			c.WaitMs = &v
		}
		if sample.UsageNs != nil && s.first.UsageNs != nil {
			v := float64(*sample.UsageNs-*s.first.UsageNs) / 1e6
			c.CgroupUsageMs = &v
		}
		if sample.ThrottledNs != nil && s.first.ThrottledNs != nil {
			v := float64(*sample.ThrottledNs-*s.first.ThrottledNs) / 1e6
			c.ThrottledMs = &v
		}
		c.ThrottleSource = sample.ThrottleSource
		r.CPU = c
	}
	if s.mem != nil {
		m := &protocol.MemoryReading{Bytes: s.memAsk, AllocatedBytes: s.mem.Allocated(), PID: s.mem.PID()}
		if ended := s.MemoryEnded(); ended != "" {
			m.Ended = ended
			m.OOMKilled = strings.Contains(ended, "OOM killer")
		}
		if sample.OOMKills != nil && s.first.OOMKills != nil {
			v := *sample.OOMKills - *s.first.OOMKills
			m.OOMKillsInCgroup = &v
			if v > 0 && m.Ended != "" && s.mem.Status().Signaled() && s.mem.Status().Signal() == syscall.SIGKILL {
				m.OOMKilled = true
			}
		}
		r.Memory = m
	}
	return r
}

// Stop ends every stressor, waits for them and says what is left (nothing: confirmed).
func (s *Stress) Stop() (remaining []protocol.KernelObject) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return s.left()
	}
	s.mu.Unlock()
	if s.cpu != nil {
		s.cpu.Stop(5 * time.Second)
	}
	if s.mem != nil {
		select {
		case <-s.mem.Exited():
		default:
			s.mu.Lock()
			s.killed = true
			s.mu.Unlock()
			_ = s.mem.Kill()
			select {
			case <-s.mem.Exited():
			case <-time.After(5 * time.Second):
			}
		}
	}
	var last *Sample
	if s.cg != nil {
		smp := s.cg.Sample()
		last = &smp
	}
	s.mu.Lock()
	s.stopped, s.end, s.last = true, time.Now(), last
	s.mu.Unlock()
	return s.left()
}

// left: stressors still running.
func (s *Stress) left() []protocol.KernelObject {
	var out []protocol.KernelObject
	if s.cpu != nil {
		for _, tid := range s.cpu.Stop(0) {
			out = append(out, protocol.KernelObject{Type: protocol.ObjThread, Name: fmt.Sprint(tid), Detail: "cpu worker still running"})
		}
	}
	if s.mem != nil {
		select {
		case <-s.mem.Exited():
		default:
			out = append(out, protocol.KernelObject{Type: protocol.ObjProcess, Name: fmt.Sprint(s.mem.PID()), Detail: "memory stressor still running"})
		}
	}
	return out
}

func ms(d time.Duration) float64 { return round2(float64(d) / 1e6) }

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
