package service

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"chaos-run/agent/fault"
	"chaos-run/agent/protocol"
)

// The grpc fault through the serve process, in a fake namespace, with a real proxy on loopback
// in front of a real grpc-go application of the test (the redirect is the kernel's: kerneltest).

type emptyApp struct {
	testpb.UnimplementedTestServiceServer
}

func (emptyApp) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func newGRPCPod(t *testing.T) *pod {
	p := newPod(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, emptyApp{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	listen := func([]int) ([]net.Listener, int, error) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, 0, err
		}
		return []net.Listener{l}, l.Addr().(*net.TCPAddr).Port, nil
	}
	p.kinds = map[string]fault.Kind{protocol.KindGRPC: fault.GRPC{HTTP: fault.HTTP{Listen: listen,
		Target: func(net.Conn) (string, error) { return ln.Addr().String(), nil }, Drain: 200 * time.Millisecond}}}
	return p
}

func TestGRPCApplyFaultsCallsAndItsCountsGoIntoTheRevert(t *testing.T) {
	p := newGRPCPod(t)
	p.k.AddLink("net1", []int{4})
	a := p.agent("chaos-agent-aaaa", "aaaa")
	r := do(t, a, applyReq("aaaa", "aaaa-g1", 30000, `{"kind":"grpc","interface":"net1","grpc":{"port":50051,"errorRate":100,"status":8,"message":"slow down","exclude":["grpc.testing.TestService/UnaryCall"]}}`))
	mustOK(t, r)
	if r.Fault.Kind != protocol.KindGRPC || r.Fault.GRPC == nil {
		t.Fatalf("state %+v", r.Fault)
	}
	cc, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(proxyPort(t, r.Fault)), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = testpb.NewTestServiceClient(cc).EmptyCall(context.Background(), &testpb.Empty{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "slow down" {
		t.Fatalf("through the proxy: %v", err)
	}
	if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("the health service is not faulted by default: %v", err)
	}
	s := do(t, a, `{"protocol":1,"op":"status","runId":"aaaa"}`)
	if g := s.Faults[0].GRPC; g == nil || g.Calls != 2 || g.Errors != 1 || g.Excluded != 1 || g.Connections.H2C != 1 ||
		!strings.Contains(s.Faults[0].Detail, "grpc on port 50051 of net1") || !strings.Contains(s.Faults[0].Detail, "2 gRPC calls (1 excluded, 1 faulted") {
		t.Fatalf("status %+v: %q", g, s.Faults[0].Detail)
	}
	r = do(t, a, revertReq("aaaa", "aaaa-g1"))
	mustOK(t, r)
	out := r.Reverted[0]
	if !out.Confirmed || out.HTTP != nil || out.GRPC == nil || out.GRPC.Calls != 2 || out.GRPC.Errors != 1 || out.GRPC.Faulted != 1 || out.GRPC.Relayed != 1 {
		t.Fatalf("revert %+v, counts %+v", out, out.GRPC)
	}
}
