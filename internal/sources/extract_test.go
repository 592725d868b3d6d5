package sources

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one archive member for the tests' archives.
type entry struct {
	name, body, link string
	typ              byte // tar type; 0: a regular file
}

func tarGz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ, Linkname: e.link}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Typeflag == tar.TypeXGlobalHeader { // what forges write first: the commit id
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: e.name, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		if e.typ == tar.TypeSymlink {
			h.SetMode(os.ModeSymlink | 0o777)
			body = e.link
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unpackBytes writes an archive into a fresh folder and unpacks it into <folder>/x/store; it returns the
// folder, so a test can see that nothing was written beside the extraction folder.
func unpackBytes(t *testing.T, archive []byte, lim Limits) (string, string, error) {
	t.Helper()
	lim.defaults()
	base := t.TempDir()
	dir := filepath.Join(base, "x")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "download")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := unpack(&download{file: file, kind: sniff(archive)}, dir, lim)
	return base, root, err
}

// onlyExtraction fails unless base holds only the sync folder x, and x only the download and the store.
func onlyExtraction(t *testing.T, base string) {
	t.Helper()
	var outside []string
	_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(base, p)
		if rel != "." && rel != "x" && rel != filepath.Join("x", "download") && rel != filepath.Join("x", "store") &&
			!strings.HasPrefix(rel, filepath.Join("x", "store")+string(filepath.Separator)) {
			outside = append(outside, rel)
		}
		return nil
	})
	if len(outside) > 0 {
		t.Errorf("written outside the extraction folder: %v", outside)
	}
}

func TestUnpackStripsTheForgeFolder(t *testing.T) {
	files := []entry{{name: "repo-main/", typ: tar.TypeDir}, {name: "repo-main/apps/a/variables.json", body: "{}"},
		{name: "repo-main/README.md", body: "hi"}, {name: "repo-main/apps/link", typ: tar.TypeSymlink, link: "a/variables.json"}}
	for name, archive := range map[string][]byte{"tar.gz": tarGz(t, append([]entry{{name: "pax_global_header",
		typ: tar.TypeXGlobalHeader}}, files...)...), "zip": zipOf(t, files...)} {
		t.Run(name, func(t *testing.T) {
			_, root, err := unpackBytes(t, archive, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(root) != "repo-main" {
				t.Fatalf("store root %s, want the single top-level folder repo-main", root)
			}
			if b, err := os.ReadFile(filepath.Join(root, "apps", "a", "variables.json")); err != nil || string(b) != "{}" {
				t.Errorf("variables.json: %q, %v", b, err)
			}
			if _, err := os.Lstat(filepath.Join(root, "apps", "link")); !os.IsNotExist(err) {
				t.Errorf("a link inside the archive was created (%v); links are skipped", err)
			}
		})
	}
}

// TestUnpackRefusesEscapes: an entry path with .., an absolute path, or a link pointing out refuses the whole
// archive with the reason, and nothing is written outside the extraction folder.
func TestUnpackRefusesEscapes(t *testing.T) {
	cases := []struct {
		name string
		e    entry
		want string
	}{
		{"dotdot", entry{name: "../x", body: "evil"}, `entry "../x" leaves the archive`},
		{"nested dotdot", entry{name: "repo/../../x", body: "evil"}, `leaves the archive`},
		{"absolute", entry{name: "/tmp/stackhub-evil", body: "evil"}, `entry "/tmp/stackhub-evil" has an absolute path`},
		{"symlink out", entry{name: "repo/up", typ: tar.TypeSymlink, link: "../../.."}, `link "repo/up" points outside it`},
		{"absolute symlink", entry{name: "repo/etc", typ: tar.TypeSymlink, link: "/etc"}, `link "repo/etc" points outside it`},
		{"hardlink out", entry{name: "repo/pw", typ: tar.TypeLink, link: "../etc/passwd"}, `link "repo/pw" points outside it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			archives := map[string][]byte{"tar.gz": tarGz(t, entry{name: "repo/ok", body: "ok"}, c.e,
				entry{name: "repo/after", body: "after"})}
			if c.e.typ == 0 || c.e.typ == tar.TypeSymlink {
				archives["zip"] = zipOf(t, entry{name: "repo/ok", body: "ok"}, c.e, entry{name: "repo/after", body: "after"})
			}
			for kind, archive := range archives {
				base, _, err := unpackBytes(t, archive, Limits{})
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "refused") {
					t.Errorf("%s: error %v, want it to say %q", kind, err, c.want)
				}
				onlyExtraction(t, base)
				if _, err := os.Stat("/tmp/stackhub-evil"); err == nil {
					t.Errorf("%s: /tmp/stackhub-evil was written", kind)
				}
			}
		})
	}
}

// TestUnpackRefusesBombs: a file of zeros past the unpacked limit, and more entries than the file limit, are
// refused with the reason.
func TestUnpackRefusesBombs(t *testing.T) {
	zeros := strings.Repeat("\x00", 4<<20) // 4 MiB that compress to a few KiB
	lim := Limits{Unpacked: 1 << 20, Files: 50}
	for kind, archive := range map[string][]byte{"tar.gz": tarGz(t, entry{name: "repo/zeros", body: zeros}),
		"zip": zipOf(t, entry{name: "repo/zeros", body: zeros})} {
		if len(archive) > 64<<10 {
			t.Fatalf("%s: the bomb is %d bytes compressed; want it small", kind, len(archive))
		}
		base, _, err := unpackBytes(t, archive, lim)
		if err == nil || !strings.Contains(err.Error(), "unpacks to more than 1048576 bytes (the limit)") {
			t.Errorf("%s zeros: %v", kind, err)
		}
		onlyExtraction(t, base)
	}
	var many []entry
	for i := range 60 {
		many = append(many, entry{name: "repo/f" + strings.Repeat("x", i), body: "."})
	}
	for kind, archive := range map[string][]byte{"tar.gz": tarGz(t, many...), "zip": zipOf(t, many...)} {
		_, _, err := unpackBytes(t, archive, lim)
		if err == nil || !strings.Contains(err.Error(), "more than 50 files and folders (the limit)") {
			t.Errorf("%s many files: %v", kind, err)
		}
	}
}

// TestUnpackBroken: a truncated gzip stream is a broken archive, however far it got.
func TestUnpackBroken(t *testing.T) {
	archive := tarGz(t, entry{name: "repo/a", body: strings.Repeat("StackHub ", 20000)}, entry{name: "repo/b", body: "b"})
	for _, n := range []int{len(archive) - 4, len(archive) / 2, 10} {
		_, _, err := unpackBytes(t, archive[:n], Limits{})
		if err == nil || !strings.Contains(err.Error(), "the archive is broken") {
			t.Errorf("truncated to %d of %d bytes: %v", n, len(archive), err)
		}
	}
	_, _, err := unpackBytes(t, zipOf(t, entry{name: "a", body: "a"})[:30], Limits{})
	if err == nil || !strings.Contains(err.Error(), "the archive is broken") {
		t.Errorf("truncated zip: %v", err)
	}
}
