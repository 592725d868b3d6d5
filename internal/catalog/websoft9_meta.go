package catalog

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// defaultDist is the edition StackHub installs when a template lists several.
const defaultDist = "community"

// variables is a template's variables.json.
type variables struct {
	Name      string `json:"name"`
	Trademark string `json:"trademark"`
	Release   bool   `json:"release"`
	Edition   []struct {
		Dist    string   `json:"dist"`
		Version []string `json:"version"`
	} `json:"edition"`
	Requirements map[string]any `json:"requirements"`
}

// requirements reads cpu, memory and disk, each a string holding a number (or a number); empty or absent is 0.
func (v *variables) requirements() (Requirements, error) {
	var out [3]float64
	for i, name := range []string{"cpu", "memory", "disk"} {
		var text string
		switch x := v.Requirements[name].(type) {
		case nil:
		case float64:
			out[i] = x
			continue
		case string:
			text = strings.TrimSpace(x)
		default:
			return Requirements{}, fmt.Errorf("%s: requirements.%s is %v, not a number", VariablesFile, name, x)
		}
		if text == "" {
			continue
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return Requirements{}, fmt.Errorf("%s: requirements.%s is %q, not a number", VariablesFile, name, text)
		}
		out[i] = f
	}
	return Requirements{CPU: out[0], Memory: out[1], Disk: out[2]}, nil
}

// readVariables reads and decodes variables.json.
func readVariables(fsys fs.FS, name string) (*variables, error) {
	b, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing", VariablesFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", VariablesFile, err)
	}
	var v variables
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", VariablesFile, err)
	}
	return &v, nil
}

// versions returns the edition to install (community when listed, else the first) and its versions in list
// order without duplicates. Every version must be usable as an image tag.
func (v *variables) versions() (string, []string, error) {
	if len(v.Edition) == 0 {
		return "", nil, fmt.Errorf("%s lists no edition; add {\"dist\": %q, \"version\": [...]}", VariablesFile, defaultDist)
	}
	ed := v.Edition[0]
	for _, e := range v.Edition {
		if e.Dist == defaultDist {
			ed = e
			break
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, ver := range ed.Version {
		if !tagPattern.MatchString(ver) {
			return "", nil, fmt.Errorf("%s: version %q of edition %s is not a valid image tag", VariablesFile, ver, ed.Dist)
		}
		if !seen[ver] {
			seen[ver] = true
			out = append(out, ver)
		}
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("%s: edition %s lists no version", VariablesFile, ed.Dist)
	}
	dist := ed.Dist
	if dist == "" {
		dist = defaultDist
	}
	return dist, out, nil
}

// MetaFile is StackHub's optional metadata file beside variables.json: what the store page shows of an app that
// the Websoft9 layout does not carry (catalog.md §3).
const MetaFile = "stackhub.json"

// storeMeta is a MetaFile.
type storeMeta struct {
	Tagline       string   `json:"tagline"`
	Categories    []string `json:"categories"`
	Icon          string   `json:"icon"` // a file of the template folder, or an https URL
	Screenshots   []string `json:"screenshots"`
	Homepage      string   `json:"homepage"`
	Architectures []string `json:"architectures"`
}

// iconTypes are the icon files a template may ship, by extension.
var iconTypes = map[string]string{".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".webp": "image/webp"}

// maxIconFile bounds an icon file a template ships.
const maxIconFile = 256 << 10

// readStoreMeta reads dir/stackhub.json into t when it is there; an icon file becomes a data: URL. It returns
// the icon file's path relative to dir ("" for none), which is not one of the stack's files.
func readStoreMeta(fsys fs.FS, dir string, t *Template) (string, error) {
	b, err := fs.ReadFile(fsys, path.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", MetaFile, err)
	}
	var m storeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s: %w", MetaFile, err)
	}
	t.Tagline, t.Categories, t.Screenshots, t.Homepage = m.Tagline, m.Categories, m.Screenshots, m.Homepage
	t.Architectures = m.Architectures
	if m.Icon == "" || strings.HasPrefix(m.Icon, "https://") {
		t.Icon = m.Icon
		return "", nil
	}
	name := path.Clean(m.Icon)
	media, ok := iconTypes[strings.ToLower(path.Ext(name))]
	if !ok || !fs.ValidPath(name) || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("%s: icon %q must be an https URL or a .svg, .png, .jpg or .webp file of the template folder", MetaFile, m.Icon)
	}
	body, err := fs.ReadFile(fsys, path.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("%s: icon %q: %w", MetaFile, m.Icon, err)
	}
	if len(body) > maxIconFile {
		return "", fmt.Errorf("%s: icon %q is over %d KiB", MetaFile, m.Icon, maxIconFile>>10)
	}
	t.Icon = "data:" + media + ";base64," + base64.StdEncoding.EncodeToString(body)
	return name, nil
}
