package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A real grpc-go server and client on loopback, the proxy between them (the h2c side, h2c.go).

// grpcApp is grpc-go's interop TestService: UnaryCall echoes its payload with a header and a
// trailer of its own, FullDuplexCall echoes each message as it comes; and the health service.
type grpcApp struct {
	testpb.UnimplementedTestServiceServer
	addr  string
	calls atomic.Int64 // calls the application saw
	srv   *grpc.Server
}

func newGRPCApp(t testing.TB) *grpcApp {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &grpcApp{addr: ln.Addr().String(), srv: grpc.NewServer()}
	testpb.RegisterTestServiceServer(a.srv, a)
	healthpb.RegisterHealthServer(a.srv, health.NewServer())
	go a.srv.Serve(ln)
	t.Cleanup(a.srv.Stop)
	return a
}

func (a *grpcApp) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	a.calls.Add(1)
	return &testpb.Empty{}, nil
}

func (a *grpcApp) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	a.calls.Add(1)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-app-header", "h"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-app-trailer", "t"))
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (a *grpcApp) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	a.calls.Add(1)
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

// startGRPC is the proxy for the grpc kind in front of the app.
func startGRPC(t testing.TB, cfg Config, g GRPCConfig, app string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.GRPC = &g
	cfg.Target = func(net.Conn) (string, error) { return app, nil }
	if tt, ok := t.(*testing.T); ok {
		cfg.Logf = tt.Logf
	}
	p := Start(cfg, ln)
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

func grpcClient(t testing.TB, addr string) testpb.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

func unary(c testpb.TestServiceClient, body string, opts ...grpc.CallOption) (*testpb.SimpleResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(body)}}, opts...)
}

func TestGRPCEveryStatusAndItsMessageWithoutTheApplication(t *testing.T) {
	app := newGRPCApp(t)
	const msg = "injected: ünïcode, 100% \"quoted\"\nnew line"
	for code := 0; code <= 16; code++ {
		g := GRPCConfig{Status: code}
		if code%2 == 0 {
			g.Message = msg
		}
		p := startGRPC(t, Config{ErrorRate: 1}, g, app.addr)
		_, err := unary(grpcClient(t, p.addr()), "x")
		want := codes.Code(code)
		if code == 0 {
			want = codes.Unavailable // the default
		}
		st, _ := status.FromError(err)
		if st.Code() != want || st.Message() != g.Message {
			t.Fatalf("status %d: got %v %q, want %v %q", code, st.Code(), st.Message(), want, g.Message)
		}
		if s := p.Stats(); s.Calls != 1 || s.Faulted != 1 || s.Errors != 1 || s.CallsRelayed != 0 || s.H2C != 1 {
			t.Fatalf("status %d: stats %+v", code, s)
		}
	}
	if n := app.calls.Load(); n != 0 {
		t.Fatalf("the application saw %d calls, want none: an injected status does not ask it", n)
	}
}

func TestGRPCErrorRateIsABinomialShare(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{ErrorRate: 0.3}, GRPCConfig{Status: int(codes.ResourceExhausted)}, app.addr)
	c := grpcClient(t, p.addr())
	const n = 1000
	errs := 0
	for i := 0; i < n; i++ {
		resp, err := unary(c, "hello")
		switch status.Code(err) {
		case codes.ResourceExhausted:
			errs++
		case codes.OK:
			if string(resp.GetPayload().GetBody()) != "hello" {
				t.Fatalf("payload %q", resp.GetPayload().GetBody())
			}
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// mean 300, standard deviation 14.5: within 5 of them
	if errs < 228 || errs > 372 {
		t.Fatalf("%d errors in %d calls at 30%%", errs, n)
	}
	if got := app.calls.Load(); got != int64(n-errs) {
		t.Fatalf("the application saw %d calls, want %d", got, n-errs)
	}
	if s := p.Stats(); s.Calls != n || s.Errors != int64(errs) || s.CallsRelayed != int64(n-errs) || s.H2C != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGRPCDelayAndExclusions(t *testing.T) {
	app := newGRPCApp(t)
	const delay = 300 * time.Millisecond
	p := startGRPC(t, Config{Delay: delay}, GRPCConfig{Exclude: []string{"grpc.testing.TestService/EmptyCall"}}, app.addr)
	c := grpcClient(t, p.addr())
	if _, err := unary(c, "warm"); err != nil { // the connection's setup is not the call's
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := unary(c, "x"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < delay {
		t.Fatalf("a call took %s under a %s delay", took, delay)
	}
	began = time.Now()
	if _, err := c.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took >= delay {
		t.Fatalf("the excluded method took %s", took)
	}
	if s := p.Stats(); s.Calls != 3 || s.Delayed != 2 || s.Excluded != 1 || s.CallsRelayed != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGRPCExcludedServiceMethodAndHealth(t *testing.T) {
	app := newGRPCApp(t)
	for _, tc := range []struct {
		exclude           []string
		faultHealth       bool
		unary, empty, hlt codes.Code
	}{
		{nil, false, codes.Unavailable, codes.Unavailable, codes.OK},
		{[]string{"grpc.testing.TestService/EmptyCall"}, false, codes.Unavailable, codes.OK, codes.OK},
		{[]string{"grpc.testing.TestService"}, false, codes.OK, codes.OK, codes.OK},
		{[]string{"grpc.testing.Other", "grpc.testing.TestService/Unary"}, true, codes.Unavailable, codes.Unavailable, codes.Unavailable},
	} {
		p := startGRPC(t, Config{ErrorRate: 1}, GRPCConfig{Exclude: tc.exclude, FaultHealth: tc.faultHealth}, app.addr)
		cc, _ := grpc.NewClient(p.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		c := testpb.NewTestServiceClient(cc)
		_, uerr := unary(c, "x")
		_, eerr := c.EmptyCall(context.Background(), &testpb.Empty{})
		_, herr := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		cc.Close()
		if status.Code(uerr) != tc.unary || status.Code(eerr) != tc.empty || status.Code(herr) != tc.hlt {
			t.Fatalf("exclude %v, faultHealth %v: unary %v, empty %v, health %v; want %v %v %v", tc.exclude, tc.faultHealth, uerr, eerr, herr, tc.unary, tc.empty, tc.hlt)
		}
	}
}

func TestGRPCHeadersTrailersAndStreamsPassAsTheyAre(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{}, GRPCConfig{}, app.addr)
	c := grpcClient(t, p.addr())
	var hdr, trl metadata.MD
	resp, err := unary(c, strings.Repeat("b", 100_000), grpc.Header(&hdr), grpc.Trailer(&trl))
	if err != nil || len(resp.GetPayload().GetBody()) != 100_000 {
		t.Fatal(err)
	}
	if hdr.Get("x-app-header")[0] != "h" || len(trl.Get("x-app-trailer")) != 1 || trl.Get("x-app-trailer")[0] != "t" {
		t.Fatalf("header %v, trailer %v", hdr, trl)
	}
	// a bidirectional stream: each message answered before the next is sent (nothing held back)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		body := fmt.Sprint(i)
		if err := s.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Recv()
		if err != nil || string(got.GetPayload().GetBody()) != body {
			t.Fatalf("message %d: %v %v", i, got, err)
		}
	}
	s.CloseSend()
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("the stream's end: %v", err)
	}
}

func TestGRPCAStreamIsFaultedAtItsStart(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{ErrorRate: 1}, GRPCConfig{Status: int(codes.Aborted), Message: "no"}, app.addr)
	s, err := grpcClient(t, p.addr()).FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&testpb.StreamingOutputCallRequest{})
	if _, err := s.Recv(); status.Code(err) != codes.Aborted || status.Convert(err).Message() != "no" {
		t.Fatalf("%v", err)
	}
	if app.calls.Load() != 0 {
		t.Fatal("the application saw the faulted stream")
	}
}

// A revert with calls in flight: a stream open and a call held in its delay. Stop gives them the
// drain, then ends them (counted), and is bounded whatever they do; the clients see their calls
// end, not hang.
func TestGRPCStopWithCallsInFlight(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{Delay: time.Hour}, GRPCConfig{Exclude: []string{"grpc.testing.TestService/FullDuplexCall"}}, app.addr)
	c := grpcClient(t, p.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("1")}})
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	delayed := make(chan error, 1)
	go func() { _, err := unary(c, "x"); delayed <- err }()
	waitFor(t, "the call to be held", 5*time.Second, func() bool { return p.Stats().Delayed == 1 })
	stopped := make(chan int, 1)
	go func() { stopped <- p.Stop(300 * time.Millisecond) }()
	// a Stop cuts a delay short: the held call goes on to the application
	if err := <-delayed; err != nil {
		t.Fatalf("the delayed call: %v", err)
	}
	select {
	case reset := <-stopped:
		if reset != 1 {
			t.Fatalf("%d connections reset, want the stream's", reset)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop still blocked with a stream open")
	}
	if _, err := s.Recv(); err == nil {
		t.Fatal("the stream goes on after the proxy stopped")
	}
	if st := p.Stats(); st.StreamsReset != 1 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// The grpc kind faults h2c only: HTTP/1.x passes as it is, TLS is relayed (and counted so, for
// the runner's warning).
func TestGRPCKindLeavesHTTP1AndTLSAlone(t *testing.T) {
	app := newRawApp(t, echoPath)
	p := startGRPC(t, Config{ErrorRate: 1}, GRPCConfig{}, app.ln.Addr().String())
	c := dial(t, p)
	fmt.Fprintf(c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, len(ok("/plain")))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != ok("/plain") {
		t.Fatalf("%q %v", buf, err)
	}
	t2 := dial(t, p)
	t2.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'})
	waitFor(t, "the TLS connection relayed", 5*time.Second, func() bool { return p.Stats().Relayed == 1 })
	if s := p.Stats(); s.HTTP1 != 1 || s.Relayed != 1 || s.Calls != 0 || s.Requests != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// The http kind on h2c: requests get its faults as HTTP/1.x requests do; gRPC calls pass.
func TestH2CRequestsGetTheHTTPFault(t *testing.T) {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	srv := &http.Server{Protocols: &protos, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, r.Proto+" "+r.URL.Path)
		w.Header().Set("X-Sum", "42")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	p := start(t, Config{ErrorRate: 1, ErrorCode: 503, ErrorBody: "injected", Exclude: []string{"/healthz"}}, ln.Addr().String())
	cl := &http.Client{Transport: &http.Transport{Protocols: &protos}, Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + p.addr() + "/x")
	if err != nil || resp.StatusCode != 503 || body(resp) != "injected" || resp.ProtoMajor != 2 {
		t.Fatalf("%v %v", resp, err)
	}
	resp, err = cl.Get("http://" + p.addr() + "/healthz")
	if err != nil || resp.StatusCode != 200 || body(resp) != "HTTP/2.0 /healthz" || resp.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("%v %v", resp, err)
	}
	if s := p.Stats(); s.H2C != 1 || s.Requests != 2 || s.Faulted != 1 || s.Errors != 1 || s.Relayed != 0 {
		t.Fatalf("stats %+v", s)
	}
	// gRPC calls are the grpc kind's
	gapp := newGRPCApp(t)
	gp := start(t, Config{ErrorRate: 1, ErrorCode: 503}, gapp.addr)
	if _, err := unary(grpcClient(t, gp.addr()), "x"); err != nil {
		t.Fatalf("a gRPC call under the http kind: %v", err)
	}
}

// Over MaxH2Conns, an h2c connection is relayed as it is (the fault not applied to it).
func TestH2CConnectionsOverTheCapAreRelayed(t *testing.T) {
	app := newGRPCApp(t)
	p := startGRPC(t, Config{ErrorRate: 1, MaxH2Conns: 1}, GRPCConfig{}, app.addr)
	if _, err := unary(grpcClient(t, p.addr()), "x"); status.Code(err) != codes.Unavailable {
		t.Fatalf("the first connection: %v", err)
	}
	if _, err := unary(grpcClient(t, p.addr()), "x"); err != nil {
		t.Fatalf("the second connection, over the cap: %v", err)
	}
	if s := p.Stats(); s.H2C != 1 || s.OverCap != 1 || s.Relayed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPercentEncode(t *testing.T) {
	if got := percentEncode("a b%c\x00é~"); got != "a b%25c%00%C3%A9~" {
		t.Fatal(got)
	}
}
