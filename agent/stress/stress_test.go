package stress

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"chaos-run/agent/protocol"
)

// processCPU is this process's CPU time so far.
func processCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The test binary is also the memory stressor: run with CHAOS_STRESS_CHILD=1 it is
// `chaos-agent stress-memory`.
func TestMain(m *testing.M) {
	if os.Getenv("CHAOS_STRESS_CHILD") == "1" {
		os.Exit(ChildMain(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

func spawner(t *testing.T) ExecSpawner {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return ExecSpawner{Exe: exe, Env: append(os.Environ(), "CHAOS_STRESS_CHILD=1")}
}

func TestCPUWorkersRunTheirDutyCycleAndLeaveNoThread(t *testing.T) {
	c := StartCPU(1, 40)
	time.Sleep(1500 * time.Millisecond)
	left := c.Stop(5 * time.Second)
	if len(left) != 0 {
		t.Fatalf("threads left: %v", left)
	}
	if w, ok := c.Waited(); !ok || w < 0 {
		t.Fatalf("the workers' run-queue wait: %s, %v", w, ok)
	}
	got := c.Achieved()
	// the duty cycle is measured in the thread's own CPU time: it cannot run above what was
	// asked; a busy machine can only make it lower
	// (the lower bound only says it ran: on a busy machine a worker gets what it can)
	if got < 10 || got > 46 {
		t.Fatalf("asked 40%%, achieved %.1f%%", got)
	}
	// nothing of it burns CPU any more
	before := processCPU(t)
	time.Sleep(300 * time.Millisecond)
	if used := processCPU(t) - before; used > 30*time.Millisecond {
		t.Fatalf("the process used %s of CPU in 300ms after the stop", used)
	}
}

func TestAFullWorkerSpinsAndStopsAtOnce(t *testing.T) {
	c := StartCPU(2, 100)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	left := c.Stop(5 * time.Second)
	if len(left) != 0 || time.Since(start) > time.Second {
		t.Fatalf("left %v after %s", left, time.Since(start))
	}
	before := processCPU(t)
	time.Sleep(300 * time.Millisecond)
	if used := processCPU(t) - before; used > 30*time.Millisecond {
		t.Fatalf("the process used %s of CPU in 300ms after the stop", used)
	}
	if c.Achieved() < 5 {
		t.Fatalf("two workers at 100%% achieved only %.1f%% each", c.Achieved())
	}
}

func TestMemoryStressorAllocatesAndIsStopped(t *testing.T) {
	s, err := Start(Config{Memory: &protocol.StressMemory{Bytes: 24 << 20}, Spawn: spawner(t), Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Reading().Memory.AllocatedBytes < 24<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("allocated only %d", s.Reading().Memory.AllocatedBytes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := s.mem.PID()
	rss := residentKiB(t, pid)
	if rss < 20<<10 {
		t.Fatalf("the stressor's RSS is %d KiB: the memory was not touched", rss)
	}
	adj, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "oom_score_adj"))
	if strings.TrimSpace(string(adj)) != "1000" {
		t.Fatalf("oom_score_adj %q: the stressor must ask to be the OOM killer's first choice", adj)
	}
	if left := s.Stop(); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Fatal("the stressor's process is still there")
	}
	r := s.Reading()
	if r.Memory.OOMKilled || r.Memory.Ended != "" {
		t.Fatalf("stopped by the agent, not ended: %+v", r.Memory)
	}
}

func residentKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n := 0
			for _, ch := range strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) {
				n = n*10 + int(ch-'0')
			}
			return n
		}
	}
	return 0
}

func TestMemoryStressorEndsAtItsDeadline(t *testing.T) {
	s, err := Start(Config{Memory: &protocol.StressMemory{Bytes: 1 << 20}, Spawn: spawner(t), Deadline: time.Now().Add(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.mem.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the stressor outlived its deadline")
	}
	if got := s.MemoryEnded(); got != "exited with status 0" {
		t.Fatal(got)
	}
}

// fakeChild ends as told.
type fakeChild struct {
	once   sync.Once
	exited chan struct{}
	status syscall.WaitStatus
	kills  int
}

func (f *fakeChild) PID() int                   { return 4242 }
func (f *fakeChild) Allocated() int64           { return 64 << 20 }
func (f *fakeChild) Exited() <-chan struct{}    { return f.exited }
func (f *fakeChild) Status() syscall.WaitStatus { return f.status }
func (f *fakeChild) Kill() error {
	f.kills++
	f.end(syscall.WaitStatus(syscall.SIGKILL))
	return nil
}
func (f *fakeChild) end(ws syscall.WaitStatus) {
	f.once.Do(func() { f.status = ws; close(f.exited) })
}

type fakeSpawner struct{ child *fakeChild }

func (f fakeSpawner) Spawn(int64, time.Time) (Child, error) { return f.child, nil }

type fakeCgroup struct {
	mu sync.Mutex
	s  Sample
}

func (f *fakeCgroup) Sample() Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}
func (f *fakeCgroup) set(s Sample) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

func TestAnOOMKillOfTheStressorIsReported(t *testing.T) {
	child := &fakeChild{exited: make(chan struct{})}
	cg := &fakeCgroup{s: Sample{OOMKills: ptr(0), UsageNs: ptr(0)}}
	s, err := Start(Config{Memory: &protocol.StressMemory{Bytes: 128 << 20}, Spawn: fakeSpawner{child}, Cgroup: cg})
	if err != nil {
		t.Fatal(err)
	}
	// the kernel's OOM killer, not the agent: SIGKILL, and the cgroup counts one OOM kill
	child.end(syscall.WaitStatus(syscall.SIGKILL))
	cg.set(Sample{OOMKills: ptr(1), UsageNs: ptr(0)})
	if got := s.MemoryEnded(); !strings.Contains(got, "the OOM killer took it") {
		t.Fatal(got)
	}
	s.Stop()
	r := s.Reading()
	if !r.Memory.OOMKilled || r.Memory.OOMKillsInCgroup == nil || *r.Memory.OOMKillsInCgroup != 1 || child.kills != 0 {
		t.Fatalf("%+v (kills %d)", r.Memory, child.kills)
	}
}

func TestStoppedByTheAgentIsNotAnOOMKill(t *testing.T) {
	child := &fakeChild{exited: make(chan struct{})}
	s, _ := Start(Config{Memory: &protocol.StressMemory{Bytes: 1 << 20}, Spawn: fakeSpawner{child}})
	s.Stop()
	if r := s.Reading(); r.Memory.OOMKilled || r.Memory.Ended != "" || child.kills != 1 {
		t.Fatalf("%+v", r.Memory)
	}
}

func TestThrottlingIsTheDifferenceOverTheFault(t *testing.T) {
	cg := &fakeCgroup{s: Sample{UsageNs: ptr(5e9), ThrottledNs: ptr(2e9), ThrottleSource: "cpu.stat.local (cgroup v1)"}}
	s, _ := Start(Config{CPU: &protocol.StressCPU{Workers: 1, Load: 10}, Cgroup: cg})
	time.Sleep(50 * time.Millisecond)
	cg.set(Sample{UsageNs: ptr(5.5e9), ThrottledNs: ptr(2.3e9), ThrottleSource: "cpu.stat.local (cgroup v1)"})
	s.Stop()
	r := s.Reading()
	if r.CPU.ThrottledMs == nil || *r.CPU.ThrottledMs != 300 || r.CPU.CgroupUsageMs == nil || *r.CPU.CgroupUsageMs != 500 {
		t.Fatalf("%+v", r.CPU)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupV1AsAnEphemeralContainerSeesIt(t *testing.T) {
	// inside the container each controller's root is the container's own cgroup
	root := t.TempDir()
	write(t, root+"/cpu/cgroup.procs", "1\n7\n")
	write(t, root+"/cpu/cpu.stat.local", "throttled_time 1368835720\n")
	write(t, root+"/cpuacct/cgroup.procs", "7\n")
	write(t, root+"/cpuacct/cpuacct.usage", "1533729910\n")
	write(t, root+"/memory/cgroup.procs", "7\n")
	write(t, root+"/memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	self := "4:memory:/kubepods/poda36d/fac3\n2:cpuacct:/kubepods/poda36d/fac3\n1:cpu:/kubepods/poda36d/fac3\n0::/kubepods/poda36d/fac3\n"
	s := FS{Root: root, SelfCgroup: self, PID: 7}.Sample()
	if s.Version != 1 || *s.ThrottledNs != 1368835720 || *s.UsageNs != 1533729910 || *s.OOMKills != 1 || !strings.Contains(s.ThrottleSource, "cpu.stat.local") {
		t.Fatalf("%+v", s)
	}
}

func TestCgroupV1WithoutStatLocalSaysWhy(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/cpu,cpuacct/cgroup.procs", "7\n")
	write(t, root+"/cpu,cpuacct/cpuacct.usage", "100\n")
	s := FS{Root: root, SelfCgroup: "3:cpu,cpuacct:/x\n", PID: 7}.Sample()
	if s.ThrottledNs != nil || *s.UsageNs != 100 || !strings.Contains(s.ThrottleSource, "not readable") {
		t.Fatalf("%+v", s)
	}
}

func TestCgroupV2OutsideAContainerFindsItsOwnDirectory(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/cgroup.controllers", "cpu memory\n")
	write(t, root+"/cgroup.procs", "1\n")
	write(t, root+"/kubepods/pod1/c1/cgroup.procs", "7\n")
	write(t, root+"/kubepods/pod1/c1/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\n")
	write(t, root+"/kubepods/pod1/c1/cpu.stat.local", "throttled_usec 700\n")
	write(t, root+"/kubepods/pod1/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
	s := FS{Root: root, SelfCgroup: "0::/kubepods/pod1/c1\n", PID: 7}.Sample()
	if s.Version != 2 || *s.UsageNs != 2500000 || *s.ThrottledNs != 700000 || *s.OOMKills != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestAnOrphanedStressorEndsAtOnce(t *testing.T) {
	// started by a process that is not (any more) its parent: it must not run unsupervised
	exe, _ := os.Executable()
	cmd := exec.Command(exe, ChildVerb, "1048576", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10), "1")
	cmd.Env = append(os.Environ(), "CHAOS_STRESS_CHILD=1")
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %s", err, time.Since(start))
	}
}
