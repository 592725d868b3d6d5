package sendtimeout_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/sendtimeout"
	"github.com/stackhub/stackhub/internal/testutil"
)

const chunk = 8 << 10

// serve starts a real server whose handler, behind Handler, writes n chunks (or until a write fails) and reports
// the write error, nil when all went out. Before writing, prepare may act on the ResponseWriter.
func serve(t *testing.T, n int, prepare func(w http.ResponseWriter)) (addr string, done <-chan error) {
	t.Helper()
	ch := make(chan error, 1)
	srv := httptest.NewUnstartedServer(sendtimeout.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prepare != nil {
			prepare(w)
		}
		buf := make([]byte, chunk)
		var err error
		for i := 0; i < n && err == nil; i++ {
			_, err = w.Write(buf)
		}
		ch <- err
	})))
	// Small socket buffers on the server's side, so that a client that reads nothing blocks a write soon.
	srv.Listener = testutil.SmallSendBuffers(srv.Listener, 16<<10)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), ch
}

// request opens a connection with a small receive buffer (but above loopback's 64 KiB segments, or TCP stalls)
// and sends a GET on it.
func request(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

func setTimeout(t *testing.T, d time.Duration) {
	old := sendtimeout.Timeout
	sendtimeout.Timeout = d
	t.Cleanup(func() { sendtimeout.Timeout = old })
}

// wait returns the handler's write error, failing the test if the handler is still writing after a minute.
func wait(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s: the handler still writes after a minute", what)
		return nil
	}
}

// A client that stops reading is given up: the blocked write fails and the connection is closed.
func TestClientStopsReading(t *testing.T) {
	setTimeout(t, 300*time.Millisecond)
	addr, done := serve(t, 8192, nil) // 64 MiB: far more than the socket buffers hold
	c := request(t, addr)
	err := wait(t, done, "a client that reads nothing")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the write to a client that reads nothing ended with %v, want a timeout", err)
	}
	// What the buffers held can still be read, then the connection ends.
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("after the timeout the connection should end cleanly for the client, got %v", err)
	}
}

// A client that reads slowly but steadily is never cut, however long the answer takes.
func TestSlowReaderKeepsGoing(t *testing.T) {
	setTimeout(t, time.Second)
	const n = 128 // 1 MiB, read slowly
	addr, done := serve(t, n, nil)
	c := request(t, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var got int64
	buf := make([]byte, 32<<10)
	for {
		time.Sleep(100 * time.Millisecond) // 32 KiB each 100 ms: the whole answer takes about 3 Timeouts
		k, err := io.ReadFull(resp.Body, buf)
		got += int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", got, err)
		}
	}
	if err := wait(t, done, "a slow reader"); err != nil {
		t.Fatalf("the write to a slow reader failed: %v", err)
	}
	if got != n*chunk {
		t.Fatalf("read %d bytes, want %d", got, n*chunk)
	}
	if took := time.Since(start); took < 3*sendtimeout.Timeout {
		t.Logf("the answer took only %v: the test did not outlast the timeout", took) // no timing fails a test
	}
}

// A handler that sets its own deadline (here: none at all) keeps it.
func TestHandlerOwnDeadline(t *testing.T) {
	setTimeout(t, 300*time.Millisecond)
	const n = 128 // 1 MiB: more than the socket buffers hold
	addr, done := serve(t, n, func(w http.ResponseWriter) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
			panic(err)
		}
	})
	c := request(t, addr)
	select {
	case err := <-done:
		t.Fatalf("the handler ended (%v) while the client read nothing", err)
	case <-time.After(3 * sendtimeout.Timeout):
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil || got != n*chunk {
		t.Fatalf("read %d bytes (%v), want %d", got, err, n*chunk)
	}
	if err := wait(t, done, "a handler with its own deadline"); err != nil {
		t.Fatalf("the write failed: %v", err)
	}
	if !strings.HasPrefix(resp.Status, "200") {
		t.Fatalf("status %s", resp.Status)
	}
}

// A connection the handler takes over (a WebSocket) keeps no deadline of the Writer's: net/http would set one on
// it even after the hijack, and the handler's goroutine writing later would find it passed.
func TestHijackedConnKeepsNoDeadline(t *testing.T) {
	setTimeout(t, 300*time.Millisecond)
	wrote := make(chan error, 1)
	srv := httptest.NewServer(sendtimeout.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			wrote <- err
			return
		}
		// The handler returns at once; the connection lives on, as a WebSocket's does. The wait is read here: the
		// test's cleanup restores Timeout while a failed run's goroutine still waits.
		quiet := 3 * sendtimeout.Timeout
		go func() {
			defer c.Close()
			time.Sleep(quiet)
			_, err := brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			if err == nil {
				err = brw.Flush()
			}
			wrote <- err
		}()
	})))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := wait(t, wrote, "the hijacked connection's write"); err != nil {
		t.Fatalf("a write on the hijacked connection after the timeout: %v", err)
	}
}
