package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// The h2c relay's own duties (h2relay.go), each against a real peer: grpc-go's server and
// client, or the standard library's h2c server with a client of frames written here.

// A delayed stream followed by one that is not: the second reaches the application first, and
// the first must still be a new stream to it (its ID above the second's, RFC 9113 5.1.1) — with
// the client's stream IDs passed as they are, grpc-go's server ends the connection.
func TestH2CADelayedStreamIsNotClosedByALaterOne(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{Delay: 300 * time.Millisecond}, GRPCConfig{Exclude: []string{"grpc.testing.TestService/EmptyCall"}}, app.addr)
	c := grpcClient(t, p.addr())
	if _, err := c.EmptyCall(context.Background(), &testpb.Empty{}); err != nil { // the connection up
		t.Fatal(err)
	}
	delayed := make(chan error, 1)
	go func() { _, err := unary(c, "late"); delayed <- err }()
	waitFor(t, "the call held", 5*time.Second, func() bool { return p.Stats().Delayed == 1 })
	if _, err := c.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatalf("the undelayed call: %v", err)
	}
	if err := <-delayed; err != nil {
		t.Fatalf("the delayed call, sent after a later stream: %v", err)
	}
	if s := p.Stats(); s.Calls != 3 || s.CallsRelayed != 3 || s.Delayed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Calls answered by the proxy with big requests: their DATA never reaches the application, so
// the proxy gives the client its connection window back — without, the client's window is spent
// after a few of them and the connection's next calls wait forever.
func TestH2CAnsweredCallsGiveTheirWindowBack(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{ErrorRate: 1}, GRPCConfig{Exclude: []string{"grpc.testing.TestService/FullDuplexCall"}}, app.addr)
	c := grpcClient(t, p.addr())
	big := strings.Repeat("b", 200_000)
	for i := 0; i < 40; i++ {
		if _, err := unary(c, big); status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(big)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Recv()
	if err != nil || len(got.GetPayload().GetBody()) != len(big) {
		t.Fatalf("a forwarded call after the answered ones: %v", err)
	}
}

// h2Client is a client of frames: what a peer may send that grpc-go's and Go's clients don't.
type h2Client struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	w   *h2out
	blk *headerBlock
	buf []byte
}

func dialH2(t *testing.T, p *Proxy) *h2Client {
	t.Helper()
	c := dial(t, p)
	h := &h2Client{t: t, c: c, r: bufio.NewReader(c), w: newH2Out(c), blk: newHeaderBlock(), buf: make([]byte, h2MaxFrame)}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	h.w.mu.Lock()
	_, _ = h.w.w.WriteString(h2Preface)
	h.w.frame(frSettings, 0, 0, nil)
	_ = h.w.flush()
	h.w.mu.Unlock()
	return h
}

func (h *h2Client) send(f func(w *h2out)) {
	h.t.Helper()
	if err := h.w.locked(func() { f(h.w) }); err != nil {
		h.t.Fatal(err)
	}
}

// h2Response is what came back on one stream.
type h2Response struct {
	fields map[string]string
	body   string
	reset  bool
}

// responses reads until each of these streams ended (or was reset), or the connection ends
// (goAway: the code of a GOAWAY, -1 for none).
func (h *h2Client) responses(streams ...uint32) (map[uint32]*h2Response, int) {
	h.t.Helper()
	out, open := map[uint32]*h2Response{}, map[uint32]bool{}
	for _, s := range streams {
		out[s], open[s] = &h2Response{fields: map[string]string{}}, true
	}
	goAway := -1
	for len(open) > 0 {
		fh, p, err := readFrame(h.r, h.buf)
		if err != nil {
			return out, goAway
		}
		switch {
		case fh.typ == frSettings && fh.flags&flAck == 0:
			h.send(func(w *h2out) { w.frame(frSettings, flAck, 0, nil) })
		case fh.typ == frGoAway:
			goAway = int(binary.BigEndian.Uint32(p[4:]))
		case fh.typ == frHeaders || fh.typ == frContinuation:
			done, err := h.blk.add(fh, p)
			if err != nil {
				h.t.Fatalf("the proxy's header block: %v", err)
			}
			if done && out[fh.stream] != nil {
				for _, f := range h.blk.fields {
					out[fh.stream].fields[f.Name] = f.Value
				}
			}
		case fh.typ == frData && out[fh.stream] != nil:
			out[fh.stream].body += string(p)
		case fh.typ == frRSTStream && out[fh.stream] != nil:
			out[fh.stream].reset = true
		}
		if fh.endsStream || fh.typ == frRSTStream {
			delete(open, fh.stream)
		}
	}
	return out, goAway
}

// h2App is the standard library's h2c server with this handler: it, and its address.
func h2App(t *testing.T, handler http.HandlerFunc) (*http.Server, string) {
	t.Helper()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: &protos, Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

// echoH2App is the standard library's h2c server: it answers every request with its path and
// x-key header.
func echoH2App(t *testing.T) string {
	t.Helper()
	_, addr := h2App(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-Key"))
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, r.URL.Path)
	})
	return addr
}

func get(path string, extra ...hpack.HeaderField) hpackFields {
	return append(hpackFields{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"}, {Name: ":path", Value: path}}, extra...)
}

// HPACK tables across streams the proxy answers: the client indexes a header on a stream the
// proxy answers (the application never sees that block) and refers to it by index on the next,
// forwarded, stream; the client decodes the proxy's answer and the application's response with
// one decoder. The application must see the header, the client both responses as they were —
// so the proxy decodes every block and encodes every block it sends, its own answers too, with
// the one encoder of their side.
func TestH2CHeaderTablesHoldAcrossAnsweredStreams(t *testing.T) {
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: "injected", Exclude: []string{"/pass"}}, echoH2App(t))
	h := dialH2(t, p)
	// the connection window clients give at once (Go's, curl's): the answers' bodies come out of it
	h.send(func(w *h2out) { w.u32(frWindowUpdate, 0, 1<<20) })
	// one stream at a time: each response is encoded after the ones before it
	for i, s := range []uint32{1, 3, 5, 7} {
		path := "/fault"
		if i%2 == 1 {
			path = "/pass"
		}
		// the client's own encoder: x-key indexed on stream 1, referred to by index after
		h.send(func(w *h2out) { w.headers(s, get(path, hpack.HeaderField{Name: "x-key", Value: "v1"}), true) })
		got, goAway := h.responses(s)
		r := got[s]
		if i%2 == 0 && (r.fields[":status"] != "503" || r.fields["content-type"] != "text/plain; charset=utf-8" || r.body != "injected") {
			t.Fatalf("stream %d, answered: %+v (GOAWAY %d)", s, r, goAway)
		}
		if i%2 == 1 && (r.fields[":status"] != "200" || r.fields["x-echo"] != "v1" || r.body != "/pass") {
			t.Fatalf("stream %d, forwarded: %+v (GOAWAY %d)", s, r, goAway)
		}
	}
}

// A header block in HEADERS and CONTINUATION frames reaches the application whole; a flood of
// empty CONTINUATION frames, or a block over the proxy's bound, ends the connection with
// ENHANCE_YOUR_CALM.
func TestH2CContinuationFramesAndTheirBounds(t *testing.T) {
	p := start(t, Config{Exclude: []string{"/"}}, echoH2App(t))
	h := dialH2(t, p)
	long := strings.Repeat("k", 40_000) // three frames of the client's
	h.send(func(w *h2out) { w.headers(1, get("/long", hpack.HeaderField{Name: "x-key", Value: long}), true) })
	got, _ := h.responses(1)
	if r := got[1]; r.fields[":status"] != "200" || r.fields["x-echo"] != long {
		t.Fatalf("a block in CONTINUATION frames: status %q, x-echo of %d bytes", r.fields[":status"], len(r.fields["x-echo"]))
	}
	for _, tc := range []struct {
		name string
		send func(w *h2out)
	}{
		{"empty CONTINUATION frames", func(w *h2out) {
			w.frame(frHeaders, 0, 3, nil)
			for i := 0; i < 10_000; i++ {
				w.frame(frContinuation, 0, 3, nil)
			}
		}},
		{"a block over the bound", func(w *h2out) {
			w.frame(frHeaders, 0, 3, make([]byte, h2MaxFrame))
			for i := 0; i < 5; i++ {
				w.frame(frContinuation, 0, 3, make([]byte, h2MaxFrame))
			}
		}},
	} {
		h := dialH2(t, p)
		h.send(tc.send)
		if _, goAway := h.responses(3); goAway != errcCalm {
			t.Fatalf("%s: GOAWAY %d, want ENHANCE_YOUR_CALM", tc.name, goAway)
		}
	}
}

// A held stream keeps its header blocks until its delay ends: a client sending block after block
// on it (none of them trailers, which end the stream) would have it keep them all; it is a
// protocol error, and ends the connection.
func TestH2CHeaderBlocksOnAHeldStreamAreBounded(t *testing.T) {
	p := start(t, Config{Delay: time.Hour}, echoH2App(t))
	h := dialH2(t, p)
	h.send(func(w *h2out) {
		for i := 0; i < 4; i++ {
			w.headers(1, get("/held", hpack.HeaderField{Name: "x-key", Value: strings.Repeat("k", 60_000)}), false)
		}
	})
	if _, goAway := h.responses(1); goAway != errcProtocol {
		t.Fatalf("GOAWAY %d, want PROTOCOL_ERROR", goAway)
	}
}

// A client over h2MaxStreams (the proxy tells it the bound in the application's SETTINGS, but
// may be read before its ack): the streams beyond are refused, not held, and the connection
// goes on.
func TestH2CStreamsOverTheBoundAreRefused(t *testing.T) {
	p := start(t, Config{Delay: time.Hour, Exclude: []string{"/pass"}}, echoH2App(t))
	h := dialH2(t, p)
	over := uint32(2*h2MaxStreams + 1)
	h.send(func(w *h2out) {
		for s := uint32(1); s <= over; s += 2 {
			w.headers(s, get("/held"), true)
		}
	})
	if got, goAway := h.responses(over); !got[over].reset || goAway != -1 {
		t.Fatalf("stream %d beyond the bound: %+v, GOAWAY %d", over, got[over], goAway)
	}
	if s := p.Stats(); s.Faulted != h2MaxStreams {
		t.Fatalf("%d streams held, want %d", s.Faulted, h2MaxStreams)
	}
}

// Stop: the client is told GOAWAY with its last stream, a stream held by its delay goes on to
// the application at once, a stream opened after the GOAWAY is refused, and the open stream
// finishes.
func TestH2CStopReleasesHeldStreamsAndRefusesNewOnes(t *testing.T) {
	p := start(t, Config{Delay: time.Hour}, echoH2App(t))
	h := dialH2(t, p)
	h.send(func(w *h2out) { w.headers(1, get("/held"), false) }) // its body still to come
	waitFor(t, "the stream held", 5*time.Second, func() bool { return p.Stats().Faulted == 1 })
	go p.Stop(5 * time.Second)
	if last := h.awaitGoAway(); last != 1 {
		t.Fatalf("GOAWAY's last stream %d, want 1", last)
	}
	h.send(func(w *h2out) { w.headers(3, get("/late"), true) })
	if got, _ := h.responses(3); !got[3].reset {
		t.Fatalf("a stream after the GOAWAY: %+v", got[3])
	}
	h.send(func(w *h2out) { w.frame(frData, flEndStream, 1, []byte("body")) })
	if got, _ := h.responses(1); got[1].fields[":status"] != "200" || got[1].body != "/held" {
		t.Fatalf("the held stream, released by the stop: %+v", got[1])
	}
}

// awaitGoAway reads until a GOAWAY: its last stream ID.
func (h *h2Client) awaitGoAway() uint32 {
	h.t.Helper()
	for {
		fh, p, err := readFrame(h.r, h.buf)
		if err != nil {
			h.t.Fatalf("no GOAWAY: %v", err)
		}
		switch {
		case fh.typ == frSettings && fh.flags&flAck == 0:
			h.send(func(w *h2out) { w.frame(frSettings, flAck, 0, nil) })
		case fh.typ == frGoAway:
			return binary.BigEndian.Uint32(p)
		}
	}
}

// The application's GOAWAY (its graceful shutdown): a stream the proxy still holds will never be
// taken by it, so the client is refused it (REFUSED_STREAM: safe to retry elsewhere) and told
// GOAWAY — not left waiting out a delay to be sent where it cannot go.
func TestH2CTheApplicationsGoAwayRefusesHeldStreams(t *testing.T) {
	srv, addr := h2App(t, func(http.ResponseWriter, *http.Request) {})
	p := start(t, Config{Delay: time.Hour}, addr)
	h := dialH2(t, p)
	h.send(func(w *h2out) { w.headers(1, get("/held"), true) })
	waitFor(t, "the stream held", 5*time.Second, func() bool { return p.Stats().Faulted == 1 })
	go srv.Shutdown(context.Background())
	if got, _ := h.responses(1); !got[1].reset {
		t.Fatalf("the held stream: %+v", got[1])
	}
	if last := h.awaitGoAway(); last != 1 {
		t.Fatalf("GOAWAY's last stream %d, want the client's 1", last)
	}
}

// grpc-go's graceful stop: GOAWAY(2^31-1), a PING, and when it is acked GOAWAY(its last
// stream). A stream the client opened between the two is refused by the proxy; the second
// GOAWAY the client is told must not name a higher stream than the first (RFC 9113 6.8) —
// grpc-go's client ends the connection when it does, failing the calls still in flight.
func TestH2CGoAwayToTheClientNeverIncreases(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{}, GRPCConfig{}, app.addr)
	h := dialH2(t, p)
	call := func(s uint32) {
		h.send(func(w *h2out) {
			w.headers(s, hpackFields{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
				{Name: ":authority", Value: "x"}, {Name: ":path", Value: "/grpc.testing.TestService/FullDuplexCall"},
				{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}}, false)
		})
	}
	call(1) // open until the test ends: the stop waits for it
	waitFor(t, "the call at the application", 5*time.Second, func() bool { return p.Stats().CallsRelayed == 1 })
	go app.srv.GracefulStop()
	first := h.awaitGoAway()
	call(3)
	for {
		fh, pl, err := readFrame(h.r, h.buf)
		if err != nil {
			t.Fatalf("no second GOAWAY: %v", err)
		}
		switch {
		case fh.typ == frSettings && fh.flags&flAck == 0:
			h.send(func(w *h2out) { w.frame(frSettings, flAck, 0, nil) })
		case fh.typ == frPing && fh.flags&flAck == 0:
			ping := append([]byte(nil), pl...)
			h.send(func(w *h2out) { w.frame(frPing, flAck, 0, ping) })
		case fh.typ == frGoAway:
			if second := binary.BigEndian.Uint32(pl); second > first {
				t.Fatalf("GOAWAY's last stream went from %d to %d", first, second)
			}
			return
		}
	}
}

// The application's connection ends without a GOAWAY of its own: a stream the proxy still holds
// never reached it, so it is refused to the client (safe to retry) before the proxy's GOAWAY.
func TestH2CTheApplicationsEndRefusesHeldStreams(t *testing.T) {
	srv, addr := h2App(t, func(http.ResponseWriter, *http.Request) {})
	p := start(t, Config{Delay: time.Hour}, addr)
	h := dialH2(t, p)
	h.send(func(w *h2out) { w.headers(1, get("/held"), true) })
	waitFor(t, "the stream held", 5*time.Second, func() bool { return p.Stats().Faulted == 1 })
	srv.Close() // its connections closed: no GOAWAY
	if got, goAway := h.responses(1); !got[1].reset || goAway != -1 {
		t.Fatalf("the held stream: %+v, GOAWAY %d before it", got[1], goAway)
	}
}

// An h2c connection with no stream open is closed after IdleTimeout, as an HTTP/1.x one is; a
// stream open keeps it.
func TestH2CAnIdleConnectionIsClosed(t *testing.T) {
	p := start(t, Config{IdleTimeout: 300 * time.Millisecond, Delay: time.Second}, echoH2App(t))
	h := dialH2(t, p)
	h.send(func(w *h2out) { w.headers(1, get("/held"), true) }) // held a second: longer than idle
	if got, _ := h.responses(1); got[1].fields[":status"] != "200" {
		t.Fatalf("a stream longer than the idle timeout: %+v", got[1])
	}
	began := time.Now()
	for {
		if _, _, err := readFrame(h.r, h.buf); err != nil {
			break
		}
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("the idle connection was closed after %s", took)
	}
}

// A held stream's frames go over what the connection may hold (h2ConnWindow), so it goes on to
// the application early; the application's connection ends meanwhile: the client's connection
// ends too, at once, and the proxy is done with it, not when the delay would have ended.
func TestH2CAnOverfullHoldEndsWithTheApplication(t *testing.T) {
	srv, addr := h2App(t, func(http.ResponseWriter, *http.Request) {})
	p := start(t, Config{Delay: time.Hour}, addr)
	h := dialH2(t, p)
	h.send(func(w *h2out) {
		w.headers(1, get("/held"), false)
		for i := 0; i < (h2ConnWindow/h2MaxFrame)+4; i++ {
			w.frame(frData, 0, 1, make([]byte, h2MaxFrame))
		}
	})
	time.Sleep(200 * time.Millisecond) // the client side waits for room
	srv.Close()
	began := time.Now()
	for {
		if _, _, err := readFrame(h.r, h.buf); err != nil {
			break
		}
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("the client's connection ended %s after the application's", took)
	}
	h.c.Close()
	// and the proxy is done with it: its client side no longer waits
	waitFor(t, "the connection's end in the proxy", 3*time.Second, func() bool { return p.Stats().Active == 0 })
}

// The http kind's error body is DATA the proxy sends the client itself: it must come out of what
// the application does not believe it has of the client's connection window, or the
// application, sending its whole window on another stream, takes the client over it (strict
// clients end the connection: FLOW_CONTROL_ERROR). Without a WINDOW_UPDATE from the client the
// answer has no body; after one, the body comes out of it and the application gets the rest.
func TestH2CTheInjectedBodyStaysWithinTheClientsWindow(t *testing.T) {
	for _, update := range []uint32{0, 10_000} {
		answered := make(chan struct{})
		srv, addr := h2App(t, func(w http.ResponseWriter, _ *http.Request) {
			<-answered
			_, _ = w.Write(make([]byte, defaultInitialWindow)) // its stream's whole window
		})
		p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: "injected", Exclude: []string{"/pass"}}, addr)
		h := dialH2(t, p)
		h.send(func(w *h2out) {
			if update > 0 {
				w.u32(frWindowUpdate, 0, update)
			}
			w.headers(1, get("/pass"), true)
			w.headers(3, get("/fault"), true)
		})
		got, _ := h.responses(3)
		close(answered)
		rest, _ := h.responses(1)
		srv.Close()
		if len(rest[1].body) != defaultInitialWindow {
			t.Fatalf("update %d: the application's response: %d bytes", update, len(rest[1].body))
		}
		if received := len(got[3].body) + len(rest[1].body); received > defaultInitialWindow+int(update) {
			t.Fatalf("update %d: the client received %d bytes of DATA, its window %d", update, received, defaultInitialWindow+int(update))
		}
		if want := map[bool]string{false: "", true: "injected"}[update > 0]; got[3].body != want {
			t.Fatalf("update %d: the answer's body %q, want %q", update, got[3].body, want)
		}
	}
}

// A SETTINGS frame may repeat a setting (the last value counts): the proxy passes each once —
// a client's frame of 2,730 INITIAL_WINDOW_SIZE entries, with the proxy's own settings added,
// came out over 16 KiB, and the application ended the connection (FRAME_SIZE_ERROR).
func TestH2CRepeatedSettingsPassOnce(t *testing.T) {
	p := start(t, Config{}, echoH2App(t))
	h := dialH2(t, p)
	settings := make([]byte, 0, h2MaxFrame)
	for len(settings)+6 <= h2MaxFrame {
		settings = appendSetting(settings, setting{setInitialWindowSize, 1 << 20})
	}
	h.send(func(w *h2out) {
		w.frame(frSettings, 0, 0, settings)
		w.headers(1, get("/after"), true)
	})
	if got, goAway := h.responses(1); got[1].fields[":status"] != "200" || goAway != -1 {
		t.Fatalf("a stream after the repeated settings: %+v, GOAWAY %d", got[1], goAway)
	}
}
