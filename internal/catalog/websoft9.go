package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Template is one app of a store, as every importer reads it (for Websoft9: DIR/apps/<Key>/).
type Template struct {
	Key         string
	Name        string // trademark
	Description string // Markdown (README.md for Websoft9), trimmed to fewer than maxDescription characters
	Release     bool
	Dist        string
	Versions    []string // list order; first = default
	Stack       Stack

	// Store is the importer's format ("websoft9", "casaos", ...); ReadStore sets it when an importer leaves it empty.
	Store string
	// Tagline is the one-line summary the store shows on its card.
	Tagline string
	// Categories are the store's own category names, as the store spells them; the hub merges them by name.
	Categories []string
	// Icon and Screenshots are https URLs (or data: URLs) of the store's images.
	Icon        string
	Screenshots []string
	// Architectures the store says the app runs on (Docker's names: amd64, arm64, arm); empty = not said.
	Architectures []string
	// Homepage is the app's own website.
	Homepage string
	// Hidden: the store deprecates the app; it is imported for the installs that use it but not listed.
	Hidden bool
	// Notes are what the importer changed or dropped while mapping (a hard-coded password replaced by a
	// generated secret, a device dropped), one sentence each, printed by `catalog import`.
	Notes []string
}

// Refusal is a template that cannot be used, with the exact reason.
type Refusal struct {
	Key    string
	Reason string
}

// maxDescription bounds Template.Description in characters.
const maxDescription = 10000

// keyPattern is what a template folder name must look like to become a package name.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}$`)

// tagPattern is a valid image tag: every version ends up as W9_VERSION in an image reference.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ReadWebsoft9 reads DIR/apps/<key>/ for every key (sorted). A template that cannot be used becomes a Refusal
// with the exact reason; an I/O error on DIR itself is the error. includeUnreleased: release:false templates are
// refused with reason "not released" unless true. Folders whose name starts with a dot are ignored.
func ReadWebsoft9(dir string, includeUnreleased bool) ([]Template, []Refusal, error) {
	if dir == "" {
		dir = "." // os.DirFS("") would read from the root directory
	}
	ts, refused, err := ReadWebsoft9FS(os.DirFS(dir), includeUnreleased)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		pe.Path = filepath.Join(dir, filepath.FromSlash(pe.Path)) // name the directory as the caller gave it
	}
	return ts, refused, err
}

// ReadWebsoft9FS is ReadWebsoft9 on a file system holding the library at its root (apps/<key>/...), such as a
// library embedded in the binary.
func ReadWebsoft9FS(fsys fs.FS, includeUnreleased bool) ([]Template, []Refusal, error) {
	entries, err := fs.ReadDir(fsys, "apps")
	if err != nil {
		return nil, nil, fmt.Errorf("read template library: %w", err)
	}
	var out []Template
	var refused []Refusal
	for _, e := range entries { // fs.ReadDir sorts by name
		key := e.Name()
		if !e.IsDir() || strings.HasPrefix(key, ".") {
			continue
		}
		t, err := readTemplate(fsys, path.Join("apps", key), key, includeUnreleased)
		if err != nil {
			refused = append(refused, Refusal{Key: key, Reason: err.Error()})
			continue
		}
		out = append(out, t)
	}
	return out, refused, nil
}

// readTemplate reads and validates one template folder of fsys; any error is the refusal reason.
func readTemplate(fsys fs.FS, dir, key string, includeUnreleased bool) (Template, error) {
	if !keyPattern.MatchString(key) {
		return Template{}, fmt.Errorf("folder name %q is not a valid package name (lowercase letters, digits and -, "+
			"2 to 31 characters, starting with a letter)", key)
	}
	meta, err := readVariables(fsys, path.Join(dir, VariablesFile))
	if err != nil {
		return Template{}, err
	}
	if !meta.Release && !includeUnreleased {
		return Template{}, errors.New("not released")
	}
	t := Template{Key: key, Name: meta.Trademark, Release: meta.Release}
	if t.Name == "" {
		t.Name = key
	}
	if t.Dist, t.Versions, err = meta.versions(); err != nil {
		return Template{}, err
	}
	req, err := meta.requirements()
	if err != nil {
		return Template{}, err
	}
	if t.Stack, err = readStack(fsys, dir, req); err != nil {
		return Template{}, err
	}
	icon, err := readStoreMeta(fsys, dir, &t)
	if err != nil {
		return Template{}, err
	}
	if icon != "" {
		delete(t.Stack.Files, icon) // the store's picture, not a file the app uses
		if len(t.Stack.Files) == 0 {
			t.Stack.Files = nil
		}
	}
	if t.Description, err = readDescriptionFS(fsys, path.Join(dir, "README.md")); err != nil {
		return Template{}, err
	}
	if err := Validate(&t.Stack, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
		return Template{}, err
	}
	return t, nil
}

// readStack reads the compose file, .env and other files of a template folder.
func readStack(fsys fs.FS, dir string, req Requirements) (Stack, error) {
	compose, err := readText(fsys, dir, ComposeFile)
	if err != nil {
		return Stack{}, err
	}
	env, err := readText(fsys, dir, EnvFile)
	if err != nil {
		return Stack{}, err
	}
	files, err := readFiles(fsys, dir)
	if err != nil {
		return Stack{}, err
	}
	return Stack{Compose: compose, Env: env, Files: files, Requirements: req}, nil
}

// readText reads a required text file of the template.
func readText(fsys fs.FS, dir, name string) (string, error) {
	b, err := fs.ReadFile(fsys, path.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s is missing", name)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not UTF-8 text", name)
	}
	return string(b), nil
}

// layoutFiles are a template folder's own files, which are not among the stack's files.
var layoutFiles = setOf(ComposeFile, EnvFile, VariablesFile, MetaFile, "README.md", "Notes.md", "CHANGELOG.md")

// readFiles returns every regular text file of the template folder but its own layout files, by path relative
// to the folder: src/ and whatever else the compose file may use (a Dockerfile to build, a config file, a binary
// a Dockerfile copies). Symbolic links are left out: a bind that needs one is then refused by Validate.
func readFiles(fsys fs.FS, dir string) (Files, error) {
	files := Files{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if !d.Type().IsRegular() || layoutFiles[rel] {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[rel] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the template's files: %w", err)
	}
	if len(files) == 0 {
		return nil, nil
	}
	return files, nil
}

// readDescription is readDescriptionFS for a README.md given by its path on disk.
func readDescription(file string) (string, error) {
	return readDescriptionFS(os.DirFS(filepath.Dir(file)), filepath.Base(file))
}

// readDescriptionFS returns README.md's text, trimmed below maxDescription characters at a line end when it can;
// a missing README gives an empty description.
func readDescriptionFS(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read README.md: %w", err)
	}
	return trimDescription(string(b)), nil
}

// trimDescription returns text as valid UTF-8, trimmed below maxDescription characters at a line end when it can.
func trimDescription(text string) string {
	text = strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	if utf8.RuneCountInString(text) < maxDescription {
		return text
	}
	runes := []rune(text)[:maxDescription-1]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, '\n'); i > len(cut)/2 {
		cut = cut[:i]
	}
	return strings.TrimSpace(cut)
}

// StackFor returns the template's stack for one version: Env with W9_VERSION set to that version (RenderEnv),
// which is the stack stored per update.
func (t Template) StackFor(version string) (Stack, error) {
	if !slices.Contains(t.Versions, version) {
		return Stack{}, fmt.Errorf("template %s has no version %q (it has %s)", t.Key, version, strings.Join(t.Versions, ", "))
	}
	s := t.Stack
	env, err := RenderEnv(s.Env, map[string]string{VarVersion: version})
	if err != nil {
		return Stack{}, fmt.Errorf("template %s version %s: %w", t.Key, version, err)
	}
	s.Env = env
	s.Files = maps.Clone(s.Files)
	s.HostAccess = slices.Clone(s.HostAccess)
	return s, nil
}
