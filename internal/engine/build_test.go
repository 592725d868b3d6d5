package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFilesDockerignore: the context's .dockerignore leaves files out as the docker CLI does (patterns, a
// folder, an exception inside it, a parent folder's match), while the Dockerfile it names and the .dockerignore
// itself stay; the rendered .env never goes, and without a .dockerignore everything else does.
func TestBuildFilesDockerignore(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"build/Dockerfile.web": "FROM scratch\n",
		".dockerignore":        "# comment\n*.secret\nlogs/\n!logs/keep.log\nbuild/\n**/*.tmp\n",
		".env":                 "W9_POWER_PASSWORD=x\n",
		"app.txt":              "a",
		"db.secret":            "s",
		"logs/a.log":           "noise",
		"logs/keep.log":        "kept",
		"src/main.go":          "package main",
		"src/deep/x.tmp":       "t",
		"build/other":          "o",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := BuildFiles(dir, "build/Dockerfile.web")
	if err != nil {
		t.Fatal(err)
	}
	if want := ".dockerignore app.txt build/Dockerfile.web logs/keep.log src/main.go"; strings.Join(got, " ") != want {
		t.Errorf("with .dockerignore: %v\nwant %s", got, want)
	}
	if err := os.Remove(filepath.Join(dir, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
	got, err = BuildFiles(dir, "build/Dockerfile.web")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || strings.Contains(strings.Join(got, " "), ".env") {
		t.Errorf("without .dockerignore: %v, want every file but .env", got)
	}
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("[\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildFiles(dir, ""); err == nil || !strings.Contains(err.Error(), ".dockerignore") {
		t.Errorf("a malformed pattern: %v, want an error naming .dockerignore", err)
	}
}
