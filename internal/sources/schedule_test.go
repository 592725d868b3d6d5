package sources_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// busEvents collects a server's source events straight from its bus.
func busEvents(t *testing.T, s *tu.Server) chan events.Event {
	ch := make(chan events.Event, 100)
	t.Cleanup(s.Bus.Subscribe(func(e events.Event) {
		if strings.HasPrefix(e.Type, "source.") {
			ch <- e
		}
	}))
	return ch
}

func nextSync(t *testing.T, ch chan events.Event) sources.SyncEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e.Payload.(sources.SyncEvent)
	case <-time.After(time.Minute):
		t.Fatal("no source event within a minute")
	}
	return sources.SyncEvent{}
}

// TestScheduledSync: after a restart, the schedule syncs every source once its delay has passed (a changed
// store adds its new version) and then again every interval.
func TestScheduledSync(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		first := tu.StartServer(t, e, tu.Options{})
		ev := busEvents(t, first)
		dir := library(t, "gitea")
		srv, url := serveStore(t, forgeArchive(t, dir))
		first.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": url})
		if p := nextSync(t, ev); p.Source.AppsAccepted != 1 || p.Source.Error != "" {
			t.Fatalf("first sync: %+v", p)
		}
		vars := filepath.Join(dir, "apps", "gitea", "variables.json")
		b, _ := os.ReadFile(vars)
		if err := os.WriteFile(vars, bytes.Replace(b, []byte(`["1.25",`), []byte(`["1.26","1.25",`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		srv.set(forgeArchive(t, dir))

		second := tu.StartServer(t, e, tu.Options{DSN: first.DSN, Sources: sources.Options{Interval: 10 * time.Millisecond,
			Delay: time.Millisecond}})
		ev2 := busEvents(t, second)
		// The schedule starts with the server, so its first sync may end before this test listens: wait for a sync,
		// any, and read what the catalog holds (nothing else syncs here: the first server has no schedule).
		if p := nextSync(t, ev2); p.Source.Error != "" {
			t.Fatalf("scheduled sync after the restart: %+v", p)
		}
		if v := versionsOf(catalogOf(t, second))["gitea"]; len(v) == 0 || v[0] != "1.25" || !strings.Contains(strings.Join(v, ","), "1.26") {
			t.Errorf("gitea versions %v", v)
		}
		for range 2 { // and again, periodically: the store is unchanged now
			if p := nextSync(t, ev2); !p.Unchanged {
				t.Errorf("periodic sync: %+v", p)
			}
		}
	})
}

// TestSyncNotTwice: a sync of a source that is already syncing is refused with a conflict, and the running one
// finishes.
func TestSyncNotTwice(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ev := busEvents(t, s)
		archive := forgeArchive(t, library(t, "gitea"))
		arrived, release := make(chan struct{}, 10), make(chan struct{})
		var blocking atomic.Bool
		forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if blocking.Load() {
				arrived <- struct{}{}
				<-release
			}
			_, _ = w.Write(archive)
		}))
		t.Cleanup(forge.Close)
		var src store.Source
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": forge.URL + "/a.tar.gz"}).JSON(t, &src)
		nextSync(t, ev)
		blocking.Store(true)
		done := make(chan *tu.Resp)
		go func() { done <- s.Do(tu.Admin, "POST", fmt.Sprintf("/api/v1/sources/%d/sync", src.ID), nil) }()
		select { // the first sync is downloading
		case <-arrived:
		case r := <-done:
			t.Fatalf("the sync answered %d %s before it downloaded", r.Status, r.Body)
		}
		r := s.Want(http.StatusConflict, tu.Admin, "POST", fmt.Sprintf("/api/v1/sources/%d/sync", src.ID), nil)
		if !strings.Contains(r.Text(), "is syncing now") {
			t.Errorf("second sync: %s", r.Body)
		}
		s.Want(http.StatusConflict, tu.Admin, "DELETE", fmt.Sprintf("/api/v1/sources/%d", src.ID), nil)
		close(release)
		if first := <-done; first.Status != http.StatusOK {
			t.Errorf("the running sync: %d %s", first.Status, first.Body)
		}
	})
}

// TestZipSource: a .zip archive of a store is read as a .tar.gz is.
func TestZipSource(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		dir := library(t, "gitea", "grafana")
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			w, err := zw.Create("docker-library-main/" + filepath.ToSlash(rel))
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil {
				_, err = w.Write(b)
			}
			return err
		})
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(buf.Bytes()) }))
		t.Cleanup(forge.Close)
		ev := busEvents(t, s)
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": forge.URL + "/main.zip", "format": "websoft9"})
		if p := nextSync(t, ev); p.Source.AppsAccepted != 2 || p.Source.Error != "" || p.Source.Format != "websoft9" {
			t.Fatalf("zip sync: %+v", p)
		}
		if got := mapsKeys(catalogOf(t, s)); strings.Join(got, ",") != "gitea,grafana" {
			t.Errorf("catalog %v", got)
		}
	})
}
