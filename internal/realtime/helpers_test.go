package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// wsClient is a real WebSocket client of a test server.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// geekURL is the GeekApk socket address of as (anonymous when as has no uid).
func geekURL(s *tu.Server, as tu.As, query string) string {
	u := s.WSURL + "/"
	if as.UID != 0 {
		u = fmt.Sprintf("%s/%d/%s", s.WSURL, as.UID, as.Passhash)
	}
	if query != "" {
		u += "?" + query
	}
	return u
}

// dialStatus tries to connect and returns the HTTP status of a refused upgrade (101 on success).
func dialStatus(t *testing.T, url string, h http.Header) (*wsClient, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if res == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return nil, res.StatusCode
	}
	c := &wsClient{t: t, conn: conn}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return c, res.StatusCode
}

func dial(t *testing.T, url string, h http.Header) *wsClient {
	t.Helper()
	c, status := dialStatus(t, url, h)
	if c == nil {
		t.Fatalf("dial %s: refused with %d", url, status)
	}
	return c
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("send %q (%d bytes): %v", msg[:min(len(msg), 40)], len(msg), err)
	}
}

// recv waits up to d for the next message.
func (c *wsClient) recvWithin(d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	return string(b), err
}

func (c *wsClient) recv() string {
	c.t.Helper()
	m, err := c.recvWithin(time.Minute)
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	return m
}

// expect fails unless the next message is want.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	if got := c.recv(); got != want {
		c.t.Fatalf("received %q, want %q", got, want)
	}
}

// ask sends a query and returns the answer.
func (c *wsClient) ask(q string) string {
	c.t.Helper()
	c.send(q)
	return c.recv()
}

// closed waits for the server to end the connection and returns the close status (-1 when it just went away).
func (c *wsClient) closed() websocket.StatusCode {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		_, err := c.recvWithin(time.Until(deadline))
		if err == nil {
			continue // drain what was sent before the end
		}
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		return websocket.CloseStatus(err)
	}
	c.t.Fatal("the server did not close the connection")
	return 0
}

// eventually polls cond until it holds, failing the test after a minute (a guard against a hang only).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cookies are the user cookies of as, for the event stream.
func cookies(as tu.As) http.Header {
	h := http.Header{}
	if as.UID != 0 {
		h.Set("Cookie", fmt.Sprintf("geekapk_uid=%d; geekapk_passhash=%s", as.UID, as.Passhash))
	}
	if as.Token != "" {
		h.Set("Authorization", "Bearer "+as.Token)
	}
	return h
}

func streamURL(s *tu.Server, query string) string {
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/api/v1/events"
	if query != "" {
		u += "?" + query
	}
	return u
}
