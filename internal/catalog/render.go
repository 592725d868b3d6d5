package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// envKeyPattern is what RenderEnv accepts as a key: a name Compose can interpolate, plus the dots some images
// read from their environment (elasticsearch's cluster.name).
var envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// RenderEnv returns the .env text with the given values replacing those keys' values in place (keeping order,
// comments and other lines, so cross-references like W9_LOGIN_PASSWORD=$W9_POWER_PASSWORD still resolve),
// appending keys that were not present, sorted by name. Values are quoted so that compose-go's dotenv parser,
// and therefore `docker compose`, reads them back exactly and never expands them.
func RenderEnv(text string, values map[string]string) (string, error) {
	entries, err := scanEnv(text)
	if err != nil {
		return "", fmt.Errorf("render .env: %w", err)
	}
	encoded := make(map[string]string, len(values))
	for k, v := range values {
		if !envKeyPattern.MatchString(k) {
			return "", fmt.Errorf("render .env: %q is not a valid variable name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("render .env: the value of %s contains a NUL byte, which no environment can hold", k)
		}
		encoded[k] = quoteEnvValue(v)
	}
	var b strings.Builder
	last := 0
	present := map[string]bool{}
	for _, e := range entries {
		v, ok := encoded[e.Key]
		if !ok {
			continue
		}
		present[e.Key] = true
		b.WriteString(text[last:e.ValStart])
		b.WriteString(v)
		last = e.ValEnd
	}
	b.WriteString(text[last:])
	var missing []string
	for k := range encoded {
		if !present[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	for _, k := range missing {
		b.WriteString(k + "=" + encoded[k] + "\n")
	}
	return b.String(), nil
}

// quoteEnvValue writes v so dotenv reads back exactly v: bare when it only holds harmless characters, else in
// single quotes (dotenv keeps them literal; only a backslash right before the closing quote is special), else in
// double quotes with \\, \", \$, \n and \r escaped.
func quoteEnvValue(v string) string {
	if isBareEnvValue(v) {
		return v
	}
	if !strings.ContainsRune(v, '\'') && !strings.HasSuffix(v, `\`) {
		return "'" + v + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isBareEnvValue reports whether v can be written without quotes: no blanks, quotes, $, # or backslashes.
func isBareEnvValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_-.,:/@+=%!^~*?", c) >= 0:
		default:
			return false
		}
	}
	return true
}
