package host

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
)

// A socket in a volume (a database's, say) belongs to the running app: the snapshot leaves it out instead of
// failing the upgrade on it.
func TestTarDirSkipsSockets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "app.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dst := filepath.Join(t.TempDir(), "out.tar.gz")
	if _, err := tarDir(dir, dst); err != nil {
		t.Fatalf("tarDir with a socket: %v", err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{"data"}) {
		t.Errorf("archived %v, want [data]", names)
	}
}

// A snapshot that fails halfway removes its folder, so no half snapshot is listed or kept in place of a whole one.
func TestFailedSnapshotLeavesNothing(t *testing.T) {
	data := t.TempDir()
	s := New(nil, nil, nil, slog.New(slog.DiscardHandler), Config{DataDir: data})
	// The project directory does not exist, so archiving it fails after the snapshot folder was made.
	if _, err := s.takeSnapshot(t.Context(), &store.Instance{Name: "gone", Version: "v1"}); err == nil {
		t.Fatal("a snapshot of a missing project directory succeeded")
	}
	left, err := os.ReadDir(s.backupDir("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("a failed snapshot left %v", left)
	}
}
