package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/stackhub/stackhub/internal/engine/docker"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/sendtimeout"
	"github.com/stackhub/stackhub/internal/store"
)

// oneCert serves one self-signed certificate for "app.test" (Certs).
type oneCert struct{ cert tls.Certificate }

func (c oneCert) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, NextProtos: []string{"h2", "http/1.1"}}
}
func (oneCert) HTTPChallengeHandler(next http.Handler) http.Handler { return next }
func (oneCert) Sync(context.Context, map[string]string) error       { return nil }

// scriptedApp is an app that answers each request as its test says, byte for byte: what a real app does wrong
// (a body after HEAD, a strange status line) cannot be made with net/http's server.
type scriptedApp struct {
	ln     net.Listener
	conns  atomic.Int64
	closed chan struct{} // a connection ended from the edge's side
}

// startApp serves answer on a loopback port: it gets each request (body read) and the raw connection, and says
// whether to keep the connection.
func startApp(t *testing.T, answer func(c net.Conn, req *http.Request, body string) bool) *scriptedApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &scriptedApp{ln: ln, closed: make(chan struct{}, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						a.closed <- struct{}{}
						return
					}
					b, _ := io.ReadAll(req.Body)
					if !answer(c, req, string(b)) {
						return
					}
				}
			}()
		}
	}()
	return a
}

func (a *scriptedApp) port() int { return a.ln.Addr().(*net.TCPAddr).Port }

// startFastEdge runs the edge's HTTPS listener with one public route, app.test → the app on port, over a real
// SQLite route table, and returns its address and a pool trusting its certificate.
func startFastEdge(t *testing.T, port int) (string, *x509.CertPool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	q := st.Q()
	if err := q.CreateInstance(ctx, &store.Instance{Name: "app", Project: "stackhub-app", App: 1, AppKey: "app",
		Reversion: 1, Version: "1", State: store.StateInstalled, Settings: "{}", Secrets: "{}", Rendered: "{}",
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := q.BookPort(ctx, store.PortBooking{Port: port, Protocol: "tcp", Instance: "app", Variable: "W9_HTTP_PORT_SET"}); err != nil {
		t.Fatal(err)
	}
	if err := q.CreateRoute(ctx, &store.Route{Instance: "app", Domain: "app.test", Path: "/", HTTPS: "custom",
		Access: "public", BasicUsers: "[]", Allow: "[]", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"app.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := docker.New() // the 502 page asks the engine for the app's status
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	hs := host.New(st, eng, nil, log, host.Config{DataDir: t.TempDir()})
	e := New(st, hs, nil, http.NotFoundHandler(), oneCert{tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, log, Config{})
	if err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Listen(ctx, nil, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen: %v", err)
		}
		st.Close()
	})
	return ln.Addr().String(), pool
}

// dialEdge opens one HTTP/1.1 connection to the edge.
func dialEdge(t *testing.T, addr string, pool *x509.CertPool) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "app.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, method, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%q: body: %v", raw, err)
	}
	return res, string(b)
}

func write(c net.Conn, s string) bool {
	_, err := io.WriteString(c, s)
	return err == nil
}

// TestFastPathAppMisbehaves holds the fast path to what net/http's Transport and server guarantee when an app
// closes a kept connection, sends bytes it was not asked for, or writes a status line or header a client must
// not see; and to the edge's own rules on names a client must not send.
func TestFastPathAppMisbehaves(t *testing.T) {
	var closeAfter atomic.Bool
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		switch req.URL.Path {
		case "/headers":
			var sb strings.Builder
			for k := range req.Header {
				sb.WriteString(k + ";")
			}
			return write(c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", sb.Len(), sb.String()))
		case "/head-with-body": // a HEAD answered with a body, as broken apps do
			return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		case "/cr-status":
			return write(c, "HTTP/1.1 200 OK\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok")
		case "/bad-name":
			return write(c, "HTTP/1.1 200 OK\r\nContent-Length : 5\r\nContent-Length: 2\r\n\r\nok")
		case "/no-type":
			return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n<html>hi</ht>")
		case "/zero":
			return write(c, "HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nok")
		}
		ok := write(c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s %s", len(req.Method)+1+len(body), req.Method, body))
		if closeAfter.Load() { // an app closing idle connections (Node's default: after 5 s)
			go func() { time.Sleep(100 * time.Millisecond); c.Close() }()
		}
		return ok
	})
	addr, pool := startFastEdge(t, app.port())
	c, br := dialEdge(t, addr, pool)

	// The app closes the kept connection while the client is idle: a POST then is not lost to it.
	closeAfter.Store(true)
	if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "GET " {
		t.Fatalf("GET: %d %q", res.StatusCode, body)
	}
	<-app.closed
	if res, body := roundTrip(t, c, br, "POST", "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\nform"); res.StatusCode != 200 || body != "POST form" {
		t.Errorf("POST after the app closed the kept connection: %d %q", res.StatusCode, body)
	}
	<-app.closed
	if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "GET " {
		t.Errorf("GET after the app closed the kept connection: %d %q", res.StatusCode, body)
	}
	closeAfter.Store(false)

	// A body after HEAD is not taken for the next answer.
	if res, body := roundTrip(t, c, br, "HEAD", "HEAD /head-with-body HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "" || res.ContentLength != 5 {
		t.Errorf("HEAD: %d length %d %q", res.StatusCode, res.ContentLength, body)
	}
	if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "GET " {
		t.Errorf("the request after a HEAD answered with a body: %d %q", res.StatusCode, body)
	}

	// The status line is the edge's own; a header name Go's parser let through is not passed on.
	if res, _ := roundTrip(t, c, br, "GET", "GET /cr-status HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.Status != "200 OK" || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("a bare CR in the app's status line: %q, headers %v", res.Status, res.Header)
	}
	if res, body := roundTrip(t, c, br, "GET", "GET /bad-name HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" || len(res.Header.Values("Content-Length")) != 1 {
		t.Errorf("an invalid header name: %d %q, headers %v", res.StatusCode, body, res.Header)
	}
	if res, _ := roundTrip(t, c, br, "GET", "GET /zero HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != http.StatusBadGateway {
		t.Errorf("status 000: %d, want 502", res.StatusCode)
	}

	// An answer without Content-Type gets none, on either path (net/http's server would guess text/html).
	if res, body := roundTrip(t, c, br, "GET", "GET /no-type HTTP/1.1\r\nHost: app.test\r\n\r\n"); body != "<html>hi</ht>" || res.Header["Content-Type"] != nil {
		t.Errorf("no Content-Type on HTTP/1.1: %q, headers %v", body, res.Header)
	}
	h2 := &http.Client{Timeout: time.Minute, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	if res, err := h2.Get("https://app.test/no-type"); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(res.Body); res.ProtoMajor != 2 || string(b) != "<html>hi</ht>" || res.Header["Content-Type"] != nil {
		t.Errorf("no Content-Type on HTTP/2: %s %q, headers %v", res.Proto, b, res.Header)
	}

	// Names the app could read as X-StackHub-User never reach it; paths with dot segments are refused.
	if _, body := roundTrip(t, c, br, "GET", "GET /headers HTTP/1.1\r\nHost: app.test\r\nX_StackHub_User: root\r\nX-Stackhub-User: root\r\nX-Other: 1\r\n\r\n"); strings.Contains(strings.ToLower(body), "stackhub") || !strings.Contains(body, "X-Other;") {
		t.Errorf("the app saw headers %q", body)
	}
	for _, p := range []string{"/a/../b", "/./b", "/%2e%2e/b"} {
		if res, _ := roundTrip(t, c, br, "GET", "GET "+p+" HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", p, res.StatusCode)
		}
	}
}

// TestFastPathClientLeaves: a client that goes away while its app has not answered is noticed, and the app's
// connection is closed, as ReverseProxy cancels its request.
func TestFastPathClientLeaves(t *testing.T) {
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		return true // never answers: a long poll
	})
	addr, pool := startFastEdge(t, app.port())
	c, _ := dialEdge(t, addr, pool)
	if _, err := io.WriteString(c, "GET /poll HTTP/1.1\r\nHost: app.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for app.conns.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	select {
	case <-app.closed:
	case <-time.After(time.Minute):
		t.Fatal("the app's connection stayed open a minute after its client left")
	}
}

// TestFastPathLetsGoOfIdleApp: the app connection kept for a client is closed once the client has waited
// upstreamIdle for its next request, and the client's connection goes on with a new one.
func TestFastPathLetsGoOfIdleApp(t *testing.T) {
	old := upstreamIdle
	upstreamIdle = 200 * time.Millisecond // a sequential test: the parallel ones run after it, with the old value
	t.Cleanup(func() { upstreamIdle = old })
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	addr, pool := startFastEdge(t, app.port())
	c, br := dialEdge(t, addr, pool)
	for i := range 2 {
		if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i+1, res.StatusCode, body)
		}
		select {
		case <-app.closed: // the edge closed the app connection; the client's is still open
		case <-time.After(time.Minute):
			t.Fatalf("request %d: the app connection stayed open a minute after its client went quiet", i+1)
		}
	}
	if n := app.conns.Load(); n != 2 {
		t.Errorf("the app saw %d connections, want 2 (one per quiet spell)", n)
	}
}

// TestFastPathSlowAnswerOnKeptConn: a slow answer or a stream to a later request on a client connection is not cut
// by the deadlines of waiting for its header (the quiet spell that lets go of the app, the idle timeout), which
// the watch reading the client would otherwise hit.
func TestFastPathSlowAnswerOnKeptConn(t *testing.T) {
	old := upstreamIdle
	upstreamIdle = 200 * time.Millisecond // a sequential test: the parallel ones run after it, with the old value
	t.Cleanup(func() { upstreamIdle = old })
	const chunks = 8
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		switch req.URL.Path {
		case "/slow": // past watchAfter and upstreamIdle both
			time.Sleep(watchAfter + 3*upstreamIdle)
		case "/events":
			if !write(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n") {
				return false
			}
			for range chunks {
				time.Sleep(upstreamIdle)
				if !write(c, "5\r\ndata\n\r\n") {
					return false
				}
			}
			return write(c, "0\r\n\r\n")
		}
		return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	addr, pool := startFastEdge(t, app.port())
	c, br := dialEdge(t, addr, pool)
	for _, path := range []string{"/", "/slow", "/", "/events"} {
		res, body := roundTrip(t, c, br, "GET", "GET "+path+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
		want := "ok"
		if path == "/events" {
			want = strings.Repeat("data\n", chunks)
		}
		if res.StatusCode != 200 || body != want {
			t.Fatalf("%s: %d %q, want %q", path, res.StatusCode, body, want)
		}
	}
}

// TestFastPathBodyBeforeApp: a request's body is read whole before the app hears of the request, so a client that
// trickles its body holds no app connection (a PHP worker) meanwhile.
func TestFastPathBodyBeforeApp(t *testing.T) {
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		return write(c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	})
	addr, pool := startFastEdge(t, app.port())
	c, br := dialEdge(t, addr, pool)
	if !write(c, "POST /form HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\nhalf.") {
		t.Fatal("write")
	}
	time.Sleep(500 * time.Millisecond) // time enough for an edge that sends the header at once to have dialled
	if n := app.conns.Load(); n != 0 {
		t.Fatalf("the app has %d connections while the body is half sent", n)
	}
	if res, body := roundTrip(t, c, br, "POST", "rest!"); res.StatusCode != 200 || body != "half.rest!" {
		t.Errorf("POST: %d %q", res.StatusCode, body)
	}
}

// TestFastPathAppHalfCloses: an app that ends a kept connection with a half close and reads on without answering
// (Apache's lingering close; every close of an app behind docker-proxy) does not hold a request, whether the next
// one comes at once (sent from inside the wait for its answer, which cannot see the close: found after heldWait)
// or after heldFresh (sent plainly: found at once). Either way a GET goes again on a new connection.
func TestFastPathAppHalfCloses(t *testing.T) {
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		if req.Header.Get("X-Half-Close") == "" {
			return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		ok := write(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast")
		_ = c.(*net.TCPConn).CloseWrite()
		return ok // and read on, answering nothing more on this connection
	})
	addr, pool := startFastEdge(t, app.port())
	c, br := dialEdge(t, addr, pool)
	for _, pause := range []time.Duration{0, 2 * heldFresh} {
		if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("pause %v: the request before: %d %q", pause, res.StatusCode, body)
		}
		if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\nX-Half-Close: 1\r\n\r\n"); res.StatusCode != 200 || body != "last" {
			t.Fatalf("pause %v: the half-closing answer: %d %q", pause, res.StatusCode, body)
		}
		time.Sleep(pause)
		for i := range 2 {
			if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("pause %v: request %d after the half close: %d %q", pause, i+1, res.StatusCode, body)
			}
		}
	}
	if n := app.conns.Load(); n != 3 {
		t.Errorf("the app saw %d connections, want 3", n)
	}
}

// TestClientStopsReading: a client that stops reading a long answer is given up once a write has made no progress
// for sendtimeout.Timeout, on both paths, and its app connection is closed with it, which frees the app's worker.
func TestClientStopsReading(t *testing.T) {
	old := sendtimeout.Timeout
	sendtimeout.Timeout = 300 * time.Millisecond // a sequential test: the parallel ones run after it, with the old value
	t.Cleanup(func() { sendtimeout.Timeout = old })
	cut := make(chan struct{}, 4)
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		switch req.URL.Path {
		case "/":
			return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		case "/quiet": // an event stream quiet for longer than sendtimeout.Timeout between its events
			if !write(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n") {
				return false
			}
			time.Sleep(3 * sendtimeout.Timeout)
			return write(c, "5\r\nlast\n\r\n0\r\n\r\n")
		}
		if req.Header.Get("Upgrade") == "echo" {
			if !write(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n") {
				return false
			}
			_, _ = io.Copy(c, c)
			return false
		}
		ok := write(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n")
		for chunk := strings.Repeat("x", 64<<10); ok; {
			ok = write(c, chunk)
		}
		cut <- struct{}{}
		return false
	})
	addr, pool := startFastEdge(t, app.port())
	for _, tc := range []struct{ path, req string }{
		{"the fast path", "GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n"},
		{"net/http's path", "POST /big HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	} {
		c, _ := dialEdge(t, addr, pool)
		if !write(c, tc.req) { // and read nothing
			t.Fatalf("%s: write", tc.path)
		}
		select {
		case <-cut:
		case <-time.After(time.Minute):
			t.Fatalf("%s: the app still sent a minute after its client stopped reading", tc.path)
		}
	}

	// On HTTP/2 too, a stream whose client stops reading is given up, and one quiet between its events is not.
	h2 := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	ctx, cancel := context.WithCancel(context.Background()) // no client timeout: it would end the stream too
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://app.test/big", nil)
	res, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close() // and read nothing
	select {
	case <-cut:
	case <-time.After(time.Minute):
		t.Fatalf("HTTP/2: the app still sent a minute after its client stopped reading")
	}
	h2.Timeout = time.Minute
	if res, err := h2.Get("https://app.test/quiet"); err != nil {
		t.Fatal(err)
	} else if b, err := io.ReadAll(res.Body); res.ProtoMajor != 2 || string(b) != "first\nlast\n" {
		t.Errorf("a quiet stream on HTTP/2: %s %q %v", res.Proto, b, err)
	}

	// An answer's deadline does not outlive the connection's hand-over to net/http, whose own writes (a 100
	// Continue) it would cut.
	c, br := dialEdge(t, addr, pool)
	if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", res.StatusCode, body)
	}
	time.Sleep(3 * sendtimeout.Timeout)
	if !write(c, "POST / HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n") {
		t.Fatal("write")
	}
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("Expect: 100-continue: %v %v", res, err)
	}
	if res, body := roundTrip(t, c, br, "POST", "body"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", res.StatusCode, body)
	}

	// A connection upgraded after an answer (which left a write deadline) keeps no deadline: a quiet WebSocket
	// outlives sendtimeout.Timeout.
	c, br = dialEdge(t, addr, pool)
	if res, body := roundTrip(t, c, br, "GET", "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET: %d %q", res.StatusCode, body)
	}
	if res, _ := roundTrip(t, c, br, "GET", "GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", res.StatusCode)
	}
	time.Sleep(3 * sendtimeout.Timeout)
	if !write(c, "ping") {
		t.Fatal("write after the quiet spell")
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Errorf("echo after a quiet spell past sendtimeout.Timeout: %q %v", got, err)
	}
}

// TestHTTP2ClientOpensNoWindow: an HTTP/2 client that lets the edge send nothing (a flow-control window of 0) has
// its stream reset once sendtimeout.Timeout passes, even for a small answer that the server sends only after the handler
// returns.
func TestHTTP2ClientOpensNoWindow(t *testing.T) {
	old := sendtimeout.Timeout
	sendtimeout.Timeout = 300 * time.Millisecond // a sequential test: the parallel ones run after it, with the old value
	t.Cleanup(func() { sendtimeout.Timeout = old })
	app := startApp(t, func(c net.Conn, req *http.Request, body string) bool {
		return write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	addr, pool := startFastEdge(t, app.port())
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "app.test", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "app.test"}, {":path", "/"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no reset of the stream a minute on: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return
			}
		case *http2.DataFrame:
			t.Fatalf("DATA with a window of 0: %q", f.Data())
		}
	}
}
