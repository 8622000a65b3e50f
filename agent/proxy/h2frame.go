package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 framing the relay (h2relay.go) reads and writes: the 9-byte frame header (RFC 9113
// 4.1), the frame types and flags it knows, and one writer per side that also holds the HPACK
// encoder toward that side (a header block is encoded and written under one lock, so blocks
// reach the peer in the order its decoder's table was built).

const (
	frData         = 0x0
	frHeaders      = 0x1
	frPriority     = 0x2
	frRSTStream    = 0x3
	frSettings     = 0x4
	frPushPromise  = 0x5
	frPing         = 0x6
	frGoAway       = 0x7
	frWindowUpdate = 0x8
	frContinuation = 0x9

	flEndStream  = 0x1
	flAck        = 0x1
	flEndHeaders = 0x4
	flPadded     = 0x8
	flPriority   = 0x20

	errcNo           = 0x0
	errcProtocol     = 0x1
	errcFlowControl  = 0x3
	errcFrameSize    = 0x6
	errcStreamClosed = 0x5
	errcCancel       = 0x8
	errcRefused      = 0x7
	errcCompression  = 0x9
	errcCalm         = 0xb

	setHeaderTableSize    = 0x1
	setEnablePush         = 0x2
	setMaxConcurrent      = 0x3
	setInitialWindowSize  = 0x4
	setMaxFrameSize       = 0x5
	setMaxHeaderListSize  = 0x6
	frameHeaderLen        = 9
	maxWindow             = 1<<31 - 1
	h2MaxContinuations    = 64                          // CONTINUATION frames in one header block (a flood of empty ones is bounded)
	h2WriterSize          = h2MaxFrame + frameHeaderLen // a whole frame (a connection: 84 KiB of buffers, with the client's 4 KiB reader and two frame buffers)
	h2BackendReaderSize   = h2MaxFrame + frameHeaderLen
	defaultInitialWindow  = 65535
	defaultHeaderTableLen = 4096
)

type frameHeader struct {
	length      uint32
	typ, flags  byte
	stream      uint32
	endsStream  bool
	endsHeaders bool
}

// h2Error is a connection error (RFC 9113 5.4.1): the peer broke the protocol, the connection
// ends with a GOAWAY carrying code.
type h2Error struct {
	code uint32
	why  string
}

func (e *h2Error) Error() string { return fmt.Sprintf("HTTP/2 error %d: %s", e.code, e.why) }

func protoErr(format string, a ...any) error {
	return &h2Error{code: errcProtocol, why: fmt.Sprintf(format, a...)}
}

// readFrame reads one frame whose payload fits buf (a longer one is a FRAME_SIZE_ERROR: the
// proxy never advertises more than the protocol's minimum maximum); the payload is buf's, valid
// until the next call.
func readFrame(r *bufio.Reader, buf []byte) (frameHeader, []byte, error) {
	var hb [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return frameHeader{}, nil, err
	}
	h := frameHeader{
		length: uint32(hb[0])<<16 | uint32(hb[1])<<8 | uint32(hb[2]), typ: hb[3], flags: hb[4],
		stream: binary.BigEndian.Uint32(hb[5:]) & maxWindow,
	}
	h.endsStream = h.flags&flEndStream != 0 && (h.typ == frData || h.typ == frHeaders)
	h.endsHeaders = h.flags&flEndHeaders != 0 && (h.typ == frHeaders || h.typ == frContinuation)
	if h.length > uint32(len(buf)) {
		return h, nil, &h2Error{code: errcFrameSize, why: fmt.Sprintf("a frame of %d bytes", h.length)}
	}
	p := buf[:h.length]
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, p, nil
}

// checkFrame: the frame's length and stream fit its type (RFC 9113 6.x); what a relay needs to
// trust before it looks inside.
func checkFrame(h frameHeader, p []byte) error {
	onStream := h.typ == frData || h.typ == frHeaders || h.typ == frPriority || h.typ == frRSTStream || h.typ == frContinuation || h.typ == frPushPromise
	onConn := h.typ == frSettings || h.typ == frPing || h.typ == frGoAway
	switch {
	case onStream && h.stream == 0:
		return protoErr("frame type %d on stream 0", h.typ)
	case onConn && h.stream != 0:
		return protoErr("frame type %d on stream %d", h.typ, h.stream)
	case h.typ == frRSTStream && len(p) != 4, h.typ == frWindowUpdate && len(p) != 4,
		h.typ == frPing && len(p) != 8, h.typ == frPriority && len(p) != 5,
		h.typ == frGoAway && len(p) < 8, h.typ == frSettings && len(p)%6 != 0,
		h.typ == frSettings && h.flags&flAck != 0 && len(p) != 0:
		return &h2Error{code: errcFrameSize, why: fmt.Sprintf("frame type %d of %d bytes", h.typ, len(p))}
	case h.typ == frData && h.flags&flPadded != 0 && (len(p) == 0 || int(p[0]) >= len(p)):
		return protoErr("DATA padding longer than the frame")
	}
	return nil
}

// headerFragment is a HEADERS frame's header block fragment: without its padding and priority.
func headerFragment(h frameHeader, p []byte) ([]byte, error) {
	if h.typ != frHeaders {
		return p, nil
	}
	if h.flags&flPadded != 0 {
		if len(p) == 0 || int(p[0]) >= len(p) {
			return nil, protoErr("HEADERS padding longer than the frame")
		}
		p = p[1 : len(p)-int(p[0])]
	}
	if h.flags&flPriority != 0 {
		if len(p) < 5 {
			return nil, &h2Error{code: errcFrameSize, why: "HEADERS priority cut short"}
		}
		p = p[5:]
	}
	return p, nil
}

// h2out writes frames to one side. mu guards it all; a write error sticks (err) and ends the
// relay. Never held with the other side's h2out; the relay's stream lock may be taken under it.
type h2out struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *hpack.Encoder
	blk bytes.Buffer
	hdr [frameHeaderLen]byte
	err error
}

func newH2Out(w io.Writer) *h2out {
	o := &h2out{w: bufio.NewWriterSize(w, h2WriterSize)}
	o.enc = hpack.NewEncoder(&o.blk)
	return o
}

// frame writes one frame (mu held).
func (o *h2out) frame(typ, flags byte, stream uint32, payload []byte) {
	if o.err != nil {
		return
	}
	n := len(payload)
	o.hdr = [frameHeaderLen]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	if _, err := o.w.Write(o.hdr[:]); err != nil {
		o.err = err
		return
	}
	if _, err := o.w.Write(payload); err != nil {
		o.err = err
	}
}

// headers encodes fields with this side's encoder and writes them as HEADERS and as many
// CONTINUATION frames as the block needs (mu held).
func (o *h2out) headers(stream uint32, fields []hpack.HeaderField, end bool) {
	o.blk.Reset()
	for _, f := range fields {
		_ = o.enc.WriteField(f) // into a bytes.Buffer: never fails
	}
	b := o.blk.Bytes()
	typ, flags := byte(frHeaders), byte(0)
	if end {
		flags = flEndStream
	}
	for {
		n := min(len(b), h2MaxFrame)
		if n == len(b) {
			flags |= flEndHeaders
		}
		o.frame(typ, flags, stream, b[:n])
		if b = b[n:]; len(b) == 0 {
			return
		}
		typ, flags = frContinuation, 0
	}
}

// u32 writes a frame whose payload is one 32-bit value (RST_STREAM, WINDOW_UPDATE; mu held).
func (o *h2out) u32(typ byte, stream, v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	o.frame(typ, 0, stream, b[:])
}

// goAway writes a GOAWAY (mu held).
func (o *h2out) goAway(last, code uint32, debug []byte) {
	b := make([]byte, 8, 8+len(debug))
	binary.BigEndian.PutUint32(b, last)
	binary.BigEndian.PutUint32(b[4:], code)
	o.frame(frGoAway, 0, 0, append(b, debug...))
}

// flush sends what is buffered (mu held); the sticky error.
func (o *h2out) flush() error {
	if o.err == nil && o.w.Buffered() > 0 {
		o.err = o.w.Flush()
	}
	return o.err
}

// put writes one frame, unflushed (the side's loop flushes before it waits); the sticky error.
func (o *h2out) put(typ, flags byte, stream uint32, payload []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frame(typ, flags, stream, payload)
	return o.err
}

// putHeaders writes a header block, unflushed; the sticky error.
func (o *h2out) putHeaders(stream uint32, fields []hpack.HeaderField, end bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.headers(stream, fields, end)
	return o.err
}

// locked runs f with mu held, then flushes.
func (o *h2out) locked(f func()) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
	return o.flush()
}

// setting is one SETTINGS parameter.
type setting struct {
	id  uint16
	val uint32
}

func appendSetting(b []byte, s setting) []byte {
	return append(b, byte(s.id>>8), byte(s.id), byte(s.val>>24), byte(s.val>>16), byte(s.val>>8), byte(s.val))
}

// readChecked reads a frame and checks it (checkFrame; inside a header block of blk, only its
// CONTINUATION may come).
func readChecked(r *bufio.Reader, buf []byte, blk *headerBlock) (frameHeader, []byte, error) {
	h, p, err := readFrame(r, buf)
	if err == nil {
		err = checkFrame(h, p)
	}
	if err == nil && blk.open() && h.typ != frContinuation {
		err = protoErr("frame type %d inside a header block", h.typ)
	}
	return h, p, err
}

// headerBlock gathers one header block (HEADERS, then CONTINUATION frames) and decodes it with
// its side's decoder: every block is decoded, whatever becomes of its stream, so the decoder's
// table stays the peer encoder's. Bounded: h2MaxHeaderBytes of block and of decoded list,
// h2MaxContinuations frames.
type headerBlock struct {
	dec      *hpack.Decoder
	stream   uint32 // the block being gathered (0: none)
	end      bool   // its HEADERS ended the stream
	frames   int
	raw      []byte
	fields   []hpack.HeaderField
	listSize int
}

func newHeaderBlock() *headerBlock {
	b := &headerBlock{}
	b.dec = hpack.NewDecoder(defaultHeaderTableLen, func(f hpack.HeaderField) {
		b.listSize += int(f.Size())
		if b.listSize <= h2MaxHeaderBytes {
			b.fields = append(b.fields, f)
		}
	})
	b.dec.SetMaxStringLength(h2MaxHeaderBytes)
	return b
}

// add takes a HEADERS or CONTINUATION frame; done: the block is whole and decoded into fields
// (valid until the next block).
func (b *headerBlock) add(h frameHeader, p []byte) (done bool, err error) {
	if h.typ == frHeaders {
		if p, err = headerFragment(h, p); err != nil {
			return false, err
		}
		b.stream, b.end, b.frames, b.raw = h.stream, h.endsStream, 0, b.raw[:0]
	} else if b.stream == 0 || h.stream != b.stream {
		return false, protoErr("CONTINUATION of no header block")
	}
	b.frames++
	if b.frames > h2MaxContinuations || len(b.raw)+len(p) > h2MaxHeaderBytes {
		return false, &h2Error{code: errcCalm, why: "a header block over the proxy's bounds"}
	}
	b.raw = append(b.raw, p...)
	if !h.endsHeaders {
		return false, nil
	}
	b.stream = 0
	b.fields, b.listSize = b.fields[:0], 0
	if _, err := b.dec.Write(b.raw); err != nil {
		return false, &h2Error{code: errcCompression, why: err.Error()}
	}
	if err := b.dec.Close(); err != nil {
		return false, &h2Error{code: errcCompression, why: err.Error()}
	}
	if b.listSize > h2MaxHeaderBytes {
		return false, &h2Error{code: errcCalm, why: "a header list over the proxy's bound"}
	}
	return true, nil
}

// open: a header block is being gathered (only its CONTINUATION may come next).
func (b *headerBlock) open() bool { return b.stream != 0 }
