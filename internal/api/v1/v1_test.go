package v1_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// TestMount: first requests that come together, for the OpenAPI document among them, are all answered (huma
// builds the document on its first request), and a path under /api/v1 that is not the API's gets the server's
// JSON 404.
func TestMount(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				path := "/api/v1/health"
				if i%2 == 1 {
					path = "/api/v1/openapi.json"
				}
				if r := s.Do(tu.Admin, "GET", path, nil); r.Status != 200 {
					t.Errorf("GET %s: %d %s", path, r.Status, r.Text())
				}
			})
		}
		wg.Wait()
		for _, p := range []string{"/api/v1", "/api/v1/", "/api/v1/no-such-thing"} {
			r := s.Do(tu.Admin, "GET", p, nil)
			var body struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			}
			r.JSON(t, &body)
			if r.Status != 404 || body.Status != 404 || body.Message != "Resource was not found" {
				t.Errorf("GET %s: %d %s", p, r.Status, r.Text())
			}
		}
		if r := s.Do(tu.Admin, "POST", "/api/v1/health", nil); r.Status != 404 {
			t.Errorf("POST /api/v1/health: %d %s", r.Status, r.Text())
		}

		// A client that asks for the document again and again and reads none of it holds nobody else up.
		c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			for range 300 {
				if _, err := io.WriteString(c, "GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					return
				}
			}
		}()
		time.Sleep(time.Second) // time for its handler to block writing to it
		hc := &http.Client{Timeout: time.Minute}
		for _, p := range []string{"/api/v1/openapi.json", "/api/v1/openapi-3.0.yaml"} {
			res, err := hc.Get(s.URL + p)
			if err != nil {
				t.Fatalf("GET %s beside a client that does not read: %v", p, err)
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || len(b) < 1000 || err != nil {
				t.Errorf("GET %s beside a client that does not read: %d, %d bytes, %v", p, res.StatusCode, len(b), err)
			}
		}
	})
}
