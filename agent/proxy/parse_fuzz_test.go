package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// Fuzzing of what a pod's clients and application send the proxy's parser (issue 19 item 12).
// The seed corpus is testdata/fuzz/<target>; go test runs it, and
//   go test -run=^$ -fuzz=FuzzRequestHead -fuzztime=20s ./proxy
// explores from it. Besides "no panic", each target holds the parser to what the proxy relies
// on: it consumes exactly the head it returns, within its bounds, whatever the buffer size; and
// where it reads a message's framing and net/http reads the same head too, both agree on where
// the body ends — a disagreement is a desynchronisation between the proxy and an application,
// which the proxy must avoid by relaying what it cannot read with certainty (errNotHTTP).

// parseAt parses data with a reader of size n; it returns what was consumed with the result.
func parseAt[T any](data []byte, n int, parse func(*bufio.Reader) ([]byte, T, error)) ([]byte, T, error, []byte) {
	r := bufio.NewReaderSize(bytes.NewReader(data), n)
	buf, v, err := parse(r)
	rest, _ := io.ReadAll(r)
	return buf, v, err, rest
}

// checkConsumption: the head returned is what was taken from the input, and bounded.
func checkConsumption(t *testing.T, data, buf, rest []byte) {
	t.Helper()
	if len(buf)+len(rest) != len(data) || !bytes.HasPrefix(data, buf) {
		t.Fatalf("consumed %q of %q, left %q", buf, data, rest)
	}
	if len(buf) > maxHead+bufSize {
		t.Fatalf("a head of %d bytes held", len(buf))
	}
}

func sameError(a, b error) bool {
	return (a == nil) == (b == nil) && errors.Is(a, errNotHTTP) == errors.Is(b, errNotHTTP)
}

func FuzzRequestHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		parse := func(r *bufio.Reader) ([]byte, request, error) { return readRequestHead(r, nil) }
		buf, q, err, rest := parseAt(data, bufSize, parse)
		checkConsumption(t, data, buf, rest)
		// the same with the smallest reader: heads across many buffers
		buf2, q2, err2, _ := parseAt(data, 16, parse)
		if !sameError(err, err2) || !bytes.Equal(buf, buf2) {
			t.Fatalf("%q: %q %v with 4 KiB, %q %v with 16 bytes", data, buf, err, buf2, err2)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(q.method, q2.method) || !bytes.Equal(q.path, q2.path) || q.framing != q2.framing || q.http10 != q2.http10 {
			t.Fatalf("%q: %+v with 4 KiB, %+v with 16 bytes", data, q, q2)
		}
		if len(q.method) == 0 || (q.framing.chunked && q.framing.contentLength >= 0) {
			t.Fatalf("%q: %+v", data, q)
		}
		compareRequest(t, buf, q)
	})
}

// compareRequest holds the proxy's reading of a head to net/http's, where net/http reads it.
func compareRequest(t *testing.T, head []byte, q request) {
	t.Helper()
	// net/http takes no empty line before the request line; the proxy forwards them
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(bytes.TrimLeft(head, "\r\n"))))
	if err != nil {
		return
	}
	chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
	length := max(q.framing.contentLength, 0)
	switch {
	case chunked != q.framing.chunked, !chunked && r.ContentLength != length:
		t.Fatalf("%q: the proxy reads chunked %v, length %d; net/http chunked %v, length %d", head, q.framing.chunked, q.framing.contentLength, chunked, r.ContentLength)
	case r.Method != string(q.method), (r.ProtoMinor == 0) != q.http10:
		t.Fatalf("%q: the proxy reads %s HTTP/1.%d; net/http %s %s", head, q.method, map[bool]int{true: 0, false: 1}[q.http10], r.Method, r.Proto)
	case r.Close == q.keepAlive():
		t.Fatalf("%q: the proxy reads keep-alive %v; net/http close %v", head, q.keepAlive(), r.Close)
	}
}

func FuzzResponseHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		parse := func(r *bufio.Reader) ([]byte, response, error) { return readResponseHead(r, nil) }
		buf, s, err, rest := parseAt(data, bufSize, parse)
		checkConsumption(t, data, buf, rest)
		buf2, s2, err2, _ := parseAt(data, 16, parse)
		if !sameError(err, err2) || !bytes.Equal(buf, buf2) || (err == nil && s != s2) {
			t.Fatalf("%q: %+v %v with 4 KiB, %+v %v with 16 bytes", data, s, err, s2, err2)
		}
		if err != nil {
			return
		}
		if s.status < 0 || s.status > 999 || (s.framing.chunked && s.framing.contentLength >= 0) {
			t.Fatalf("%q: %+v", data, s)
		}
		compareResponse(t, buf, s)
	})
}

// compareResponse holds the proxy's reading of a response head (to a GET) to net/http's, for
// the statuses whose body framing the head decides.
func compareResponse(t *testing.T, head []byte, s response) {
	t.Helper()
	if s.status < 200 || s.status == 204 || s.status == 304 {
		return
	}
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: "GET"})
	if err != nil {
		return
	}
	chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
	if chunked != s.framing.chunked || (!chunked && r.ContentLength != s.framing.contentLength) {
		t.Fatalf("%q: the proxy reads chunked %v, length %d; net/http chunked %v, length %d", head, s.framing.chunked, s.framing.contentLength, chunked, r.ContentLength)
	}
}

func FuzzChunkedBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		err := copyChunked(&out, r, nil)
		rest, _ := io.ReadAll(r)
		// copied as it came: what was taken is what was written
		if !bytes.Equal(out.Bytes(), data[:len(data)-len(rest)]) {
			t.Fatalf("%q: wrote %q, left %q", data, out.Bytes(), rest)
		}
		// the same read without a writer (an injected error drops the body) takes as much
		r2 := bufio.NewReaderSize(bytes.NewReader(data), bufSize)
		err2 := copyChunked(nil, r2, nil)
		rest2, _ := io.ReadAll(r2)
		if !sameError(err, err2) || (err == nil && len(rest) != len(rest2)) {
			t.Fatalf("%q: %v leaving %d with a writer; %v leaving %d without", data, err, len(rest), err2, len(rest2))
		}
	})
}
