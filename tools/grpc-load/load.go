package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// call makes one call and returns its status and, for a health check, the serving status
// (-1 when there is none).
type call func(ctx context.Context) (int, error)

func run(o options) (result, error) {
	conn, err := grpc.NewClient("passthrough:///"+hostPort(o.addr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	r := result{Version: 1, Method: o.method, Messages: map[string]string{}}
	var one call
	if o.health {
		r.Types = "health"
		client := healthpb.NewHealthClient(conn)
		one = func(ctx context.Context) (int, error) {
			resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: o.service})
			if err != nil {
				return -1, err
			}
			return int(resp.GetStatus()), nil
		}
	} else {
		req, newReply, types, err := requestFor(conn, o)
		if err != nil {
			var unreachable *unreachableError
			if !asUnreachable(err, &unreachable) {
				return result{}, err
			}
			// the server could not be asked: every call ends as reflection's did
			return allFailed(r, o, unreachable.err), nil
		}
		r.Types = types
		path := "/" + o.method
		one = func(ctx context.Context) (int, error) {
			return -1, conn.Invoke(ctx, path, req, newReply())
		}
	}
	r.Calls = load(o, one, r.Messages)
	return r, nil
}

// load makes o.requests calls, o.concurrency at a time, in the order they were started.
func load(o options, one call, messages map[string]string) [][]float64 {
	calls := make([][]float64, o.requests)
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
				start := time.Now()
				serving, err := one(ctx)
				ms := float64(time.Since(start).Microseconds()) / 1000
				cancel()
				st := status.Convert(err)
				calls[i] = entry(o.health, st.Code(), ms, serving)
				if err != nil {
					mu.Lock()
					keepMessage(messages, st.Code(), st.Message())
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < o.requests; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return calls
}

func entry(health bool, code codes.Code, ms float64, serving int) []float64 {
	if health {
		return []float64{float64(code), ms, float64(serving)}
	}
	return []float64{float64(code), ms}
}

func keepMessage(messages map[string]string, code codes.Code, msg string) {
	key := strconv.Itoa(int(code))
	if _, ok := messages[key]; ok {
		return
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	messages[key] = msg
}

// allFailed is the result when the server could not be reached to learn the method's types:
// every call is counted with the status reflection got, at no time (none was made).
func allFailed(r result, o options, st *status.Status) result {
	r.Types = "unreachable"
	r.Calls = make([][]float64, o.requests)
	for i := range r.Calls {
		r.Calls[i] = entry(false, st.Code(), 0, -1)
	}
	keepMessage(r.Messages, st.Code(), st.Message())
	return r
}

// hostPort brackets an IPv6 address that came without (a pod's IP filled into "{{ target.ip }}:PORT").
func hostPort(addr string) string {
	if strings.Count(addr, ":") < 2 || strings.HasPrefix(addr, "[") {
		return addr
	}
	i := strings.LastIndex(addr, ":")
	return net.JoinHostPort(addr[:i], addr[i+1:])
}

// newMessage is what a reply is decoded into.
type newMessage func() proto.Message
