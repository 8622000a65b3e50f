package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 19 item 11: HTTP/1.1's ends of a connection.

// smallWindow dials the proxy with a receive buffer of a few KiB: an answer larger than it waits
// in the proxy's socket until the client reads, as on a real network it is in flight.
func smallWindow(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	c, err := d.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// An error answered instead of a request whose body the proxy does not read (Connection: close,
// or Expect: 100-continue) ends the connection; the client, still sending its body, must get the
// whole answer: no reset for the body's bytes unread (a lingering close).
func TestAnErrorThatEndsTheConnectionIsNotResetAway(t *testing.T) {
	const bodySize = 256 << 10
	app := newRawApp(t, echoPath)
	errBody := strings.Repeat("e", 4096)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: errBody}, app.ln.Addr().String())
	for _, head := range []string{
		fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", bodySize),
		fmt.Sprintf("PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", bodySize),
	} {
		c := smallWindow(t, p)
		io.WriteString(c, head)
		// the client sends its body anyway (as curl does when no 100 Continue comes soon), all
		// of it, before it reads
		time.Sleep(50 * time.Millisecond)
		chunk := []byte(strings.Repeat("b", 16<<10))
		for sent := 0; sent < bodySize; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				t.Fatalf("%q: sending the body after %d bytes: %v", head, sent, err)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("%q: %v after %d bytes of the answer", head, err, len(all))
		}
		r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(all))), nil)
		if err != nil || r.StatusCode != 503 || !r.Close || body(r) != errBody {
			t.Fatalf("%q: the answer %q: %v", head, all, err)
		}
	}
	if got := app.requests.Load(); got != 0 {
		t.Fatalf("the application got %d requests", got)
	}
}

// A client that stops reading and sends more and more after such an answer is not drained
// forever: the proxy closes (a reset, now) after lingerBytes.
func TestALingeringCloseIsBounded(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503}, app.ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000000\r\n\r\n")
	chunk := make([]byte, 64<<10)
	var err error
	for sent := 0; sent < 100_000_000 && err == nil; sent += len(chunk) {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Write(chunk)
	}
	if err == nil || errors.Is(err, syscall.ETIMEDOUT) || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the client sent 100 MB into a lingering close: %v", err)
	}
	waitFor(t, "the connection to end", 5*time.Second, func() bool { return p.Stats().Active == 0 })
}

// The application speaking unasked (a 408 before it closes) while the proxy answers a request
// with an error: one writer at a time (go test -race), and the client gets the application's
// bytes whole.
func TestAnUnaskedResponseAndAnAnswerDoNotInterleave(t *testing.T) {
	const unasked = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	app := serveConns(t, func(c net.Conn) {
		// after the proxy has read the client's request, before its delay is over
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, unasked)
	})
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, Delay: 150 * time.Millisecond}, app.Addr().String())
	for i := 0; i < 5; i++ {
		c := dial(t, p)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(all), unasked) || strings.Contains(string(all[len(unasked):]), "HTTP/1.1 408") {
			t.Fatalf("the client got %q", all)
		}
		if rest := string(all[len(unasked):]); rest != "" && !strings.HasPrefix(rest, "HTTP/1.1 503 ") {
			t.Fatalf("after the application's bytes: %q", rest)
		}
	}
}

// A chunked body that turns out not to be HTTP (here a chunk not followed by its CRLF) makes the
// connection a relay from there: the application gets every byte the client sent, those of the
// line that showed it included.
func TestABodyThatIsNotHTTPReachesTheApplicationWhole(t *testing.T) {
	got := make(chan []byte, 1)
	app := serveConns(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
	})
	p := start(t, Config{}, app.Addr().String())
	c := dial(t, p)
	sent := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\nwhat follows, as it is\r\n"
	io.WriteString(c, sent)
	c.(*net.TCPConn).CloseWrite()
	select {
	case b := <-got:
		if string(b) != sent {
			t.Fatalf("the application got\n%q\nwant\n%q", b, sent)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the application got nothing")
	}
	if s := p.Stats(); s.Relayed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// HTTP/1.0 has no Transfer-Encoding: a message that has one is framed two ways (RFC 9112 6.1),
// so the proxy relays it as it is rather than read it one way while the application reads it
// the other (the fuzzer's comparison with net/http found it).
func TestHTTP10WithTransferEncodingIsRelayed(t *testing.T) {
	for _, head := range []string{
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		r := bufio.NewReader(strings.NewReader(head))
		var err error
		if strings.HasPrefix(head, "HTTP/") {
			_, _, err = readResponseHead(r, nil)
		} else {
			_, _, err = readRequestHead(r, nil)
		}
		if !errors.Is(err, errNotHTTP) {
			t.Errorf("%q: %v, want errNotHTTP", head, err)
		}
	}
}
