package proxy

import (
	"io"
	"net"
	"testing"
	"time"
)

// FuzzH2CConnection: whatever a client sends after (or instead of) the HTTP/2 preface, the
// proxy neither panics nor holds the connection once the client is done: the HTTP/2 framing is
// the standard library's, what hands it the connection (sniff, h2Conn) is the proxy's.
func FuzzH2CConnection(f *testing.F) {
	settings := "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	headers := "\x00\x00\x05\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41\x01"
	for _, seed := range []string{"", settings, settings + headers, "\x00\xff\xff\xff\x00\x00\x00\x00\x01", "GET / HTTP/1.1\r\n\r\n"} {
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
