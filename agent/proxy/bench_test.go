package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkKeepAliveRequest is one request and its response over a kept connection, through the
// proxy with nothing to do (its own cost, on loopback; bench/http.mjs measures it in the lab).
func BenchmarkKeepAliveRequest(b *testing.B) {
	body := make([]byte, 615) // the size of nginx's default page
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 615\r\nConnection: keep-alive\r\n\r\n" + string(body))
	app := serveConns(b, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			c.Write(resp)
		}
	})
	pl, _ := net.Listen("tcp4", "127.0.0.1:0")
	p := Start(Config{Target: func(net.Conn) (string, error) { return app.Addr().String(), nil }}, pl)
	defer p.Stop(time.Second)
	c, err := net.Dial("tcp", pl.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 198.18.0.2\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, len(resp))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(req)
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGRPCUnaryCall is one unary call of grpc-go's client to grpc-go's server on loopback,
// directly and through the proxy of a grpc fault with nothing to do: the proxy's added p50 is
// the difference of the two p50-µs (issue 24 wants it under 0.5 ms).
func BenchmarkGRPCUnaryCall(b *testing.B) {
	app := newGRPCApp(b)
	p := startGRPC(b, Config{}, GRPCConfig{}, app.addr)
	for _, via := range []struct{ name, addr string }{{"direct", app.addr}, {"proxy", p.addr()}} {
		b.Run(via.name, func(b *testing.B) {
			c := grpcClient(b, via.addr)
			if _, err := unary(c, "warm"); err != nil {
				b.Fatal(err)
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				began := time.Now()
				if _, err := unary(c, "hello"); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(began))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1000, "p50-µs")
		})
	}
}
