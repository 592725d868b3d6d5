package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Importer reads one app store's layout (docs/stores.md §3) into templates. Every store becomes the same
// Template and Stack, so the hub and the host never know which store an app came from beyond Template.Store.
type Importer interface {
	// Format is the store's name as `stackhub catalog import --format` takes it: "websoft9", "casaos", ...
	Format() string
	// Detect reports whether fsys, the store's root, has this store's layout.
	Detect(fsys fs.FS) bool
	// Read reads every app. An app that cannot be used is a Refusal with the exact reason; an error is for fsys
	// itself (unreadable root).
	Read(fsys fs.FS, opt ReadOptions) ([]Template, []Refusal, error)
}

// ReadOptions tune an import.
type ReadOptions struct {
	// IncludeUnreleased also reads apps their store marks unreleased (Websoft9's release: false).
	IncludeUnreleased bool
}

// importers are the known stores, in detection order: the first whose Detect matches reads the folder.
var importers = []Importer{websoft9Importer{}, casaosImporter{}, runtipiImporter{}, umbrelImporter{}, cosmosImporter{},
	portainerImporter{}}

// Formats lists the store formats the importer reads.
func Formats() []string {
	out := make([]string, len(importers))
	for i, im := range importers {
		out[i] = im.Format()
	}
	return out
}

// ImporterFor returns the importer of a format name.
func ImporterFor(format string) (Importer, error) {
	for _, im := range importers {
		if im.Format() == format {
			return im, nil
		}
	}
	return nil, fmt.Errorf("format %q is not known; use one of %s", format, strings.Join(Formats(), ", "))
}

// DetectImporter returns the importer whose layout fsys has.
func DetectImporter(fsys fs.FS) (Importer, error) {
	for _, im := range importers {
		if im.Detect(fsys) {
			return im, nil
		}
	}
	return nil, fmt.Errorf("the folder has no known store layout (%s); name one with --format",
		strings.Join(Formats(), ", "))
}

// ReadStore reads the store at path with the named format, or the detected one when format is empty. path is a
// folder, or a single file that is the store itself (a Portainer templates.json): then fsys is the file's folder
// and the importer reads that file's name.
func ReadStore(path, format string, opt ReadOptions) (Importer, []Template, []Refusal, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read store: %w", err)
	}
	var fsys fs.FS
	if fi.IsDir() {
		fsys = os.DirFS(path)
	} else {
		fsys = singleFileFS{FS: os.DirFS(filepath.Dir(path)), name: filepath.Base(path)}
	}
	var im Importer
	if format != "" {
		im, err = ImporterFor(format)
	} else {
		im, err = DetectImporter(fsys)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	ts, refused, err := im.Read(fsys, opt)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		pe.Path = filepath.Join(path, filepath.FromSlash(pe.Path)) // name the folder as the caller gave it
	}
	for i := range ts {
		if ts[i].Store == "" {
			ts[i].Store = im.Format()
		}
	}
	return im, ts, refused, err
}

// StoreFile is the name under which ReadStore shows a single-file store (a templates.json given by path) to its
// importer, whatever the file is called on disk.
const StoreFile = "templates.json"

// singleFileFS shows one file of a folder as StoreFile, and nothing else.
type singleFileFS struct {
	fs.FS
	name string
}

// Open opens StoreFile (the chosen file); any other name does not exist, so no other layout is detected.
func (s singleFileFS) Open(name string) (fs.File, error) {
	if name == StoreFile {
		return s.FS.Open(s.name)
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// websoft9Importer reads a Websoft9 docker-library (apps/<key>/, catalog.md §3).
type websoft9Importer struct{}

func (websoft9Importer) Format() string { return "websoft9" }

// Detect: apps/<key>/variables.json for at least one key.
func (websoft9Importer) Detect(fsys fs.FS) bool {
	m, _ := fs.Glob(fsys, "apps/*/"+VariablesFile)
	return len(m) > 0
}

func (websoft9Importer) Read(fsys fs.FS, opt ReadOptions) ([]Template, []Refusal, error) {
	return ReadWebsoft9FS(fsys, opt.IncludeUnreleased)
}

// nonKeyRun is a run of characters a package name cannot hold.
var nonKeyRun = regexp.MustCompile(`[^a-z0-9]+`)

// AppKey turns a store's own app id or folder name ("Home-Assistant", "adguard_home", "2fauth") into the
// package name the hub keys apps by, so that the same app from two stores meets under one key: lowercase, each
// run of other characters one "-", a leading digit prefixed with "app-". The error names the id when nothing usable
// remains or the result is too long for a package name.
func AppKey(id string) (string, error) {
	k := strings.Trim(nonKeyRun.ReplaceAllString(strings.ToLower(id), "-"), "-")
	if k != "" && k[0] >= '0' && k[0] <= '9' {
		k = "app-" + k
	}
	if !keyPattern.MatchString(k) {
		return "", fmt.Errorf("app id %q does not make a package name (lowercase letters, digits and -, 2 to 31 characters)", id)
	}
	return k, nil
}
