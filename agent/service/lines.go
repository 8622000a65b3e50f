package service

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"chaos-run/agent/protocol"
)

// Requests on stdin: the runner attaches to the agent's container (the API's pods/attach, which
// RBAC grants as it grants an exec into it) and holds that one stream for the run, writing
// `TAG JSON` lines — each step's applies, and renewals and reverts every few seconds for every fault — instead of starting
// a process in the container for each (an exec: a connection, a runc exec, a process). Only the
// API server writes there: the container's stdin is a pipe of the runtime's shim, outside every
// namespace the pod's processes see, and the serve process is not dumpable (SetNotDumpable), so
// no process of the pod opens it through /proc/PID/fd without CAP_SYS_PTRACE — with which it could
// trace the agent anyway. What comes on it is thus the agent's own requester's, as a process of
// its own container is on the socket (trust.go), and still parsed as hostile input
// (protocol.Parse, bounded lines), limited to what the line is for: applies, renewals and reverts,
// which the runner may ask again by exec when the line is slow (an apply asked again is told what
// applied it, apply.go; a revert's outcome is kept and told again, revert.go). Each reply is written to stdout (the attach stream, and the container's log)
// as one line: protocol.LineReplyPrefix, the tag, a space, the Reply.

// maxLinesInFlight bounds the requests of the stream served at once: a further line is read only
// once one of them is answered (the stream then waits, not the agent).
const maxLinesInFlight = 16

// maxLineBytes bounds a line: a tag, a space and a request.
const maxLineBytes = protocol.MaxRequestBytes + 64

// lineTag is what may tag a request: the runner's, echoed in the reply's line.
var lineTag = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// errLineTooLong: a line over the limit; its bytes up to the next newline were dropped.
var errLineTooLong = errors.New("line too long")

// ServeLines serves the requests that come on in, one per line, until in ends (EOF: the
// container was given no stdin, or the runtime closed it). A line that is not `TAG JSON` is said
// in the log and dropped: there is no tag to answer it by.
func (a *Agent) ServeLines(ctx context.Context, in io.Reader) {
	r := bufio.NewReaderSize(in, 4096)
	slots := make(chan struct{}, maxLinesInFlight)
	for {
		line, err := readLine(r, maxLineBytes)
		if errors.Is(err, errLineTooLong) {
			a.noteSeldom(&a.linesNoted, "stdin: dropped a line over %d bytes", maxLineBytes)
			continue
		}
		if tag, raw, ok := splitLine(line); ok {
			slots <- struct{}{}
			go func() {
				defer func() { <-slots }()
				a.serveLine(ctx, tag, raw)
			}()
		} else if len(bytes.TrimSpace(line)) > 0 {
			a.noteSeldom(&a.linesNoted, "stdin: dropped a line that is not a tag and a request")
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				a.logf("stdin: %v: requests come by exec only from now on", err)
			}
			return
		}
	}
}

// splitLine is a line's tag and request, if it is `TAG JSON`.
func splitLine(line []byte) (tag string, raw []byte, ok bool) {
	t, raw, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
	if !ok || !lineTag.Match(t) {
		return "", nil, false
	}
	return string(t), raw, true
}

// serveLine answers one request of the stream; an event's deed runs once its reply is written.
func (a *Agent) serveLine(ctx context.Context, tag string, raw []byte) {
	var rep *protocol.Reply
	var then func()
	req, perr := protocol.Parse(raw)
	switch {
	case perr != nil:
		rep = failed(a.reply(protocol.GuessOp(raw), nil), perr)
	case req.Op != protocol.OpApply && req.Op != protocol.OpRenew && req.Op != protocol.OpRevert:
		rep = failed(a.reply(req.Op, nil), &protocol.ReplyError{Code: protocol.ErrForbidden,
			Message: fmt.Sprintf("chaos-agent %s takes only apply, renew and revert requests on its stdin, not %s: nothing was done", a.cfg.Name, req.Op)})
	default:
		rep, then = a.handleRequest(ctx, req)
	}
	if out, err := protocol.Encode(rep); err != nil {
		a.logf("stdin: the reply to %s could not be encoded: %v", tag, err)
	} else {
		a.sayLine(protocol.LineReplyPrefix + tag + " " + string(out))
	}
	if then != nil {
		then()
	}
}

// sayLine writes one line to stdout (the first request's reply, a reply of the stdin's), one at
// a time, unless the serve process's last words are being written.
func (a *Agent) sayLine(line string) {
	a.sayMu.Lock()
	defer a.sayMu.Unlock()
	if !a.quiet && a.cfg.Announce != nil {
		a.cfg.Announce(line)
	}
}

// hush: no reply of the stdin's is written from now on, so that the serve process's last words
// stay last in its log (the kubelet keeps the log's tail as the termination message).
func (a *Agent) hush() {
	a.sayMu.Lock()
	defer a.sayMu.Unlock()
	a.quiet = true
}

// readLine reads up to the next newline (or the end). A line over limit is dropped whole — what
// was read of it and the rest up to its newline — and errLineTooLong says so (the end, if it came
// first, is the next read's).
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}
