//go:build kernel

package kerneltest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// gRPC faults on a real kernel, as http_test.go's: a grpc-go application in the pod's namespace,
// a grpc-go client in the peer's; each call says where it came from (the client's address:
// direct; the pod's own: through the proxy).

type grpcApp struct {
	testpb.UnimplementedTestServiceServer
	mu   sync.Mutex
	from []string
}

func (a *grpcApp) saw(ctx context.Context) {
	if p, ok := peer.FromContext(ctx); ok {
		host, _, _ := net.SplitHostPort(p.Addr.String())
		a.mu.Lock()
		a.from = append(a.from, host)
		a.mu.Unlock()
	}
}

func (a *grpcApp) lastFrom() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.from) == 0 {
		return ""
	}
	return a.from[len(a.from)-1]
}

func (a *grpcApp) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	a.saw(ctx)
	return &testpb.Empty{}, nil
}

func (a *grpcApp) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	a.saw(s.Context())
	for {
		in, err := s.Recv()
		if err != nil {
			return nil
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

func (ns *netns) grpcApp(port string) *grpcApp {
	a := &grpcApp{}
	var ln net.Listener
	inNetns(ns.t, ns.pod, func() {
		var err error
		if ln, err = net.Listen("tcp", ":"+port); err != nil {
			ns.t.Fatal(err)
		}
	})
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, a)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	ns.t.Cleanup(srv.Stop)
	return a
}

// grpcClient is a grpc-go client in the peer namespace.
func (ns *netns) grpcClient(target string) *grpc.ClientConn {
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		inNetns(ns.t, ns.peer, func() { c, err = (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", addr) })
		return c, err
	}
	cc, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
	if err != nil {
		ns.t.Fatal(err)
	}
	ns.t.Cleanup(func() { cc.Close() })
	return cc
}

// callUntil makes EmptyCall until it ends with want (a client whose connection was reset sees
// UNAVAILABLE once or twice while it reconnects), for at most 10 s.
func callUntil(t *testing.T, c testpb.TestServiceClient, want codes.Code) error {
	t.Helper()
	var err error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = c.EmptyCall(ctx, &testpb.Empty{})
		cancel()
		if status.Code(err) == want {
			return err
		}
	}
	t.Fatalf("no call ended with %v: the last %v", want, err)
	return nil
}

func TestGRPCFaultOnAClientFromBeforeItAndAfterIt(t *testing.T) {
	ns := newNetns(t)
	a := ns.grpcApp("50051")
	ns.serve("agent-g1")
	cc := ns.grpcClient("192.0.2.1:50051")
	c := testpb.NewTestServiceClient(cc)
	callUntil(t, c, codes.OK)
	if a.lastFrom() != "192.0.2.2" {
		t.Fatalf("before: from %s", a.lastFrom())
	}
	// a stream opened before the fault, long-lived
	s, err := c.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&testpb.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	r, code := ns.request("agent-g1", apply("g1", "g1-grpc", obj{"kind": "grpc", "grpc": obj{"port": 50051, "errorRate": 100, "status": 7, "message": "chaos"}}))
	mustOK(t, r, code)
	port := proxyPortOf(t, r.Fault)
	t.Logf("applied: %s", r.Fault.Detail)
	// the stream from before is reset: the client reconnects, through the proxy
	_ = s.Send(&testpb.StreamingOutputCallRequest{})
	if _, err := s.Recv(); err == nil {
		t.Fatal("the stream from before the fault goes on around the proxy")
	} else {
		t.Logf("the stream from before the fault: %v", err)
	}
	err = callUntil(t, c, codes.PermissionDenied)
	if status.Convert(err).Message() != "chaos" {
		t.Fatalf("the injected status: %v", err)
	}
	// the health service passes, through the proxy (from the pod's own address)
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health: %v", err)
	}
	r, code = ns.request("agent-g1", revert("g1", "g1-grpc"))
	mustOK(t, r, code)
	t.Logf("reverted: %s", r.Reverted[0].Detail)
	g := r.Reverted[0].GRPC
	if g == nil || g.Errors < 1 || g.Errors != g.Faulted || g.Excluded != 1 || g.Connections.H2C < 1 || g.Calls != g.Excluded+g.Faulted {
		t.Fatalf("the revert's counts: %+v", g)
	}
	// after the revert: no fault, and the application is reached directly again
	callUntil(t, c, codes.OK)
	if a.lastFrom() != "192.0.2.2" {
		t.Fatalf("after: from %s", a.lastFrom())
	}
	ns.nothingLeft(t, port)
}
