// grpc-load: the grpc probe's client, run in the chaos-tools pod. It makes unary calls to one
// method of a gRPC server over h2c, `-n` of them with `-c` in flight over one connection, each
// bounded by `-timeout`, and prints ONE JSON object on stdout: every call's status code and
// time, and the first message of each status. The message types come from the server's
// reflection service (grpc.reflection.v1), so no proto file is needed; the body is JSON
// (protojson). `-health` makes the calls grpc.health.v1.Health/Check instead (of `-service`).
//
//	grpc-load -addr HOST:PORT -method pkg.Service/Method [-data JSON] [-n 10] [-c 1] [-timeout 5s]
//	grpc-load -addr HOST:PORT -health [-service NAME] ...
//
// What the server does (or what stands in its way) is measured, never an error: a refused
// connection is a call ended UNAVAILABLE, a slow one DEADLINE_EXCEEDED. Only what makes the
// calls impossible to make (bad flags, a method reflection does not know while a body is
// given, a body that is not the method's input) ends it with exit 2 and {"error": "..."}.
//
// Its output is read by chaos-run from a pod, as untrusted input: see src/probes/grpc.ts.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// The output's shape (version 1). Calls are [code, ms] or, for health checks, [code, ms,
// servingStatus] with the grpc.health.v1 enum number (1 SERVING); -1 when the call failed.
type result struct {
	Version int         `json:"version"`
	Method  string      `json:"method"`
	Calls   [][]float64 `json:"calls"`
	// the first message of each status but OK, by its code's number
	Messages map[string]string `json:"messages"`
	// how the request's type was found: "reflection", or "none" (reflection did not know the
	// method, or the server had none, and the body was empty: empty messages were sent)
	Types string `json:"types"`
}

type options struct {
	addr        string
	method      string
	data        string
	health      bool
	service     string
	requests    int
	concurrency int
	timeout     time.Duration
}

// maxMessage bounds the text kept of a status's message.
const maxMessage = 200

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		fail(err)
	}
	r, err := run(o)
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(r); err != nil {
		os.Exit(1)
	}
}

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Fprintln(os.Stdout, string(out))
	os.Exit(2)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("grpc-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "", "the server, HOST:PORT (h2c)")
	fs.StringVar(&o.method, "method", "", "the method, by full name: package.Service/Method")
	fs.StringVar(&o.data, "data", "{}", "the request, as JSON (protojson)")
	fs.BoolVar(&o.health, "health", false, "call grpc.health.v1.Health/Check instead")
	fs.StringVar(&o.service, "service", "", "with -health: the service whose health is asked (none: the server's)")
	fs.IntVar(&o.requests, "n", 10, "calls to make")
	fs.IntVar(&o.concurrency, "c", 1, "calls in flight at once")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "each call's deadline")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.addr == "":
		return o, errors.New("-addr HOST:PORT is required")
	case o.health && o.method != "":
		return o, errors.New("-health and -method exclude each other")
	case !o.health && !validMethod(o.method):
		return o, fmt.Errorf("-method %q: want package.Service/Method", o.method)
	case o.requests < 1 || o.requests > 1_000_000:
		return o, errors.New("-n: from 1 to 1000000")
	case o.concurrency < 1 || o.concurrency > o.requests:
		return o, errors.New("-c: from 1 to -n")
	case o.timeout <= 0:
		return o, errors.New("-timeout: a positive duration")
	case !o.health && o.service != "":
		return o, errors.New("-service goes with -health")
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.health {
		o.method = "grpc.health.v1.Health/Check"
	}
	return o, nil
}

func validMethod(m string) bool {
	svc, name, ok := strings.Cut(m, "/")
	return ok && svc != "" && name != "" && !strings.ContainsAny(name, "/ ") && !strings.ContainsAny(svc, "/ ")
}
