// The lab's gRPC server: grpc-go's helloworld.Greeter (the examples module's generated code),
// with server reflection, so that a client needs no proto file, and the standard health
// service grpc.health.v1.Health reporting SERVING for the server ("") and for the Greeter.
// It answers SayHello with "Hello NAME" and, so that a probe can see which replica answered,
// the pod's name in a response header (x-served-by) when HOSTNAME is set.
//
//	grpc-greeter [-port 50051]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/examples/helloworld/helloworld"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
)

type greeter struct {
	helloworld.UnimplementedGreeterServer
	host string
}

func (g greeter) SayHello(ctx context.Context, in *helloworld.HelloRequest) (*helloworld.HelloReply, error) {
	if g.host != "" {
		// a header only: its failure to send (the call already ended) changes nothing the client asked
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", g.host))
	}
	return &helloworld.HelloReply{Message: "Hello " + in.GetName()}, nil
}

func main() {
	port := flag.Int("port", 50051, "the TCP port to serve gRPC on (h2c, all addresses)")
	flag.Parse()
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		log.Fatalf("grpc-greeter: %v", err)
	}
	srv := grpc.NewServer()
	helloworld.RegisterGreeterServer(srv, greeter{host: os.Getenv("HOSTNAME")})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("helloworld.Greeter", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)

	// SIGTERM (the kubelet's stop): NOT_SERVING first, then the calls in flight finish
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		hs.Shutdown()
		srv.GracefulStop()
	}()
	log.Printf("grpc-greeter: serving helloworld.Greeter, reflection and health on %s", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("grpc-greeter: %v", err)
	}
}
