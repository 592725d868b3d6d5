package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestJobCommandsHonourTimeout: every job command gives up after --timeout, starting the job included, when the
// server does not answer.
func TestJobCommandsHonourTimeout(t *testing.T) {
	t.Parallel()
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
		// The server never answers and the default timeout is 30 minutes: the command ends only through
		// --timeout. The minute only guards against a hang.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, errOut, code := runCLIContext(t, ctx, srv.URL, append(args, "--timeout", "500ms")...)
		hung := ctx.Err() != nil
		cancel()
		if hung || code == 0 || !strings.Contains(errOut, "deadline exceeded") {
			t.Errorf("stackhub %s: exit %d (killed after a minute: %v): %s", strings.Join(args, " "), code, hung, errOut)
		}
	}
}
