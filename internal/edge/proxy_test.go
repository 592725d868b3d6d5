package edge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// TestInstallWithDomain installs the web app with a domain and reaches it through the edge on the real Docker
// Engine: HTTPS (HTTP/2) with the stand-in's certificate, the 308 from plain HTTP, SSE, WebSocket, streamed
// bodies, X-Forwarded-*, the 404 page of an unknown name, the 502 page of a stopped app, and W9_URL following the
// domain as it is removed and added.
func TestInstallWithDomain(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, lib := setup(t, e, tu.Options{})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "domain": "Blog.Test"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		if got := envValue(t, s, "web", "W9_URL"); got != "blog.test" {
			t.Errorf("W9_URL = %q, want blog.test (the domain, without a scheme: templates add their own)", got)
		}
		if got := s.StandIn.Names(); got["blog.test"] != "auto" {
			t.Errorf("certificate names = %v, want blog.test: auto", got)
		}
		https, plain := edgeClient(s, true, ""), edgeClient(s, false, "")

		res, body := fetch(t, https, "GET", at(s, true, "blog.test", "/"))
		if res.StatusCode != 200 || strings.TrimSpace(body) != "web v1" || res.ProtoMajor != 2 {
			t.Fatalf("https://blog.test/ = %d %s %q, want 200 HTTP/2 %q", res.StatusCode, res.Proto, body, "web v1")
		}
		res, _ = fetch(t, plain, "GET", at(s, false, "blog.test", "/x?y=1"))
		if want := at(s, true, "blog.test", "/x?y=1"); res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
			t.Errorf("http://blog.test/x = %d to %q, want 308 to %q", res.StatusCode, res.Header.Get("Location"), want)
		}

		// What the app sees: its own name, the forwarded headers, never a client's X-StackHub-User.
		res, body = fetch(t, https, "GET", at(s, true, "blog.test", "/headers"), "X-StackHub-User", "root",
			"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "http")
		var seen struct {
			Host    string              `json:"host"`
			Headers map[string][]string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(body), &seen); err != nil {
			t.Fatalf("headers %d %q: %v", res.StatusCode, body, err)
		}
		h := http.Header(seen.Headers)
		if !strings.HasPrefix(seen.Host, "blog.test:") || h.Get("X-Forwarded-For") != "127.0.0.1" ||
			h.Get("X-Forwarded-Proto") != "https" || !strings.HasPrefix(h.Get("X-Forwarded-Host"), "blog.test") ||
			h.Get("X-Stackhub-User") != "" {
			t.Errorf("the app saw host %q and headers %v", seen.Host, h)
		}
		// A request without Accept-Encoding reaches the app without one: the edge asks for no gzip of its own.
		identity := edgeClient(s, true, "")
		identity.Transport.(*http.Transport).DisableCompression = true
		_, body = fetch(t, identity, "GET", at(s, true, "blog.test", "/headers"))
		seen.Headers = nil
		if err := json.Unmarshal([]byte(body), &seen); err != nil || len(seen.Headers) == 0 {
			t.Fatalf("headers %q: %v", body, err)
		}
		if ae := http.Header(seen.Headers).Values("Accept-Encoding"); len(ae) != 0 {
			t.Errorf("the app was asked for Accept-Encoding %q, which the client never sent", ae)
		}

		// Server-Sent Events: the first event arrives while the app still holds the stream open.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", at(s, true, "blog.test", "/sse?id=a"), nil)
		sse, err := https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer sse.Body.Close()
		rd := bufio.NewReader(sse.Body)
		if line, err := rd.ReadString('\n'); err != nil || line != "data: first\n" {
			t.Fatalf("first SSE line %q, %v", line, err)
		}
		if _, body := fetch(t, https, "GET", at(s, true, "blog.test", "/sse/release?id=a")); body != "released\n" {
			t.Fatalf("release: %q", body)
		}
		rest, _ := io.ReadAll(rd)
		if !strings.Contains(string(rest), "data: second") {
			t.Errorf("the rest of the stream: %q", rest)
		}

		// WebSocket echo (over HTTP/1.1 with TLS).
		wsHTTP := edgeClient(s, true, "")
		wsHTTP.Transport.(*http.Transport).ForceAttemptHTTP2 = false
		wsHTTP.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: s.StandIn.Pool, NextProtos: []string{"http/1.1"}}
		conn, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(at(s, true, "blog.test", "/ws"), "https"),
			&websocket.DialOptions{HTTPClient: wsHTTP})
		if err != nil {
			t.Fatalf("websocket through the edge: %v", err)
		}
		if err := conn.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := conn.Read(ctx); err != nil || string(msg) != "echo: hello" {
			t.Errorf("websocket answer %q, %v", msg, err)
		}
		conn.Close(websocket.StatusNormalClosure, "")

		// A request body streams: the echo of the first chunk comes back before the body ends.
		pr, pw := io.Pipe()
		req, _ = http.NewRequestWithContext(ctx, "POST", at(s, true, "blog.test", "/echo"), pr)
		go fmt.Fprint(pw, "chunk one;")
		echo, err := https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len("chunk one;"))
		if _, err := io.ReadFull(echo.Body, buf); err != nil || string(buf) != "chunk one;" {
			t.Errorf("streamed echo %q, %v", buf, err)
		}
		pw.Close()
		echo.Body.Close()

		// An unknown name: the 404 page on HTTP, and no certificate on HTTPS.
		res, body = fetch(t, plain, "GET", at(s, false, "nobody.test", "/"))
		if res.StatusCode != 404 || !strings.Contains(body, "No app here") {
			t.Errorf("unknown name: %d %q", res.StatusCode, body)
		}
		if _, err := https.Get(at(s, true, "nobody.test", "/")); err == nil {
			t.Error("an unknown name got a certificate")
		}

		// The route list, then the domain removed and added again: W9_URL follows.
		var routes []map[string]any
		s.Want(200, tu.Admin, "GET", "/api/v1/installs/web/domains", nil).JSON(t, &routes)
		if len(routes) != 1 || routes[0]["domain"] != "blog.test" || routes[0]["access"] != "public" || routes[0]["https"] != "auto" {
			t.Errorf("routes = %v", routes)
		}
		var ch struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(200, tu.Admin, "DELETE", "/api/v1/installs/web/domains/blog.test", nil).JSON(t, &ch)
		waitJob(t, s, ch.Job.ID)
		if got, want := envValue(t, s, "web", "W9_URL"), fmt.Sprintf("127.0.0.1:%d", lib.BasePort); got != want {
			t.Errorf("W9_URL without a domain = %q, want %q", got, want)
		}
		if res, _ := fetch(t, plain, "GET", at(s, false, "blog.test", "/")); res.StatusCode != 404 {
			t.Errorf("a removed route answers %d", res.StatusCode)
		}
		s.Want(201, tu.Admin, "POST", "/api/v1/installs/web/domains", map[string]any{"domain": "blog.test", "https": "off",
			"path": "/app/", "strip_path": true}).JSON(t, &ch)
		waitJob(t, s, ch.Job.ID)
		if got := envValue(t, s, "web", "W9_URL"); got != "blog.test/app" {
			t.Errorf("W9_URL = %q, want blog.test/app", got)
		}
		if res, body := fetch(t, plain, "GET", at(s, false, "blog.test", "/app/headers")); res.StatusCode != 200 || !strings.Contains(body, `"path":"/headers"`) {
			t.Errorf("strip_path: %d %q", res.StatusCode, body)
		}
		if res, _ := fetch(t, plain, "GET", at(s, false, "blog.test", "/apple")); res.StatusCode != 404 {
			t.Errorf("/apple is not under /app: %d", res.StatusCode)
		}

		// Stopped: the 502 page names the app and its status.
		var job struct{ ID int64 }
		s.Want(202, tu.Admin, "POST", "/api/v1/installs/web/stop", nil).JSON(t, &job)
		waitJob(t, s, job.ID)
		res, body = fetch(t, plain, "GET", at(s, false, "blog.test", "/app/"))
		if res.StatusCode != 502 || !strings.Contains(body, "The app web") || !strings.Contains(body, "stopped") {
			t.Errorf("stopped app: %d %q", res.StatusCode, body)
		}

		// Uninstalled: its routes go with it.
		s.Want(204, tu.Admin, "DELETE", "/api/v1/installs/web?purge=true", nil)
		if res, _ := fetch(t, plain, "GET", at(s, false, "blog.test", "/app/")); res.StatusCode != 404 {
			t.Errorf("after uninstall: %d", res.StatusCode)
		}
		if n := len(s.StandIn.Names()); n != 0 {
			t.Errorf("certificate names after uninstall: %v", s.StandIn.Names())
		}

	})
}
