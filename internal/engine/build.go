package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// BuildFiles lists the regular files of a build context, relative and sorted, without buildSkipped at its top.
func BuildFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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
		if d.Type().IsRegular() {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
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
	files, err := BuildFiles(dir)
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
