package testutil

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// PGCounter is a loopback proxy in front of the test PostgreSQL server that counts round trips: each Sync of the
// extended query protocol and each simple Query is one request a client sends and then waits on. It reads the
// client's side of the wire protocol only, so it counts what any driver really sends (a BEGIN, a COMMIT, a
// statement prepared before its first run), not what the code meant to send.
type PGCounter struct {
	mu    sync.Mutex
	trips []string // the SQL of each round trip since Reset, statements joined with " ; "
	ln    net.Listener
}

// CountPostgres starts a PGCounter in front of the server of dsn and returns it with the DSN that goes through
// it. The proxy stops when the test ends.
func CountPostgres(t testing.TB, dsn string) (*PGCounter, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse postgres DSN: %v", err)
	}
	upstream := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	c := &PGCounter{ln: ln}
	var wg sync.WaitGroup
	var connsMu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, client, server)
			connsMu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(client, server)
				client.Close()
			}()
			go func() {
				defer wg.Done()
				c.relay(server, client)
				server.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for _, cn := range conns {
			cn.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	u.Host = ln.Addr().String()
	return c, u.String()
}

// Reset forgets the round trips counted so far.
func (c *PGCounter) Reset() {
	c.mu.Lock()
	c.trips = nil
	c.mu.Unlock()
}

// RoundTrips returns the SQL of every round trip since the last Reset, in the order they were sent.
func (c *PGCounter) RoundTrips() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.trips...)
}

func (c *PGCounter) record(trip string) {
	c.mu.Lock()
	c.trips = append(c.trips, trip)
	c.mu.Unlock()
}

// Protocol codes a client may send in place of a startup message, each answered before the real startup.
const (
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
)

// relay copies the client's bytes to the server, reading the messages on the way: Parse names a statement's
// text, Bind runs a named (or the unnamed) statement, Sync ends a round trip; a simple Query is one by itself.
// A message is recorded before it is passed on, so a round trip is counted before its answer can exist.
// pgx's liveness check, the simple query "-- ping", is not counted: it runs only on a connection idle for a
// second, which is timing, not what a request costs.
func (c *PGCounter) relay(server io.Writer, client io.Reader) {
	r := bufio.NewReader(client)
	w := bufio.NewWriter(server)
	// pass writes msg on, and sends what is pending once the client has nothing more buffered.
	pass := func(msg ...[]byte) bool {
		for _, m := range msg {
			if _, err := w.Write(m); err != nil {
				return false
			}
		}
		return r.Buffered() > 0 || w.Flush() == nil
	}
	// The untyped startup phase: SSL or GSS requests, then the startup message (or a cancel request).
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		if n < 8 {
			return
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(r, body); err != nil || !pass(hdr[:], body) {
			return
		}
		if code := binary.BigEndian.Uint32(hdr[4:]); code != pgSSLRequest && code != pgGSSENCRequest {
			break
		}
	}
	stmts := map[string]string{} // statement name → SQL text, on this connection
	var pending []string         // the statements run since the last Sync
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 {
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch hdr[0] {
		case 'P': // Parse: name, query, ...
			name, rest := cstring(body)
			query, _ := cstring(rest)
			stmts[name] = query
			pending = append(pending, "prepare "+query)
		case 'B': // Bind: portal, statement, ...
			_, rest := cstring(body)
			name, _ := cstring(rest)
			pending = append(pending, stmts[name])
		case 'S': // Sync
			c.record(strings.Join(pending, " ; "))
			pending = pending[:0]
		case 'Q': // simple Query
			if q, _ := cstring(body); q != "-- ping" {
				c.record(q)
			}
		}
		if !pass(hdr[:], body) {
			return
		}
	}
}

// cstring splits a NUL-terminated string off b.
func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

// String summarises the round trips for a failure message.
func (c *PGCounter) String() string {
	trips := c.RoundTrips()
	var b strings.Builder
	fmt.Fprintf(&b, "%d round trips:", len(trips))
	for _, t := range trips {
		b.WriteString("\n  " + t)
	}
	return b.String()
}
