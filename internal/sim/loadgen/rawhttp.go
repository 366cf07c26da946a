package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is a minimal HTTP/1.1 client over one keep-alive connection, for
// plain-HTTP benchmarks: it writes a request in one buffered write and
// reads an answer with a Content-Length. It spends a fraction of
// net/http's CPU per request, which on a small machine shared with the
// server under test leaves that server the CPU a remote MDM server would.
type rawConn struct {
	addr, host string
	timeout    time.Duration
	c          net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	body       []byte
}

func newRawConn(base string, timeout time.Duration) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("raw client: scheme %q, want http", u.Scheme)
	}
	return &rawConn{addr: u.Host, host: u.Host, timeout: timeout}, nil
}

var errChunked = errors.New("raw client: answer without Content-Length")

// do posts body to path with the given headers and returns the status and
// answer body (valid until the next call).
func (r *rawConn) do(path string, hdrs [][2]string, body []byte) (int, []byte, error) {
	if r.c == nil {
		c, err := net.DialTimeout("tcp", r.addr, r.timeout)
		if err != nil {
			return 0, nil, err
		}
		r.c, r.br, r.bw = c, bufio.NewReaderSize(c, 4096), bufio.NewWriterSize(c, 16<<10)
	}
	status, ans, err := r.roundTrip(path, hdrs, body)
	if err != nil {
		r.c.Close()
		r.c = nil
	}
	return status, ans, err
}

func (r *rawConn) roundTrip(path string, hdrs [][2]string, body []byte) (int, []byte, error) {
	r.c.SetDeadline(time.Now().Add(r.timeout))
	w := r.bw
	w.WriteString("POST ")
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(r.host)
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	for _, h := range hdrs {
		w.WriteString("\r\n")
		w.WriteString(h[0])
		w.WriteString(": ")
		w.WriteString(h[1])
	}
	w.WriteString("\r\n\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return 0, nil, err
	}

	line, err := r.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("raw client: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("raw client: bad status line %q", line)
	}
	length, closeAfter := -1, false
	for {
		line, err = r.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, fmt.Errorf("raw client: Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
			closeAfter = true
		}
	}
	if length < 0 || length > 1<<20 {
		return 0, nil, errChunked
	}
	if cap(r.body) < length {
		r.body = make([]byte, length)
	}
	r.body = r.body[:length]
	if _, err := io.ReadFull(r.br, r.body); err != nil {
		return 0, nil, err
	}
	if closeAfter {
		r.c.Close()
		r.c = nil
	}
	return status, r.body, nil
}

func (r *rawConn) close() {
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}
