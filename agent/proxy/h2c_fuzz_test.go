package proxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzH2CConnection: whatever a client sends after (or instead of) the HTTP/2 preface, the
// proxy neither panics nor holds the connection once the client is done: the relay's framing,
// header blocks, stream table and faults (h2relay.go) all see it. The seeds hold whole gRPC
// calls (faulted, delayed, answered), CONTINUATION, padding, and frames of every type.
func FuzzH2CConnection(f *testing.F) {
	settings := "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	headers := "\x00\x00\x05\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41\x01"
	for _, seed := range append([]string{"", settings, settings + headers, "\x00\xff\xff\xff\x00\x00\x00\x00\x01", "GET / HTTP/1.1\r\n\r\n"}, h2Seeds()...) {
		f.Add(true, seed)
		f.Add(false, seed)
	}
	app := newGRPCApp(f)
	p := startGRPC(f, Config{ErrorRate: 0.5, Delay: time.Millisecond}, GRPCConfig{Message: "m"}, app.addr)
	f.Fuzz(func(t *testing.T, preface bool, rest string) {
		c, err := net.Dial("tcp", p.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if preface {
			rest = h2Preface + rest
		}
		_, _ = io.WriteString(c, rest)
		c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the connection did not end once the client was done: %v", err)
		}
	})
}

// h2Seeds are frame sequences a fuzzer would take long to find: gRPC calls as grpc-go sends
// them, in one header block or split, padded, reset, with every other frame type around.
func h2Seeds() []string {
	var b bytes.Buffer
	w := newH2Out(&b)
	call := hpackFields{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "x"},
		{Name: ":path", Value: "/grpc.testing.TestService/UnaryCall"}, {Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}}
	msg := []byte{0, 0, 0, 0, 3, 0x12, 0x01, 'x'}
	seq := func(f func()) string {
		b.Reset()
		w.frame(frSettings, 0, 0, nil)
		f()
		_ = w.flush()
		return b.String()
	}
	return []string{
		seq(func() {
			w.headers(1, call, false)
			w.frame(frData, flEndStream, 1, msg)
			w.headers(3, call, false)
			w.frame(frData, flEndStream, 3, msg)
		}),
		seq(func() {
			w.frame(frHeaders, 0, 1, nil)
			w.frame(frContinuation, flEndHeaders, 1, []byte{0x83, 0x86})
			w.frame(frData, flPadded|flEndStream, 1, []byte{2, 'a', 0, 0})
		}),
		seq(func() {
			w.headers(1, call, false)
			w.u32(frRSTStream, 1, errcNo)
			w.frame(frPing, 0, 0, make([]byte, 8))
			w.u32(frWindowUpdate, 0, 1000)
			w.frame(frPriority, 0, 3, []byte{0, 0, 0, 1, 5})
			w.frame(0x20, 0, 0, []byte("unknown"))
			w.goAway(0, errcNo, nil)
		}),
	}
}
