package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"chaos-run/agent/protocol"
)

// Serve answers requests on ln until it is closed: one request per connection, one reply.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			a.logf("accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a.conns.Add(1)
		go func() {
			defer a.conns.Done()
			a.serveConn(ctx, conn)
		}()
	}
}

// Strangers' connections (see trust.go) are served a few at a time, with a small request: all
// they may ask is a status from memory. One turned away, one that sent no whole request in time,
// or a request refused, is said in the agent's log: one line about strangers at most every
// strangerNoteEvery, however many come, and nothing a stranger sent in it.
const (
	maxStrangers      = 8
	maxStrangerBytes  = 4 << 10
	strangerReadLimit = 2 * time.Second
	strangerNoteEvery = 10 * time.Second
)

// noteStranger logs a line about strangers' connections, unless one was logged less than
// strangerNoteEvery ago.
func (a *Agent) noteStranger(format string, args ...any) {
	a.noteSeldom(&a.strangerNoted, format, args...)
}

// noteSeldom logs a line unless one of its kind (last: when one was last logged, unix ns) was
// logged less than strangerNoteEvery ago: what others can make happen, said without flooding.
func (a *Agent) noteSeldom(last *atomic.Int64, format string, args ...any) {
	now := a.cfg.Clock.Now().UnixNano()
	was := last.Load()
	if was != 0 && now-was < int64(strangerNoteEvery) {
		return
	}
	if last.CompareAndSwap(was, now) {
		a.logf(format, args...)
	}
}

func (a *Agent) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	own, why := Authorize(a.self, a.cfg.Identify(conn))
	limit, wait := int64(protocol.MaxRequestBytes), 10*time.Second
	if !own {
		if a.strangers.Add(1) > maxStrangers {
			a.strangers.Add(-1)
			a.noteStranger("turned a stranger's connection away, unanswered: %d are being served, the most at once (%s)", maxStrangers, why)
			return
		}
		defer a.strangers.Add(-1)
		limit, wait = maxStrangerBytes, strangerReadLimit
	}
	raw, err := readRequest(conn, limit, wait)
	if !own && errors.Is(err, os.ErrDeadlineExceeded) {
		a.noteStranger("a stranger sent no whole request within %s: answered as a bad request and closed (%s)", wait, why)
	}
	var rep *protocol.Reply
	var then func()
	if own {
		rep, then = a.HandleDeferred(ctx, raw)
	} else {
		rep = a.HandleStranger(raw, why)
	}
	out, err := protocol.Encode(rep)
	if err != nil {
		out = []byte(`{"protocol":1,"op":"status","ok":false,"agent":{"name":"","runId":"","version":"","ttlLeftMs":0},"commands":[],"error":{"code":"internal","message":"could not encode the reply"}}`)
	}
	if !own {
		// a stranger's reply goes out within a short while or not at all: nothing waits on it
		_ = conn.SetWriteDeadline(time.Now().Add(strangerReadLimit))
		_, _ = conn.Write(out)
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write(out)
	// `chaos-agent request` closes its side only once it has printed the reply (the peers, at
	// once). Until then this agent must neither do a deed that may end the requester too (a
	// kill of its PID namespace's init) nor exit (a kill or stress agent whose work is over:
	// its container's end would kill the requester, an exec in it, before it printed). Wait
	// for that close, but not for ever.
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
	if then != nil {
		then()
	}
}

// readRequest reads one JSON value: a requester that half-closes after it (the peers) and one
// that keeps the connection open until it has printed the reply (`chaos-agent request`) are
// both served. What is not JSON is returned as it came, for Parse to say what is wrong with it,
// with the error that ended the read (os.ErrDeadlineExceeded: no whole request within wait).
func readRequest(conn net.Conn, limit int64, wait time.Duration) ([]byte, error) {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	var msg json.RawMessage
	dec := json.NewDecoder(io.LimitReader(conn, limit+1))
	err := dec.Decode(&msg)
	if err == nil {
		return msg, nil
	}
	if errors.Is(err, io.EOF) {
		return []byte{}, err
	}
	rest, _ := io.ReadAll(dec.Buffered())
	return rest, err
}
