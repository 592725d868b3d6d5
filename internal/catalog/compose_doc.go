package catalog

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// composeDoc is the compose file as YAML nodes, kept for line numbers and for the raw text of values before
// interpolation (a host port must be written as a variable, not merely resolve to a number).
type composeDoc struct {
	root     *yaml.Node // the top-level mapping
	services []service
}

// service is one entry under services.
type service struct {
	Name    string
	Line    int
	Node    *yaml.Node // mapping
	Enabled bool       // no compose profile: started by default
}

// pair is a key and its value in a mapping.
type pair struct {
	Key   *yaml.Node
	Value *yaml.Node
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseCompose parses the compose text into YAML nodes; errors carry the YAML error's line.
func parseCompose(text string) (*composeDoc, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{File: ComposeFile, Reason: "the file is empty; define at least one service"}
		}
		line, msg := yamlError(err)
		return nil, &ValidationError{File: ComposeFile, Line: line, Reason: "invalid YAML: " + msg}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &ValidationError{File: ComposeFile, Line: next.Line,
			Reason: "the file holds more than one YAML document; keep a single one"}
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = deref(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ValidationError{File: ComposeFile, Line: root.Line, Reason: "the top level must be a mapping with services"}
	}
	if err := duplicateKeys(root); err != nil {
		return nil, err
	}
	c := &composeDoc{root: root}
	if _, svcs := get(root, "services"); svcs != nil && svcs.Kind == yaml.MappingNode {
		for _, kv := range pairs(svcs) {
			c.services = append(c.services, service{Name: kv.Key.Value, Line: kv.Key.Line, Node: kv.Value,
				Enabled: !hasProfiles(kv.Value)})
		}
	}
	return c, nil
}

// yamlError returns the line and message of a YAML syntax error. go.yaml.in/yaml/v4 (rc.4) keeps its error
// types internal and reports parser errors with 0-based lines (scanner errors are 1-based), so the mark is read
// by reflection; other errors fall back to the "line N" in their text.
func yamlError(err error) (int, string) {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		mark, msg := v.FieldByName("Mark"), v.FieldByName("Message")
		if mark.IsValid() && mark.Kind() == reflect.Struct && msg.Kind() == reflect.String {
			line := int(mark.FieldByName("Line").Int())
			if v.Type().Name() == "ParserError" {
				line++
			}
			return line, msg.String()
		}
	}
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return line, strings.TrimPrefix(err.Error(), "yaml: ")
}

// duplicateKeys finds the first mapping key defined twice: decoding into nodes accepts it, Compose does not.
func duplicateKeys(n *yaml.Node) *ValidationError {
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if l, dup := first[k.Value]; dup && k.Value != "<<" {
				return &ValidationError{File: ComposeFile, Line: k.Line,
					Reason: fmt.Sprintf("%q is defined twice (first on line %d); keep one", k.Value, l)}
			}
			first[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// hasProfiles reports whether a service is behind a compose profile (and so off unless asked for).
func hasProfiles(svc *yaml.Node) bool {
	_, v := get(svc, "profiles")
	return v != nil && v.Kind == yaml.SequenceNode && len(v.Content) > 0
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs lists a mapping's entries, with those pulled in by merge keys (<<) after the explicit ones they do not
// override.
func pairs(m *yaml.Node) []pair {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		if k.Value == "<<" && k.Tag != "!!str" {
			if v.Kind == yaml.SequenceNode {
				for _, sub := range v.Content {
					merged = append(merged, pairs(sub)...)
				}
			} else {
				merged = append(merged, pairs(v)...)
			}
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k, v})
	}
	for _, kv := range merged {
		if !seen[kv.Key.Value] {
			seen[kv.Key.Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// get returns a mapping's key node and value for key, or nils.
func get(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for _, kv := range pairs(m) {
		if kv.Key.Value == key {
			return kv.Key, kv.Value
		}
	}
	return nil, nil
}

// items returns a sequence's elements (dereferenced), or the node itself when it is a single scalar.
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		out := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out[i] = deref(c)
		}
		return out
	default:
		return []*yaml.Node{n}
	}
}

// lookup finds a service by name.
func (c *composeDoc) lookup(name string) (service, bool) {
	for _, s := range c.services {
		if s.Name == name {
			return s, true
		}
	}
	return service{}, false
}

// refLine is the line of the byte at offset in a scalar's value: block scalars start on the next line.
func refLine(n *yaml.Node, offset int) int {
	line := n.Line + strings.Count(n.Value[:offset], "\n")
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line++
	}
	return line
}
