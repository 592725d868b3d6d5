package catalog

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// The rules every store importer shares (docs/stores.md §3): one .env builder, the credential-name rule, the
// shared-folders variable and the port-setting names.

// SharedDirVar is the .env variable every imported store's shared folders (CasaOS's /DATA/Media, Runtipi's
// ROOT_FOLDER_HOST/media, ...) are bound under. Its default, SharedDirDefault, is a folder inside the project, so
// the binds are not host access; an admin who wants one host folder shared by several apps edits the rendered
// .env. It is not a *_SET setting on purpose: a bind built from a setting is host access (catalog.md).
const (
	SharedDirVar     = "STACKHUB_SHARED_DIR"
	SharedDirDefault = "./shared"
)

// envBuilder accumulates the .env text of an imported stack: each key once, in the order first set.
type envBuilder struct {
	keys []string
	vals map[string]string // raw right-hand side, already quoted or a ${REF}
	cmts map[string]string
}

func newEnvBuilder() *envBuilder {
	return &envBuilder{vals: map[string]string{}, cmts: map[string]string{}}
}

// has reports whether key is defined.
func (e *envBuilder) has(key string) bool { _, ok := e.vals[key]; return ok }

// literal defines key as the literal value v (quoted so Compose reads back exactly v); a key already defined
// keeps its first value.
func (e *envBuilder) literal(key, v, comment string) {
	e.raw(key, quoteEnvValue(v), comment)
}

// raw defines key with a right-hand side written as is (a ${REF}).
func (e *envBuilder) raw(key, rhs, comment string) {
	if e.has(key) {
		return
	}
	e.keys = append(e.keys, key)
	e.vals[key] = rhs
	if comment != "" {
		e.cmts[key] = comment
	}
}

// String renders the .env text.
func (e *envBuilder) String() string {
	var b strings.Builder
	for _, k := range e.keys {
		if c := e.cmts[k]; c != "" {
			b.WriteString("# " + strings.ReplaceAll(c, "\n", " ") + "\n")
		}
		b.WriteString(k + "=" + e.vals[k] + "\n")
	}
	return b.String()
}

// credentialWords end the name of a variable that holds a credential (split on _ - .): DB_PASSWORD,
// JWT_SECRET, APP_KEY, API-TOKEN, REDIS_PASS, ADMIN_PWD, PASSWORD_SALT.
var credentialWords = setOf("PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "TOKEN", "KEY", "APIKEY", "SALT",
	"SECRETKEY", "PASSPHRASE")

// notCredentialWords, anywhere in the name, mark a variable that configures a credential rather than holding one:
// a file path (*_FILE), a public key, a key's length or type, a switch (PASSWORD_RESET_ENABLED).
var notCredentialWords = setOf("FILE", "PATH", "DIR", "PUBLIC", "PUB", "LENGTH", "LEN", "TYPE", "URL", "HOST",
	"PORT", "EXPIRY", "EXPIRE", "TTL", "ALGORITHM", "ALG", "MIN", "MAX", "ENABLED", "ENABLE", "DISABLE", "DISABLED",
	"REQUIRED", "RESET", "MODE", "HASH", "HASHED")

// roleWords name whose credential a variable holds when they end its name (PASSWORD_ADMIN).
var roleWords = setOf("ADMIN", "ROOT", "USER", "MASTER", "DEFAULT", "INITIAL", "OWNER")

// nameWords splits a variable name into upper-case words on _, - and . .
func nameWords(name string) []string {
	return strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
}

// IsCredentialName reports whether an environment variable's NAME says it holds a credential: its last word (a
// trailing role such as ADMIN or ROOT aside) is one of credentialWords (PASSWORD, PASS, PWD, SECRET, TOKEN, KEY,
// SALT, ...), or ends with PASSWORD, PASS, PWD, SECRET or TOKEN (JWTSECRET, DBPASS), and no word marks it as
// configuring one instead (a *_FILE path, a PUBLIC key, a key LENGTH, an ENABLED switch, ...).
func IsCredentialName(name string) bool {
	words := nameWords(name)
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if notCredentialWords[w] {
			return false
		}
	}
	for len(words) > 1 && roleWords[words[len(words)-1]] {
		words = words[:len(words)-1] // NEKO_PASSWORD_ADMIN: the admin's password
	}
	last := words[len(words)-1]
	if credentialWords[last] {
		return true
	}
	for _, suffix := range []string{"PASSWORD", "PASS", "PWD", "SECRET", "TOKEN"} {
		if strings.HasSuffix(last, suffix) {
			return true
		}
	}
	return false
}

// placeholderValues are literal values that switch something rather than hold a secret ("user_provided": the
// user gives a key of their own in the app).
var placeholderValues = setOf("true", "false", "yes", "no", "on", "off", "none", "null", "nil", "0", "1", "",
	`""`, "''", "user_provided")

// hasCredentialWord reports whether any word of name is a credential word and none marks it as configuring one:
// SECRET_KEY_BASE, AUTHENTICATION_APIKEY_ALLOWED_KEYS.
func hasCredentialWord(name string) bool {
	words := nameWords(name)
	return slices.ContainsFunc(words, func(w string) bool { return credentialWords[w] }) &&
		!slices.ContainsFunc(words, func(w string) bool { return notCredentialWords[w] })
}

// randomLooking matches a generated-looking literal: 16 or more letters, digits and + / = _ - . .
var randomLooking = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]{16,}$`)

// looksRandom reports whether v looks like a generated key: randomLooking, with letters and digits.
func looksRandom(v string) bool {
	return randomLooking.MatchString(v) && strings.ContainsAny(v, "0123456789") &&
		strings.IndexFunc(v, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) >= 0
}

// IsHardCodedCredential reports whether a variable named name set to the literal value is a credential a store
// hard-codes: the value is a literal of at least 4 characters (no $ reference, not a switch such as true/false or
// user_provided, not a path or URL), and either the name says credential (IsCredentialName), or one of its words
// is a credential word and the value looks generated (SECRET_KEY_BASE=a7523c3d0ae5...).
func IsHardCodedCredential(name, value string) bool {
	v := strings.TrimSpace(value)
	switch {
	case len(v) < 4, strings.Contains(v, "$"), placeholderValues[strings.ToLower(v)]:
		return false
	case strings.HasPrefix(v, "/"), strings.HasPrefix(v, "./"), strings.Contains(v, "://"):
		return false
	}
	return IsCredentialName(name) || hasCredentialWord(name) && looksRandom(v)
}

// secretFor returns the Secret that replaces a hard-coded credential: as long as the literal (apps check a key's
// length: Laravel's APP_KEY is exactly 32 characters), at least 16; hex when the literal is hex of 16 or more
// digits (then half as many random bytes).
func secretFor(name, literal string) Secret {
	n := max(len(literal), 16)
	if len(literal) >= 16 && len(literal)%2 == 0 && hexPattern.MatchString(literal) {
		return Secret{Name: name, Length: min(len(literal)/2, maxSecretLength), Encoding: "hex"}
	}
	return Secret{Name: name, Length: min(n, maxSecretLength)}
}

var hexPattern = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// envName turns any text into a .env variable name: upper case, other characters "_", never starting with a
// digit.
func envName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "V_" + out
	}
	return out
}

// settingVar is the *_SET setting holding a store's install-form value for the variable name. A name ending in
// _PORT (a remote server's port, an SMTP port) would end in _PORT_SET, which marks a host port the engine books,
// so it becomes NAME_VALUE_SET instead.
func settingVar(name string) string {
	if strings.HasSuffix(name+settingSuffix, PortSuffix) {
		return name + "_VALUE" + settingSuffix
	}
	return name + settingSuffix
}

// portVar is the booked setting of a host port a store publishes: W9_<SERVICE>_<HOSTPORT>_PORT_SET, so that two
// services publishing the same number, or one publishing it on tcp and udp, each book it (the latter the same one).
func portVar(service, hostPort string) string {
	return "W9_" + strings.TrimPrefix(envName(service), "V_") + "_" + hostPort + PortSuffix
}

// splitImage splits an image reference into repository and tag ("" when it has none or a digest pins it).
func splitImage(ref string) (repo, tag string) {
	if strings.Contains(ref, "@") {
		return ref, ""
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// versionedImage returns the image with its tag replaced by ${W9_VERSION}, and the tag as the version, when the
// tag is a literal valid tag; otherwise the image unchanged and fallback (when a valid tag) or "latest".
func versionedImage(ref, fallback string) (image, version string) {
	repo, tag := splitImage(ref)
	if tag != "" && !strings.Contains(tag, "$") && tagPattern.MatchString(tag) && !strings.Contains(repo, "$") {
		return repo + ":${" + VarVersion + "}", tag
	}
	if tagPattern.MatchString(fallback) {
		return ref, fallback
	}
	return ref, "latest"
}

// parsePort splits a short-syntax port ("8080:80", "127.0.0.1:8080:80/udp", "80") into host IP, host port,
// container port and protocol.
func parsePort(s string) (ip, host, container, proto string) {
	proto = "tcp"
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s, proto = s[:i], s[i+1:]
	}
	parts := splitColons(s)
	switch len(parts) {
	case 1:
		container = parts[0]
	case 2:
		host, container = parts[0], parts[1]
	default:
		ip, host, container = strings.Join(parts[:len(parts)-2], ":"), parts[len(parts)-2], parts[len(parts)-1]
	}
	return ip, host, container, proto
}

// isPortNumber reports whether s is a single literal port (not a range, not a variable).
func isPortNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// str renders a YAML/JSON scalar as the text Compose would read.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// marshalCompose writes a compose document (services first) as YAML.
func marshalCompose(doc map[string]any) (string, error) {
	order := []string{"services", "volumes", "networks", "configs"}
	var b strings.Builder
	keys := make([]string, 0, len(doc))
	for k := range doc {
		if !slices.Contains(order, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range append(order, keys...) {
		v, ok := doc[k]
		if !ok {
			continue
		}
		out, err := yaml.Marshal(map[string]any{k: v})
		if err != nil {
			return "", fmt.Errorf("write compose: %w", err)
		}
		b.Write(out)
	}
	return b.String(), nil
}

// cleanRel joins a relative project path, staying inside the project.
func cleanRel(base, rest string) string {
	rest = strings.TrimPrefix(path.Clean("/"+rest), "/")
	if rest == "" {
		return base
	}
	return base + "/" + rest
}

// firstSentence cuts text to its first line, for taglines.
func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// truncateDescription keeps a description under maxDescription characters.
func truncateDescription(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) >= maxDescription {
		r = r[:maxDescription-1]
	}
	return string(r)
}
