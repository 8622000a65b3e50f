package proxy

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// What a connection holds of its delayed streams (h2ConnWindow) and what it must never do while
// it holds them: each held frame and header block counted with what it costs, and the client's
// other streams never kept waiting for a delay.

// pingSync sends a PING and reads until its ACK: every frame sent before it was processed.
func (h *h2Client) pingSync() {
	h.t.Helper()
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], 0xfeedface)
	h.send(func(w *h2out) { w.frame(frPing, 0, 0, data[:]) })
	for {
		fh, p, err := readFrame(h.r, h.buf)
		if err != nil {
			h.t.Fatalf("no PING ack: %v", err)
		}
		switch {
		case fh.typ == frSettings && fh.flags&flAck == 0:
			h.send(func(w *h2out) { w.frame(frSettings, flAck, 0, nil) })
		case fh.typ == frGoAway:
			h.t.Fatalf("GOAWAY code %d", binary.BigEndian.Uint32(p[4:]))
		case fh.typ == frPing && fh.flags&flAck != 0:
			return
		}
	}
}

// relayOf is the proxy's one h2c connection.
func relayOf(t *testing.T, p *Proxy) *h2relay {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.mu.Lock()
		r := c.h2r
		c.mu.Unlock()
		if r != nil {
			return r
		}
	}
	t.Fatal("no h2c connection")
	return nil
}

// held is what the relay holds of its pending streams: frames, and what they cost as the
// bound counts them — recounted here from the streams themselves.
func held(r *h2relay) (frames, cost int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.streams {
		if st.state != stPending {
			continue
		}
		frames += len(st.queue)
		for _, f := range st.fields {
			cost += fieldsCost(f)
		}
		for _, f := range st.queue {
			if f.block == 0 {
				cost += len(f.payload) + h2HeldFrameCost
			}
		}
	}
	return frames, cost
}

// heldStream is a proxy delaying every request an hour and a client whose stream 1 it holds,
// its body to come.
func heldStream(t *testing.T) (*Proxy, *h2Client) {
	p := start(t, Config{Delay: time.Hour}, echoH2App(t))
	h := dialH2(t, p)
	_ = h.c.SetDeadline(time.Now().Add(60 * time.Second))
	h.send(func(w *h2out) { w.headers(1, get("/held"), false) })
	return p, h
}

// Empty DATA frames on a held stream carry nothing and no window: held, each cost the proxy a
// frame's memory and none of its bound — a client sending them without end grew the proxy
// without end.
func TestH2CEmptyDataOnAHeldStreamIsNotHeld(t *testing.T) {
	p, h := heldStream(t)
	h.send(func(w *h2out) {
		for i := 0; i < 100_000; i++ {
			w.frame(frData, 0, 1, nil)
		}
	})
	h.pingSync()
	if frames, cost := held(relayOf(t, p)); frames != 0 || cost > h2ConnWindow {
		t.Fatalf("%d empty frames held, costing %d", frames, cost)
	}
}

// One-byte frames: counted by their bytes alone, h2ConnWindow of them cost some fifty times the
// bound. Each costs a frame's overhead too, and the stream whose frames would take the
// connection over the bound goes on to the application now.
func TestH2CTinyFramesOnAHeldStreamCountWhatTheyCost(t *testing.T) {
	p, h := heldStream(t)
	h.send(func(w *h2out) {
		for i := 0; i < h2ConnWindow; i++ {
			w.frame(frData, 0, 1, []byte{'x'})
		}
	})
	h.pingSync()
	if frames, cost := held(relayOf(t, p)); cost > h2ConnWindow || frames > h2ConnWindow/h2HeldFrameCost {
		t.Fatalf("%d frames held, costing %d (bound %d)", frames, cost, h2ConnWindow)
	}
	h.send(func(w *h2out) { w.frame(frData, flEndStream, 1, nil) })
	if got, _ := h.responses(1); got[1].fields[":status"] != "200" {
		t.Fatalf("the stream whose hold ended early: %+v", got[1])
	}
}

// Held streams' header blocks count too: a hundred streams, each with a request and trailers
// of 60 KiB, held some 12 MiB outside any bound. Within it a stream is held; over it at its
// request it is refused (the client may retry it), at its trailers it goes on now.
func TestH2CHeldHeaderBlocksCountAgainstTheBound(t *testing.T) {
	p := start(t, Config{Delay: time.Hour}, echoH2App(t))
	h := dialH2(t, p)
	_ = h.c.SetDeadline(time.Now().Add(20 * time.Second))
	var big hpackFields
	for len(big)*48 < 60_000 { // 48: an 8-byte name and value, and HPACK's 32
		big = append(big, hpack.HeaderField{Name: "x-aaaaaa", Value: "vvvvvvvv", Sensitive: true})
	}
	const last = 2*h2MaxStreams - 1
	for s := uint32(1); s <= last; s += 2 {
		h.send(func(w *h2out) {
			w.headers(s, get("/held", big...), false)
			w.headers(s, big, true)
		})
	}
	if got, goAway := h.responses(last); !got[last].reset || goAway != -1 {
		t.Fatalf("a stream over the bound: %+v, GOAWAY %d", got[last], goAway)
	}
	if _, cost := held(relayOf(t, p)); cost > h2ConnWindow {
		t.Fatalf("held header blocks cost %d (bound %d)", cost, h2ConnWindow)
	}
}

// A stream refused at its start (over what the connection may hold) reached nobody, and the
// client may send it again: it is not counted as a request or as faulted, so a retried stream
// is counted once.
func TestH2CAStreamRefusedAtItsStartIsNotCounted(t *testing.T) {
	p := start(t, Config{Delay: time.Hour}, echoH2App(t))
	h := dialH2(t, p)
	_ = h.c.SetDeadline(time.Now().Add(20 * time.Second))
	var big hpackFields
	for len(big)*48 < 60_000 {
		big = append(big, hpack.HeaderField{Name: "x-aaaaaa", Value: "vvvvvvvv", Sensitive: true})
	}
	fit := uint32(h2ConnWindow / fieldsCost(get("/held", big...)))
	last := 2*fit + 1 // the stream after the fit-th
	for s := uint32(1); s <= last; s += 2 {
		h.send(func(w *h2out) { w.headers(s, get("/held", big...), true) })
	}
	if got, _ := h.responses(last); !got[last].reset {
		t.Fatalf("the stream over the bound: %+v", got[last])
	}
	if st := p.Stats(); st.Requests != int64(fit) || st.Faulted != int64(fit) {
		t.Fatalf("%d streams held and 1 refused: counted %d requests, %d faulted", fit, st.Requests, st.Faulted)
	}
}

// DATA after the client ended its stream is a stream error (RFC 9113 5.1), not one more frame
// for the proxy to hold until the delay ends; an empty one has no window to give back (a
// WINDOW_UPDATE of 0 is the client's protocol error).
func TestH2CDataAfterTheEndOfAHeldStreamResetsIt(t *testing.T) {
	for _, late := range []string{"late", ""} {
		p := start(t, Config{Delay: time.Hour}, echoH2App(t))
		h := dialH2(t, p)
		h.send(func(w *h2out) {
			w.headers(1, get("/held"), true)
			w.frame(frData, 0, 1, []byte(late))
			w.frame(frPing, 0, 0, make([]byte, 8))
		})
		reset := -1
		for done := false; !done; {
			fh, p, err := readFrame(h.r, h.buf)
			if err != nil {
				t.Fatalf("%q: no PING ack: %v", late, err)
			}
			switch {
			case fh.typ == frSettings && fh.flags&flAck == 0:
				h.send(func(w *h2out) { w.frame(frSettings, flAck, 0, nil) })
			case fh.typ == frRSTStream && fh.stream == 1:
				reset = int(binary.BigEndian.Uint32(p))
			case fh.typ == frWindowUpdate && fh.stream == 0:
				if binary.BigEndian.Uint32(p) == 0 {
					t.Fatalf("%q: a WINDOW_UPDATE of 0", late)
				}
			case fh.typ == frPing && fh.flags&flAck != 0:
				done = true
			}
		}
		if reset != errcStreamClosed {
			t.Fatalf("%q: RST_STREAM code %d, want STREAM_CLOSED", late, reset)
		}
	}
}

// A held upload over what the connection may hold must not stop the proxy reading the client:
// an undelayed stream behind it is answered now, not when the delay ends (an hour here: the
// test's deadline ends it first).
func TestH2CAHeldUploadDoesNotStallOtherStreams(t *testing.T) {
	p := start(t, Config{Delay: time.Hour, Exclude: []string{"/pass"}}, echoH2App(t))
	h := dialH2(t, p)
	chunk := []byte(strings.Repeat("u", h2MaxFrame))
	h.send(func(w *h2out) {
		w.headers(1, get("/held"), false)
		for i := 0; i < 20; i++ { // 320 KiB: within the application's windows (1 MiB)
			w.frame(frData, 0, 1, chunk)
		}
		w.headers(3, get("/pass"), true)
	})
	if got, _ := h.responses(3); got[3].fields[":status"] != "200" || got[3].body != "/pass" {
		t.Fatalf("the undelayed stream behind a held upload: %+v", got[3])
	}
}
