package stress

import (
	"bufio"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ChildVerb is the agent's hidden verb that runs the memory stressor (the agent's own binary,
// re-executed: no other program is needed in the image).
const ChildVerb = "stress-memory"

// Child is a running memory stressor.
type Child interface {
	PID() int
	// Allocated is how much it has allocated and touched, as it last reported.
	Allocated() int64
	// Exited is closed once the process has ended (and been reaped).
	Exited() <-chan struct{}
	// Status is how it ended (valid once Exited is closed).
	Status() syscall.WaitStatus
	// Kill sends SIGKILL.
	Kill() error
}

// Spawner starts memory stressors.
type Spawner interface {
	Spawn(bytes int64, deadline time.Time) (Child, error)
}

// ExecSpawner runs `/proc/self/exe stress-memory BYTES DEADLINE_MS PARENT_PID`.
type ExecSpawner struct {
	// Exe is the program (default /proc/self/exe); Env its environment (tests).
	Exe string
	Env []string
}

type execChild struct {
	pid       int
	allocated int64
	mu        sync.Mutex
	exited    chan struct{}
	status    syscall.WaitStatus
	proc      *os.Process
}

func (c *execChild) PID() int { return c.pid }
func (c *execChild) Allocated() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allocated
}
func (c *execChild) Exited() <-chan struct{}    { return c.exited }
func (c *execChild) Status() syscall.WaitStatus { return c.status }
func (c *execChild) Kill() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	return c.proc.Signal(syscall.SIGKILL)
}

// Spawn implements Spawner. The process is started — and waited for — on an OS thread locked
// for its whole life: PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, and
// the Go runtime ends a thread only when a goroutine locked to it returns.
func (s ExecSpawner) Spawn(bytes int64, deadline time.Time) (Child, error) {
	exe := s.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	type started struct {
		c   *execChild
		err error
	}
	out := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := osexec.Command(exe, ChildVerb, strconv.FormatInt(bytes, 10), strconv.FormatInt(deadline.UnixMilli(), 10), strconv.Itoa(os.Getpid()))
		cmd.Env = s.Env
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			out <- started{err: err}
			return
		}
		if err := cmd.Start(); err != nil {
			out <- started{err: err}
			return
		}
		c := &execChild{pid: cmd.Process.Pid, exited: make(chan struct{}), proc: cmd.Process}
		out <- started{c: c}
		reported := make(chan struct{})
		go func() {
			defer close(reported)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "allocated "); ok {
					if v, err := strconv.ParseInt(n, 10, 64); err == nil {
						c.mu.Lock()
						c.allocated = v
						c.mu.Unlock()
					}
				}
			}
		}()
		<-reported
		_ = cmd.Wait()
		if ps := cmd.ProcessState; ps != nil {
			if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
				c.status = ws
			}
		}
		close(c.exited)
	}()
	s2 := <-out
	if s2.err != nil {
		return nil, s2.err
	}
	return s2.c, nil
}

// ChildMain is the memory stressor's process: it asks the OOM killer to take it first
// (oom_score_adj 1000: raising it needs no privilege), allocates and touches `bytes` in chunks,
// reports each step on stdout, then holds the memory until it is killed, its parent dies or the
// deadline passes.
func ChildMain(args []string, stdout io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: chaos-agent "+ChildVerb+" BYTES DEADLINE_UNIX_MS PARENT_PID")
		return 2
	}
	bytes, err1 := strconv.ParseInt(args[0], 10, 64)
	deadlineMs, err2 := strconv.ParseInt(args[1], 10, 64)
	parent, err3 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil || err3 != nil || bytes <= 0 {
		fmt.Fprintln(os.Stderr, "chaos-agent "+ChildVerb+": bad arguments")
		return 2
	}
	deadline := time.UnixMilli(deadlineMs)
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	// the parent may have died before PR_SET_PDEATHSIG took effect: then nobody would stop us
	// (the serve process is PID 1 of its container, so its PID is passed rather than guessed)
	if os.Getppid() != parent {
		fmt.Fprintln(os.Stderr, "chaos-agent "+ChildVerb+": the agent that started this stressor is gone")
		return 1
	}
	page := int64(os.Getpagesize())
	const chunk = 16 << 20
	var held [][]byte
	var done int64
	for done < bytes {
		n := bytes - done
		if n > chunk {
			n = chunk
		}
		b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos-agent %s: mmap of %d bytes after %d: %v\n", ChildVerb, n, done, err)
			break
		}
		for i := int64(0); i < n; i += page {
			b[i] = 1
		}
		held = append(held, b)
		done += n
		fmt.Fprintf(stdout, "allocated %d\n", done)
		if os.Getppid() != parent || time.Now().After(deadline) {
			return 0
		}
	}
	for {
		if os.Getppid() != parent || time.Now().After(deadline) {
			runtime.KeepAlive(held)
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}
