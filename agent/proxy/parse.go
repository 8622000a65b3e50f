package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The proxy forwards bytes as they came: it reads a message's head only as far as it must to
// know what the request is (method, path, version) and where the message ends (Content-Length,
// Transfer-Encoding). Anything it cannot read with certainty — a head too large, a line that is
// not HTTP/1.x, framing that could be read two ways — makes the connection a plain relay from
// that point (errNotHTTP), so the proxy never breaks traffic it does not understand; it only
// faults the requests it does.

// Limits of what is parsed.
const (
	maxHead     = 64 << 10 // a message head
	maxHeaders  = 256
	maxChunkHdr = 4 << 10 // a chunk-size line (with extensions) or a trailer line
)

var errNotHTTP = errors.New("not HTTP/1.x (relayed as it is)")

// readLine appends one line (through its LF) from r to buf and returns buf and the line (a
// slice of buf). A line that does not end within max bytes of buf is errNotHTTP.
func readLine(r *bufio.Reader, buf []byte, max int) ([]byte, []byte, error) {
	start := len(buf)
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > max {
			return buf, buf[start:], errNotHTTP
		}
		switch {
		case err == nil:
			return buf, buf[start:], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > start:
			return buf, buf[start:], io.ErrUnexpectedEOF
		default:
			return buf, buf[start:], err
		}
	}
}

// trimEOL drops the line's CRLF (or bare LF).
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// framing is how a message's body ends.
type framing struct {
	chunked       bool
	contentLength int64 // -1: none given
	// Connection, Expect and Upgrade, as far as they matter
	connClose     bool
	connKeepAlive bool
	expect100     bool
	upgrade       bool
}

func lowerEq(a []byte, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken: a comma-separated header value holds token (case-insensitive).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, nil
		}
		if lowerEq(bytes.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// readHeaders reads header lines into buf until the empty line, noting the framing. buf holds
// the whole head so far.
func readHeaders(r *bufio.Reader, buf []byte) ([]byte, framing, error) {
	f := framing{contentLength: -1}
	sawCL, sawTE := false, false
	for n := 0; ; n++ {
		var line []byte
		var err error
		buf, line, err = readLine(r, buf, maxHead)
		if err != nil {
			return buf, f, err
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if n >= maxHeaders {
			return buf, f, errNotHTTP
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: a continuation of the previous header could change what it says
			return buf, f, errNotHTTP
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return buf, f, errNotHTTP
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		if bytes.ContainsAny(name, " \t") {
			return buf, f, errNotHTTP
		}
		switch {
		case lowerEq(name, "content-length"):
			v, ok := parseDecimal(value)
			if !ok || (sawCL && v != f.contentLength) {
				return buf, f, errNotHTTP
			}
			sawCL, f.contentLength = true, v
		case lowerEq(name, "transfer-encoding"):
			if sawTE {
				return buf, f, errNotHTTP
			}
			sawTE = true
			// chunked must be the last coding; anything else is read by the connection's close
			last := value
			if i := bytes.LastIndexByte(value, ','); i >= 0 {
				last = value[i+1:]
			}
			f.chunked = lowerEq(bytes.TrimSpace(last), "chunked")
			if !f.chunked {
				return buf, f, errNotHTTP
			}
		case lowerEq(name, "connection"):
			if hasToken(value, "close") {
				f.connClose = true
			}
			if hasToken(value, "keep-alive") {
				f.connKeepAlive = true
			}
			if hasToken(value, "upgrade") {
				f.upgrade = true
			}
		case lowerEq(name, "expect"):
			f.expect100 = hasToken(value, "100-continue")
		}
	}
	if f.chunked && sawCL {
		// both framings: a request smuggling shape; leave it to the application as it is
		return buf, f, errNotHTTP
	}
	return buf, f, nil
}

// request is what the proxy reads of a request.
type request struct {
	method  []byte
	path    []byte // the target's path, without the query
	http10  bool
	framing framing
}

// keepAlive: the client keeps the connection after this request.
func (q *request) keepAlive() bool {
	if q.http10 {
		return q.framing.connKeepAlive && !q.framing.connClose
	}
	return !q.framing.connClose
}

func (q *request) hasBody() bool {
	return q.framing.chunked || q.framing.contentLength > 0
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// pathOf is a request target's path: origin-form as it is, absolute-form after the authority;
// the query dropped. Authority-form (CONNECT) and `*` have none.
func pathOf(target []byte) []byte {
	if i := bytes.Index(target, []byte("://")); i > 0 && target[0] != '/' {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			target = rest[j:]
		} else {
			return []byte("/")
		}
	}
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}

// readRequestHead reads a request's head into buf (emptied first): the request line and the
// headers, exactly as received.
func readRequestHead(r *bufio.Reader, buf []byte) ([]byte, request, error) {
	var q request
	buf = buf[:0]
	var line []byte
	var err error
	for {
		// RFC 9112 2.2: empty lines before the request line are ignored (and forwarded)
		buf, line, err = readLine(r, buf, maxHead)
		if err != nil {
			return buf, q, err
		}
		if len(trimEOL(line)) > 0 {
			break
		}
	}
	start := len(buf) - len(line)
	line = trimEOL(line)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return buf, q, errNotHTTP
	}
	method, target, version := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	for _, c := range method {
		if !isTokenChar(c) {
			return buf, q, errNotHTTP
		}
	}
	switch string(version) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		q.http10 = true
	default:
		return buf, q, errNotHTTP
	}
	if len(target) == 0 || bytes.ContainsAny(target, " \t") {
		return buf, q, errNotHTTP
	}
	buf, q.framing, err = readHeaders(r, buf)
	// the method and the target as slices of buf, which reading the headers may have moved
	q.method = buf[start : start+sp1]
	q.path = pathOf(buf[start+sp1+1 : start+sp2])
	if err == nil && q.http10 && q.framing.chunked {
		err = errNotHTTP10Chunked
	}
	return buf, q, err
}

// errNotHTTP10Chunked: Transfer-Encoding arrived in HTTP/1.1; an HTTP/1.0 message that has it
// has faulty framing (RFC 9112 6.1), which applications read two ways (net/http ignores it,
// others read chunks): relayed as it is.
var errNotHTTP10Chunked = fmt.Errorf("%w: Transfer-Encoding in HTTP/1.0", errNotHTTP)

// response is what the proxy reads of a response.
type response struct {
	status  int
	framing framing
}

// readResponseHead reads a response's head into buf (emptied first).
func readResponseHead(r *bufio.Reader, buf []byte) ([]byte, response, error) {
	var s response
	buf = buf[:0]
	buf, line, err := readLine(r, buf, maxHead)
	if err != nil {
		return buf, s, err
	}
	line = trimEOL(line)
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return buf, s, errNotHTTP
	}
	code, ok := parseDecimal(line[9:12])
	if !ok || (len(line) > 12 && line[12] != ' ') {
		return buf, s, errNotHTTP
	}
	s.status = int(code)
	http10 := line[7] == '0'
	buf, s.framing, err = readHeaders(r, buf)
	if err == nil && http10 && s.framing.chunked {
		err = errNotHTTP10Chunked
	}
	return buf, s, err
}

// copyN copies n bytes from r to w.
func copyN(w io.Writer, r *bufio.Reader, n int64) error {
	for n > 0 {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := r.Buffered()
		if int64(k) > n {
			k = int(n)
		}
		b, _ := r.Peek(k)
		if _, err := w.Write(b); err != nil {
			return err
		}
		_, _ = r.Discard(k)
		n -= int64(k)
	}
	return nil
}

// copyChunked copies a chunked body, trailers included, as it is (w nil: reads it only). What it
// takes from r it writes to w, also when it stops (errNotHTTP: the caller relays the rest as it
// is, after what was written).
func copyChunked(w io.Writer, r *bufio.Reader, scratch []byte) error {
	// line reads a line and writes it, whatever follows
	line := func() ([]byte, error) {
		buf, l, err := readLine(r, scratch[:0], maxChunkHdr)
		scratch = buf
		if len(l) > 0 && w != nil {
			if _, werr := w.Write(l); werr != nil {
				return nil, werr
			}
		}
		return l, err
	}
	for {
		l, err := line()
		if err != nil {
			return err
		}
		size, err := chunkSize(l)
		if err != nil {
			return err
		}
		if size == 0 {
			// trailers, then the empty line
			for {
				l, err := line()
				if err != nil {
					return err
				}
				if len(trimEOL(l)) == 0 {
					return nil
				}
			}
		}
		if w == nil {
			if _, err := r.Discard(int(size)); err != nil {
				return err
			}
		} else if err := copyN(w, r, size); err != nil {
			return err
		}
		if l, err = line(); err != nil {
			return err
		}
		if len(trimEOL(l)) != 0 {
			return errNotHTTP
		}
	}
}

// chunkSize reads a chunk-size line: hex digits, extensions after ';'.
func chunkSize(l []byte) (int64, error) {
	sizeText := trimEOL(l)
	if i := bytes.IndexByte(sizeText, ';'); i >= 0 {
		sizeText = sizeText[:i]
	}
	sizeText = bytes.TrimSpace(sizeText)
	if len(sizeText) == 0 || len(sizeText) > 15 {
		return 0, errNotHTTP
	}
	var size int64
	for _, c := range sizeText {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, errNotHTTP
		}
		size = size<<4 | int64(d)
	}
	return size, nil
}
