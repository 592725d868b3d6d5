package edge_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// TestBadRoutes sends each kind of bad route: a 400 naming the field, a 409 for a name routed already, and
// nothing stored either way; an install whose domain is bad creates nothing.
func TestBadRoutes(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, _ := setup(t, e, tu.Options{Edge: &tu.EdgeOptions{Domain: "hub.test"}})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "domain": "Bücher.Test"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		cases := []struct {
			body  map[string]any
			field string
			want  int
		}{
			{map[string]any{"domain": "bad_name.test"}, "domain", 400},
			{map[string]any{"domain": "-x.test"}, "domain", 400},
			{map[string]any{"domain": ""}, "domain", 400},
			{map[string]any{"domain": "a..test"}, "domain", 400},
			{map[string]any{"domain": "*.*.test"}, "domain", 400},
			{map[string]any{"domain": "*.test"}, "domain", 400},
			{map[string]any{"domain": "*.apps.test"}, "domain", 400}, // a wildcard with https auto and no DNS provider
			{map[string]any{"domain": "ok.test", "path": "app"}, "path", 400},
			{map[string]any{"domain": "ok.test", "path": "/a/../b"}, "path", 400},
			{map[string]any{"domain": "ok.test", "https": "sometimes"}, "https", 400},
			{map[string]any{"domain": "ok.test", "https": "custom"}, "https", 400}, // no certificate manager wired
			{map[string]any{"domain": "ok.test", "access": "friends"}, "access", 400},
			{map[string]any{"domain": "ok.test", "access": "basic"}, "basic_users", 400},
			{map[string]any{"domain": "ok.test", "access": "basic", "basic_users": []map[string]string{{"user": "a:b", "password": "x"}}}, "basic_users", 400},
			{map[string]any{"domain": "ok.test", "basic_users": []map[string]string{{"user": "a", "password": "x"}}}, "basic_users", 400},
			{map[string]any{"domain": "ok.test", "allow": []string{"10.0.0.0/33"}}, "allow", 400},
			{map[string]any{"domain": "ok.test", "service": "web"}, "port", 400},
			{map[string]any{"domain": "ok.test", "service": "nope", "port": 8080}, "service", 400},
			{map[string]any{"domain": "ok.test", "service": "web", "port": 9999}, "port", 400},
			{map[string]any{"domain": "xn--bcher-kva.test"}, "domain", 409}, // the install's own, in ASCII
			{map[string]any{"domain": "hub.test"}, "domain", 409},           // StackHub's own name
		}
		for _, c := range cases {
			r := s.Do(tu.Admin, "POST", "/api/v1/installs/web/domains", c.body)
			var p struct {
				Error struct{ Field, Message string } `json:"error"`
			}
			r.JSON(t, &p)
			if r.Status != c.want || p.Error.Field != c.field {
				t.Errorf("%v: %d field %q (%s), want %d naming %s", c.body, r.Status, p.Error.Field, p.Error.Message, c.want, c.field)
			}
		}
		var routes []map[string]any
		s.Want(200, tu.Admin, "GET", "/api/v1/installs/web/domains", nil).JSON(t, &routes)
		if len(routes) != 1 || routes[0]["domain"] != "xn--bcher-kva.test" {
			t.Errorf("after the refusals the routes are %v", routes)
		}
		// The operations are in the OpenAPI document.
		if doc := s.Want(200, tu.Anon, "GET", "/api/v1/openapi.json", nil).Text(); !strings.Contains(doc, `"/api/v1/installs/{name}/domains"`) ||
			!strings.Contains(doc, `"/api/v1/installs/{name}/domains/{domain}"`) || !strings.Contains(doc, "basic_users") {
			t.Error("the OpenAPI document lacks the domains operations")
		}
		// A route to a named service and container port is accepted.
		s.Want(201, tu.Admin, "POST", "/api/v1/installs/web/domains", map[string]any{"domain": "svc.test", "service": "web", "port": 8080, "https": "internal"})
		// An install with a bad or taken domain creates nothing.
		for domain, want := range map[string]int{"bad_name.test": 400, "svc.test": 409} {
			r := s.Do(tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "name": "web2", "domain": domain})
			if r.Status != want || !strings.Contains(r.Text(), `"field":"domain"`) {
				t.Errorf("install with domain %s: %d %s", domain, r.Status, r.Body)
			}
			if r := s.Do(tu.Admin, "GET", "/api/v1/installs/web2", nil); r.Status != 404 {
				t.Errorf("install with domain %s left web2: %d", domain, r.Status)
			}
		}
	})
}

// TestPublishLoopback installs with --publish loopback: the app's port answers on 127.0.0.1 and not on the
// machine's other address, and the edge still reaches it.
func TestPublishLoopback(t *testing.T) {
	t.Parallel()
	other := nonLoopback(t)
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s, lib := setup(t, e, tu.Options{PublishLoopback: true})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web", "domain": "lo.test"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		c := &http.Client{Timeout: 10 * time.Second}
		res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", lib.BasePort))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("on loopback: %v %v", res, err)
		}
		res.Body.Close()
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(other, fmt.Sprint(lib.BasePort)), 10*time.Second); err == nil {
			conn.Close()
			t.Errorf("port %d answers on %s", lib.BasePort, other)
		}
		if res, body := fetch(t, edgeClient(s, true, ""), "GET", at(s, true, "lo.test", "/")); res.StatusCode != 200 || strings.TrimSpace(body) != "web v1" {
			t.Errorf("through the edge: %d %q", res.StatusCode, body)
		}
	})
}

// nonLoopback is an IPv4 address of this machine that is not loopback; the test fails without one.
func nonLoopback(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatal("this machine has no non-loopback IPv4 address to check --publish loopback against")
	return ""
}
