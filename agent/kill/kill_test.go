package kill

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeProc is a /proc of a few processes.
type fakeProc struct {
	status  map[int]string
	cmdline map[int]string
	cgroup  map[int]string
}

func (p fakeProc) PIDs() ([]int, error) {
	var out []int
	for pid := range p.status {
		out = append(out, pid)
	}
	return out, nil
}
func (p fakeProc) get(m map[int]string, pid int) (string, error) {
	v, ok := m[pid]
	if !ok {
		return "", fmt.Errorf("no process %d", pid)
	}
	return v, nil
}
func (p fakeProc) Status(pid int) (string, error)  { return p.get(p.status, pid) }
func (p fakeProc) Cmdline(pid int) (string, error) { return p.get(p.cmdline, pid) }
func (p fakeProc) Cgroup(pid int) (string, error)  { return p.get(p.cgroup, pid) }

// status is a /proc/PID/status with the masks given (as the kernel prints them).
func status(name string, ppid int, blk, ign, cgt uint64) string {
	return fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t7\nPPid:\t%d\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\nCapInh:\t0000000000000000\n", name, ppid, blk, ign, cgt)
}

// nginx's master process as the real node showed it (SigIgn 40001000, SigCgt 18016a07).
var nginx = status("nginx", 0, 0, 0x40001000, 0x18016a07)

// coreutils sleep: handles nothing.
var sleeper = status("sleep", 0, 0, 0, 0)

const ctr = "41ab72a07bf45c034bc32d039ed2c6c2197b37e5900f747bf5e7bf2fc259cf61"

func cg(id string) string {
	return "9:name=systemd:/kubepods/besteffort/podd01c/" + id + "\n1:cpu:/kubepods/besteffort/podd01c/" + id + "\n"
}

func TestParseStatusReadsTheMasks(t *testing.T) {
	st, err := ParseStatus(nginx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "nginx" || st.PPid != 0 || st.SigIgn != 0x40001000 || st.SigCgt != 0x18016a07 {
		t.Fatalf("%+v", st)
	}
	if !bit(st.SigCgt, int(unix.SIGTERM)) || !bit(st.SigCgt, int(unix.SIGHUP)) || bit(st.SigCgt, int(unix.SIGABRT)) {
		t.Fatal("nginx handles SIGTERM and SIGHUP, not SIGABRT")
	}
	if !bit(st.SigIgn, int(unix.SIGPIPE)) {
		t.Fatal("nginx ignores SIGPIPE")
	}
	if _, err := ParseStatus("Name:\tx\n"); err == nil {
		t.Fatal("a status without masks must not parse")
	}
}

func TestTargetIsPIDOneWithoutAContainerID(t *testing.T) {
	pid, init, err := Target(fakeProc{}, "")
	if err != nil || pid != 1 || !init {
		t.Fatalf("%d %v %v", pid, init, err)
	}
}

func TestTargetIsPIDOneWhenItIsTheContainersProcess(t *testing.T) {
	p := fakeProc{status: map[int]string{1: nginx}, cgroup: map[int]string{1: cg(ctr)}}
	pid, init, err := Target(p, ctr)
	if err != nil || pid != 1 || !init {
		t.Fatalf("%d %v %v", pid, init, err)
	}
}

func TestTargetInASharedNamespaceIsTheContainersRootProcess(t *testing.T) {
	// shareProcessNamespace: pause is PID 1; nginx's master (12, parent outside) and a worker
	// (18, parent 12) are in the container's cgroup; a sidecar's sleep (19) is not
	p := fakeProc{
		status: map[int]string{1: status("pause", 0, 0, 0, 0), 12: nginx, 18: status("nginx", 12, 0, 0, 0), 19: sleeper},
		cgroup: map[int]string{1: cg("284df70a3d46"), 12: cg(ctr), 18: cg(ctr), 19: cg("0b667c5c34fc")},
	}
	pid, init, err := Target(p, ctr)
	if err != nil || pid != 12 || init {
		t.Fatalf("%d %v %v", pid, init, err)
	}
}

func TestTargetNotVisibleIsRefused(t *testing.T) {
	p := fakeProc{status: map[int]string{1: sleeper}, cgroup: map[int]string{1: cg("284df70a3d46")}}
	_, _, err := Target(p, ctr)
	var r *Refusal
	if !errors.As(err, &r) || !strings.Contains(r.Reason, "no process of container 41ab72a07bf4 is visible") {
		t.Fatalf("%v", err)
	}
}

func TestDecide(t *testing.T) {
	p := fakeProc{
		status:  map[int]string{1: nginx, 2: sleeper, 3: status("app", 0, 0, 1<<(unix.SIGTERM-1), 0), 4: status("app", 0, 1<<(unix.SIGTERM-1), 0, 1<<(unix.SIGTERM-1))},
		cmdline: map[int]string{1: "nginx: master process nginx -g daemon off;\x00", 2: "sleep\x00infinity\x00"},
	}
	cases := []struct {
		pid       int
		init      bool
		sig       string
		mechanism string
		disp      string
		refused   string
	}{
		{1, true, "SIGKILL", ByPtrace, Default, ""},
		{1, true, "SIGTERM", ByKill, Handled, ""},
		{1, true, "SIGHUP", ByKill, Handled, ""},
		{1, true, "SIGABRT", "", Default, "is its PID namespace's init and does not handle SIGABRT"},
		{2, true, "SIGTERM", "", Default, "it handles none of the signals chaos-run offers"},
		{2, true, "SIGKILL", ByPtrace, Default, ""},
		{2, false, "SIGTERM", ByKill, Default, ""},
		{2, false, "SIGKILL", ByKill, Default, ""},
		{3, false, "SIGTERM", "", Ignored, "ignores SIGTERM"},
		{3, true, "SIGKILL", ByPtrace, Default, ""},
		{1, true, "SIGSTOP", "", "", "is not one chaos-run offers"},
	}
	for _, c := range cases {
		plan, err := Decide(p, c.pid, c.init, c.sig, "web")
		if c.refused != "" {
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(r.Reason, c.refused) {
				t.Errorf("pid %d %s: want a refusal with %q, got %v", c.pid, c.sig, c.refused, err)
			}
			continue
		}
		if err != nil || plan.Mechanism != c.mechanism || plan.Disposition != c.disp {
			t.Errorf("pid %d init %v %s: got %+v, %v", c.pid, c.init, c.sig, plan, err)
		}
	}
	refused, err := Decide(p, 1, true, "SIGABRT", "web")
	if err == nil || !strings.Contains(err.Error(), "(it handles SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2)") || refused.Process != "nginx: master process nginx -g daemon off;" {
		t.Fatalf("the refusal names what the process handles: %v (%q)", err, refused.Process)
	}
	blocked, err := Decide(p, 4, true, "SIGTERM", "web")
	if err != nil || !blocked.Blocked || !strings.Contains(blocked.Words(), "stays pending until unblocked") {
		t.Fatalf("%+v %v", blocked, err)
	}
	words, _ := Decide(p, 1, true, "SIGKILL", "web")
	if w := words.Words(); !strings.Contains(w, "SIGKILL to PID 1 (nginx: master process nginx -g daemon off;) of container web through ptrace") || !strings.Contains(w, "every process there ends with it") {
		t.Fatal(w)
	}
}

// fakeTracer hands out numbered handles; gone marks the handles whose process has exited.
type fakeTracer struct {
	calls               []string
	signalErr, traceErr error
	next                int
	open                map[int]bool
	gone                map[int]bool
	// onOpen runs once a handle is taken (a process exiting right after)
	onOpen func(h Handle)
}

func (f *fakeTracer) Open(pid int) (Handle, error) {
	if f.open == nil {
		f.open, f.gone = map[int]bool{}, map[int]bool{}
	}
	f.next++
	h := Handle{PID: pid, FD: 100 + f.next}
	f.open[h.FD] = true
	if f.onOpen != nil {
		f.onOpen(h)
	}
	return h, nil
}
func (f *fakeTracer) Close(h Handle) { delete(f.open, h.FD) }
func (f *fakeTracer) Alive(h Handle) error {
	if f.gone[h.FD] {
		return ErrGone
	}
	return nil
}
func (f *fakeTracer) CanSignal(h Handle) error {
	f.calls = append(f.calls, fmt.Sprint("can-signal ", h.PID))
	return f.signalErr
}
func (f *fakeTracer) CanTrace(h Handle) error {
	f.calls = append(f.calls, fmt.Sprint("can-trace ", h.PID))
	return f.traceErr
}
func (f *fakeTracer) Kill(h Handle, sig unix.Signal) error {
	if f.gone[h.FD] {
		return ErrGone
	}
	f.calls = append(f.calls, fmt.Sprint("kill ", h.PID, " ", int(sig)))
	return nil
}
func (f *fakeTracer) PtraceKill(h Handle) error {
	if f.gone[h.FD] {
		return ErrGone
	}
	f.calls = append(f.calls, fmt.Sprint("ptrace-kill ", h.PID))
	return nil
}

func TestCheckAndDoUseThePlansMechanism(t *testing.T) {
	tr := &fakeTracer{}
	h1, _ := tr.Open(1)
	h12, _ := tr.Open(12)
	ptrace := Plan{Handle: h1, PID: 1, Process: "nginx", Mechanism: ByPtrace, Signal: unix.SIGKILL}
	byKill := Plan{Handle: h12, PID: 12, Process: "nginx", Mechanism: ByKill, Signal: unix.SIGTERM}
	if err := Check(tr, ptrace); err != nil {
		t.Fatal(err)
	}
	if err := Do(tr, ptrace); err != nil {
		t.Fatal(err)
	}
	if err := Check(tr, byKill); err != nil {
		t.Fatal(err)
	}
	if err := Do(tr, byKill); err != nil {
		t.Fatal(err)
	}
	want := []string{"can-trace 1", "ptrace-kill 1", "can-signal 12", "kill 12 15"}
	if fmt.Sprint(tr.calls) != fmt.Sprint(want) {
		t.Fatalf("%v", tr.calls)
	}
	if len(tr.open) != 0 {
		t.Fatalf("handles left open: %v", tr.open)
	}
	tr.traceErr = unix.EPERM
	if err := Check(tr, ptrace); err == nil || !strings.Contains(err.Error(), "needs CAP_SYS_PTRACE") {
		t.Fatalf("%v", err)
	}
}

func TestMakeHoldsTheTargetFromBeforeItIsReadAndDoSignalsOnlyIt(t *testing.T) {
	p := fakeProc{
		status: map[int]string{1: status("pause", 0, 0, 0, 0), 12: nginx},
		cgroup: map[int]string{1: cg("284df70a3d46"), 12: cg(ctr)},
	}
	tr := &fakeTracer{}
	plan, err := Make(p, tr, ctr, "SIGTERM", "web")
	if err != nil || plan.Handle.PID != 12 || plan.Handle.FD != 101 || !tr.open[101] {
		t.Fatalf("%+v %v %v", plan, err, tr.open)
	}
	// the planned process exits before the signal goes (its PID may be another's by then)
	tr.gone[plan.Handle.FD] = true
	if err := Do(tr, plan); !errors.Is(err, ErrGone) {
		t.Fatalf("signalled whatever has PID 12 now: %v (%v)", err, tr.calls)
	}
	if fmt.Sprint(tr.calls) != "[can-signal 12]" || len(tr.open) != 0 {
		t.Fatalf("%v, open %v", tr.calls, tr.open)
	}
}

func TestMakeRefusesATargetThatExitedOrChangedWhileItWasRead(t *testing.T) {
	p := fakeProc{
		status: map[int]string{1: status("pause", 0, 0, 0, 0), 12: nginx},
		cgroup: map[int]string{1: cg("284df70a3d46"), 12: cg(ctr)},
	}
	// exited right after the handle was taken: what /proc/12 said may be another process's
	tr := &fakeTracer{}
	tr.onOpen = func(h Handle) { tr.gone[h.FD] = true }
	if _, err := Make(p, tr, ctr, "SIGTERM", "web"); err == nil || !strings.Contains(err.Error(), "has exited while it was being read") {
		t.Fatalf("%v", err)
	}
	if len(tr.open) != 0 || len(tr.calls) != 0 {
		t.Fatalf("open %v, calls %v", tr.open, tr.calls)
	}
	// PID 12 became another container's process between the scan and the handle
	tr2 := &fakeTracer{}
	tr2.onOpen = func(h Handle) { p.cgroup[12] = cg("0b667c5c34fc") }
	if _, err := Make(p, tr2, ctr, "SIGTERM", "web"); err == nil || !strings.Contains(err.Error(), "no longer a process of container 41ab72a07bf4") {
		t.Fatalf("%v", err)
	}
	if len(tr2.open) != 0 {
		t.Fatalf("open %v", tr2.open)
	}
}
