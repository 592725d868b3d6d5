package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// EnvVar is one assignment of a .env file. Value is the text between the quotes (or the unquoted text without
// its inline comment), with double-quote escapes decoded as dotenv decodes them (\n, \", \\; \$ becomes $$),
// and $VAR references left unexpanded. Single-quoted values are literal: dotenv never expands them.
type EnvVar struct {
	Key, Value string
}

// ParseEnv parses .env text in order, accepting the syntax compose-go's dotenv parser accepts: comments, `export`,
// keys with dots, single, double or no quotes, inline comments after unquoted values and empty values.
func ParseEnv(text string) ([]EnvVar, error) {
	entries, err := scanEnv(text)
	if err != nil {
		return nil, err
	}
	out := make([]EnvVar, len(entries))
	for i, e := range entries {
		out[i] = EnvVar{Key: e.Key, Value: e.Value}
	}
	return out, nil
}

// envEntry is an assignment with where its value sits in the text, so RenderEnv can replace it in place.
type envEntry struct {
	Key      string
	Value    string
	Quote    byte // 0, '\'' or '"'
	Line     int  // 1-based line of the key
	ValStart int  // byte offsets of the value as written, quotes included
	ValEnd   int
}

// envError is a .env syntax error on a line.
type envError struct {
	Line int
	Err  error
}

// Error implements error.
func (e *envError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the cause.
func (e *envError) Unwrap() error { return e.Err }

// envScanner walks .env text; pos only moves forward and line counts the newlines passed.
type envScanner struct {
	src  string
	pos  int
	line int
}

// utf8BOM is skipped at the start, as dotenv does.
const utf8BOM = "\uFEFF"

var exportPrefix = regexp.MustCompile(`^export[ \t]+`)

// scanEnv splits .env text into assignments. It is stricter than dotenv in two ways that would otherwise hide
// mistakes: a key with no `=` (dotenv would read it from the host's environment) and text after a closing quote.
func scanEnv(text string) ([]envEntry, error) {
	sc := &envScanner{src: text, line: 1}
	if strings.HasPrefix(text, utf8BOM) {
		sc.pos = len(utf8BOM)
	}
	var out []envEntry
	for sc.skipBlankAndComments() {
		line := sc.line
		e, err := sc.entry()
		if err != nil {
			return nil, &envError{Line: line, Err: err}
		}
		out = append(out, e)
	}
	return out, nil
}

// skipBlankAndComments moves to the next statement and reports whether there is one.
func (sc *envScanner) skipBlankAndComments() bool {
	for sc.pos < len(sc.src) {
		c := sc.src[sc.pos]
		switch {
		case c == '\n':
			sc.line++
			sc.pos++
		case c == '#':
			sc.skipLine()
		case c < 0x80 && unicode.IsSpace(rune(c)):
			sc.pos++
		default:
			return true
		}
	}
	return false
}

// skipLine moves to the newline that ends the current line (not past it).
func (sc *envScanner) skipLine() {
	if i := strings.IndexByte(sc.src[sc.pos:], '\n'); i >= 0 {
		sc.pos += i
	} else {
		sc.pos = len(sc.src)
	}
}

// entry reads one KEY=VALUE statement starting at a non-blank character.
func (sc *envScanner) entry() (envEntry, error) {
	if m := exportPrefix.FindString(sc.src[sc.pos:]); m != "" {
		sc.pos += len(m)
	}
	e := envEntry{Line: sc.line}
	key, err := sc.key()
	if err != nil {
		return e, err
	}
	e.Key = key
	for sc.pos < len(sc.src) && isEnvSpace(sc.src[sc.pos]) {
		sc.pos++
	}
	e.ValStart = sc.pos
	if sc.pos < len(sc.src) && (sc.src[sc.pos] == '"' || sc.src[sc.pos] == '\'') {
		err = sc.quoted(&e)
	} else {
		sc.unquoted(&e)
	}
	return e, err
}

// key reads a variable name up to `=` (or dotenv's YAML-style `:`) and consumes the separator.
func (sc *envScanner) key() (string, error) {
	start := sc.pos
	for i, r := range sc.src[start:] {
		switch {
		case r == '=' || r == ':':
			key := strings.TrimRightFunc(sc.src[start:start+i], unicode.IsSpace)
			sc.pos = start + i + 1
			if key == "" {
				return "", fmt.Errorf("a value has no variable name before %q", string(r))
			}
			if strings.ContainsAny(key, " \t") {
				return "", fmt.Errorf("variable name %q cannot contain a space", key)
			}
			return key, nil
		case r == '\n':
			return "", noValue(sc.src[start : start+i])
		case isEnvSpace(byte(r)) && r < 0x80, r == '_', r == '.', r == '-', r == '[', r == ']':
		case unicode.IsLetter(r) || unicode.IsNumber(r):
		default:
			return "", fmt.Errorf("unexpected character %q in variable name %q", string(r), firstLine(sc.src[start:]))
		}
	}
	return "", noValue(sc.src[start:])
}

// noValue is the error for a key without `=`: dotenv would read it from the host's environment.
func noValue(key string) error {
	key = strings.TrimSpace(key)
	return fmt.Errorf("%q has no value; write %s= for an empty value", key, key)
}

// unquoted reads a value up to the end of the line, dropping an inline " #" comment and trailing blanks.
func (sc *envScanner) unquoted(e *envEntry) {
	end := len(sc.src)
	if i := strings.IndexByte(sc.src[sc.pos:], '\n'); i >= 0 {
		end = sc.pos + i
	}
	v := sc.src[sc.pos:end]
	v, _, _ = strings.Cut(v, " #")
	v = strings.TrimRightFunc(v, unicode.IsSpace)
	e.Value, e.ValEnd = v, sc.pos+len(v)
	sc.pos = end
}

// quoted reads a quoted value the way dotenv does: a backslash escapes the quote character; in double quotes
// the usual escapes are then decoded. After the closing quote only blanks and a comment may follow.
func (sc *envScanner) quoted(e *envEntry) error {
	q := sc.src[sc.pos]
	e.Quote = q
	var raw []byte
	escaped := false
	for i := sc.pos + 1; i < len(sc.src); i++ {
		c := sc.src[i]
		switch {
		case c == '\n':
			sc.line++
		case c == q && !escaped:
			e.ValEnd = i + 1
			sc.pos = i + 1
			e.Value = string(raw)
			if q == '"' {
				e.Value = decodeEscapes(e.Value)
			}
			return sc.afterQuote()
		}
		if c == '\\' && !escaped {
			escaped = true
			continue
		}
		if escaped && c != q {
			raw = append(raw, '\\')
		}
		escaped = false
		raw = append(raw, c)
	}
	return fmt.Errorf("unterminated quoted value for %s", e.Key)
}

// afterQuote accepts blanks and a comment up to the end of the line.
func (sc *envScanner) afterQuote() error {
	for sc.pos < len(sc.src) && isEnvSpace(sc.src[sc.pos]) {
		sc.pos++
	}
	if sc.pos >= len(sc.src) || sc.src[sc.pos] == '\n' {
		return nil
	}
	if sc.src[sc.pos] == '#' {
		sc.skipLine()
		return nil
	}
	return fmt.Errorf("unexpected text %q after the closing quote", firstLine(sc.src[sc.pos:]))
}

// escapeSeq matches the escapes dotenv decodes in double-quoted values.
var escapeSeq = regexp.MustCompile(`(\\(?:[abcfnrtv$"\\]|0\d{0,3}))`)

// decodeEscapes decodes like dotenv's expandEscapes: \$ becomes $$ (Compose's literal dollar).
func decodeEscapes(s string) string {
	return escapeSeq.ReplaceAllStringFunc(s, func(m string) string {
		if m == `\$` {
			return "$$"
		}
		if strings.HasPrefix(m, `\0`) {
			m = strings.Replace(m, `\0`, `\`, 1)
		}
		v, _, _, err := strconv.UnquoteChar(m, '"')
		if err != nil {
			return m
		}
		return string(v)
	})
}

// isEnvSpace is dotenv's blank: a space character that does not end the line.
func isEnvSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
