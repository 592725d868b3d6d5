package web_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/testutil"
)

// tarGzDir packs dir as a .tar.gz under one top-level folder, as a code forge serves a repository.
func tarGzDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "store-main/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAdminSources: the admin adds a store source on its page, sees its sync's counts (or its error), syncs it
// again and removes it; a bad URL is refused beside its field.
func TestAdminSources(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		lib := testutil.NewLibrary(t)
		lib.Add(t, "web", testutil.WebCompose, "READY_AFTER=0\n")
		archive := tarGzDir(t, lib.Dir)
		forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".tar.gz") {
				_, _ = w.Write(archive)
				return
			}
			_, _ = w.Write([]byte("hello, not a store"))
		}))
		t.Cleanup(forge.Close)
		synced := make(chan events.Event, 10)
		t.Cleanup(s.Bus.Subscribe(func(ev events.Event) {
			if strings.HasPrefix(ev.Type, "source.") {
				synced <- ev
			}
		}))
		wait := func(typ string) {
			t.Helper()
			select {
			case ev := <-synced:
				if ev.Type != typ {
					t.Fatalf("event %s, want %s", ev.Type, typ)
				}
			case <-time.After(time.Minute):
				t.Fatal("no source event within a minute")
			}
		}
		c := signIn(t, s, "admin")

		page := pplWant(t, pplPost(t, c, s.URL+"/ui/admin/sources", url.Values{"url": {"ftp://example.org/x.zip"}}),
			http.StatusBadRequest, "bad url").Body
		if !strings.Contains(page, `id="url-error"`) || !strings.Contains(page, `value="ftp://example.org/x.zip"`) {
			t.Errorf("a bad URL has no field error:\n%s", page)
		}
		pplWant(t, pplPost(t, c, s.URL+"/ui/admin/sources", url.Values{"url": {forge.URL + "/store/main.tar.gz"},
			"name": {"Test store"}}), http.StatusSeeOther, "add")
		wait(events.SourceSynced)
		pplWant(t, pplPost(t, c, s.URL+"/ui/admin/sources", url.Values{"url": {forge.URL + "/notastore"}}),
			http.StatusSeeOther, "add broken")
		wait(events.SourceFailed)

		rows := pplBetween(t, pplGet(t, c, s.URL+"/ui/admin/sources").Body, `id="sources"`, "</table>")
		if !strings.Contains(rows, "Test store") || !strings.Contains(rows, "1 accepted, 0 refused") ||
			!strings.Contains(rows, "1 added, 0 removed") || !strings.Contains(rows, "websoft9") {
			t.Errorf("the synced source is not listed with its counts:\n%s", rows)
		}
		if !strings.Contains(rows, "not a .tar.gz or .zip archive, nor a templates.json") || !strings.Contains(rows, `class="tag bad"`) {
			t.Errorf("the failed source does not show its error:\n%s", rows)
		}
		ids := regexp.MustCompile(`action="/ui/admin/sources/(\d+)/sync"`).FindAllStringSubmatch(rows, -1)
		if len(ids) != 2 {
			t.Fatalf("sync buttons: %v", ids)
		}
		r := pplWant(t, pplPost(t, c, s.URL+"/ui/admin/sources/"+ids[0][1]+"/sync", url.Values{}), http.StatusSeeOther, "sync")
		if r.Location != "/ui/admin/sources" {
			t.Errorf("sync went to %q", r.Location)
		}
		wait(events.SourceSynced)
		pplWant(t, pplPost(t, c, s.URL+"/ui/admin/sources/"+ids[0][1]+"/delete", url.Values{}), http.StatusSeeOther, "remove")
		if page := pplGet(t, c, s.URL+"/ui/admin/sources").Body; strings.Contains(page, "Test store") {
			t.Error("the removed source is still listed")
		}
		if apps := s.Do(testutil.Anon, "GET", "/app/1", nil); apps.Status != http.StatusNotFound {
			t.Errorf("the removed source's app is still in the store: %d %s", apps.Status, apps.Body)
		}
		s.NewUser("bob")
		bob := signIn(t, s, "bob")
		pplWant(t, pplGet(t, bob, s.URL+"/ui/admin/sources"), http.StatusForbidden, "a user on the sources page")
	})
}
