package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/events"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// stackhubCmd runs the stackhub binary (this test binary as main) against s.
func stackhubCmd(t *testing.T, s *tu.Server, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1", "STACKHUB_URL="+s.URL, "DOGETOK="+tu.AdminToken)
	var o bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &o
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), 0
}

// `stackhub source add|list|sync|remove` over /api/v1: a store added by URL is synced and listed with its
// counts, synced again on demand, and removed; a bad URL is refused naming the field.
func TestSourceCommands(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, name := range []string{"docker-compose.yml", ".env", "variables.json"} {
			b, err := os.ReadFile(filepath.Join(lib.Dir, "apps", "web", name))
			if err != nil {
				t.Fatal(err)
			}
			_ = tw.WriteHeader(&tar.Header{Name: "lib-main/apps/web/" + name, Mode: 0o644, Size: int64(len(b))})
			_, _ = tw.Write(b)
		}
		_ = tw.Close()
		_ = gz.Close()
		forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(buf.Bytes()) }))
		t.Cleanup(forge.Close)
		synced := make(chan events.Event, 10)
		t.Cleanup(s.Bus.Subscribe(func(ev events.Event) {
			if ev.Type == events.SourceSynced {
				synced <- ev
			}
		}))

		if out, code := stackhubCmd(t, s, "source", "add", "file:///etc/passwd"); code == 0 || !strings.Contains(out, "url must be an http or https address") {
			t.Errorf("bad url: exit %d\n%s", code, out)
		}
		out, code := stackhubCmd(t, s, "source", "add", forge.URL+"/lib.tar.gz", "--name", "Test library", "--format", "websoft9")
		if code != 0 || !strings.Contains(out, "source 1 added: Test library") {
			t.Fatalf("add: exit %d\n%s", code, out)
		}
		select {
		case <-synced:
		case <-time.After(time.Minute):
			t.Fatal("the first sync did not end within a minute")
		}
		out, code = stackhubCmd(t, s, "source", "list")
		if code != 0 || !strings.Contains(out, "1\tTest library\t"+forge.URL+"/lib.tar.gz\tsynced ") ||
			!strings.Contains(out, "1 apps accepted, 0 refused, 1 versions added, 0 removed") {
			t.Errorf("list: exit %d\n%s", code, out)
		}
		out, code = stackhubCmd(t, s, "source", "sync", "1")
		if code != 0 || !strings.Contains(out, "1 apps accepted, 0 refused, 0 versions added, 0 removed") {
			t.Errorf("sync: exit %d\n%s", code, out)
		}
		if out, code = stackhubCmd(t, s, "source", "sync", "x"); code == 0 || !strings.Contains(out, `source id "x"`) {
			t.Errorf("sync x: exit %d\n%s", code, out)
		}
		out, code = stackhubCmd(t, s, "source", "remove", "1")
		if code != 0 || !strings.Contains(out, "source 1 removed") {
			t.Errorf("remove: exit %d\n%s", code, out)
		}
		if out, _ = stackhubCmd(t, s, "source", "list"); !strings.Contains(out, "no sources") {
			t.Errorf("list after remove:\n%s", out)
		}
		if _, err := s.Store.Q().AppByPackage(t.Context(), "web"); err == nil {
			t.Error("the removed source's app is still in the catalog")
		}
	})
}
