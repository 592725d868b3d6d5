package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/sendtimeout"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// A client that asks for an answer and stops reading is given up (sendtimeout): the server closes the connection
// instead of holding the handler's goroutine for ever; the client then finds the answer cut short.
func TestClientStopsReading(t *testing.T) {
	old := sendtimeout.Timeout
	sendtimeout.Timeout = 300 * time.Millisecond
	t.Cleanup(func() { sendtimeout.Timeout = old })
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		// The same handler on a listener whose connections have a small send buffer: Linux would otherwise grow
		// it past what any answer of a fresh server holds.
		ts := httptest.NewUnstartedServer(s.Handler)
		ts.Listener = tu.SmallSendBuffers(ts.Listener, 4<<10)
		closed := make(chan struct{})
		ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				close(closed) // one connection in this test
			}
		}
		ts.Start()
		defer ts.Close()
		c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The smallest receive buffer the kernel allows: the OpenAPI document (80 KB) cannot go out unread.
		_ = c.(*net.TCPConn).SetReadBuffer(1)
		if _, err := fmt.Fprintf(c, "GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		select { // reads nothing: the server's write blocks, times out, and the server closes the connection
		case <-closed:
		case <-time.After(time.Minute):
			t.Fatal("the server still holds a connection whose client has read nothing for a minute")
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("the answer's head: %v", err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil { // chunked: a whole answer ends with its last chunk
			t.Fatalf("the client read a whole answer (%d bytes) after the server gave it up", n)
		}
	})
}

// A body over an API's limit gets its 413 at once, the connection closed after it, even when the client stops
// sending the rest: the server must not wait for bytes it will throw away. http.MaxBytesReader tells net/http so
// through its own ResponseWriter, which the middleware wraps (sendtimeout.Innermost).
func TestBodyTooLargeAnsweredAtOnce(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		for _, c := range []struct {
			path   string
			limit  int
			status int    // the installer contract answers its errors with 200 and an envelope
			says   string // in the body
		}{{"/app", 4 << 20, http.StatusRequestEntityTooLarge, "too large"}, {"/installApp", 1 << 20, http.StatusOK, "over the 1 MiB limit"}} {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Declared: the limit and 128 KiB. Sent: the limit and 16 KiB, then nothing. net/http reads what is
			// left of a body it was not told is too large before it answers, when that is under 256 KiB.
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", c.path, tu.AdminToken, c.limit+128<<10)
			body := `{"desc": "` + strings.Repeat("a", c.limit+16<<10)
			if _, err := io.WriteString(conn, head+body); err != nil {
				t.Fatalf("%s: send: %v", c.path, err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: no answer to a body over the limit while the rest is not sent: %v", c.path, err)
			}
			msg, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(msg), c.says) || !resp.Close {
				t.Errorf("%s: %s %q, close %v; want %d saying %q, and the connection closed", c.path, resp.Status, msg,
					resp.Close, c.status, c.says)
			}
		}
	})
}
