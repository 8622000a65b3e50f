package proxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The proxy on loopback, between a client of the test and an application of the test (the
// redirect that brings it connections is iptables', tested in kerneltest and the lab).

func start(t *testing.T, cfg Config, app string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Target = func(net.Conn) (string, error) { return app, nil }
	cfg.Logf = t.Logf
	p := Start(cfg, ln)
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

func (p *Proxy) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port()) }

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawApp is an application that records every byte it receives and answers each request (read
// with net/http's parser) with respond's bytes.
type rawApp struct {
	ln       net.Listener
	mu       sync.Mutex
	received bytes.Buffer
	conns    atomic.Int32
	requests atomic.Int32
	respond  func(r *http.Request) string
}

func newRawApp(t *testing.T, respond func(r *http.Request) string) *rawApp {
	t.Helper()
	a := &rawApp{respond: respond}
	a.ln = serveConns(t, func(c net.Conn) {
		a.conns.Add(1)
		a.serve(c)
	})
	return a
}

type recorder struct {
	a *rawApp
	r io.Reader
}

func (r recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.a.mu.Lock()
	r.a.received.Write(b[:n])
	r.a.mu.Unlock()
	return n, err
}

func (a *rawApp) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(recorder{a, c})
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		a.requests.Add(1)
		resp := a.respond(req)
		if _, err := io.WriteString(c, resp); err != nil || strings.Contains(resp, "Connection: close\r\n") {
			return
		}
	}
}

func (a *rawApp) got() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received.String()
}

func ok(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-App: yes\r\n\r\n%s", len(body), body)
}

func echoPath(r *http.Request) string { return ok(r.URL.Path) }

// readResponses reads n responses from c (to requests of method).
func readResponses(t *testing.T, br *bufio.Reader, n int, method string) []*http.Response {
	t.Helper()
	var out []*http.Response
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestForwardsRequestsAndResponsesByteForByte(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nx-lower: 1\r\nX-Dup: a\r\nX-Dup: b\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
	app := newRawApp(t, func(*http.Request) string { return resp })
	p := start(t, Config{}, app.ln.Addr().String())
	c := dial(t, p)
	sent := "GET /a?b=c HTTP/1.1\r\nHost: x\r\nx-weird-CASE:  spaced  \r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n" +
		"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nTrailer-A: 1\r\n\r\n"
	if _, err := io.WriteString(c, sent); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat(resp, 3)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("%v after %q", err, got)
	}
	if string(got) != want {
		t.Fatalf("the client got\n%q\nwant\n%q", got, want)
	}
	if app.got() != sent {
		t.Fatalf("the application got\n%q\nwant\n%q", app.got(), sent)
	}
	if app.conns.Load() != 1 {
		t.Fatalf("%d connections to the application for one client connection", app.conns.Load())
	}
	if s := p.Stats(); s.Requests != 3 || s.Faulted != 3 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestErrorRateIsABinomialShare(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 0.3, ErrorCode: 503, ErrorBody: "injected"}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	const n = 2000
	errs := 0
	for i := 0; i < n; i++ {
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		r := readResponses(t, br, 1, "GET")[0]
		switch r.StatusCode {
		case 503:
			errs++
			if b := body(r); b != "injected" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("error body %q, headers %v", b, r.Header)
			}
			if r.Close {
				t.Fatal("an injected error closed a keep-alive connection")
			}
		case 200:
		default:
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	// mean 600, standard deviation 20.5: within 5 of them
	if errs < 498 || errs > 702 {
		t.Fatalf("%d errors in %d requests at 30%%", errs, n)
	}
	if got := int(app.requests.Load()); got != n-errs {
		t.Fatalf("the application got %d requests, want %d (the errors are not forwarded)", got, n-errs)
	}
	if s := p.Stats(); s.Errors != int64(errs) || s.Requests != n {
		t.Fatalf("stats %+v", s)
	}
}

func TestDelayApplies(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{Delay: 300 * time.Millisecond, Exclude: []string{"/fast"}}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	for _, path := range []string{"/slow", "/fast", "/slow"} {
		start := time.Now()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		r := readResponses(t, br, 1, "GET")[0]
		took := time.Since(start)
		if body(r) != path {
			t.Fatalf("%s: body %q", path, body(r))
		}
		if path == "/slow" && took < 300*time.Millisecond {
			t.Fatalf("%s took %s under a 300ms delay", path, took)
		}
		if path == "/fast" && took >= 300*time.Millisecond {
			t.Fatalf("the excluded %s took %s", path, took)
		}
	}
}

func TestJitterIsUniformAroundTheDelay(t *testing.T) {
	rolls := []float64{0, 1, 0.5, 0.25}
	i := 0
	p := &Proxy{cfg: Config{Delay: 30 * time.Millisecond, Jitter: 20 * time.Millisecond, Float64: func() float64 { i++; return rolls[i-1] }}}
	var got []time.Duration
	for range rolls {
		got = append(got, p.pickDelay())
	}
	if want := []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	// never below zero
	p = &Proxy{cfg: Config{Delay: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, Float64: func() float64 { return 0 }}}
	if d := p.pickDelay(); d != 0 {
		t.Fatalf("%s", d)
	}
}

func TestExcludedPathsAndOtherMethodsPassUntouched(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, Exclude: []string{"/healthz", "/static/"}, Methods: []string{"GET", "HEAD"}}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	for _, tc := range []struct {
		line string
		want int
	}{
		{"GET /healthz HTTP/1.1", 200},
		{"GET /healthz/ready HTTP/1.1", 200},
		{"GET /healthz?verbose=1 HTTP/1.1", 200},
		{"GET http://example/healthz HTTP/1.1", 200},
		{"GET /healthzz HTTP/1.1", 503},
		{"GET /static/app.js HTTP/1.1", 200},
		{"GET /static HTTP/1.1", 503},
		{"GET /api HTTP/1.1", 503},
		{"POST /api HTTP/1.1", 200},
		{"DELETE /api HTTP/1.1", 200},
	} {
		fmt.Fprintf(c, "%s\r\nHost: x\r\nContent-Length: 0\r\n\r\n", tc.line)
		if r := readResponses(t, br, 1, "GET")[0]; r.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.line, r.StatusCode, tc.want)
		}
	}
	fmt.Fprintf(c, "HEAD /api HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := readResponses(t, br, 1, "HEAD")[0]; r.StatusCode != 503 || r.ContentLength != 0 {
		t.Fatalf("HEAD: %d, length %d", r.StatusCode, r.ContentLength)
	}
}

func TestAnErrorKeepsTheConnectionAndDropsTheRequestBody(t *testing.T) {
	app := newRawApp(t, func(r *http.Request) string {
		b, _ := io.ReadAll(r.Body)
		return ok(r.URL.Path + ":" + string(b))
	})
	var pass atomic.Bool // set by the test, read by the proxy's goroutine
	p := start(t, Config{ErrorRate: 0.5, Float64: func() float64 {
		if !pass.Load() {
			return 0
		}
		return 1
	}}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	io.WriteString(c, "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\n\r\n")
	rs := readResponses(t, br, 2, "POST")
	if rs[0].StatusCode != 500 || rs[1].StatusCode != 500 {
		t.Fatalf("%d %d", rs[0].StatusCode, rs[1].StatusCode)
	}
	pass.Store(true)
	io.WriteString(c, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nghi")
	if r := readResponses(t, br, 1, "POST")[0]; r.StatusCode != 200 || body(r) != "/c:ghi" {
		t.Fatalf("%d %q", r.StatusCode, body(r))
	}
	if !strings.HasPrefix(app.got(), "POST /c ") || app.conns.Load() != 1 {
		t.Fatalf("the application got %q on %d connections", app.got(), app.conns.Load())
	}
}

func TestAnErrorToAClosingClientClosesTheConnection(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 429}, app.ln.Addr().String())
	for _, req := range []string{
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	} {
		c := dial(t, p)
		io.WriteString(c, req)
		all, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(all), "HTTP/1.1 429 Too Many Requests\r\n") || !strings.Contains(string(all), "Connection: close\r\n") {
			t.Fatalf("%q", all)
		}
	}
	c := dial(t, p)
	io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	br := bufio.NewReader(c)
	r := readResponses(t, br, 1, "GET")[0]
	if r.StatusCode != 429 || r.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("%d %v", r.StatusCode, r.Header)
	}
}

func TestPipelinedRequestsKeepTheirOrder(t *testing.T) {
	app := newRawApp(t, func(r *http.Request) string {
		time.Sleep(5 * time.Millisecond)
		return ok(r.URL.Path)
	})
	var n atomic.Int32
	// requests 2, 3 and 5 fail
	fails := map[int32]bool{2: true, 3: true, 5: true}
	p := start(t, Config{ErrorRate: 0.5, ErrorCode: 503, Float64: func() float64 {
		if fails[n.Add(1)] {
			return 0
		}
		return 1
	}}, app.ln.Addr().String())
	c := dial(t, p)
	var all strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&all, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	io.WriteString(c, all.String())
	rs := readResponses(t, bufio.NewReader(c), 6, "GET")
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d:%s", r.StatusCode, body(r)))
	}
	if want := "200:/1 503: 503: 200:/4 503: 200:/6"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestExpectContinue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %d bytes", len(b))
	}))
	defer srv.Close()
	p := start(t, Config{}, srv.Listener.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("%q %v", line, err)
	}
	if l, _ := br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("%q", l)
	}
	io.WriteString(c, "0123456789")
	if r := readResponses(t, br, 1, "PUT")[0]; body(r) != "got 10 bytes" {
		t.Fatalf("%q", body(r))
	}
}

func TestAnUpgradedConnectionIsRelayed(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, br)
	}()
	p := start(t, Config{ErrorRate: 0.0001, Float64: func() float64 { return 0.5 }}, ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	if r := readResponses(t, br, 1, "GET")[0]; r.StatusCode != 101 {
		t.Fatalf("%d", r.StatusCode)
	}
	// not HTTP any more: "GET" here is data
	msg := "GET this is not a request\x00\xff"
	io.WriteString(c, msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
		t.Fatalf("%q %v", got, err)
	}
	if s := p.Stats(); s.Relayed != 1 || s.Requests != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TLS on the port passes through untouched, byte for byte, whatever the fault says.
func TestTLSPassesThroughByteForByte(t *testing.T) {
	server := make([]byte, 100_000)
	client := make([]byte, 50_000)
	rand.Read(server)
	rand.Read(client)
	client[0], client[1], client[2] = 0x16, 0x03, 0x01 // a TLS handshake record
	got := make(chan []byte, 1)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, len(client))
		_, _ = io.ReadFull(c, b)
		got <- b
		c.Write(server)
	}()
	p := start(t, Config{ErrorRate: 1, Delay: time.Second}, ln.Addr().String())
	c := dial(t, p)
	c.Write(client)
	back := make([]byte, len(server))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(<-got, client) || !bytes.Equal(back, server) {
		t.Fatal("bytes changed on their way through the proxy")
	}

	// and a real TLS handshake and request through it
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	defer srv.Close()
	p2 := start(t, Config{ErrorRate: 1, ErrorCode: 503}, srv.Listener.Addr().String())
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DialContext: nil}
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := cl.Get("https://" + p2.addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || body(resp) != "secret" {
		t.Fatalf("%d %q", resp.StatusCode, body(resp))
	}
	if s := p2.Stats(); s.Relayed != 1 || s.Requests != 0 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// (HTTP/2 with prior knowledge is served: grpc_test.go; a preface that is not quite one is not.)
func TestAnAlmostPrefaceAndGarbageAreRelayed(t *testing.T) {
	app := newRawApp(t, echoPath)
	for _, first := range []string{"PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", "GET /\x00 nonsense\r\n\r\n", "GET / HTTP/3.0\r\n\r\n"} {
		ln, _ := net.Listen("tcp4", "127.0.0.1:0")
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			b := make([]byte, len(first))
			io.ReadFull(c, b)
			got <- string(b)
			c.Write([]byte("raw reply"))
		}()
		p := start(t, Config{ErrorRate: 1}, ln.Addr().String())
		c := dial(t, p)
		io.WriteString(c, first)
		if g := <-got; g != first {
			t.Fatalf("the application got %q, want %q", g, first)
		}
		b := make([]byte, 9)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "raw reply" {
			t.Fatalf("%q %v", b, err)
		}
		ln.Close()
		if s := p.Stats(); s.Relayed != 1 || s.Errors != 0 {
			t.Fatalf("%q: stats %+v", first, s)
		}
	}
	_ = app
}

func TestResponsesWithoutLengthEndAtTheClose(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nuntil the end")
		c.Close()
	}()
	p := start(t, Config{}, ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil || string(all) != "HTTP/1.0 200 OK\r\n\r\nuntil the end" {
		t.Fatalf("%q %v", all, err)
	}
}

func TestEmptyLinesBeforeARequestAreKept(t *testing.T) {
	buf, q, err := readRequestHead(bufio.NewReader(strings.NewReader("\r\n\nGET /p?q HTTP/1.0\r\nA: b\r\n\r\nrest")), nil)
	if err != nil || string(buf) != "\r\n\nGET /p?q HTTP/1.0\r\nA: b\r\n\r\n" || string(q.method) != "GET" || string(q.path) != "/p" || !q.http10 {
		t.Fatalf("%q %+v %v", buf, q, err)
	}
}

func TestHeadAnd204And304HaveNoBody(t *testing.T) {
	app := newRawApp(t, func(r *http.Request) string {
		switch r.URL.Path {
		case "/204":
			return "HTTP/1.1 204 No Content\r\n\r\n"
		case "/304":
			return "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	})
	p := start(t, Config{}, app.ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("%q %v", got, err)
	}
}

func TestAStreamedBodyIsNotHeldBack(t *testing.T) {
	next := make(chan struct{})
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		<-next
		io.WriteString(c, "4\r\nlast\r\n0\r\n\r\n")
	}()
	p := start(t, Config{}, ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the first chunk did not come before the rest: %v", err)
		}
		if line == "first\r\n" {
			break
		}
	}
	close(next)
}

func TestTheApplicationClosingAnIdleConnectionIsPassedOn(t *testing.T) {
	app := newRawApp(t, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" })
	p := start(t, Config{}, app.ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(all), "HTTP/1.1 200 OK") {
		t.Fatalf("%q %v", all, err)
	}
}

func TestAnApplicationThatRefusesIsARefusal(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p := start(t, Config{}, addr)
	// reset at once: the dial itself, or the first read, fails
	if c, err := net.Dial("tcp", p.addr()); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
		c.Close()
	}
	if s := p.Stats(); s.DialErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStopClosesIdleConnectionsAtOnceAndBusyOnesAfterTheirResponse(t *testing.T) {
	slow := make(chan struct{})
	app := newRawApp(t, func(r *http.Request) string {
		if r.URL.Path == "/slow" {
			<-slow
		}
		return ok("done")
	})
	p := start(t, Config{}, app.ln.Addr().String())
	idle, ibr := answered(t, p, "/")
	busy := dial(t, p)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan int)
	go func() { stopped <- p.Stop(5 * time.Second) }()
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := ibr.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the idle connection: %v, want EOF at once", err)
	}
	if _, err := net.DialTimeout("tcp", p.addr(), time.Second); err == nil {
		t.Fatal("the stopped proxy still accepts")
	}
	close(slow)
	bbr := bufio.NewReader(busy)
	if r := readResponses(t, bbr, 1, "GET")[0]; body(r) != "done" {
		t.Fatalf("%q", body(r))
	}
	busy.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := bbr.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the busy connection after its response: %v, want EOF", err)
	}
	if reset := <-stopped; reset != 0 {
		t.Fatalf("%d connections reset", reset)
	}
	if s := p.Stats(); s.Active != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStopResetsWhatOutlastsTheDrain(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	app := newRawApp(t, func(r *http.Request) string { <-hang; return ok("") })
	p := start(t, Config{}, app.ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if reset := p.Stop(200 * time.Millisecond); reset != 1 {
		t.Fatalf("%d reset", reset)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Stop took %s", took)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection is still open")
	}
}

func TestAStopCutsADelayShort(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{Delay: time.Hour}, app.ln.Addr().String())
	c := dial(t, p)
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.Stop(5 * time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Stop waited %s for an hour's delay", took)
	}
	// the request was forwarded (the fault is over) and answered before the close
	if r := readResponses(t, bufio.NewReader(c), 1, "GET")[0]; body(r) != "/x" {
		t.Fatalf("%q", body(r))
	}
}

func TestListenAnyGivesBothFamiliesOnePort(t *testing.T) {
	lns, port, err := ListenAny([]int{4, 6})
	if err != nil {
		t.Skipf("no IPv6 here: %v", err)
	}
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	if len(lns) != 2 || port == 0 {
		t.Fatalf("%v %d", lns, port)
	}
	for _, l := range lns {
		if l.Addr().(*net.TCPAddr).Port != port {
			t.Fatalf("%s not on %d", l.Addr(), port)
		}
	}
}

func TestExcluded(t *testing.T) {
	for _, tc := range []struct {
		path, entry string
		want        bool
	}{
		{"/healthz", "/healthz", true},
		{"/healthz/", "/healthz", true},
		{"/healthz/live", "/healthz", true},
		{"/healthzz", "/healthz", false},
		{"/health", "/healthz", false},
		{"/static/a", "/static/", true},
		{"/static", "/static/", false},
		{"/anything", "/", true},
	} {
		if got := excluded([]byte(tc.path), tc.entry); got != tc.want {
			t.Errorf("excluded(%q, %q) = %v", tc.path, tc.entry, got)
		}
	}
}

func TestSmugglingShapesAreLeftToTheApplication(t *testing.T) {
	for _, head := range []string{
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
	} {
		q := bufio.NewReader(strings.NewReader(head))
		if _, _, err := readRequestHead(q, nil); !errors.Is(err, errNotHTTP) {
			t.Errorf("%q: %v, want errNotHTTP", head, err)
		}
	}
}

func TestLongHeadsAreReadAcrossBuffersAndHugeOnesRelayed(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, Exclude: []string{"/ok"}}, app.ln.Addr().String())
	c := dial(t, p)
	br := bufio.NewReader(c)
	long := strings.Repeat("x", 10_000) // longer than a buffer: read in pieces, still HTTP
	fmt.Fprintf(c, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n", long)
	if r := readResponses(t, br, 1, "GET")[0]; r.StatusCode != 200 || body(r) != "/ok" {
		t.Fatalf("%d %q", r.StatusCode, body(r))
	}
	fmt.Fprintf(c, "GET /ko HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n", long)
	if r := readResponses(t, br, 1, "GET")[0]; r.StatusCode != 503 {
		t.Fatalf("%d", r.StatusCode)
	}
	// a head over 64 KiB: the proxy cannot hold it, so it relays the connection as it is
	c2 := dial(t, p)
	huge := strings.Repeat("y", 70_000)
	go fmt.Fprintf(c2, "GET /ko HTTP/1.1\r\nHost: x\r\nX-Huge: %s\r\n\r\n", huge)
	if r := readResponses(t, bufio.NewReader(c2), 1, "GET")[0]; r.StatusCode != 200 || body(r) != "/ko" {
		t.Fatalf("a huge head: %d %q (want the application's answer, untouched)", r.StatusCode, body(r))
	}
	if s := p.Stats(); s.Relayed != 1 {
		t.Fatalf("stats %+v", s)
	}
}
