package engine

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// LabelBuild is on every image StackHub builds from a template's files; its value is the content hash.
const LabelBuild = "io.stackhub.build"

// LabelBuiltBy names the project whose install built the image (installs of the same files share it): its Down
// removes the image if nothing uses it, even when no container of it ever did (a failed install).
const LabelBuiltBy = "io.stackhub.built-by"

// BuildRepo is the repository of the images StackHub builds; the tag is the hash of what was built.
const BuildRepo = "stackhub-build"

// buildSkipped are left out of build contexts: the rendered .env holds the install's secrets (and differs per
// install, which would defeat the cache), .configs holds rendered configs.
var buildSkipped = map[string]bool{".env": true, ".configs": true}

// BuildFiles lists the regular files of a build context, relative and sorted: without buildSkipped at its top, and
// without what the context's .dockerignore excludes, read as the docker CLI reads it (github.com/moby/patternmatcher,
// the CLI's own matcher). As there, the Dockerfile and the .dockerignore are always sent: the build needs them.
func BuildFiles(dir, dockerfile string) ([]string, error) {
	ignore, err := readDockerignore(dir)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{".dockerignore": true, path.Clean(filepath.ToSlash(cmp.Or(dockerfile, "Dockerfile"))): true}
	var out []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if buildSkipped[rel] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if ignore != nil && !keep[rel] {
			if skip, err := ignore.MatchesOrParentMatches(rel); err != nil {
				return fmt.Errorf(".dockerignore: %w", err)
			} else if skip {
				return nil
			}
		}
		out = append(out, rel)
		return nil
	})
	slices.Sort(out)
	return out, err
}

// readDockerignore reads the context's .dockerignore; nil when there is none.
func readDockerignore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

// tagBuilds names the image of every service with a build section after the hash of its context, Dockerfile,
// arguments and target, so the same files build once and are shared by installs; the template's own image name
// is replaced, as two templates could name different builds alike.
func tagBuilds(p *Project) error {
	for name, s := range p.Services {
		if s.Build == nil {
			continue
		}
		sum, err := buildHash(s.Build.Context, s.Build.Dockerfile, s.Build.DockerfileInline, s.Build.Target, s.Build.Args)
		if err != nil {
			return fmt.Errorf("service %s: build context: %w", name, err)
		}
		s.Image = BuildRepo + ":" + sum
		p.Services[name] = s
	}
	return nil
}

// buildHash hashes everything a build reads.
func buildHash(dir, dockerfile, inline, target string, args map[string]*string) (string, error) {
	h := sha256.New()
	files, err := BuildFiles(dir, dockerfile)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		fi, _ := f.Stat()
		fmt.Fprintf(h, "file %q %o %d\n", rel, fi.Mode().Perm(), fi.Size())
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	fmt.Fprintf(h, "dockerfile %q\ninline %q\ntarget %q\n", dockerfile, inline, target)
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := "<unset>"
		if args[k] != nil {
			v = *args[k]
		}
		fmt.Fprintf(h, "arg %q=%q\n", k, v)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// IsBuilt reports whether image is one StackHub builds.
func IsBuilt(image string) bool { return strings.HasPrefix(image, BuildRepo+":") }
