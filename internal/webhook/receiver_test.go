package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// hit is one request a receiver got.
type hit struct {
	Path, Body, ContentType string
	Header                  http.Header
}

// receiver is a real HTTP server on loopback that records what it is sent. reply picks the status of the n-th
// request (from 1) to a path; nil answers 204.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	hits  []hit
	count map[string]int
	reply func(path string, n int) int
}

func newReceiver(t *testing.T, reply func(path string, n int) int) *receiver {
	rc := &receiver{count: map[string]int{}, reply: reply}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.count[r.URL.Path]++
		n := rc.count[r.URL.Path]
		rc.hits = append(rc.hits, hit{Path: r.URL.Path, Body: string(b), ContentType: r.Header.Get("Content-Type"),
			Header: r.Header.Clone()})
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.reply != nil {
			status = rc.reply(r.URL.Path, n)
		}
		if status == http.StatusFound {
			http.Redirect(w, r, "/target", status)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// got returns the requests so far, ordered by path then body, so tests need not depend on delivery order.
func (rc *receiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := append([]hit(nil), rc.hits...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Body < out[j].Body
	})
	return out
}

func (rc *receiver) hitsOn(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.count[path]
}

// waitFor polls cond until it holds, failing after a minute (a guard against a hang only).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deliveries lists the deliveries through the admin API.
func deliveries(t *testing.T, s *tu.Server, query string) []store.WebhookDelivery {
	t.Helper()
	var ds []store.WebhookDelivery
	s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/webhooks/deliveries"+query, nil).JSON(t, &ds)
	return ds
}

// settled reports whether deliveries were written and none is pending any more.
func settled(t *testing.T, s *tu.Server) bool {
	// At least one delivery must exist: right after the triggering request, it may not be written yet.
	return len(deliveries(t, s, "")) > 0 && len(deliveries(t, s, "?state=pending")) == 0
}
