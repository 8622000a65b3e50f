package proxy

import (
	"bufio"
	"errors"
	"net"
	"time"
)

// The two sides of a connection (see conn.go).

// requests is the request side.
func (c *conn) requests() {
	defer c.requestsDone()
	first := true
	for {
		c.mu.Lock()
		c.idle, c.inHead = true, false
		c.lastBusy = c.p.epoch.Load()
		end := c.closed || c.upDone || (c.closing && len(c.q) == 0)
		c.mu.Unlock()
		if end {
			c.closeAll()
			return
		}
		b, err := c.nextRequest()
		if err != nil {
			// the client is done: pass its close on (the application may still owe responses)
			if !errors.Is(err, net.ErrClosed) {
				closeWrite(c.up)
			}
			return
		}
		c.mu.Lock()
		c.idle, c.inHead = false, true
		c.lastBusy = c.p.epoch.Load()
		c.mu.Unlock()
		if c.uw == nil {
			c.uw = getWriter(c.uio)
		}
		if c.raw.Load() {
			c.toRelay()
			return
		}
		if first {
			first = false
			if !c.sniff(b[0]) {
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

func (c *conn) requestsDone() {
	c.sniffOnce.Do(func() { close(c.sniffed) })
	c.mu.Lock()
	c.reqDone, c.idle, c.inHead = true, false, false
	end := len(c.q) == 0 && !c.raw.Load()
	c.cond.Broadcast()
	c.mu.Unlock()
	if end {
		// nothing owed: the response side would wait in vain for the application
		c.closeAll()
	}
}

// nextRequest waits for the first byte of the client's next request. Parked by the janitor (the
// connection quiet), it puts its buffers back, waits without them, and takes them again.
func (c *conn) nextRequest() ([]byte, error) {
	for {
		c.cio.idle = true
		b, err := c.cr.Peek(1)
		c.cio.idle = false
		if !errors.Is(err, errParked) {
			return b, err
		}
		// dropped, not pooled: the janitor gives their memory back to the pod (Proxy.janitor)
		c.p.parked.Add(int64(c.cr.Size() + bufSizeOf(c.uw)))
		c.cr, c.uw = nil, nil
		err = c.cio.waitReadable()
		c.cr = getReader(c.cio)
		if err != nil {
			return nil, err
		}
	}
}

// sniff tells what the client speaks from its first bytes (first: the first of them) and, unless
// it is HTTP/1.x for the http kind, serves the connection so; true: read it as HTTP/1.x.
func (c *conn) sniff(first byte) bool {
	isH2 := first == 'P' && c.looksLikeH2()
	if isH2 && c.takeH2() {
		c.serveH2()
		return false
	}
	c.sniffOnce.Do(func() { close(c.sniffed) })
	switch {
	case isH2 || !(isTokenChar(first) || first == '\r' || first == '\n'):
		// TLS, h2c over the proxy's bounds, anything that does not start like a request
		c.toRelay()
		return false
	case c.p.cfg.GRPC != nil:
		// the grpc kind faults only h2c: HTTP/1.x passes as it is
		c.p.http1.Add(1)
		c.markRaw()
		c.toRelay()
		return false
	}
	return true
}

func (c *conn) looksLikeH2() bool {
	b, _ := c.cr.Peek(len(h2Preface))
	return string(b) == h2Preface
}

// takeH2 makes the connection the HTTP/2 side's, unless the application spoke first (its bytes
// went to the client already) or the proxy serves MaxH2Conns h2c connections: its application
// connection is closed (the HTTP/2 side dials its own), which ends the response side's wait.
func (c *conn) takeH2() bool {
	p := c.p
	p.mu.Lock()
	ok := p.h2Serving < p.cfg.MaxH2Conns
	if ok {
		p.h2Serving++
	}
	p.mu.Unlock()
	if ok {
		c.mu.Lock()
		ok = !c.appFirst && !c.closed && c.raw.CompareAndSwap(false, true)
		c.h2 = ok
		up := c.up
		c.mu.Unlock()
		c.sniffOnce.Do(func() { close(c.sniffed) })
		if ok {
			up.Close()
			return true
		}
		p.mu.Lock()
		p.h2Serving--
		p.mu.Unlock()
		return false
	}
	p.overCap.Add(1)
	return false
}

// responseSideYields: the response side's first bytes (or its end) are in; it waits for the
// request side to tell what the client speaks — for at most appFirstGrace, as a client that
// waits for the application to speak first says nothing — and ends if the connection is h2c.
func (c *conn) responseSideYields() bool {
	select {
	case <-c.sniffed: // mostly: the client spoke first, no timer for it
	default:
		t := time.NewTimer(appFirstGrace)
		select {
		case <-c.sniffed:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.h2 {
		c.appFirst = true
	}
	return c.h2
}

// appFirstGrace: how long the application's first bytes wait for the client's (an h2c client
// sends its preface as it connects; an application that speaks first — an HTTP/2 server sends
// its SETTINGS at once — must not reach a client the proxy is about to serve itself).
const appFirstGrace = 250 * time.Millisecond

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
	c.inHead = false
	c.mu.Unlock()
	_, err := c.uw.Write(c.reqHead)
	if err == nil && q.hasBody() {
		// the body may not be there yet (a client that waits for 100 Continue): the head goes first
		err = flushBeforeRead(c.uw, c.cr)
	}
	if err == nil {
		switch {
		case q.framing.chunked:
			err = copyChunked(&flushingWriter{w: c.uw, r: c.cr}, c.cr, c.scratch)
		case q.framing.contentLength > 0:
			err = copyN(&flushingWriter{w: c.uw, r: c.cr}, c.cr, q.framing.contentLength)
		}
	}
	if err == nil {
		err = c.uw.Flush()
	}
	if errors.Is(err, errNotHTTP) {
		// a body the proxy cannot read with certainty: relay the rest as it is, from here
		c.becomeRaw()
		c.relay(c.up, c.uw, c.client, c.cr)
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
				c.becomeRaw()
				c.relay(c.up, c.uw, c.client, c.cr)
				return false
			}
		case <-c.resp:
			return false
		}
	}
	return q.keepAlive()
}

// injectError answers the request with the error instead of forwarding it.
func (c *conn) injectError(q *request) bool {
	p := c.p
	if c.raw.Load() {
		// the application spoke unasked and the connection is a relay now: no HTTP answer in
		// the middle of it; the request goes on as it came, with the rest
		_, _ = c.uw.Write(c.reqHead)
		c.toRelay()
		return false
	}
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
		// the request's body is read (and dropped) so the next request can be read; without
		// keep, it is not read at all: the lingering close after the answer drops it
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

// answer sends an injected error: at once when nothing is owed before it, else in its place
// (the response side sends it after the response before it). true: the connection ends.
func (c *conn) answer(it item) (ended bool) {
	c.mu.Lock()
	c.inHead = false
	if len(c.q) > 0 {
		c.q = append(c.q, it)
		c.mu.Unlock()
		return it.closeAfter
	}
	c.mu.Unlock()
	// nothing owed, so the response side writes nothing meanwhile (unless the application
	// spoke unasked and the connection is a relay now: then this waits for its end, and fails)
	c.wmu.Lock()
	if c.cw == nil {
		c.cw = getWriter(c.cio)
	}
	_, err := c.cw.Write(it.synthetic)
	if err == nil {
		err = c.cw.Flush()
	}
	c.wmu.Unlock()
	switch {
	case err != nil:
		c.closeAll()
		return true
	case it.closeAfter:
		c.lingerClose()
		return true
	}
	return false
}

// responses is the response side.
func (c *conn) responses() {
	defer func() {
		c.mu.Lock()
		c.respDone = true
		c.cond.Broadcast()
		c.mu.Unlock()
		close(c.resp)
	}()
	for first := true; ; first = false {
		err := c.nextResponse()
		if first && c.responseSideYields() {
			return
		}
		if err != nil {
			c.appClosed()
			return
		}
		c.wmu.Lock()
		next := c.respond()
		c.wmu.Unlock()
		switch next {
		case closeConn:
			c.closeAll()
		case lingerConn:
			c.lingerClose()
		}
		if next != goOn {
			return
		}
	}
}

// nextResponse waits for the application's next bytes. Parked by the janitor, it puts its
// buffers back (the client's writer too: nothing is owed), waits without them, and takes its
// reader again (the writer when it writes).
func (c *conn) nextResponse() error {
	for {
		c.uio.idle = true
		_, err := c.ur.Peek(1)
		c.uio.idle = false
		if !errors.Is(err, errParked) {
			return err
		}
		c.wmu.Lock()
		c.p.parked.Add(int64(c.ur.Size() + bufSizeOf(c.cw)))
		c.ur, c.cw = nil, nil
		c.wmu.Unlock()
		err = c.uio.waitReadable()
		c.ur = getReader(c.uio)
		if err != nil {
			return err
		}
	}
}

// appClosed: the application closed its side (or its read failed).
func (c *conn) appClosed() {
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
		// the client may still be sending requests the application will not answer: the
		// responses it has are not to be reset away
		c.lingerClose()
	case idle:
		// the application closed an idle keep-alive connection: so does the proxy
		c.closeAll()
	default:
		// a request is being read: the request side ends when it sees upDone
		closeWrite(c.client)
	}
}

// What the response side does after what it relayed.
const (
	goOn       = iota
	stop       // nothing: the connection is a relay, and the relay is over
	closeConn  // close the connection now
	lingerConn // close it after the answer just written (lingerClose)
)

// respond relays what the application sent (wmu held): the response owed first and the injected
// errors queued behind it or, when nothing was asked, the rest of the connection as it is.
func (c *conn) respond() int {
	if c.cw == nil {
		c.cw = getWriter(c.cio)
	}
	if c.raw.Load() {
		c.relay(c.client, c.cw, c.up, c.ur)
		return stop
	}
	c.mu.Lock()
	if len(c.q) == 0 || c.q[0].synthetic != nil {
		// the application speaks without being asked (e.g. a 408 before closing): from here
		// on the connection is relayed as it is, and nothing is owed any more
		c.q = c.q[:0]
		first := c.raw.CompareAndSwap(false, true)
		c.cond.Broadcast()
		c.mu.Unlock()
		if first {
			c.p.relayed.Add(1)
		}
		c.relay(c.client, c.cw, c.up, c.ur)
		return stop
	}
	it := c.q[0]
	c.mu.Unlock()
	return c.afterResponse(c.response(it))
}

// afterResponse: the response owed first is through (more: and the connection goes on); the
// injected errors queued behind it go out now, in their places.
func (c *conn) afterResponse(more bool) int {
	var err error
	end := false
	c.mu.Lock()
	c.pop()
	for err == nil && !end && len(c.q) > 0 && c.q[0].synthetic != nil {
		s := c.q[0]
		c.pop()
		c.mu.Unlock()
		_, err = c.cw.Write(s.synthetic)
		end = s.closeAfter
		c.mu.Lock()
	}
	c.mu.Unlock()
	if err == nil {
		err = c.cw.Flush()
	}
	c.mu.Lock()
	finished := len(c.q) == 0 && (c.reqDone || (c.closing && c.idle))
	if len(c.q) == 0 {
		c.lastBusy = c.p.epoch.Load()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	switch {
	case !more || err != nil:
		return closeConn
	case end:
		return lingerConn
	case finished:
		return closeConn
	}
	return goOn
}

// pop drops the queue's first item, keeping its array (mu held).
func (c *conn) pop() {
	if len(c.q) > 0 {
		n := copy(c.q, c.q[1:])
		c.q[n] = item{}
		c.q = c.q[:n]
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
				c.becomeRaw()
				c.sendVerdict(it, false)
				c.relay(c.client, c.cw, c.up, c.ur)
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
			c.becomeRaw()
			c.sendVerdict(it, true)
			c.relay(c.client, c.cw, c.up, c.ur)
			return false
		case s.status >= 100 && s.status < 200:
			// interim (100 Continue, 103 Early Hints): the final response follows
			if err := c.cw.Flush(); err != nil {
				return false
			}
			continue
		}
		c.sendVerdict(it, false)
		return c.responseBody(it, &s)
	}
}

// responseBody relays a final response's body (its head written).
func (c *conn) responseBody(it item, s *response) bool {
	err := flushBeforeRead(c.cw, c.ur)
	if err != nil {
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
		c.relay(c.client, c.cw, c.up, c.ur)
		return false
	}
	if errors.Is(err, errNotHTTP) {
		c.becomeRaw()
		c.relay(c.client, c.cw, c.up, c.ur)
		return false
	}
	return err == nil
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
