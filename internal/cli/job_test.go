package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestJobCommandsHonourTimeout: every job command gives up after --timeout, starting the job included, when the
// server does not answer.
func TestJobCommandsHonourTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a server that never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, args := range [][]string{
		{"app", "upgrade", "site", "--version", "v2"},
		{"app", "rollback", "site"},
		{"app", "restart", "site"},
	} {
		start := time.Now()
		_, errOut, code := runCLI(t, srv.URL, append(args, "--timeout", "500ms")...)
		if d := time.Since(start); code == 0 || d > 10*time.Second || !strings.Contains(errOut, "deadline exceeded") {
			t.Errorf("stackhub %s: exit %d after %v: %s", strings.Join(args, " "), code, d, errOut)
		}
	}
}
