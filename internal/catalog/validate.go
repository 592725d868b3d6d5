package catalog

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Names of a stack's parts, as ValidationError.File reports them.
const (
	ComposeFile   = "docker-compose.yml"
	EnvFile       = ".env"
	VariablesFile = "variables.json"
)

// DefaultMaxSize is the size limit of a stack (compose, env and files together) when ValidateOptions leaves it 0.
// It is also the default of the limit the administrator sets for what users publish (serve --max-stack-size).
const DefaultMaxSize = 1 << 20

// MaxImportSize is the size limit of a stack the administrator imports or publishes: the Websoft9 library has
// templates with large src/ trees (up to 18 MB).
const MaxImportSize = 64 << 20

// maxListed caps how many further problems a ValidationError's message lists.
const maxListed = 20

// ValidateOptions: AllowHostAccess is true for templates the admin imports; false for stacks ordinary users
// publish (then any host-access need is an error). MaxSize is the limit in bytes of compose+env+files; 0 means
// DefaultMaxSize.
type ValidateOptions struct {
	AllowHostAccess bool
	MaxSize         int
	LimitHint       string // said after the limit when a stack is over it: who sets the limit, and how
}

// Limit is the size limit in bytes these options set: MaxSize, or DefaultMaxSize when it is 0.
func (o ValidateOptions) Limit() int {
	if o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// ValidationError is why a stack was refused: the file ("docker-compose.yml", ".env", "variables.json" or a
// files path), the line when known (0 otherwise), and the reason with its fix. More holds the other problems
// found in the same pass, so a publisher can fix them all at once.
type ValidationError struct {
	File   string
	Line   int
	Reason string
	More   []*ValidationError
}

// Error formats the problem as `file line N: reason`, followed by the others.
func (e *ValidationError) Error() string {
	msg := e.one()
	for i, m := range e.More {
		if i == maxListed {
			msg += fmt.Sprintf("; and %d more", len(e.More)-maxListed)
			break
		}
		msg += "; " + m.one()
	}
	return msg
}

// one formats this problem alone.
func (e *ValidationError) one() string {
	switch {
	case e.File == "":
		return e.Reason
	case e.Line > 0:
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason)
	default:
		return e.File + ": " + e.Reason
	}
}

// problems collects validation errors in the order found.
type problems []*ValidationError

// add records a problem.
func (p *problems) add(file string, line int, format string, args ...any) {
	*p = append(*p, &ValidationError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// err returns nil, or the first problem carrying the others.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	// Files in the order first found, then by line (problems without a line last), so messages read top down.
	order := map[string]int{}
	for _, e := range p {
		if _, ok := order[e.File]; !ok {
			order[e.File] = len(order)
		}
	}
	sorted := slices.Clone(p)
	slices.SortStableFunc(sorted, func(a, b *ValidationError) int {
		return cmp.Or(cmp.Compare(order[a.File], order[b.File]), cmp.Compare(lineKey(a.Line), lineKey(b.Line)))
	})
	first := *sorted[0]
	first.More = sorted[1:]
	return &first
}

// lineKey orders unknown lines (0) after known ones.
func lineKey(l int) int {
	if l <= 0 {
		return math.MaxInt
	}
	return l
}

// Validate checks a stack and fills s.HostAccess and s.Warnings. It never touches the disk. Errors are
// *ValidationError.
//
// What `docker compose` accepts with its own reading is a warning, not a refusal (see the catalog contract,
// "Warnings"): a .env key defined twice (the last wins), a reference to a key defined further down or nowhere
// (empty), a variable the compose file uses that nothing defines (empty).
//
// Only services enabled by default are checked for variables, ports, binds and host access: a service behind a
// compose profile is never started by StackHub, so its references (postgresql's $DATABASE_BACKUP) are ignored;
// it must still parse and use only supported keys.
func Validate(s *Stack, opt ValidateOptions) error {
	s.HostAccess, s.Warnings, s.FixedPorts = nil, nil, nil
	var p, w problems
	if checkSize(s, opt, &p); len(p) > 0 {
		return p.err()
	}
	checkFiles(s, &p)
	checkRequirements(s.Requirements, &p)
	env := checkEnv(s.Env, &p, &w)
	checkSecrets(s.Secrets, env, &p)
	if len(p) > 0 {
		return p.err()
	}
	err := validateCompose(s, env, opt, &w)
	if err == nil {
		s.Warnings = w.list()
	}
	return err
}

// list formats the problems as warnings, in the order of err.
func (p problems) list() []string {
	e, ok := p.err().(*ValidationError)
	if !ok {
		return nil
	}
	out := []string{e.one()}
	for _, m := range e.More {
		out = append(out, m.one())
	}
	return out
}

// validateCompose checks the compose file against the (valid) .env and files, and fills s.HostAccess.
func validateCompose(s *Stack, env *envInfo, opt ValidateOptions, w *problems) error {
	c, err := parseCompose(s.Compose)
	if err != nil {
		return err
	}
	var p problems
	// Unsupported keys stop here: include and extends would make compose-go read other files.
	if checkStructure(c, &p); len(p) > 0 {
		return p.err()
	}
	checkVariables(c, env, &p, w)
	checkReplicas(c, env, &p)
	proj, lerr := loadProject(s.Compose, env, c)
	switch {
	case lerr != nil && len(p) == 0:
		return lerr
	case lerr != nil:
		return p.err()
	}
	s.FixedPorts = checkPorts(c, env, w)
	checkPullPolicies(c, proj, &p)
	checkBuilds(c, proj, s.Files, &p)
	bindAccess := checkMounts(c, env, s.Files, &p, w)
	bindAccess = append(bindAccess, checkConfigs(c, proj, s.Files, &p)...)
	s.HostAccess = sortedUnique(append(bindAccess, hostAccess(proj)...))
	if len(s.HostAccess) > 0 && !opt.AllowHostAccess {
		p.add(ComposeFile, 0, "this stack needs access to the host (%s); only templates the administrator imports may",
			strings.Join(s.HostAccess, "; "))
	}
	return p.err()
}

// checkSize refuses stacks over the size limit before anything parses them.
func checkSize(s *Stack, opt ValidateOptions, p *problems) {
	limit := opt.Limit()
	size := len(s.Compose) + len(s.Env)
	for name, body := range s.Files {
		size += len(name) + len(body)
	}
	if size > limit {
		p.add("", 0, "the stack is %d bytes, over the limit of %d bytes%s; move large content into the image", size, limit, opt.LimitHint)
	}
}

// checkRequirements refuses negative or non-finite requirements.
func checkRequirements(r Requirements, p *problems) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"cpu", r.CPU}, {"memory", r.Memory}, {"disk", r.Disk}} {
		if !(f.v >= 0) || f.v > 1e6 {
			p.add(VariablesFile, 0, "requirements.%s is %v; give a number of %s that is 0 or more", f.name, f.v,
				map[string]string{"cpu": "cores", "memory": "GB", "disk": "GB"}[f.name])
		}
	}
}

// maxSecretLength bounds a generated secret: longer values only slow every render down.
const maxSecretLength = 256

// checkSecrets checks the variables the engine generates: each is defined in .env (so Compose and the settings see
// it as the template's own variable), is neither an engine variable nor a setting (a user could otherwise pick the
// "secret"), appears once, and has a sane length and a known encoding.
func checkSecrets(secrets []Secret, env *envInfo, p *problems) {
	seen := map[string]bool{}
	for i, sec := range secrets {
		field := fmt.Sprintf("secrets[%d]", i)
		switch {
		case !envKeyPattern.MatchString(sec.Name):
			p.add("", 0, "%s.name %q is not a variable name; use letters, digits and _", field, sec.Name)
		case isEngineVar(sec.Name) || isSettingName(sec.Name):
			p.add("", 0, "%s.name %s is an engine variable or a setting; name a variable of the template's own", field, sec.Name)
		case !env.defined[sec.Name]:
			p.add(EnvFile, 0, "secret %s is not defined in .env; add %s= so Compose reads the generated value", sec.Name, sec.Name)
		case seen[sec.Name]:
			p.add("", 0, "%s.name %s is listed twice; list each secret once", field, sec.Name)
		}
		seen[sec.Name] = true
		if sec.Length < 0 || sec.Length > maxSecretLength || (sec.Length > 0 && sec.Length < 8) {
			p.add("", 0, "%s.length %d is out of range; give 8 to %d, or 0 for %d", field, sec.Length, maxSecretLength, DefaultSecretLength)
		}
		switch sec.Encoding {
		case "", "hex", "base64":
		default:
			p.add("", 0, "%s.encoding %q is not known; use \"\" (letters and digits), \"hex\" or \"base64\"", field, sec.Encoding)
		}
	}
}
