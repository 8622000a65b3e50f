// Package cli is chaos-agent's command line: the verbs, their arguments and exit codes. The
// work is in the packages beside this one.
//
//	chaos-agent serve [--ttl DURATION]   the container's main process (env CHAOS_AGENT_NAME, CHAOS_RUN_ID)
//	chaos-agent request JSON             one protocol request to this container's serve process; prints the reply
//	chaos-agent status [--json]          what the agent holds, and orphans it sees
//	chaos-agent revert FAULT_ID [--json] revert one fault
//	chaos-agent sweep [--own] [--json]   revert the orphans of gone agents (and, with --own, this agent's faults)
//	chaos-agent selftest                 tools present, which iptables backend works
//	chaos-agent version
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/fault"
	"chaos-run/agent/kernel"
	"chaos-run/agent/kill"
	"chaos-run/agent/lease"
	"chaos-run/agent/ownership"
	"chaos-run/agent/protocol"
	"chaos-run/agent/service"
	"chaos-run/agent/stress"

	"golang.org/x/sys/unix"
)

// Version is the agent's version (set by the main package from its -X flag).
var Version = "dev"

const usage = `usage:
  chaos-agent serve [--ttl DURATION] [--kinds kill|stress]
                                        the container's main process (env CHAOS_AGENT_NAME, CHAOS_RUN_ID);
                                        --kinds kill: a kill agent (one kill, in the target's PID namespace);
                                        --kinds stress: a stress agent (one stress fault, in a container of its own);
                                        env CHAOS_AGENT_FIRST_REQUEST: an apply to hold from the start
  chaos-agent request JSON              one protocol request to this container's serve process
  chaos-agent status [--json]           what the agent holds, and the orphans it sees
  chaos-agent revert FAULT_ID [--json]  revert one fault
  chaos-agent sweep [--own] [--json]    revert the orphans of gone agents (--own: also this agent's faults)
  chaos-agent selftest                  tools present, which iptables backend works
  chaos-agent version`

// Run runs one verb and returns the exit status.
func Run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "serve":
		return serve(rest)
	case "request":
		return request(rest)
	case "status", "revert", "sweep":
		return human(verb, rest)
	case "selftest":
		return selftest()
	case stress.ChildVerb:
		// the memory stressor, started by a serve process that holds a stress fault
		return stress.ChildMain(rest, os.Stdout)
	case "version", "--version":
		fmt.Println("chaos-agent", Version, "protocol", protocol.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Println(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "chaos-agent: unknown verb %q\n%s\n", verb, usage)
	return 2
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s chaos-agent: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), fmt.Sprintf(format, a...))
}

// announce writes one line to stdout, in one write: the container's log, read by the runner, and
// the stream the runner attached to (the agent calls it one line at a time).
func announce(line string) {
	_, _ = os.Stdout.Write([]byte(line + "\n"))
}

// RequestsEnv set to "stdin" (the runner sets it where it adds the pod's agent with a stdin):
// requests also come on stdin, one per line (service.Agent.ServeLines).
const RequestsEnv = "CHAOS_AGENT_REQUESTS"

var runIDPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// identity is the agent's name and run, from the environment the runner sets.
func identity() (name, runID string, err error) {
	name = os.Getenv("CHAOS_AGENT_NAME")
	if name == "" {
		return "", "", errors.New("CHAOS_AGENT_NAME is not set (the runner sets it to the agent's container name)")
	}
	if err := protocol.CheckAgentName(name); err != nil {
		return "", "", err
	}
	runID = os.Getenv("CHAOS_RUN_ID")
	if runID == "" {
		runID = "manual"
	}
	if !runIDPattern.MatchString(runID) {
		return "", "", fmt.Errorf("CHAOS_RUN_ID %q must be 1-16 of [a-z0-9]", runID)
	}
	return name, runID, nil
}

// parseDuration reads 600, 600s, 10m, 1h30m, 1500ms.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q (e.g. 600s, 10m)", s)
	}
	return d, nil
}

// FirstRequestEnv holds the apply a serve process starts with, where the runner gives one (see
// service.Agent.SetFirst): the first fault travels with the agent.
const FirstRequestEnv = "CHAOS_AGENT_FIRST_REQUEST"

// Roles of a serve process: the pod's agent (network faults, and stress), a kill agent, a
// stress agent.
const (
	roleAgent  = ""
	roleKill   = "kill"
	roleStress = "stress"
)

func newAgent(name, runID string, ttl time.Duration, role string, lines io.Reader) *service.Agent {
	deadline := time.Now().Add(ttl)
	stressKind := fault.Stress{Spawn: stress.ExecSpawner{}, Cgroup: stress.RealFS(), Deadline: func() time.Time { return deadline }}
	kinds := map[string]fault.Kind{protocol.KindNetem: fault.Netem{}, protocol.KindPartition: fault.Partition{}, protocol.KindHTTP: fault.HTTP{}, protocol.KindGRPC: fault.GRPC{}, protocol.KindDNS: fault.DNS{}, protocol.KindStress: stressKind}
	switch role {
	case roleKill:
		// a kill agent shares the target container's PID namespace and does nothing else
		kinds = map[string]fault.Kind{protocol.KindKill: fault.Kill{Proc: kill.RealProc{}, Tracer: kill.Real{}}}
	case roleStress:
		// a stress agent is a container of its own: where the kubelet makes the OOM killer take
		// a container's processes together (cgroup v2, memory.oom.group), a memory stressor must
		// not share one with the agent that holds the network faults
		kinds = map[string]fault.Kind{protocol.KindStress: stressKind}
	}
	return service.New(service.Config{
		Name: name, RunID: runID, Version: Version, TTL: ttl,
		Exec: exec.Real{}, Kernel: kernel.Netlink{}, Clock: lease.Real{},
		Peers: service.SocketPeers{}, Lock: ownership.SocketLock{},
		Logf: logf, Announce: announce, ProbeChain: fmt.Sprintf("chaos-probe-%d", os.Getpid()),
		Kinds: kinds, NoOrphanScan: role != roleAgent, ExitAfterEvent: role == roleKill, ExitWhenIdle: role == roleStress,
		Lines: lines,
	})
}

func serve(args []string) int {
	ttl := 600 * time.Second
	role := roleAgent
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--kinds" && i+1 < len(args) && (args[i+1] == roleKill || args[i+1] == roleStress):
			role = args[i+1]
			i++
		case args[i] == "--kinds="+roleKill || args[i] == "--kinds="+roleStress:
			role = strings.TrimPrefix(args[i], "--kinds=")
		case args[i] == "--ttl" && i+1 < len(args):
			d, err := parseDuration(args[i+1])
			if err != nil {
				fmt.Fprintln(os.Stderr, "chaos-agent serve:", err)
				return 2
			}
			ttl = d
			i++
		case strings.HasPrefix(args[i], "--ttl="):
			d, err := parseDuration(strings.TrimPrefix(args[i], "--ttl="))
			if err != nil {
				fmt.Fprintln(os.Stderr, "chaos-agent serve:", err)
				return 2
			}
			ttl = d
		default:
			fmt.Fprintf(os.Stderr, "chaos-agent serve: unknown argument %q\n", args[i])
			return 2
		}
	}
	name, runID, err := identity()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos-agent serve:", err)
		return 2
	}
	var lines io.Reader // nil, not a nil *os.File: no requests on stdin
	if role == roleAgent && os.Getenv(RequestsEnv) == "stdin" {
		// no process of the pod may open the stdin (or forge the stdout) through /proc/PID/fd
		// without CAP_SYS_PTRACE: see service/lines.go
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "chaos-agent serve: cannot make the process undumpable, so requests come by exec only:", err)
		} else {
			lines = os.Stdin
		}
	}
	agent := newAgent(name, runID, ttl, role, lines)
	if raw, given := os.LookupEnv(FirstRequestEnv); given {
		// hostile input as much as an exec's request: refused, the agent serves nothing
		if perr := agent.SetFirst([]byte(raw)); perr != nil {
			fmt.Fprintf(os.Stderr, "chaos-agent serve: %s: %s: %s; nothing was done\n", FirstRequestEnv, perr.Code, perr.Message)
			return protocol.ExitCode(&protocol.Reply{Error: perr})
		}
	}
	// a small heap: the agent lives inside the target pod's resources
	debug.SetGCPercent(50)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	ln, err := net.Listen("unix", protocol.SocketAddress(name))
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos-agent serve: cannot serve on %s: %v (is another chaos-agent named %s serving in this pod?)\n", protocol.SocketAddress(name), err, name)
		return 1
	}
	logf("%s (run %s, version %s) serving on %s, ttl %s", name, runID, Version, protocol.SocketAddress(name), ttl)
	return agent.Run(context.Background(), ln, signals)
}

// printReply writes a reply as one JSON line.
func printReply(r *protocol.Reply) {
	out, err := protocol.Encode(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos-agent: encoding the reply:", err)
		return
	}
	os.Stdout.Write(append(out, '\n'))
}

func localReply(op string, code, message string) *protocol.Reply {
	name := os.Getenv("CHAOS_AGENT_NAME")
	runID := os.Getenv("CHAOS_RUN_ID")
	return &protocol.Reply{Protocol: protocol.Version, Op: op, OK: false,
		Agent: protocol.AgentInfo{Name: name, RunID: runID, Version: Version},
		Error: &protocol.ReplyError{Code: code, Message: message}}
}

// call forwards a validated request to this container's serve process, retrying the connect
// while serve starts.
func call(raw []byte, connectFor, total time.Duration) (*protocol.Reply, *protocol.ReplyError) {
	r, done, rerr := callHolding(raw, connectFor, total)
	if done != nil {
		done()
	}
	return r, rerr
}

// callHolding is call, keeping the connection open until done is called (see
// protocol.CallHolding).
func callHolding(raw []byte, connectFor, total time.Duration) (*protocol.Reply, func(), *protocol.ReplyError) {
	name, _, err := identity()
	if err != nil {
		return nil, nil, &protocol.ReplyError{Code: protocol.ErrUnreachable, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), total)
	defer cancel()
	start := time.Now()
	backoff := 10 * time.Millisecond
	for {
		out, done, err := protocol.CallHolding(ctx, name, raw)
		if err == nil {
			var r protocol.Reply
			if jerr := json.Unmarshal(out, &r); jerr != nil {
				return nil, done, &protocol.ReplyError{Code: protocol.ErrInternal, Message: fmt.Sprintf("the serve process answered something that is not a reply (%v): %.200q", jerr, out)}
			}
			return &r, done, nil
		}
		if done != nil {
			done()
		}
		if !isConnectError(err) || time.Since(start)+backoff > connectFor {
			return nil, nil, &protocol.ReplyError{Code: protocol.ErrUnreachable,
				Message: fmt.Sprintf("no chaos-agent serves on %s in this pod (%v); is `chaos-agent serve` running as %s?", protocol.SocketAddress(name), err, name)}
		}
		time.Sleep(backoff)
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

func isConnectError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

func request(args []string) int {
	if len(args) != 1 {
		printReply(localReply(protocol.OpStatus, protocol.ErrBadRequest, "usage: chaos-agent request JSON (one argument: the request)"))
		return 2
	}
	raw := []byte(args[0])
	if args[0] == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, protocol.MaxRequestBytes+1))
		if err != nil {
			printReply(localReply(protocol.OpStatus, protocol.ErrBadRequest, "reading the request from stdin: "+err.Error()))
			return 2
		}
		raw = b
	}
	if _, perr := protocol.Parse(raw); perr != nil {
		printReply(localReply(protocol.GuessOp(raw), perr.Code, perr.Message))
		return protocol.ExitCode(&protocol.Reply{Error: perr})
	}
	r, done, rerr := callHolding(raw, 3*time.Second, 5*time.Minute)
	if rerr != nil {
		r = localReply(protocol.GuessOp(raw), rerr.Code, rerr.Message)
	}
	printReply(r)
	// only now may the agent go on to a deed that can end this process too (a kill)
	if done != nil {
		done()
	}
	return protocol.ExitCode(r)
}
