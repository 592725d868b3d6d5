package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
