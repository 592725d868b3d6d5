package catalog

import (
	"strings"

	"go.yaml.in/yaml/v4"
)

// varRef is one $VAR or ${VAR...} reference in a string, found the way Compose's interpolation finds them.
type varRef struct {
	Name       string
	HasDefault bool // ${X:-d}, ${X-d}, ${X:+v} or ${X+v}: fine when X is not defined
	Required   bool // ${X:?err} or ${X?err}: Compose refuses the file when X is not defined
	Offset     int  // byte offset of the '$'
	Invalid    bool // "${" that Compose cannot parse; Name is then empty
}

// findRefs lists the variable references in s, skipping $$ escapes and including references nested in defaults.
func findRefs(s string) []varRef {
	var out []varRef
	for pos := 0; pos < len(s); {
		i := strings.IndexByte(s[pos:], '$')
		if i < 0 {
			break
		}
		i += pos
		switch {
		case i+1 < len(s) && s[i+1] == '$':
			pos = i + 2
		case i+1 < len(s) && s[i+1] == '{':
			refs, next := bracedRef(s, i)
			out = append(out, refs...)
			pos = next
		default:
			n := identLen(s[i+1:])
			if n > 0 {
				out = append(out, varRef{Name: s[i+1 : i+1+n], Offset: i})
			}
			pos = i + 1 + n
		}
	}
	return out
}

// bracedRef reads the ${...} reference starting at s[i] and returns it (and any nested in its default) with
// the offset just past it.
func bracedRef(s string, i int) ([]varRef, int) {
	end := closingBrace(s[i:])
	if end < 0 {
		return []varRef{{Offset: i, Invalid: true}}, i + 2
	}
	inner := s[i+2 : i+end]
	n := identLen(inner)
	if n == 0 {
		return []varRef{{Offset: i, Invalid: true}}, i + end + 1
	}
	ref := varRef{Name: inner[:n], Offset: i}
	rest := inner[n:]
	var nested string
	switch {
	case rest == "":
	case strings.HasPrefix(rest, ":-"), strings.HasPrefix(rest, ":+"), strings.HasPrefix(rest, ":?"):
		ref.HasDefault, ref.Required = rest[1] != '?', rest[1] == '?'
		nested = rest[2:]
	case rest[0] == '-', rest[0] == '+', rest[0] == '?':
		ref.HasDefault, ref.Required = rest[0] != '?', rest[0] == '?'
		nested = rest[1:]
	default:
		return []varRef{{Offset: i, Invalid: true}}, i + end + 1
	}
	out := []varRef{ref}
	base := i + 2 + n + (len(rest) - len(nested))
	for _, r := range findRefs(nested) {
		r.Offset += base
		out = append(out, r)
	}
	return out, i + end + 1
}

// closingBrace returns the index of the '}' closing the "${" at the start of s, counting nested braces the
// way compose-go's template package does, or -1.
func closingBrace(s string) int {
	open := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '}' {
			open--
			if open == 0 {
				return i
			}
		}
		if s[i] == '{' {
			open++
			i++
		}
	}
	return -1
}

// identLen is the length of the variable name at the start of s ([_A-Za-z][_A-Za-z0-9]*), 0 if none.
func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return i
		}
	}
	return len(s)
}

// refNames returns the names of the references in s, without duplicates.
func refNames(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range findRefs(s) {
		if r.Name != "" && !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r.Name)
		}
	}
	return out
}

// singleRef reports whether s is exactly one reference ($X, ${X}, ${X:-d} or ${X-d}) and returns it.
func singleRef(s string) (varRef, bool) {
	refs := findRefs(s)
	if len(refs) == 0 || refs[0].Offset != 0 || refs[0].Invalid {
		return varRef{}, false
	}
	r := refs[0]
	var end int
	if strings.HasPrefix(s, "${") {
		end = closingBrace(s) + 1
	} else {
		end = 1 + len(r.Name)
	}
	return r, end == len(s)
}

// checkVariables warns about every variable the compose file refers to that is neither defined in .env nor
// provided by the engine, unless the reference carries a default: Compose reads it as empty. Services behind a profile are skipped (see Validate); keys
// are skipped because Compose interpolates values only.
func checkVariables(c *composeDoc, env *envInfo, p, w *problems) {
	disabled := map[*yaml.Node]bool{}
	for _, s := range c.services {
		if !s.Enabled {
			disabled[s.Node] = true
		}
	}
	reported := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = deref(n)
		if n == nil || disabled[n] {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for _, kv := range pairs(n) {
				walk(kv.Value)
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item)
			}
		case yaml.ScalarNode:
			checkScalarRefs(n, env, reported, p, w)
		}
	}
	walk(c.root)
}

// checkScalarRefs checks the references in one scalar value, reporting each missing variable once.
func checkScalarRefs(n *yaml.Node, env *envInfo, reported map[string]bool, p, w *problems) {
	for _, r := range findRefs(n.Value) {
		switch {
		case r.Invalid:
			p.add(ComposeFile, refLine(n, r.Offset), "invalid variable reference in %q; write $NAME or ${NAME}, and $$ for a literal $",
				firstLine(n.Value))
		case r.HasDefault || env.provides(r.Name) || reported[r.Name]:
		case r.Required:
			reported[r.Name] = true
			p.add(ComposeFile, refLine(n, r.Offset), "variable %s is not defined in .env, and the file requires it; "+
				"define it there with its default value", r.Name)
		default:
			reported[r.Name] = true
			w.add(ComposeFile, refLine(n, r.Offset), "variable %s is not defined in .env, so Compose reads it as "+
				"empty; define it there with its default value, or write ${%s:-default}", r.Name, r.Name)
		}
	}
}
