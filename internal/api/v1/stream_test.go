package v1_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// get opens a streaming GET as the admin; the caller reads the body. The request ends after a minute, so a stream
// whose headers are never flushed fails the test instead of hanging it.
func get(t *testing.T, s *tu.Server, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tu.AdminToken)
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// readUntil reads lines until one contains want: a line the server did not flush never arrives while the stream
// stays open. A minute guards against a hang.
func readUntil(t *testing.T, rd *bufio.Reader, want string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var seen strings.Builder
		for {
			line, err := rd.ReadString('\n')
			seen.WriteString(line)
			if strings.Contains(line, want) || err != nil {
				got <- seen.String()
				return
			}
		}
	}()
	select {
	case text := <-got:
		if !strings.Contains(text, want) {
			t.Fatalf("the stream ended without %q:\n%s", want, text)
		}
		return text
	case <-time.After(time.Minute):
		t.Fatalf("no %q within a minute", want)
		return ""
	}
}

// addInstance records an installed instance whose containers do not exist.
func addInstance(t *testing.T, s *tu.Server, name string) {
	t.Helper()
	ctx := context.Background()
	err := s.Store.Tx(ctx, func(q *store.Q) error {
		return q.CreateInstance(ctx, &store.Instance{Name: name, Project: s.Prefix + "-" + name, AppKey: name,
			Reversion: 1, Version: "v1", State: store.StateInstalled, Settings: "{}", Secrets: "{}", CreatedAt: 1, UpdatedAt: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Store.Tx(ctx, func(q *store.Q) error { return q.DeleteInstance(ctx, name) }) })
}

// TestJobEventsStream: each line of a running job arrives as it is written (flushed through the middleware),
// and the job's end closes the stream with a result.
func TestJobEventsStream(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ctx := t.Context()
		addInstance(t, s, "streamed")
		now := time.Now().UnixMilli()
		job := &store.Job{Instance: "streamed", Kind: "restart", Stage: "queued", State: store.JobRunning, CreatedAt: now, UpdatedAt: now}
		if err := s.Store.Q().CreateJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		if err := s.Store.Q().AddJobEvent(ctx, &store.JobEvent{Job: job.ID, At: now, Stage: "restarting", Message: "first line", Percent: -1}); err != nil {
			t.Fatal(err)
		}

		s.Want(http.StatusNotFound, tu.Admin, "GET", fmt.Sprintf("/api/v1/jobs/%d/events", job.ID+1000), nil)
		s.Want(http.StatusBadRequest, tu.Admin, "GET", "/api/v1/jobs/x/events", nil)
		s.Want(http.StatusUnauthorized, tu.Anon, "GET", fmt.Sprintf("/api/v1/jobs/%d/events", job.ID), nil)
		s.Want(http.StatusForbidden, s.NewUser("viewer"), "GET", fmt.Sprintf("/api/v1/jobs/%d/events", job.ID), nil)

		res := get(t, s, fmt.Sprintf("/api/v1/jobs/%d/events", job.ID))
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		rd := bufio.NewReader(res.Body)
		readUntil(t, rd, "first line") // the job still runs: only a flush delivers it
		if err := s.Store.Q().FinishJob(ctx, job.ID, store.JobSucceeded, "", time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if text := readUntil(t, rd, "event: result"); strings.Contains(text, "event: stage") {
			t.Errorf("a line was sent twice:\n%s", text)
		}
		readUntil(t, rd, `"succeeded"`)
	})
}

// TestLogsStream: the logs of an instance that is not installed are a 404 before any streaming; an installed
// one whose containers are gone streams the reason.
func TestLogsStream(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		s.Want(http.StatusNotFound, tu.Admin, "GET", "/api/v1/installs/nosuch/logs", nil)
		s.Want(http.StatusUnauthorized, tu.Anon, "GET", "/api/v1/installs/nosuch/logs", nil)
		addInstance(t, s, "logged")
		s.Want(http.StatusForbidden, s.NewUser("viewer"), "GET", "/api/v1/installs/logged/logs", nil)
		r := s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/installs/logged/logs?tail=5", nil)
		if !strings.Contains(r.Text(), "[stackhub] the logs of logged cannot be read") {
			t.Errorf("logs of an instance without containers: %q", r.Text())
		}
	})
}
