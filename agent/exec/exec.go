// Package exec is the one place where the agent runs programs: argv only, never a shell. The
// Executor interface lets every other package be tested with a recording double (Recorder) and
// lets a request collect the commands it ran (Log). What the agent does in its own process over
// netlink (qdiscs, filters, nftables) is no program, but the Log keeps it beside them, as the
// command line that would do the same (Note, Netlink), so a reply still says, in tc and nft
// words, what was done.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	osexec "os/exec"
	"strings"
	"sync"
	"time"

	"chaos-run/agent/protocol"
)

// Result is how one command went. ExitCode is -1 when the program could not be started (Err
// says why).
type Result struct {
	ExitCode int
	Stdout   string
	Stderr   string
	Duration time.Duration
	Err      error
}

// OK: the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitCode == 0 }

// Why is a short reason for a failure: the first line of stderr, or the error.
func (r Result) Why() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	s := strings.TrimSpace(r.Stderr)
	if s == "" {
		s = strings.TrimSpace(r.Stdout)
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
	return s
}

// Executor runs one program: argv[0] is looked up on the agent's PATH, stdin (may be empty) is
// fed to it.
type Executor interface {
	Run(ctx context.Context, argv []string, stdin string) Result
}

// PATH is where the agent finds the programs it still runs (iptables, where the kernel has no
// nf_tables that can hold a firewall fault's table), whatever the container's environment says.
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Real runs programs with os/exec.
type Real struct {
	// Timeout bounds one command (default 30 s): a wedged tc must not wedge the agent.
	Timeout time.Duration
}

const maxOutput = 1 << 20

type capped struct {
	bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// Run implements Executor.
func (r Real) Run(ctx context.Context, argv []string, stdin string) Result {
	start := time.Now()
	if len(argv) == 0 {
		return Result{ExitCode: -1, Err: errors.New("empty argv")}
	}
	path, err := lookPath(argv[0])
	if err != nil {
		return Result{ExitCode: -1, Err: err, Duration: time.Since(start)}
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := osexec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = []string{"PATH=" + PATH, "LC_ALL=C"}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	var exitErr *osexec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
		if res.ExitCode < 0 {
			res.Err = fmt.Errorf("%s: %v", argv[0], exitErr)
		}
	default:
		res.ExitCode = -1
		res.Err = err
	}
	return res
}

var (
	pathMu    sync.Mutex
	pathCache = map[string]string{}
)

// lookPath finds a program on PATH (the agent's, not the environment's), once.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathMu.Lock()
	defer pathMu.Unlock()
	if p, ok := pathCache[name]; ok {
		return p, nil
	}
	for _, dir := range strings.Split(PATH, ":") {
		p := dir + "/" + name
		if isExecutable(p) {
			pathCache[name] = p
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on %s", name, PATH)
}

// Netlink is the first word of a record of what the agent did over netlink itself, before the
// equivalent command line: `(netlink) tc qdisc add dev eth0 root handle c000: netem delay
// 100ms`. No such program ran; the parentheses say so to whoever reads the journal.
const Netlink = "(netlink)"

// Noter is an Executor that also records what was done without a process (the Log).
type Noter interface {
	Note(run protocol.CommandRun)
}

// Done records, in ex when it keeps records (a Log), one change made over netlink: argv is the
// equivalent command line (without the Netlink word), stdin what it would read (an nft script),
// err how the change went. It returns err.
func Done(ex Executor, argv []string, stdin string, took time.Duration, err error) error {
	n, ok := ex.(Noter)
	if !ok {
		return err
	}
	run := protocol.CommandRun{
		Argv:       append([]string{Netlink}, argv...),
		Stdin:      stdin,
		DurationMs: float64(took.Microseconds()) / 1000,
	}
	if err != nil {
		// tc and nft exit 2 when the kernel refuses a change; the kernel's reason is the error
		run.ExitCode = 2
		run.Stderr = err.Error()
	}
	n.Note(run)
	return err
}

// Log wraps an Executor and keeps every command it ran, for a reply's `commands`, and every
// change made over netlink (Note).
type Log struct {
	Exec Executor
	mu   sync.Mutex
	runs []protocol.CommandRun
}

// NewLog starts an empty log over e.
func NewLog(e Executor) *Log { return &Log{Exec: e} }

// Run implements Executor.
func (l *Log) Run(ctx context.Context, argv []string, stdin string) Result {
	res := l.Exec.Run(ctx, argv, stdin)
	run := protocol.CommandRun{
		Argv:       append([]string(nil), argv...),
		Stdin:      stdin,
		ExitCode:   res.ExitCode,
		DurationMs: float64(res.Duration.Microseconds()) / 1000,
	}
	if !res.OK() {
		run.Stderr = strings.TrimSpace(res.Stderr)
		if res.Err != nil {
			run.Stderr = strings.TrimSpace(run.Stderr + "\n" + res.Err.Error())
		}
	}
	l.mu.Lock()
	l.runs = append(l.runs, run)
	l.mu.Unlock()
	return res
}

// Note implements Noter.
func (l *Log) Note(run protocol.CommandRun) {
	l.mu.Lock()
	l.runs = append(l.runs, run)
	l.mu.Unlock()
}

// Runs is what ran so far, in order.
func (l *Log) Runs() []protocol.CommandRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]protocol.CommandRun{}, l.runs...)
}
