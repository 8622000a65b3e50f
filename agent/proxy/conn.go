package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// One client connection and its connection to the application. Two goroutines: the request side
// reads requests from the client, faults them and forwards the rest; the response side relays
// the application's responses back, in order, with the injected errors in their places (a queue
// of what each request is owed, so pipelined requests keep their order). A close on either side
// is passed on to the other, as it would be without the proxy.

const bufSize = 4 << 10

type item struct {
	synthetic  []byte // an injected error response (nil: the application answers)
	closeAfter bool   // synthetic: the connection ends after it
	head       bool   // a HEAD request: no body in its response
	tunnel     bool   // an Upgrade or CONNECT request: it may switch the connection to a relay
	connect    bool
}

type conn struct {
	p      *Proxy
	client net.Conn
	up     net.Conn
	cr, ur *bufio.Reader
	cw, uw *bufio.Writer

	reqHead, respHead, scratch []byte

	mu      sync.Mutex
	cond    *sync.Cond
	q       []item
	idle    bool // the request side waits for the next request
	closing bool // Stop: close as soon as nothing is in flight
	reqDone bool // the request side reads no more requests
	upDone  bool // the application closed the connection
	closed  bool
	raw     atomic.Bool
	verdict chan bool // an Upgrade/CONNECT request's outcome: switched or not
	resp    chan struct{}
}

func newConn(p *Proxy, c net.Conn) *conn {
	cc := &conn{p: p, client: c, verdict: make(chan bool, 1), resp: make(chan struct{})}
	cc.cond = sync.NewCond(&cc.mu)
	return cc
}

func (c *conn) serve() {
	defer c.p.forget(c)
	target, err := c.p.cfg.Target(c.client)
	if err == nil {
		c.up, err = net.DialTimeout("tcp", target, c.p.cfg.DialTimeout)
	}
	if err != nil {
		// as the application would have: the connection refused (reset)
		c.p.dialErrors.Add(1)
		c.p.cfg.Logf("proxy :%d: connection from %s: the application at %s: %v", c.p.port, c.client.RemoteAddr(), target, err)
		setLinger0(c.client)
		c.client.Close()
		return
	}
	// 4 KiB each way and side (a head longer than a buffer is read in pieces, a body streams
	// through): with its two goroutines a connection costs the agent about 32 KiB, in the pod's
	// own memory
	client, err := newRawIO(c.client)
	var up io.ReadWriter
	if err == nil {
		up, err = newRawIO(c.up)
	}
	if err != nil {
		c.p.cfg.Logf("proxy :%d: connection from %s: %v", c.p.port, c.client.RemoteAddr(), err)
		c.closeAll()
		return
	}
	c.cr = bufio.NewReaderSize(client, bufSize)
	c.cw = bufio.NewWriterSize(client, bufSize)
	c.ur = bufio.NewReaderSize(up, bufSize)
	c.uw = bufio.NewWriterSize(up, bufSize)
	go c.responses()
	c.requests()
	<-c.resp
	c.closeAll()
}

func setLinger0(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

func (c *conn) closeAll() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.client.Close()
	if c.up != nil {
		c.up.Close()
	}
}

// stop: the proxy is stopping; close now if nothing is in flight, else after it.
func (c *conn) stop() {
	c.mu.Lock()
	now := c.idle && len(c.q) == 0
	c.closing = true
	c.mu.Unlock()
	if now {
		c.closeAll()
	}
}

// reset ends the connection at once, both ways (a TCP reset).
func (c *conn) reset() {
	setLinger0(c.client)
	if c.up != nil {
		setLinger0(c.up)
	}
	c.closeAll()
}

// flushBeforeRead: before waiting for more from r, send what w holds (a streamed body must not
// sit in a buffer).
func flushBeforeRead(w *bufio.Writer, r *bufio.Reader) error {
	if r.Buffered() == 0 && w.Buffered() > 0 {
		return w.Flush()
	}
	return nil
}

// relay copies src to dst as it is until src ends, then half-closes dst.
func relay(dst net.Conn, dw *bufio.Writer, src net.Conn, sr *bufio.Reader) {
	if n := sr.Buffered(); n > 0 {
		b, _ := sr.Peek(n)
		_, _ = dw.Write(b)
		_, _ = sr.Discard(n)
	}
	if err := dw.Flush(); err == nil {
		_, _ = io.Copy(dst, src) // splices between TCP sockets
	}
	closeWrite(dst)
}

// toRelay turns the connection into a relay from the request side: once the responses owed so
// far are through, copy the client's bytes to the application as they are.
func (c *conn) toRelay() {
	c.mu.Lock()
	for len(c.q) > 0 && !c.closed {
		c.cond.Wait()
	}
	c.mu.Unlock()
	if c.raw.CompareAndSwap(false, true) {
		c.p.relayed.Add(1)
	}
	relay(c.up, c.uw, c.client, c.cr)
}

// answer sends an injected error: at once when nothing is owed before it, else in its place.
func (c *conn) answer(it item) (closed bool) {
	c.mu.Lock()
	if len(c.q) > 0 {
		c.q = append(c.q, it)
		c.mu.Unlock()
		return false
	}
	_, err := c.cw.Write(it.synthetic)
	if err == nil {
		err = c.cw.Flush()
	}
	c.mu.Unlock()
	if err != nil || it.closeAfter {
		c.closeAll()
		return true
	}
	return false
}

// requests is the request side.
func (c *conn) requests() {
	defer func() {
		c.mu.Lock()
		c.reqDone = true
		end := len(c.q) == 0
		c.cond.Broadcast()
		c.mu.Unlock()
		if end && !c.raw.Load() {
			c.closeAll()
		}
	}()
	first := true
	for {
		c.mu.Lock()
		c.idle = true
		if (c.closing && len(c.q) == 0) || c.upDone {
			c.mu.Unlock()
			c.closeAll()
			return
		}
		c.mu.Unlock()
		b, err := c.cr.Peek(1)
		if err != nil {
			// the client is done: pass its close on (the application may still owe responses)
			if !errors.Is(err, net.ErrClosed) {
				closeWrite(c.up)
			}
			return
		}
		c.mu.Lock()
		c.idle = false
		c.mu.Unlock()
		if c.raw.Load() {
			c.toRelay()
			return
		}
		if first {
			first = false
			// TLS, HTTP/2 with prior knowledge, anything that does not start like a request
			if !(isTokenChar(b[0]) || b[0] == '\r' || b[0] == '\n') || (b[0] == 'P' && c.looksLikeH2()) {
				c.toRelay()
				return
			}
		}
		var q request
		c.reqHead, q, err = readRequestHead(c.cr, c.reqHead)
		if err != nil {
			if errors.Is(err, errNotHTTP) {
				// forward what was read and relay the rest as it is
				_, _ = c.uw.Write(c.reqHead)
				c.toRelay()
				return
			}
			c.closeAll()
			return
		}
		c.p.requests.Add(1)
		if !c.request(&q) {
			return
		}
	}
}

func (c *conn) looksLikeH2() bool {
	b, _ := c.cr.Peek(14)
	return string(b) == "PRI * HTTP/2.0"
}

// request faults and forwards one request whose head is in reqHead; false ends the request side.
func (c *conn) request(q *request) bool {
	p := c.p
	if p.covers(q) {
		p.faulted.Add(1)
		if p.cfg.Delay > 0 || p.cfg.Jitter > 0 {
			p.delay()
		}
		if p.cfg.ErrorRate > 0 && p.cfg.Float64() < p.cfg.ErrorRate {
			p.errors.Add(1)
			return c.injectError(q)
		}
	}
	it := item{head: string(q.method) == "HEAD", connect: string(q.method) == "CONNECT"}
	it.tunnel = q.framing.upgrade || it.connect
	c.mu.Lock()
	c.q = append(c.q, it)
	c.mu.Unlock()
	_, err := c.uw.Write(c.reqHead)
	if err == nil && q.hasBody() {
		// the body may not be there yet (a client that waits for 100 Continue): the head goes first
		err = flushBeforeRead(c.uw, c.cr)
	}
	if err == nil {
		switch {
		case q.framing.chunked:
			err = c.copyChunkedBody()
		case q.framing.contentLength > 0:
			err = copyN(&flushingWriter{w: c.uw, r: c.cr}, c.cr, q.framing.contentLength)
		}
	}
	if err == nil {
		err = c.uw.Flush()
	}
	if errors.Is(err, errNotHTTP) {
		// a body the proxy cannot read with certainty: relay the rest as it is, from here
		if c.raw.CompareAndSwap(false, true) {
			c.p.relayed.Add(1)
		}
		relay(c.up, c.uw, c.client, c.cr)
		return false
	}
	if err != nil {
		c.closeAll()
		return false
	}
	if it.tunnel {
		select {
		case switched := <-c.verdict:
			if switched {
				c.raw.Store(true)
				c.p.relayed.Add(1)
				relay(c.up, c.uw, c.client, c.cr)
				return false
			}
		case <-c.resp:
			return false
		}
	}
	return q.keepAlive()
}

func (c *conn) copyChunkedBody() error {
	return copyChunked(&flushingWriter{w: c.uw, r: c.cr}, c.cr, c.scratch)
}

// injectError answers the request with the error instead of forwarding it.
func (c *conn) injectError(q *request) bool {
	p := c.p
	head := string(q.method) == "HEAD"
	keep := q.keepAlive() && !(q.hasBody() && q.framing.expect100)
	it := item{closeAfter: !keep}
	switch {
	case !keep && head:
		it.synthetic = p.errHeadClose
	case !keep:
		it.synthetic = p.errClose
	case head:
		it.synthetic = p.errHeadKeep
	case q.http10:
		it.synthetic = p.errKeep10
	default:
		it.synthetic = p.errKeep
	}
	if keep {
		// the request's body is read (and dropped) so the next request can be read
		var err error
		switch {
		case q.framing.chunked:
			err = copyChunked(nil, c.cr, c.scratch)
		case q.framing.contentLength > 0:
			_, err = c.cr.Discard(int(q.framing.contentLength))
		}
		if err != nil {
			c.closeAll()
			return false
		}
	}
	if c.answer(it) {
		return false
	}
	return keep
}

// responses is the response side.
func (c *conn) responses() {
	defer close(c.resp)
	for {
		if _, err := c.ur.Peek(1); err != nil {
			c.mu.Lock()
			owed := len(c.q) > 0
			idle := c.idle
			c.upDone = true
			c.cond.Broadcast()
			c.mu.Unlock()
			switch {
			case c.raw.Load():
				closeWrite(c.client)
			case owed:
				c.closeAll()
			case idle:
				// the application closed an idle keep-alive connection: so does the proxy
				c.closeAll()
			default:
				// a request is being read: the request side ends when it sees upDone
				closeWrite(c.client)
			}
			return
		}
		if c.raw.Load() {
			relay(c.client, c.cw, c.up, c.ur)
			return
		}
		c.mu.Lock()
		if len(c.q) == 0 || c.q[0].synthetic != nil {
			// the application speaks without being asked (e.g. a 408 before closing): from here
			// on the connection is relayed as it is
			c.mu.Unlock()
			if c.raw.CompareAndSwap(false, true) {
				c.p.relayed.Add(1)
			}
			relay(c.client, c.cw, c.up, c.ur)
			return
		}
		it := c.q[0]
		c.mu.Unlock()
		more := c.response(it)
		c.mu.Lock()
		if len(c.q) > 0 {
			c.q = c.q[1:]
		}
		// injected errors owed after this response go out now, in their place
		var err error
		end := false
		for len(c.q) > 0 && c.q[0].synthetic != nil && err == nil {
			s := c.q[0]
			c.q = c.q[1:]
			_, err = c.cw.Write(s.synthetic)
			end = end || s.closeAfter
		}
		if err == nil {
			err = c.cw.Flush()
		}
		finished := len(c.q) == 0 && (c.reqDone || (c.closing && c.idle))
		c.cond.Broadcast()
		c.mu.Unlock()
		if !more || err != nil || end || finished {
			c.closeAll()
			return
		}
	}
}

// response relays one response (and the interim ones before it); false: the connection ends
// (or has become a relay, which ends it when done).
func (c *conn) response(it item) bool {
	for {
		var s response
		var err error
		c.respHead, s, err = readResponseHead(c.ur, c.respHead)
		if err != nil {
			if errors.Is(err, errNotHTTP) {
				_, _ = c.cw.Write(c.respHead)
				c.raw.Store(true)
				c.p.relayed.Add(1)
				c.sendVerdict(it, false)
				relay(c.client, c.cw, c.up, c.ur)
				return false
			}
			c.sendVerdict(it, false)
			return false
		}
		if _, err := c.cw.Write(c.respHead); err != nil {
			c.sendVerdict(it, false)
			return false
		}
		switch {
		case s.status == 101 || (it.connect && s.status >= 200 && s.status < 300):
			// the connection is no longer HTTP/1.x: relay it both ways
			c.raw.Store(true)
			c.sendVerdict(it, true)
			relay(c.client, c.cw, c.up, c.ur)
			return false
		case s.status >= 100 && s.status < 200:
			// interim (100 Continue, 103 Early Hints): the final response follows
			if err := c.cw.Flush(); err != nil {
				return false
			}
			continue
		}
		c.sendVerdict(it, false)
		if err := flushBeforeRead(c.cw, c.ur); err != nil {
			return false
		}
		switch {
		case it.head || s.status == 204 || s.status == 304:
		case s.framing.chunked:
			err = copyChunked(&flushingWriter{w: c.cw, r: c.ur}, c.ur, c.scratch)
		case s.framing.contentLength >= 0:
			err = copyN(&flushingWriter{w: c.cw, r: c.ur}, c.ur, s.framing.contentLength)
		default:
			// the body ends when the application closes the connection
			relay(c.client, c.cw, c.up, c.ur)
			return false
		}
		if errors.Is(err, errNotHTTP) {
			c.raw.Store(true)
			relay(c.client, c.cw, c.up, c.ur)
			return false
		}
		return err == nil
	}
}

func (c *conn) sendVerdict(it item, switched bool) {
	if it.tunnel {
		select {
		case c.verdict <- switched:
		default:
		}
	}
}

// flushingWriter is a bufio.Writer that sends what it holds before its reader would wait.
type flushingWriter struct {
	w *bufio.Writer
	r *bufio.Reader
}

func (f *flushingWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err == nil {
		err = flushBeforeRead(f.w, f.r)
	}
	return n, err
}
