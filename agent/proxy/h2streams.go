package proxy

import (
	"encoding/binary"
	"slices"
	"strconv"
	"time"

	"golang.org/x/net/http2/hpack"
)

// The relay's streams (h2relay.go): opened by the client's HEADERS, faulted at their start
// (h2Call), forwarded, answered by the proxy or held; frames of each mapped between the client's
// stream IDs and the application's. Locks: r.mu guards the table and is taken inside a side's
// h2out lock, never the other way round, and never held across socket I/O.

type hpackFields = []hpack.HeaderField

// give sends the sender of dropped DATA its connection window back (o: toward that sender).
func give(o *h2out, n int) error {
	if n <= 0 {
		return nil
	}
	return o.locked(func() { o.u32(frWindowUpdate, 0, uint32(n)) })
}

func (r *h2relay) clientData(h frameHeader, p []byte) error {
	r.mu.Lock()
	st := r.streams[h.stream]
	if st == nil || st.state == stGone {
		r.mu.Unlock()
		// a stream answered, reset or never opened: the application never counts these bytes
		return give(r.cw, len(p))
	}
	if st.cEnd {
		// DATA after the client's END_STREAM: a stream error (RFC 9113 5.1), not one more
		// frame to hold
		return r.resetClosed(st, len(p))
	}
	if h.endsStream {
		st.cEnd = true
	}
	if st.state == stPending {
		if len(p) == 0 && !h.endsStream {
			// nothing to pass on and no window to give back: held, it would only cost room
			r.mu.Unlock()
			return nil
		}
		err := r.hold(st, pendingFrame{typ: frData, flags: h.flags}, p, nil)
		r.mu.Unlock()
		return err
	}
	bid, done := st.bid, r.endIfDone(st)
	r.mu.Unlock()
	err := r.bw.put(frData, h.flags, bid, p)
	r.finishIf(done)
	return err
}

// resetClosed resets a stream the client sent DATA on after ending it (r.mu held; released
// here): STREAM_CLOSED to the client, CANCEL to the application if it has the stream, the
// DATA's window given back with what the proxy held of it.
func (r *h2relay) resetClosed(st *h2stream, n int) error {
	forwarded, bid := st.state == stForwarded, st.bid
	giveBack := n + r.abandon(st)
	last := r.stopping && len(r.streams) == 0
	r.mu.Unlock()
	if forwarded {
		_ = r.bw.locked(func() { r.bw.u32(frRSTStream, bid, errcCancel) })
	}
	err := r.cw.locked(func() {
		r.cw.u32(frRSTStream, st.cid, errcStreamClosed)
		if giveBack > 0 { // an increment of 0 is a protocol error
			r.cw.u32(frWindowUpdate, 0, uint32(giveBack))
		}
	})
	r.finishIf(last)
	return err
}

// h2HeldFrameCost is what a held frame or header block costs beyond its bytes (its
// pendingFrame, the slice and allocation behind it): charged with them against h2ConnWindow, so
// that tiny or empty frames cannot hold many times what the bound says.
const h2HeldFrameCost = 64

// fieldsCost is what a held header list costs: its HPACK size (RFC 7541 4.1: each field's
// bytes and 32 more) and a frame's cost.
func fieldsCost(fields hpackFields) (n int) {
	for _, f := range fields {
		n += int(f.Size())
	}
	return n + h2HeldFrameCost
}

// hold queues a frame (fields: a header block) of a pending stream (r.mu held, released while
// the frame goes on): charged against h2ConnWindow. It never waits for room — the client side's
// loop would stop reading every other stream, PING and WINDOW_UPDATE of the connection for the
// rest of the delay: a frame that would take the connection over it ends its stream's hold.
func (r *h2relay) hold(st *h2stream, f pendingFrame, p []byte, fields hpackFields) error {
	cost := len(p) + h2HeldFrameCost
	if fields != nil {
		cost = fieldsCost(fields)
	}
	if r.buffered+cost > h2ConnWindow {
		r.endHoldEarly(st)
	}
	switch {
	case r.closed:
		return errRelayClosed
	case st.state == stForwarded:
		// straight on, in order (the release sent the queue)
		bid := st.bid
		r.mu.Unlock()
		var err error
		if fields != nil {
			err = r.bw.putHeaders(bid, fields, f.flags&flEndStream != 0)
		} else {
			err = r.bw.put(f.typ, f.flags, bid, p)
		}
		r.mu.Lock()
		return err
	case st.state == stGone:
		if f.typ == frData {
			r.mu.Unlock()
			err := give(r.cw, len(p))
			r.mu.Lock()
			return err
		}
		return nil
	}
	if fields != nil {
		st.fields = append(st.fields, slices.Clone(fields))
		f.block = len(st.fields)
	} else {
		f.payload = slices.Clone(p)
	}
	st.queue = append(st.queue, f)
	st.queued += cost
	r.buffered += cost
	if f.typ == frData {
		st.queuedData += len(p)
	}
	return nil
}

// endHoldEarly releases a pending stream before its delay ends (r.mu held; released meanwhile):
// its frames would take the connection over what it may hold. Forwarded now (or answered, as
// its fault says) rather than refused: the call got part of the delay it was given, and the
// user who asked for a delay did not ask for failed calls — a refused stream is one a client
// may give up on. Waits only while a release already under way finishes.
func (r *h2relay) endHoldEarly(st *h2stream) {
	if st.timer != nil {
		st.timer.Stop()
	}
	r.mu.Unlock()
	_ = r.release(st, false)
	r.mu.Lock()
	for st.state == stPending && st.claimed && !r.closed {
		r.space.Wait()
	}
}

var errRelayClosed = &h2Error{code: errcNo, why: "closed"}

// endIfDone drops a forwarded stream both sides have ended (r.mu held); true: the relay is
// stopping and this was its last stream.
func (r *h2relay) endIfDone(st *h2stream) bool {
	if st.cEnd && st.bEnd {
		return r.drop(st)
	}
	return false
}

// drop takes a stream out of the table (r.mu held); true: the relay is stopping and this was
// its last stream (the caller ends the connection: finishIf).
func (r *h2relay) drop(st *h2stream) bool {
	if st.state == stGone {
		return false
	}
	st.state = stGone
	delete(r.streams, st.cid)
	if st.bid != 0 {
		delete(r.byBackend, st.bid)
	}
	if st.call.grpc {
		r.c.callsOpen.Add(-1)
	}
	if len(r.streams) == 0 && !r.closed && !r.c.cio.ending.Load() {
		// the client side may wait in a read that began with streams open: its idle timeout
		// starts now, not at its next frame
		_ = r.c.client.SetReadDeadline(time.Now().Add(r.p.cfg.IdleTimeout))
		r.idleArmed = true
	}
	return r.stopping && len(r.streams) == 0
}

// abandon drops a stream with what it holds (r.mu held): its timer stopped, its queue's bytes
// freed; the DATA bytes the client is owed back.
func (r *h2relay) abandon(st *h2stream) (giveBack int) {
	if st.timer != nil {
		st.timer.Stop()
	}
	giveBack = st.queuedData
	r.buffered -= st.queued
	st.queue, st.fields, st.queued, st.queuedData = nil, nil, 0, 0
	r.space.Broadcast()
	r.drop(st)
	return giveBack
}

// finishIf ends a stopping connection whose last stream just ended: what is owed flushed, then
// a lingering close.
func (r *h2relay) finishIf(last bool) {
	if !last {
		return
	}
	_ = r.cw.locked(func() {})
	r.c.lingerClose()
}

// clientBlock is a whole header block from the client: a new stream's request, or a stream's
// trailers.
func (r *h2relay) clientBlock(cid uint32, end bool, fields hpackFields) error {
	r.mu.Lock()
	if st := r.streams[cid]; st != nil {
		return r.clientTrailers(st, end, fields)
	}
	if cid%2 == 0 {
		r.mu.Unlock()
		return protoErr("a client stream with the even ID %d", cid)
	}
	if cid <= r.lastCID {
		// a stream the proxy ended already (answered, reset): dropped, decoded
		r.mu.Unlock()
		return nil
	}
	r.lastCID = cid
	if r.stopping || r.appGone || len(r.streams) >= h2MaxStreams {
		r.mu.Unlock()
		return r.cw.locked(func() { r.cw.u32(frRSTStream, cid, errcRefused) })
	}
	var method, path, ctype string
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case "content-type":
			ctype = f.Value
		}
	}
	// decided under r.mu: a stop meanwhile sees the stream and cuts its delay short
	call := r.p.decide(method, path, ctype)
	st := &h2stream{cid: cid, cEnd: end, headEnd: end, head: method == "HEAD", call: call, fields: []hpackFields{slices.Clone(fields)}}
	if call.delay > 0 {
		// held: its header list counts against what the connection may hold; over it, the
		// client may retry the stream (nothing of it reached the application)
		if cost := fieldsCost(fields); r.buffered+cost <= h2ConnWindow {
			st.queued, r.buffered = cost, r.buffered+cost
		} else {
			r.mu.Unlock()
			return r.cw.locked(func() { r.cw.u32(frRSTStream, cid, errcRefused) })
		}
	}
	r.streams[cid] = st
	r.p.tally(call)
	if call.grpc {
		r.c.callsOpen.Add(1)
	}
	if call.delay > 0 {
		st.timer = time.AfterFunc(call.delay, func() { _ = r.release(st, true) })
	}
	r.mu.Unlock()
	if call.delay > 0 {
		return nil
	}
	return r.release(st, false)
}

// clientTrailers: a further header block on an open stream (r.mu held; released here).
func (r *h2relay) clientTrailers(st *h2stream, end bool, fields hpackFields) error {
	if !end || st.cEnd {
		// a request's only further block is its trailers, which end it (RFC 9113 8.1): this
		// also bounds what a held stream keeps of header blocks
		r.mu.Unlock()
		return protoErr("a header block on stream %d that is not its trailers", st.cid)
	}
	st.cEnd = true
	if st.state == stPending {
		err := r.hold(st, pendingFrame{typ: frHeaders, flags: flEndStream}, nil, fields)
		r.mu.Unlock()
		return err
	}
	bid, done := st.bid, r.endIfDone(st)
	r.mu.Unlock()
	err := r.bw.putHeaders(bid, fields, end)
	r.finishIf(done)
	return err
}

// release ends a pending stream's hold: answered by the proxy (ErrorRate of the faulted) or
// forwarded. flush: not on the client side's loop (which flushes before it reads).
func (r *h2relay) release(st *h2stream, flush bool) error {
	r.mu.Lock()
	if st.state != stPending || st.claimed || r.closed {
		r.mu.Unlock()
		return nil
	}
	st.claimed = true
	r.mu.Unlock()
	p := r.p
	if st.call.roll && p.cfg.ErrorRate > 0 && p.cfg.Float64() < p.cfg.ErrorRate {
		p.errors.Add(1)
		return r.answer(st)
	}
	return r.forward(st, flush)
}

// forward sends a pending stream to the application under the next stream ID, then what it
// holds, in order.
func (r *h2relay) forward(st *h2stream, flush bool) error {
	r.bw.mu.Lock()
	defer r.bw.mu.Unlock()
	r.mu.Lock()
	if st.state != stPending {
		r.mu.Unlock()
		return nil
	}
	if r.appGone {
		give := r.abandon(st)
		r.mu.Unlock()
		go r.refuse(st.cid, give)
		return nil
	}
	st.bid, st.state = r.nextBID, stForwarded
	r.nextBID += 2
	if st.call.counted {
		// relayed: sent to the application (not refused because it went away meanwhile)
		r.p.callsRelayed.Add(1)
	}
	r.byBackend[st.bid] = st
	fields, queue := st.fields, st.queue
	r.buffered -= st.queued
	st.fields, st.queue, st.queued, st.queuedData = nil, nil, 0, 0
	r.space.Broadcast()
	r.mu.Unlock()
	r.bw.headers(st.bid, fields[0], st.headEnd)
	for _, f := range queue {
		if f.block > 0 {
			r.bw.headers(st.bid, fields[f.block-1], f.flags&flEndStream != 0)
			continue
		}
		r.bw.frame(f.typ, f.flags, st.bid, f.payload)
	}
	if flush {
		return r.bw.flush()
	}
	return r.bw.err
}

// refuse resets a stream the application will not see (REFUSED_STREAM: the client may retry
// it), giving back what the proxy held of it.
func (r *h2relay) refuse(cid uint32, giveBack int) {
	_ = r.cw.locked(func() {
		r.cw.u32(frRSTStream, cid, errcRefused)
		if giveBack > 0 {
			r.cw.u32(frWindowUpdate, 0, uint32(giveBack))
		}
	})
}

// answer answers a pending stream in the application's place: the grpc kind's status in a
// trailers-only response, the http kind's error; the client's side, if still open, reset with
// NO_ERROR (the answer is whole), what the proxy held of it given back.
func (r *h2relay) answer(st *h2stream) error {
	r.mu.Lock()
	if st.state != stPending {
		r.mu.Unlock()
		return nil
	}
	cEnd := st.cEnd
	giveBack := r.abandon(st)
	last := r.stopping && len(r.streams) == 0
	r.mu.Unlock()
	err := r.cw.locked(func() {
		if st.call.grpc {
			r.cw.headers(st.cid, r.p.grpcAnswer, true)
		} else {
			r.answerHTTP(st.cid, st.head)
		}
		if !cEnd {
			r.cw.u32(frRSTStream, st.cid, errcNo)
		}
		if giveBack > 0 {
			r.cw.u32(frWindowUpdate, 0, uint32(giveBack))
		}
	})
	r.finishIf(last)
	return err
}

// answerHTTP writes the http kind's error on a stream (r.cw.mu held): its body only if the
// reserve and the stream's window hold it (they nearly always do: it is short), else without.
func (r *h2relay) answerHTTP(cid uint32, head bool) {
	body := r.p.cfg.ErrorBody
	if head || int64(len(body)) > r.clientInitWin.Load() || !r.takeReserve(int64(len(body))) {
		body = ""
	}
	fields := hpackFields{
		{Name: ":status", Value: strconv.Itoa(r.p.cfg.ErrorCode)},
		{Name: "content-type", Value: "text/plain; charset=utf-8"},
		{Name: "content-length", Value: strconv.Itoa(len(body))},
	}
	if head {
		fields[2].Value = strconv.Itoa(len(r.p.cfg.ErrorBody))
	}
	r.cw.headers(cid, fields, body == "")
	for b := body; b != ""; {
		n := min(len(b), h2MaxFrame)
		flags := byte(0)
		if n == len(b) {
			flags = flEndStream
		}
		r.cw.frame(frData, flags, cid, []byte(b[:n]))
		b = b[n:]
	}
}

// takeReserve takes n bytes of the reserve for the proxy's own DATA; false: it does not hold
// them.
func (r *h2relay) takeReserve(n int64) bool {
	for {
		cur := r.reserve.Load()
		if n > cur {
			return false
		}
		if r.reserve.CompareAndSwap(cur, cur-n) {
			return true
		}
	}
}

// clientReset: the client reset a stream; passed on if the application has it.
func (r *h2relay) clientReset(h frameHeader, p []byte) {
	r.mu.Lock()
	st := r.streams[h.stream]
	if st == nil {
		r.mu.Unlock()
		return
	}
	forwarded, bid := st.state == stForwarded, st.bid
	giveBack := r.abandon(st)
	last := r.stopping && len(r.streams) == 0
	r.mu.Unlock()
	if forwarded {
		_ = r.bw.locked(func() { r.bw.frame(frRSTStream, 0, bid, p) })
	}
	_ = give(r.cw, giveBack)
	r.finishIf(last)
}

// clientWindowUpdate: the connection's passes to the application less what refills the
// reserve; a stream's to its stream (held with a pending one).
func (r *h2relay) clientWindowUpdate(h frameHeader, p []byte) error {
	inc, err := windowIncrement(h, p)
	if err != nil || inc == 0 {
		return err
	}
	if h.stream == 0 {
		for {
			cur := r.reserve.Load()
			fill := min(int64(inc), r.reserveCap-cur)
			if r.reserve.CompareAndSwap(cur, cur+fill) {
				inc -= uint32(fill)
				break
			}
		}
		if inc == 0 {
			return nil
		}
		return r.bw.locked(func() { r.bw.u32(frWindowUpdate, 0, inc) })
	}
	r.mu.Lock()
	st := r.streams[h.stream]
	switch {
	case st == nil:
		r.mu.Unlock()
		return nil
	case st.state == stPending:
		err := r.hold(st, pendingFrame{typ: frWindowUpdate}, p, nil)
		r.mu.Unlock()
		return err
	}
	bid := st.bid
	r.mu.Unlock()
	return r.bw.put(frWindowUpdate, 0, bid, p)
}

// stop: Proxy.Stop. The client is told (GOAWAY) to open no more streams, pending streams are
// released now (a stop cuts a delay short), and the connection ends with its last stream.
// Run on its own goroutine: it writes to the client.
func (r *h2relay) stop() {
	r.mu.Lock()
	if r.stopping || r.closed {
		r.mu.Unlock()
		return
	}
	r.stopping = true
	var pending []*h2stream
	for _, st := range r.streams {
		if st.state == stPending {
			pending = append(pending, st)
		}
	}
	none := len(r.streams) == 0
	r.mu.Unlock()
	_ = r.cw.locked(func() { r.goAwayToClient(errcNo, nil) })
	for _, st := range pending {
		if st.timer != nil {
			st.timer.Stop()
		}
		_ = r.release(st, true)
	}
	r.finishIf(none)
}

func (r *h2relay) backendData(h frameHeader, p []byte) error {
	r.mu.Lock()
	st := r.byBackend[h.stream]
	if st == nil {
		r.mu.Unlock()
		// a stream the client reset or never had: the client never counts these bytes
		return give(r.bw, len(p))
	}
	if h.endsStream {
		st.bEnd = true
	}
	cid, done := st.cid, r.endIfDone(st)
	r.mu.Unlock()
	err := r.cw.put(frData, h.flags, cid, p)
	r.finishIf(done)
	return err
}

func (r *h2relay) backendBlock(bid uint32, end bool, fields hpackFields) error {
	r.mu.Lock()
	st := r.byBackend[bid]
	if st == nil {
		r.mu.Unlock()
		return nil // decoded, dropped: its stream is gone
	}
	if end {
		st.bEnd = true
	}
	cid, done := st.cid, r.endIfDone(st)
	r.mu.Unlock()
	err := r.cw.putHeaders(cid, fields, end)
	r.finishIf(done)
	return err
}

func (r *h2relay) backendReset(h frameHeader, p []byte) error {
	r.mu.Lock()
	st := r.byBackend[h.stream]
	if st == nil {
		r.mu.Unlock()
		return nil
	}
	cid := st.cid
	last := r.drop(st)
	r.mu.Unlock()
	err := r.cw.locked(func() { r.cw.frame(frRSTStream, 0, cid, p) })
	r.finishIf(last)
	return err
}

func (r *h2relay) backendWindowUpdate(h frameHeader, p []byte) error {
	inc, err := windowIncrement(h, p)
	if err != nil || inc == 0 {
		return err
	}
	cid := uint32(0)
	if h.stream != 0 {
		r.mu.Lock()
		st := r.byBackend[h.stream]
		if st != nil {
			cid = st.cid
		}
		r.mu.Unlock()
		if st == nil {
			return nil
		}
	}
	return r.cw.put(frWindowUpdate, 0, cid, p)
}

// backendGoAway: the application takes no more streams. The streams it will not process (above
// its last ID, or still held by the proxy) are refused to the client one by one, and the client
// is told GOAWAY with its own last stream ID.
func (r *h2relay) backendGoAway(p []byte) error {
	lastBID := binary.BigEndian.Uint32(p) & maxWindow
	code := binary.BigEndian.Uint32(p[4:])
	r.mu.Lock()
	r.appGone = true
	refused := r.unseen(lastBID)
	last := r.stopping && len(r.streams) == 0
	r.mu.Unlock()
	err := r.cw.locked(func() {
		r.writeRefusals(refused)
		r.goAwayToClient(code, p[8:])
	})
	r.finishIf(last)
	return err
}

// refusal is a stream the application will not process: refused to the client, what the proxy
// held of it given back.
type refusal struct{ cid, give uint32 }

// unseen takes out the streams the application will not process (r.mu held): those the proxy
// still holds, and those it sent above the application's last stream ID.
func (r *h2relay) unseen(lastBID uint32) []refusal {
	var refused []refusal
	for _, st := range r.streams {
		if st.state == stPending && !st.claimed || st.state == stForwarded && st.bid > lastBID {
			refused = append(refused, refusal{st.cid, uint32(r.abandon(st))})
		}
	}
	return refused
}

// writeRefusals refuses these streams to the client (r.cw.mu held).
func (r *h2relay) writeRefusals(refused []refusal) {
	for _, f := range refused {
		r.cw.u32(frRSTStream, f.cid, errcRefused)
		if f.give > 0 {
			r.cw.u32(frWindowUpdate, 0, f.give)
		}
	}
}
