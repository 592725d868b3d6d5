package sources_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// storeServer serves one archive as a code forge does, with an ETag, and answers 304 to a matching
// If-None-Match. It records the If-None-Match of every request.
type storeServer struct {
	mu    sync.Mutex
	body  []byte
	etag  string
	asked []string
}

func (s *storeServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(body)
	s.body, s.etag = body, fmt.Sprintf(`"%x"`, sum[:8])
}

func (s *storeServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func (s *storeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, r.Header.Get("If-None-Match"))
	if r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(s.body)
}

func serveStore(t *testing.T, body []byte) (*storeServer, string) {
	s := &storeServer{}
	s.set(body)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL + "/docker-library/archive/refs/heads/main.tar.gz"
}

// library copies the named templates of testdata/websoft9-library into a fresh store folder.
func library(t *testing.T, keys ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range keys {
		copyDir(t, filepath.Join("..", "..", "testdata", "websoft9-library", "apps", k), filepath.Join(dir, "apps", k))
	}
	return dir
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// forgeArchive packs dir as a forge serves a repository: a .tar.gz whose entries sit in one top-level folder,
// after a pax global header holding the commit id.
func forgeArchive(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header",
		PAXRecords: map[string]string{"comment": "b35a4f8f"}}))
	must(filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := filepath.ToSlash(filepath.Join("docker-library-main", rel))
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755})
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}))
	must(tw.Close())
	must(gz.Close())
	return buf.Bytes()
}

// catalogApp is an app of the catalog as the assertions compare it: its row and its versions' rows.
type catalogApp struct {
	App      hub.App
	Versions []hub.Version
}

// catalogOf reads the whole catalog (apps owned by the system user) by package.
func catalogOf(t *testing.T, s *tu.Server) map[string]catalogApp {
	t.Helper()
	ctx := context.Background()
	ids, err := s.Hub.Apps(ctx, hub.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]catalogApp{}
	for _, id := range ids {
		app, err := s.Hub.App(ctx, id)
		if err != nil || app.Package == nil || app.Author != hub.SystemUser {
			continue
		}
		vs, err := s.Hub.Updates(ctx, id, hub.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out[*app.Package] = catalogApp{App: *app, Versions: vs}
	}
	return out
}

func versionsOf(c map[string]catalogApp) map[string][]string {
	out := map[string][]string{}
	for k, a := range c {
		for _, v := range a.Versions {
			out[k] = append(out[k], v.Version)
		}
		slices.Sort(out[k])
	}
	return out
}

// stream reads the event stream (SSE) as the admin.
type stream struct {
	t      *testing.T
	events chan streamEvent
}

type streamEvent struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func openStream(t *testing.T, s *tu.Server) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tu.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", res, err)
	}
	st := &stream{t: t, events: make(chan streamEvent, 10000)}
	go func() {
		defer res.Body.Close()
		defer close(st.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e streamEvent
				if json.Unmarshal([]byte(data), &e) == nil {
					st.events <- e
				}
			}
		}
	}()
	return st
}

// next returns the next source.* event, skipping the others (app.created, update.published...).
func (st *stream) next() (string, sources.SyncEvent) {
	st.t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case e, ok := <-st.events:
			if !ok {
				st.t.Fatal("the event stream ended")
			}
			if !strings.HasPrefix(e.Type, "source.") {
				continue
			}
			var p sources.SyncEvent
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				st.t.Fatalf("%s payload %s: %v", e.Type, e.Payload, err)
			}
			return e.Type, p
		case <-deadline:
			st.t.Fatal("no source event within a minute")
		}
	}
}

func syncNow(t *testing.T, s *tu.Server, id int64) store.Source {
	t.Helper()
	var src store.Source
	s.Want(http.StatusOK, tu.Admin, "POST", fmt.Sprintf("/api/v1/sources/%d/sync", id), nil).JSON(t, &src)
	return src
}

// TestSourceSyncs: a source's first sync imports its templates; an unchanged store answers 304 and nothing is
// written but the sync time; a new version in a template is added; a template gone from the archive leaves the
// catalog; removing the source takes its apps out. Each sync arrives as source.synced on the event stream and at
// a webhook.
func TestSourceSyncs(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		ev := openStream(t, s)
		hooked := make(chan string, 100)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hooked <- r.Header.Get("X-StackHub-Event")
		}))
		t.Cleanup(receiver.Close)
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/webhooks", map[string]string{"event": "source.*", "url": receiver.URL})

		dir := library(t, "grafana", "gitea", "mysql")
		srv, url := serveStore(t, forgeArchive(t, dir))
		var src store.Source
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": url, "name": "Websoft9"}).JSON(t, &src)
		typ, got := ev.next()
		if typ != "source.synced" || got.Source.ID != src.ID || got.Source.AppsAccepted != 3 || got.Source.Error != "" ||
			got.Source.ReadFormat != "websoft9" || got.Source.VersionsAdded < 3 {
			t.Fatalf("first sync: %s %+v", typ, got)
		}
		if r := s.Want(http.StatusConflict, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": url}); !strings.Contains(r.Text(), `"field":"url"`) {
			t.Errorf("the same URL again: %s", r.Body)
		}
		select {
		case h := <-hooked:
			if h != "source.synced" {
				t.Errorf("webhook got %q", h)
			}
		case <-time.After(time.Minute):
			t.Error("no webhook delivery of source.synced within a minute")
		}
		first := catalogOf(t, s)
		if want := []string{"gitea", "grafana", "mysql"}; !slices.Equal(mapsKeys(first), want) {
			t.Fatalf("catalog after the first sync: %v, want %v", mapsKeys(first), want)
		}
		if v := versionsOf(first)["grafana"]; !slices.Equal(v, []string{"12.1.1", "latest"}) {
			t.Errorf("grafana versions %v", v)
		}

		// Unchanged: the server is asked with the ETag, answers 304, and the catalog is exactly as it was.
		again := syncNow(t, s, src.ID)
		asked := srv.requests()
		if len(asked) != 2 || asked[0] != "" || asked[1] != got.Source.ETag || got.Source.ETag == "" {
			t.Fatalf("If-None-Match sent: %q, want none then %q", asked, got.Source.ETag)
		}
		if *again.SyncedAt < *got.Source.SyncedAt || again.AppsAccepted != 3 || again.VersionsAdded != got.Source.VersionsAdded {
			t.Errorf("after a 304: %+v", again)
		}
		if diff := cmp.Diff(first, catalogOf(t, s)); diff != "" {
			t.Errorf("a 304 changed the catalog (-before +after):\n%s", diff)
		}
		if typ, p := ev.next(); typ != "source.synced" || !p.Unchanged {
			t.Errorf("304 event: %s %+v", typ, p)
		}

		// A new version in a template, and a template gone.
		vars := filepath.Join(dir, "apps", "grafana", "variables.json")
		b, _ := os.ReadFile(vars)
		if err := os.WriteFile(vars, bytes.Replace(b, []byte(`["12.1.1","latest"]`), []byte(`["12.2.0","12.1.1","latest"]`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, "apps", "mysql")); err != nil {
			t.Fatal(err)
		}
		srv.set(forgeArchive(t, dir))
		changed := syncNow(t, s, src.ID)
		mysql := int64(len(versionsOf(first)["mysql"]))
		if changed.Error != "" || changed.AppsAccepted != 2 || changed.VersionsAdded != 1 || changed.VersionsRemoved != mysql || mysql == 0 {
			t.Fatalf("changed sync: %+v", changed)
		}
		after := versionsOf(catalogOf(t, s))
		if want := (map[string][]string{"grafana": {"12.1.1", "12.2.0", "latest"}, "gitea": versionsOf(first)["gitea"]}); !cmp.Equal(after, want) {
			t.Errorf("catalog after the change: %v, want %v", after, want)
		}
		if typ, p := ev.next(); typ != "source.synced" || p.Unchanged || p.Source.VersionsAdded != 1 {
			t.Errorf("changed event: %s %+v", typ, p)
		}

		// Listed with its counts and validators.
		var list []store.Source
		s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/sources", nil).JSON(t, &list)
		if len(list) != 1 || list[0].ETag == "" || list[0].VersionsRemoved != mysql || list[0].Name != "Websoft9" {
			t.Errorf("list: %+v", list)
		}
		s.Want(http.StatusForbidden, s.NewUser("alice"), "GET", "/api/v1/sources", nil)
		doc := s.Want(http.StatusOK, tu.Anon, "GET", "/api/v1/openapi.json", nil).Text()
		for _, op := range []string{`"list-sources"`, `"add-source"`, `"sync-source"`, `"delete-source"`, `"/api/v1/sources/{id}/sync"`} {
			if !strings.Contains(doc, op) {
				t.Errorf("the OpenAPI document lacks %s", op)
			}
		}

		// Removed: its apps leave the catalog.
		s.Want(http.StatusNoContent, tu.Admin, "DELETE", fmt.Sprintf("/api/v1/sources/%d", src.ID), nil)
		if left := catalogOf(t, s); len(left) != 0 {
			t.Errorf("apps left after removing the source: %v", mapsKeys(left))
		}
		s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/sources", nil).JSON(t, &list)
		if len(list) != 0 {
			t.Errorf("list after remove: %+v", list)
		}
		s.Want(http.StatusNotFound, tu.Admin, "POST", fmt.Sprintf("/api/v1/sources/%d/sync", src.ID), nil)
	})
}

func mapsKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSourceRefusals: a bad URL is a 400 naming the field; a broken archive, one escaping its folder and an
// archive bomb each fail the sync with the reason, import nothing, write nothing outside, and send source.failed.
func TestSourceRefusals(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Sources: sources.Options{Limits: sources.Limits{Unpacked: 1 << 20, Files: 200}}})
		for _, bad := range []map[string]string{{"url": "ftp://example.org/x.tar.gz"}, {"url": "not a url"},
			{"url": "https://user:secret@example.org/x.zip"}, {"url": "https://example.org/x.zip", "format": "nope"}} {
			r := s.Want(http.StatusBadRequest, tu.Admin, "POST", "/api/v1/sources", bad)
			field := "url"
			if bad["format"] != "" {
				field = "format"
			}
			if !strings.Contains(r.Text(), `"field":"`+field+`"`) {
				t.Errorf("%v: %s, want the field %s named", bad, r.Body, field)
			}
		}
		ev := openStream(t, s)
		good := forgeArchive(t, library(t, "gitea"))
		bomb := library(t, "gitea")
		if err := os.WriteFile(filepath.Join(bomb, "apps", "gitea", "zeros"), make([]byte, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name    string
			archive []byte
			want    string
		}{
			{"truncated gzip", good[:len(good)/2], "the archive is broken"},
			{"dotdot", evilArchive(t, &tar.Header{Name: "../../stackhub-escape", Typeflag: tar.TypeReg, Size: 4}), `entry "../../stackhub-escape" leaves the archive`},
			{"absolute", evilArchive(t, &tar.Header{Name: "/tmp/stackhub-escape", Typeflag: tar.TypeReg, Size: 4}), "has an absolute path"},
			{"symlink out", evilArchive(t, &tar.Header{Name: "docker-library-main/apps/gitea/src", Typeflag: tar.TypeSymlink, Linkname: "../../../../../etc"}), "points outside it"},
			{"bomb", forgeArchive(t, bomb), "unpacks to more than 1048576 bytes (the limit)"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, url := serveStore(t, c.archive)
				var src store.Source
				s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/sources", map[string]string{"url": url}).JSON(t, &src)
				typ, p := ev.next()
				if typ != "source.failed" || p.Source.ID != src.ID || !strings.Contains(p.Source.Error, c.want) {
					t.Fatalf("event %s %+v, want source.failed saying %q", typ, p, c.want)
				}
				if got := catalogOf(t, s); len(got) != 0 {
					t.Errorf("imported %v", mapsKeys(got))
				}
				if _, err := os.Stat("/tmp/stackhub-escape"); err == nil {
					t.Errorf("/tmp/stackhub-escape was written")
				}
				if _, err := os.Stat(filepath.Join(s.DataDir, "..", "stackhub-escape")); err == nil {
					t.Errorf("a file escaped beside the data dir")
				}
				if left, _ := os.ReadDir(filepath.Join(s.DataDir, "sources")); len(left) != 0 {
					t.Errorf("the sync left %v in the data dir", left)
				}
				var list []store.Source
				s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/sources", nil).JSON(t, &list)
				i := slices.IndexFunc(list, func(x store.Source) bool { return x.ID == src.ID })
				if i < 0 || !strings.Contains(list[i].Error, c.want) || list[i].SyncedAt == nil || list[i].ETag != "" {
					t.Errorf("listed as %+v", list)
				}
			})
		}
	})
}

// evilArchive is a forge archive with the gitea template and then h (with a 4-byte body when it is a file).
func evilArchive(t *testing.T, h *tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	good := forgeArchive(t, library(t, "gitea"))
	zr, err := gzip.NewReader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		gh, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(gh); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	h.Mode = 0o644
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if h.Size > 0 {
		_, _ = tw.Write([]byte("evil"))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
