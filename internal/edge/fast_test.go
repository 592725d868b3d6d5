package edge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// h1Client is edgeClient on the HTTPS listener speaking HTTP/1.1 only: the edge's fast path.
func h1Client(s *tu.Server, from string) *http.Client {
	c := edgeClient(s, true, from)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig = &tls.Config{RootCAs: s.StandIn.Pool, NextProtos: []string{"http/1.1"}}
	tr.MaxIdleConnsPerHost = 1
	return c
}

// rawTLS opens one HTTP/1.1 TLS connection to the edge for name, for requests written by hand.
func rawTLS(t *testing.T, s *tu.Server, name string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.EdgeHTTPS,
		&tls.Config{RootCAs: s.StandIn.Pool, ServerName: name, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(b)
}

// TestFastPath drives the HTTPS listener's own HTTP/1.1 path on the real Docker Engine: what the app sees, SSE,
// bodies, HEAD, pipelined and hand-written requests, the requests it gives to net/http (chunked and large
// bodies, Expect, an oversized header, LF-only lines), an app restarted under a kept connection, and the 502
// page, counting which path served each.
func TestFastPath(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, _ := setup(t, e, tu.Options{})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "domain": "fast.test"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		c := h1Client(s, "")
		fast0, off0 := s.Edge.ProxyCounts()
		served := func(wantFast, wantOff int64, what string) {
			t.Helper()
			fast, off := s.Edge.ProxyCounts()
			if fast-fast0 != wantFast || off-off0 != wantOff {
				t.Errorf("%s: %d on the fast path and %d handed over, want %d and %d", what, fast-fast0, off-off0, wantFast, wantOff)
			}
			fast0, off0 = fast, off
		}

		// What the app sees: its name, the forwarded headers, never the client's X-StackHub-User or hop headers.
		res, body := fetch(t, c, "GET", at(s, true, "fast.test", "/headers?q=1"), "X-StackHub-User", "root",
			"X-Forwarded-For", "6.6.6.6", "Forwarded", "for=6.6.6.6", "Keep-Alive", "timeout=5", "X-Custom", "kept")
		var seen struct {
			Host    string              `json:"host"`
			Headers map[string][]string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(body), &seen); err != nil || res.ProtoMajor != 1 {
			t.Fatalf("headers %s %d %q: %v", res.Proto, res.StatusCode, body, err)
		}
		h := http.Header(seen.Headers)
		if !strings.HasPrefix(seen.Host, "fast.test:") || h.Get("X-Forwarded-For") != "127.0.0.1" ||
			h.Get("X-Forwarded-Proto") != "https" || !strings.HasPrefix(h.Get("X-Forwarded-Host"), "fast.test:") ||
			h.Get("X-Stackhub-User") != "" || h.Get("Forwarded") != "" || h.Get("Keep-Alive") != "" ||
			h.Get("X-Custom") != "kept" || h.Get("Accept-Encoding") != "gzip" {
			t.Errorf("the app saw host %q and headers %v", seen.Host, h)
		}
		if res.Header.Get("Date") == "" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("answer headers %v", res.Header)
		}
		served(1, 0, "GET /headers")

		// SSE: the first event arrives while the app holds the stream, chunked to the client.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sseClient := h1Client(s, "")
		req, _ := http.NewRequestWithContext(ctx, "GET", at(s, true, "fast.test", "/sse?id=h1"), nil)
		sse, err := sseClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(sse.Body)
		if line, err := rd.ReadString('\n'); err != nil || line != "data: first\n" {
			t.Fatalf("first SSE line %q, %v", line, err)
		}
		if _, body := fetch(t, c, "GET", at(s, true, "fast.test", "/sse/release?id=h1")); body != "released\n" {
			t.Fatalf("release: %q", body)
		}
		if rest, _ := io.ReadAll(rd); !strings.Contains(string(rest), "data: second") || len(sse.TransferEncoding) != 1 {
			t.Errorf("the rest of the stream %q, transfer encoding %v", rest, sse.TransferEncoding)
		}
		sse.Body.Close()
		served(2, 0, "SSE and its release")

		// A body with a length is passed whole; HEAD has the length and no body.
		payload := strings.Repeat("0123456789", 3000)
		req, _ = http.NewRequest("POST", at(s, true, "fast.test", "/echo"), strings.NewReader(payload))
		if res, err := c.Do(req); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(res.Body); string(b) != payload {
			t.Errorf("echo of %d bytes: %d %d bytes", len(payload), res.StatusCode, len(b))
		}
		res, body = fetch(t, c, "HEAD", at(s, true, "fast.test", "/"))
		if res.StatusCode != 200 || body != "" || res.ContentLength != int64(len("web v1\n")) {
			t.Errorf("HEAD: %d, length %d, body %q", res.StatusCode, res.ContentLength, body)
		}
		served(2, 0, "POST and HEAD")

		// Two requests in one write are answered in order; Connection: close ends the connection after the answer.
		conn, br := rawTLS(t, s, "fast.test")
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: fast.test\r\n\r\nGET /headers HTTP/1.1\r\nHost: fast.test\r\nConnection: close\r\n\r\n")
		if res, body := readResponse(t, br, "GET"); res.StatusCode != 200 || body != "web v1\n" {
			t.Errorf("first pipelined: %d %q", res.StatusCode, body)
		}
		if res, body := readResponse(t, br, "GET"); res.StatusCode != 200 || !strings.Contains(body, `"path":"/headers"`) || !res.Close {
			t.Errorf("second pipelined: %d close=%v %q", res.StatusCode, res.Close, body)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("after Connection: close the edge kept the connection: %v", err)
		}
		served(2, 0, "two pipelined requests")

		// What the fast path gives to net/http, which answers the same: a chunked body, Expect, an oversized header,
		// a body over 32 KiB. Lines ending in a bare LF it takes, as net/http does.
		pr, pw := io.Pipe()
		go func() { fmt.Fprint(pw, "chunked body"); pw.Close() }()
		req, _ = http.NewRequest("POST", at(s, true, "fast.test", "/echo"), pr)
		if res, err := h1Client(s, "").Do(req); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(res.Body); string(b) != "chunked body" {
			t.Errorf("chunked echo: %d %q", res.StatusCode, b)
		}
		req, _ = http.NewRequest("POST", at(s, true, "fast.test", "/echo"), strings.NewReader("expected"))
		req.Header.Set("Expect", "100-continue")
		if res, err := h1Client(s, "").Do(req); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(res.Body); string(b) != "expected" {
			t.Errorf("Expect: 100-continue echo: %d %q", res.StatusCode, b)
		}
		if res, body := fetch(t, h1Client(s, ""), "GET", at(s, true, "fast.test", "/"), "Cookie", "big="+strings.Repeat("x", 10<<10)); res.StatusCode != 200 || body != "web v1\n" {
			t.Errorf("a 10 KiB cookie: %d %q", res.StatusCode, body)
		}
		big := strings.Repeat("y", 40<<10)
		req, _ = http.NewRequest("POST", at(s, true, "fast.test", "/echo"), strings.NewReader(big))
		if res, err := h1Client(s, "").Do(req); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(res.Body); string(b) != big {
			t.Errorf("a 40 KiB echo: %d, %d bytes", res.StatusCode, len(b))
		}
		conn, br = rawTLS(t, s, "fast.test")
		fmt.Fprint(conn, "GET / HTTP/1.1\nHost: fast.test\n\n")
		if res, body := readResponse(t, br, "GET"); res.StatusCode != 200 || body != "web v1\n" {
			t.Errorf("LF-only request: %d %q", res.StatusCode, body)
		}
		served(1, 4, "chunked, Expect, a large header and a large body handed over, then LF-only lines")

		// An app restarted under a kept connection: the request goes again on a new connection to it.
		c = h1Client(s, "")
		if res, _ := fetch(t, c, "GET", at(s, true, "fast.test", "/")); res.StatusCode != 200 {
			t.Fatalf("before restart: %d", res.StatusCode)
		}
		var job struct{ ID int64 }
		s.Want(202, tu.Admin, "POST", "/api/v1/installs/web/restart", nil).JSON(t, &job)
		waitJob(t, s, job.ID)
		var got int
		for range 50 { // the app answers its port a moment after its container starts
			res, _ := fetch(t, c, "GET", at(s, true, "fast.test", "/"))
			if got = res.StatusCode; got == 200 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got != 200 {
			t.Errorf("after a restart: %d", got)
		}

		// Stopped: the 502 page, and the connection stays.
		s.Want(202, tu.Admin, "POST", "/api/v1/installs/web/stop", nil).JSON(t, &job)
		waitJob(t, s, job.ID)
		conn, br = rawTLS(t, s, "fast.test")
		for i := range 2 {
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: fast.test\r\n\r\n")
			if res, body := readResponse(t, br, "GET"); res.StatusCode != 502 || !strings.Contains(body, "The app web") {
				t.Errorf("stopped app, request %d: %d %q", i, res.StatusCode, body)
			}
		}
		if _, off := s.Edge.ProxyCounts(); off != off0 {
			t.Errorf("%d connections handed over since the large-body checks", off-off0)
		}
	})
}
