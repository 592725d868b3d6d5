package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testCompose = `services:
  web:
    image: $W9_REPO:$W9_VERSION
    container_name: $W9_ID
    ports: ["$W9_HTTP_PORT_SET:80"]
    volumes: ["./src/site.conf:/etc/site.conf:ro"]
`

// writeLibrary writes a library of templates, each a map of file path to content.
func writeLibrary(t *testing.T, apps map[string]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for key, files := range apps {
		for name, body := range files {
			path := filepath.Join(dir, "apps", key, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// app is a valid template folder with variables.json overridden by vars.
func app(vars string) map[string]string {
	return map[string]string{
		"variables.json":     vars,
		"docker-compose.yml": testCompose,
		".env":               "W9_REPO=nginx\nW9_VERSION=1.0\nW9_HTTP_PORT_SET=9001\n",
		"src/site.conf":      "server {}\n",
		"src/bin.dat":        "a\x00b",
		"README.md":          "\n# Site\n\nA site.\n",
		"Notes.md":           "not a file of the stack",
	}
}

const okVars = `{"name": "site", "trademark": "Site", "release": true,
 "edition": [{"dist": "community", "version": ["2.0", "1.0", "2.0"]}],
 "requirements": {"cpu": "2", "memory": "0.5", "disk": "", "url": "x"}}`

func TestReadWebsoft9(t *testing.T) {
	broken := app(okVars)
	delete(broken, "docker-compose.yml")
	dir := writeLibrary(t, map[string]map[string]string{
		"site":      app(okVars),
		"draft":     app(strings.Replace(okVars, `"release": true`, `"release": false`, 1)),
		"Bad_Name":  app(okVars),
		"nocompose": broken,
		"badreq":    app(strings.Replace(okVars, `"cpu": "2"`, `"cpu": "two"`, 1)),
		"badtag":    app(strings.Replace(okVars, `"1.0"`, `"1.0 beta"`, 1)),
		"escape":    mapWith(app(okVars), "docker-compose.yml", strings.Replace(testCompose, "./src/site.conf", "../site.conf", 1)),
	})
	templates, refused, err := ReadWebsoft9(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Template{{Key: "site", Name: "Site", Description: "# Site\n\nA site.", Release: true, Dist: "community",
		Versions: []string{"2.0", "1.0"}, Stack: Stack{Compose: testCompose,
			Env:          "W9_REPO=nginx\nW9_VERSION=1.0\nW9_HTTP_PORT_SET=9001\n",
			Files:        Files{"src/site.conf": "server {}\n", "src/bin.dat": "a\x00b"},
			Requirements: Requirements{CPU: 2, Memory: 0.5}}}}
	if diff := cmp.Diff(want, templates); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
	wantRefused := []Refusal{
		{"Bad_Name", `folder name "Bad_Name" is not a valid package name`},
		{"badreq", `variables.json: requirements.cpu is "two", not a number`},
		{"badtag", `variables.json: version "1.0 beta" of edition community is not a valid image tag`},
		{"draft", "not released"},
		{"escape", "docker-compose.yml line 6: service web binds ../site.conf, which leaves the project directory"},
		{"nocompose", "docker-compose.yml is missing"},
	}
	if len(refused) != len(wantRefused) {
		t.Fatalf("refusals = %q, want %d", refused, len(wantRefused))
	}
	for i, r := range refused {
		if r.Key != wantRefused[i].Key || !strings.HasPrefix(r.Reason, wantRefused[i].Reason) {
			t.Errorf("refusal %d = %q, want key %s and a reason starting %q", i, r, wantRefused[i].Key, wantRefused[i].Reason)
		}
	}

	withDrafts, _, err := ReadWebsoft9(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for _, tpl := range withDrafts {
		keys = append(keys, tpl.Key)
	}
	if diff := cmp.Diff([]string{"draft", "site"}, keys); diff != "" {
		t.Errorf("with unreleased (-want +got):\n%s", diff)
	}
	if _, _, err := ReadWebsoft9(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("ReadWebsoft9 of a missing directory: no error")
	}
}

func TestStackFor(t *testing.T) {
	tpl := Template{Key: "site", Versions: []string{"2.0", "1.0"}, Stack: Stack{Compose: testCompose,
		Env: "# v\nW9_VERSION='1.0' # default\nW9_REPO=nginx\n", Files: map[string]string{"src/a": "a"}}}
	got, err := tpl.StackFor("2.0")
	if err != nil {
		t.Fatal(err)
	}
	want := Stack{Compose: testCompose, Env: "# v\nW9_VERSION=2.0 # default\nW9_REPO=nginx\n",
		Files: map[string]string{"src/a": "a"}}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("StackFor (-want +got):\n%s", diff)
	}
	got.Files["src/a"] = "changed"
	if tpl.Stack.Files["src/a"] != "a" {
		t.Error("StackFor shares the template's files map")
	}
	if _, err := tpl.StackFor("3.0"); err == nil || !strings.Contains(err.Error(), `no version "3.0"`) {
		t.Errorf("StackFor unknown version: %v", err)
	}
}

func TestReadDescriptionTrims(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "README.md")
	long := strings.Repeat("é line of text\n", 1000)
	if err := os.WriteFile(path, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readDescription(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(got)); n >= maxDescription || n < maxDescription-100 || !strings.HasSuffix(got, "text") {
		t.Errorf("description of %d characters ending %q, want just under %d, cut at a line end", n, got[len(got)-10:], maxDescription)
	}
}

// mapWith returns m with name set to body.
func mapWith(m map[string]string, name, body string) map[string]string {
	m[name] = body
	return m
}
