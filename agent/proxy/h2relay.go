package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The h2c relay: one client connection, one connection to the application (dialled at the
// client connection's target), two goroutines — the client side reads the client's frames and
// writes the application's, the application side the other way — and no HTTP/2 server or client
// of anyone's in between: frames pass as frames, the proxy reads what it must to fault a stream
// at its start and to keep both connections' state true.
//
// What must hold, and how:
//   - HPACK state is per connection and direction, and the proxy answers some streams itself (a
//     faulted call: a trailers-only HEADERS that never reaches the application) and drops frames
//     of others. So every header block is decoded with its side's decoder (whatever becomes of
//     its stream: the decoder's table must stay the peer encoder's) and encoded anew with the
//     proxy's encoder toward the other side, under that side's write lock (blocks reach the peer
//     in the order they were encoded). Tables are 4 KiB (the protocol's default, never
//     advertised larger); a peer's SETTINGS_HEADER_TABLE_SIZE bounds the proxy's encoder toward
//     it and is not relayed (a table size is one hop's).
//   - Stream IDs toward the application are the proxy's: a stream gets the next odd ID when its
//     HEADERS is actually sent, so a delayed stream is never implicitly closed (RFC 9113 5.1.1) by
//     a later one sent first; frames are mapped both ways (client ID ↔ application ID).
//   - Flow control is end to end: DATA and WINDOW_UPDATE pass (stream IDs mapped) and each peer's
//     SETTINGS_INITIAL_WINDOW_SIZE reaches the other, so the proxy holds no more than a frame of a
//     forwarded stream. What the proxy does not pass it accounts for: DATA it drops (a stream
//     answered or reset, or already gone) is given back to its sender with a connection
//     WINDOW_UPDATE; the http kind's error body, which the proxy sends the client itself, comes from
//     a reserve of the client's connection window the application is never given (filled from
//     the client's connection WINDOW_UPDATEs before the rest passes; h2BodyReserve), and is only
//     sent if the reserve and the stream's window hold it — else the answer has no body. A delayed stream's frames and header blocks
//     wait in the proxy, h2ConnWindow of them a connection at most, each counted with
//     h2HeldFrameCost more than its bytes (tiny and empty frames cost memory too); a stream whose
//     frames would go beyond it is sent on at once (its delay cut short: hold), a new delayed
//     stream that would is refused — the client side never stops reading for a delay.
//   - SETTINGS: each peer's SETTINGS is relayed to the other, rewritten, and acked by it — the
//     acks are relayed back, one for one. Rewritten: the client is told at most h2MaxStreams
//     concurrent streams and h2MaxHeaderBytes of header list, the application that push is off;
//     frame sizes stay the protocol's 16 KiB both ways (the proxy reads no larger frame and
//     advertises none), header table sizes are per hop (above). The relay enforces its own
//     bounds: streams beyond h2MaxStreams are refused (REFUSED_STREAM), header blocks and lists
//     over h2MaxHeaderBytes or h2MaxContinuations frames end the connection (ENHANCE_YOUR_CALM).
//   - PING, GOAWAY (the client's) pass as they are; the application's GOAWAY is told to the
//     client with the client's own last stream ID (never above one told before: RFC 9113 6.8),
//     after the streams the application will not process are refused one by one — as when the
//     application's connection ends. PUSH_PROMISE: push is off, one is a protocol error.
//     PRIORITY (and HEADERS' priority) is dropped: advisory, and it names stream IDs of one hop.
//     Unknown frame types are dropped (RFC 9113 5.5).
//   - Stop: a GOAWAY to the client (no new streams; one it opens meanwhile is refused), delayed
//     streams released at once (forwarded or answered, as their fault says), the connection ends
//     when its last stream does — or Proxy.Stop resets it after the drain, counting its open
//     calls.
//   - Hostile input: every frame is checked for its type's length and stream before it is read
//     (checkFrame), frames are at most 16 KiB, header blocks and lists bounded, streams bounded,
//     what waits bounded; a broken protocol ends the connection with a GOAWAY and a lingering
//     close, never a panic (FuzzH2CConnection).

// stream states
const (
	stPending   = iota // held by its fault: not yet at the application
	stForwarded        // at the application
	stGone             // ended or dropped
)

type h2stream struct {
	cid, bid   uint32
	state      uint8
	cEnd, bEnd bool // the client's, the application's side has ended
	claimed    bool // a pending stream's release has begun
	headEnd    bool // its request's HEADERS ended the client's side
	head       bool // a HEAD request (the http kind's answer has no body)
	call       h2Call
	fields     []hpackFields // pending: its header blocks in order (the request's first)
	queue      []pendingFrame
	queued     int // bytes of queue
	queuedData int // of which DATA (flow-controlled)
	timer      *time.Timer
}

// pendingFrame is a frame of a pending stream, sent after its HEADERS (block: a header block,
// as fields).
type pendingFrame struct {
	typ, flags byte
	payload    []byte
	block      int // index in fields + 1 (0: a frame)
}

type h2relay struct {
	p    *Proxy
	c    *conn
	up   net.Conn
	cr   *bufio.Reader // the client's (c.cr: the preface is in it)
	br   *bufio.Reader
	cw   *h2out // toward the client
	bw   *h2out // toward the application
	cblk *headerBlock
	bblk *headerBlock

	mu            sync.Mutex
	space         *sync.Cond // waits for a pending stream's release under way (endHoldEarly)
	streams       map[uint32]*h2stream
	byBackend     map[uint32]*h2stream
	lastCID       uint32
	goAwayID      uint32 // the last stream ID the client was told in a GOAWAY (2^31-1: none yet)
	nextBID       uint32
	buffered      int  // bytes queued for pending streams
	stopping      bool // Proxy.Stop: GOAWAY sent, no new stream
	appGone       bool // the application sent GOAWAY: no new stream
	closed        bool
	sawBackendSet bool
	idleArmed     bool

	clientInitWin atomic.Int64 // the client's SETTINGS_INITIAL_WINDOW_SIZE
	// reserve: of the client's connection window, what the proxy withholds from the application
	// for its own DATA (the http kind's error bodies), up to reserveCap — the application
	// believes it has the rest, so the proxy's bodies never take the client over its window
	reserve    atomic.Int64
	reserveCap int64
	backDone   chan struct{}
	// serverPreface is closed once the application's first SETTINGS reached the client: the
	// client side writes nothing of its own before (the server's preface comes first)
	serverPreface chan struct{}
	prefaceOnce   sync.Once
}

func newH2Relay(c *conn, up net.Conn, uio *rawIO) *h2relay {
	r := &h2relay{
		p: c.p, c: c, up: up, cr: c.cr, br: bufio.NewReaderSize(uio, h2BackendReaderSize),
		cw: newH2Out(c.cio), bw: newH2Out(uio), cblk: newHeaderBlock(), bblk: newHeaderBlock(),
		streams: map[uint32]*h2stream{}, byBackend: map[uint32]*h2stream{}, nextBID: 1, backDone: make(chan struct{}),
		serverPreface: make(chan struct{}), goAwayID: maxWindow,
	}
	r.space = sync.NewCond(&r.mu)
	if body := len(c.p.cfg.ErrorBody); body > 0 && c.p.cfg.GRPC == nil {
		// a body at least, and a few short ones (answered streams come in bursts): small next
		// to the windows clients give (grpc-go's and Go's 1 GiB at once, curl's 32 MiB)
		r.reserveCap = int64(max(body, h2BodyReserve))
	}
	r.clientInitWin.Store(defaultInitialWindow)
	return r
}

// run relays until both sides are done.
func (r *h2relay) run() {
	_, _ = r.cr.Discard(len(h2Preface)) // peeked by sniff: in the buffer
	r.bw.mu.Lock()
	_, _ = r.bw.w.WriteString(h2Preface)
	r.bw.mu.Unlock()
	go func() {
		defer close(r.backDone)
		err := r.backendLoop()
		r.prefaceOnce.Do(func() { close(r.serverPreface) })
		r.ended(err, false)
	}()
	r.ended(r.clientLoop(), true)
	<-r.backDone
	r.close()
}

// ended ends the relay as the way one side's loop ended says.
func (r *h2relay) ended(err error, client bool) {
	// from here no held stream goes on, and a client side waiting for a release under way
	// (endHoldEarly) stops waiting
	r.mu.Lock()
	r.closed = true
	r.space.Broadcast()
	r.mu.Unlock()
	var he *h2Error
	switch {
	case client && errors.Is(err, io.EOF):
		// the client is done sending: so is the proxy to the application, whose close ends the
		// other side (within lingerTime)
		r.bw.mu.Lock()
		_ = r.bw.flush()
		r.bw.mu.Unlock()
		closeWrite(r.up)
		_ = r.up.SetReadDeadline(time.Now().Add(lingerTime))
	case errors.As(err, &he) && client:
		_ = r.cw.locked(func() { r.goAwayToClient(he.code, []byte(he.why)) })
		r.c.lingerClose()
	case !client && (errors.Is(err, io.EOF) || errors.As(err, &he)):
		// the application is done (or broke the protocol): the client is told no stream goes on
		code := uint32(errcNo)
		if he != nil {
			code = errcProtocol
		}
		// the streams it never saw are refused first: the client may retry them elsewhere
		r.mu.Lock()
		refused := r.unseen(maxWindow)
		r.mu.Unlock()
		_ = r.cw.locked(func() {
			r.writeRefusals(refused)
			r.goAwayToClient(code, nil)
		})
		r.c.lingerClose()
	default:
		r.c.closeAll()
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && he != nil {
		r.p.cfg.Logf("proxy :%d: h2c connection from %s: %v", r.p.port, r.c.client.RemoteAddr(), err)
	}
}

// goAwayToClient writes a GOAWAY to the client (r.cw.mu held): its last stream ID is the
// client's last, never above one told before — RFC 9113 6.8 forbids it to increase, and
// grpc-go's client ends the connection, with the calls the application still serves, when it
// does (a stream refused after the first GOAWAY raised lastCID).
func (r *h2relay) goAwayToClient(code uint32, debug []byte) {
	r.mu.Lock()
	r.goAwayID = min(r.goAwayID, r.lastCID)
	id := r.goAwayID
	r.mu.Unlock()
	r.cw.goAway(id, code, debug)
}

// close: both loops are done; pending streams' timers stopped.
func (r *h2relay) close() {
	r.mu.Lock()
	for _, st := range r.streams {
		r.abandon(st)
	}
	r.space.Broadcast()
	r.mu.Unlock()
}

// clientLoop reads the client's frames until it ends.
func (r *h2relay) clientLoop() error {
	buf := make([]byte, h2MaxFrame)
	for first := true; ; first = false {
		if r.cr.Buffered() == 0 {
			if err := r.bw.locked(func() {}); err != nil {
				return err
			}
			r.idle()
		}
		h, p, err := readChecked(r.cr, buf, r.cblk)
		if err == nil {
			err = r.fromClient(h, p)
		}
		if err != nil {
			return err
		}
		if first {
			r.awaitServerPreface()
		}
	}
}

// awaitServerPreface waits, once the client's SETTINGS went on, for the application's to reach
// the client (an application may wait for the client's before it sends its own), or its end;
// at most IdleTimeout.
func (r *h2relay) awaitServerPreface() {
	t := time.NewTimer(r.p.cfg.IdleTimeout)
	defer t.Stop()
	select {
	case <-r.serverPreface:
	case <-t.C:
	}
}

func (r *h2relay) fromClient(h frameHeader, p []byte) error {
	switch h.typ {
	case frData:
		return r.clientData(h, p)
	case frHeaders, frContinuation:
		done, err := r.cblk.add(h, p)
		if err != nil || !done {
			return err
		}
		return r.clientBlock(h.stream, r.cblk.end, r.cblk.fields)
	case frRSTStream:
		r.clientReset(h, p)
	case frSettings:
		return r.relaySettings(h, p, true)
	case frPushPromise:
		return protoErr("PUSH_PROMISE from a client")
	case frPing, frGoAway:
		return r.bw.locked(func() { r.bw.frame(h.typ, h.flags, 0, p) })
	case frWindowUpdate:
		return r.clientWindowUpdate(h, p)
	}
	// PRIORITY, unknown types: dropped
	return nil
}

// backendLoop reads the application's frames until it ends.
func (r *h2relay) backendLoop() error {
	buf := make([]byte, h2MaxFrame)
	for {
		if r.br.Buffered() == 0 {
			if err := r.cw.locked(func() {}); err != nil {
				return err
			}
		}
		h, p, err := readChecked(r.br, buf, r.bblk)
		if err == nil {
			err = r.fromBackend(h, p)
		}
		if err != nil {
			return err
		}
	}
}

func (r *h2relay) fromBackend(h frameHeader, p []byte) error {
	switch h.typ {
	case frData:
		return r.backendData(h, p)
	case frHeaders, frContinuation:
		done, err := r.bblk.add(h, p)
		if err != nil || !done {
			return err
		}
		return r.backendBlock(h.stream, r.bblk.end, r.bblk.fields)
	case frRSTStream:
		return r.backendReset(h, p)
	case frSettings:
		return r.relaySettings(h, p, false)
	case frPushPromise:
		return protoErr("PUSH_PROMISE with push off")
	case frPing:
		return r.cw.locked(func() { r.cw.frame(h.typ, h.flags, 0, p) })
	case frGoAway:
		return r.backendGoAway(p)
	case frWindowUpdate:
		return r.backendWindowUpdate(h, p)
	}
	return nil
}

// idle arms the client's read deadline (IdleTimeout) when it has no stream open (from the moment
// its last stream ended: drop arms it then), and clears it when it has.
func (r *h2relay) idle() {
	if r.c.cio.ending.Load() {
		return // a lingering close's deadline is the one that counts
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch none := len(r.streams) == 0; {
	case none && !r.idleArmed:
		_ = r.c.client.SetReadDeadline(time.Now().Add(r.p.cfg.IdleTimeout))
	case !none && r.idleArmed:
		_ = r.c.client.SetReadDeadline(time.Time{})
	default:
		return
	}
	r.idleArmed = !r.idleArmed
}

// relaySettings relays a SETTINGS frame to the other side, rewritten (see the header comment),
// or its ack as it is.
func (r *h2relay) relaySettings(h frameHeader, p []byte, fromClient bool) error {
	own, to := r.bw, r.cw
	if fromClient {
		own, to = r.cw, r.bw
	}
	if h.flags&flAck != 0 {
		return to.locked(func() { to.frame(frSettings, flAck, 0, nil) })
	}
	// of each setting it passes, the last value only (the one that counts, RFC 9113 6.5): a
	// frame of thousands of repeats would come out over 16 KiB with the proxy's own
	var initWin, maxConc *setting
	for i := 0; i < len(p); i += 6 {
		s := setting{binary.BigEndian.Uint16(p[i:]), binary.BigEndian.Uint32(p[i+2:])}
		switch s.id {
		case setHeaderTableSize:
			own.mu.Lock()
			own.enc.SetMaxDynamicTableSizeLimit(min(s.val, defaultHeaderTableLen))
			own.mu.Unlock()
		case setInitialWindowSize:
			if s.val > maxWindow {
				return &h2Error{code: errcFlowControl, why: "an initial window over 2^31-1"}
			}
			if fromClient {
				r.clientInitWin.Store(int64(s.val))
			}
			initWin = &s
		case setMaxFrameSize:
			if s.val < h2MaxFrame || s.val > 1<<24-1 {
				return protoErr("a max frame size of %d", s.val)
			}
		case setEnablePush:
			if s.val > 1 {
				return protoErr("ENABLE_PUSH %d", s.val)
			}
		case setMaxConcurrent:
			if !fromClient {
				maxConc = &setting{setMaxConcurrent, min(s.val, h2MaxStreams)}
			}
		}
	}
	out := make([]byte, 0, 4*6)
	if initWin != nil {
		out = appendSetting(out, *initWin)
	}
	if maxConc != nil {
		out = appendSetting(out, *maxConc)
	}
	out = appendSetting(out, setting{setMaxHeaderListSize, h2MaxHeaderBytes})
	if fromClient {
		out = appendSetting(out, setting{setEnablePush, 0})
	} else {
		r.mu.Lock()
		first := !r.sawBackendSet
		r.sawBackendSet = true
		r.mu.Unlock()
		if first && maxConc == nil {
			out = appendSetting(out, setting{setMaxConcurrent, h2MaxStreams})
		}
	}
	err := to.locked(func() { to.frame(frSettings, 0, 0, out) })
	if !fromClient {
		r.prefaceOnce.Do(func() { close(r.serverPreface) })
	}
	return err
}

// windowIncrement is a WINDOW_UPDATE's increment; 0 on a stream is dropped (the peer's
// stream error, not the connection's), on the connection a protocol error.
func windowIncrement(h frameHeader, p []byte) (uint32, error) {
	inc := binary.BigEndian.Uint32(p) & maxWindow
	if inc == 0 && h.stream == 0 {
		return 0, protoErr("a WINDOW_UPDATE of 0")
	}
	return inc, nil
}
