package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"time"
)

// Sockets: every agent serves on the abstract unix socket `@chaos-agent/v1/<name>` (abstract
// sockets belong to the network namespace, which all containers of a pod share, and vanish when
// the process that bound them dies); `@chaos-agent/v1/lock` is the namespace-wide lock.
const (
	SocketPrefix = "chaos-agent/v1/"
	LockName     = "lock"
)

// FirstReplyPrefix begins the one line a serve process writes to its stdout (the container's
// log) once it holds the fault it started with: the prefix, then that apply's Reply as JSON. The
// runner reads it from the log over the API server's kept-alive connection instead of asking by
// exec (src/faults/requests.ts has the same words). It is a hint, not the authority: the fault's
// first renewal, an exec, still has to find it held.
const FirstReplyPrefix = "chaos-agent first reply: "

// LineReplyPrefix begins each reply a serve process writes to its stdout for a request that came
// on its stdin (service.Agent.ServeLines): the prefix, the request's tag, a space, the Reply as
// JSON, one line. The runner reads it on the same attach stream it wrote the request on
// (src/faults/reply.ts has the same words).
const LineReplyPrefix = "chaos-agent line reply: "

// SocketAddress is the address an agent serves on (Go spells abstract addresses with a leading @).
func SocketAddress(agent string) string { return "@" + SocketPrefix + agent }

// LockAddress is the namespace-wide lock's address.
func LockAddress() string { return "@" + SocketPrefix + LockName }

var agentName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckAgentName: a container name (a DNS label), and not the lock's name.
func CheckAgentName(name string) error {
	if !agentName.MatchString(name) || name == LockName {
		return fmt.Errorf("agent name %q must be a container name (a DNS label: 1-63 of [a-z0-9-]) other than %q", name, LockName)
	}
	return nil
}

// MaxReplyBytes bounds a reply read from a socket.
const MaxReplyBytes = 16 << 20

// Call sends one raw request to an agent's socket and returns its raw reply. The connection
// carries one request (the client closes its write side after it) and one reply.
func Call(ctx context.Context, agent string, raw []byte) ([]byte, error) {
	out, done, err := call(ctx, agent, raw, true, MaxReplyBytes)
	if done != nil {
		done()
	}
	return out, err
}

// CallHolding is Call, but the connection stays open — its write side too — until done is
// called: the agent waits for that close before a deed that may end the requester too (a kill)
// and before it exits, so the requester calls done only once it has handed the reply on.
func CallHolding(ctx context.Context, agent string, raw []byte) (out []byte, done func(), err error) {
	return call(ctx, agent, raw, false, MaxReplyBytes)
}

func call(ctx context.Context, agent string, raw []byte, halfClose bool, limit int) (out []byte, done func(), err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", SocketAddress(agent))
	if err != nil {
		return nil, nil, err
	}
	done = func() { _ = conn.Close() }
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(raw); err != nil {
		return nil, done, err
	}
	if uc, ok := conn.(*net.UnixConn); ok && halfClose {
		if err := uc.CloseWrite(); err != nil {
			return nil, done, err
		}
	}
	// the agent closes its write side after the reply
	out, err = io.ReadAll(io.LimitReader(conn, int64(limit)+1))
	if err != nil {
		return nil, done, err
	}
	if len(out) > limit {
		return nil, done, fmt.Errorf("reply larger than %d bytes", limit)
	}
	return out, done, nil
}

// MaxPeerReplyBytes bounds the reply of another agent to a status from memory (a few faults:
// a few KiB). Whatever serves a socket named like an agent's may answer: bounded, it cannot
// make the asking agent's memory grow.
const MaxPeerReplyBytes = 128 << 10

// Exchange sends a request and decodes the reply (at most limit bytes).
func Exchange(ctx context.Context, agent string, req *Request, limit int) (*Reply, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, done, err := call(ctx, agent, raw, true, limit)
	if done != nil {
		done()
	}
	if err != nil {
		return nil, err
	}
	var r Reply
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("agent %s answered something that is not a reply: %v", agent, err)
	}
	return &r, nil
}

// GuessOp is the op a raw request names, for a reply to a request that could not be parsed
// (the schema wants one of the ops there): status when it names none.
func GuessOp(raw []byte) string {
	var v struct {
		Op string `json:"op"`
	}
	_ = json.Unmarshal(raw, &v)
	switch v.Op {
	case OpApply, OpRevert, OpRenew, OpStatus, OpSweep, OpResolve:
		return v.Op
	}
	return OpStatus
}
