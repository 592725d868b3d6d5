package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Umbrel's hooks (hooks/pre-install, pre-start, post-start, post-install, ...) are bash scripts its app script runs
// around an app's lifecycle (umbreld's legacy-compat/app-script: pre-install before the first start, pre-start
// before every `compose up`, post-start after it, with the app's environment: APP_ID, APP_DATA_DIR, APP_SEED,
// APP_PASSWORD, DEVICE_DOMAIN_NAME, the exports; a hook's failure is ignored). StackHub runs no hook: it reads each
// one as it would run on a fresh install, statement by statement, and maps what it does onto the stack, or refuses
// the app naming the statement it cannot map (docs/stores.md §3.1):
//
//   - creating folders, setting owners and modes, removing and touching files, waiting, printing: nothing to map
//     (the engine creates bind folders itself);
//   - a condition is decided on a fresh install's files (the app folder's files, what the hook wrote before):
//     `[[ -f F ]]`, `-d`, `-e`, `-s`, `grep -q[ExF] PATTERN F`, string tests of known values; so migrations of an
//     older install's data, guarded by the old data's presence, are skipped as they would be;
//   - `cat > F <<'EOF'` (or an unquoted here-document, or `echo ... > F`) writes the file F of the stack;
//   - `sed -i` with `s|A|B|flags` or `/A/d` edits a file of the stack, at import;
//   - a value of Umbrel's environment written into a file (DEVICE_DOMAIN_NAME, APP_PASSWORD, an export) is
//     left to Compose: the file must be one Compose interpolates, an `env_file` or a file the compose file binds
//     alone (it becomes a config holding the text, as *.template files do); a random key a hook generates
//     (`openssl rand -hex|-base64 N`, Python's `Fernet.generate_key()`) is a generated secret of that name;
//   - `scripts/app compose $APP_ID up -d SERVICE...` starts services before the others (Umbrel's wait for a Tor
//     hidden service's address): Compose starts them all, a note says so;
//   - `cp ${SCRIPT_APP_REPO_DIR}/F F` refreshes a file from the app's package, which a StackHub install already has.
//
// Anything else reached on a fresh install (docker, `scripts/app compose ... exec|run`, python, a download, a move
// of files that exist, a write of an unknown value, a write decided by a condition StackHub cannot decide) is a
// refusal naming the hook, its line and the command. pre-update and post-update hooks migrate an Umbrel install's
// data, which a StackHub install never has, and are not read.

// hookEffect is what a hook did to the stack.
type hookEffect struct {
	files   map[string]string // the app folder's files after the hooks ran (changed or written)
	changed map[string]bool   // the files a hook wrote or edited
	secrets map[string]secretSpec
	notes   []string
}

type secretSpec struct {
	bytes    int
	encoding string
}

// hookMark wraps the name of a variable of Umbrel's environment inside a value: the hook's text holds the
// variable, which the stack resolves at install (Compose's interpolation).
const hookMark = "\x00"

type hookStop int

const (
	hookGo hookStop = iota
	hookReturn
	hookBreak
	hookExit
)

// hookVal is a shell value: known text (with hookMark-wrapped references), or unknown with why.
type hookVal struct {
	s       string
	unknown string
}

type hookEval struct {
	hook    string
	appID   string
	env     map[string]bool // the names Umbrel's environment defines (kept as references)
	vars    map[string]hookVal
	args    []hookVal
	funcs   map[string]*syntax.FuncDecl
	files   map[string]string
	dirs    map[string]bool
	eff     *hookEffect
	maybe   int    // > 0 inside a branch a fresh install may or may not take
	post    bool   // a post-start or post-install hook: the running app has written its files by then
	naming  string // the variable being assigned: a random key made for it is a secret of that name
	impure  error  // a command substitution or condition that runs more than a reader
	depth   int
	started []string
}

// umbrelHookEffects reads the app's hooks (dir is the app folder) on a fresh install's files.
func umbrelHookEffects(fsys fs.FS, dir, appID string, files map[string]string, env map[string]bool) (*hookEffect, error) {
	eff := &hookEffect{files: files, changed: map[string]bool{}, secrets: map[string]secretSpec{}}
	entries, err := fs.ReadDir(fsys, path.Join(dir, "hooks"))
	if err != nil {
		return eff, nil // no hooks
	}
	// Umbrel's order on a first install: pre-install, pre-start, (compose up), post-start, post-install.
	order := map[string]int{"pre-install": 0, "pre-start": 1, "post-start": 2, "post-install": 3}
	var names []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), "-update") {
			continue
		}
		names = append(names, e.Name())
	}
	slices.SortFunc(names, func(a, b string) int {
		oa, ok := order[a]
		if !ok {
			oa = 9
		}
		ob, ok := order[b]
		if !ok {
			ob = 9
		}
		return oa - ob
	})
	for _, name := range names {
		if _, ok := order[name]; !ok {
			continue // pre-stop, post-stop, pre-uninstall, post-uninstall: nothing of the install's setup
		}
		raw, err := fs.ReadFile(fsys, path.Join(dir, "hooks", name))
		if err != nil {
			return nil, fmt.Errorf("hooks/%s: %w", name, err)
		}
		prog, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(string(raw)), name)
		if err != nil {
			return nil, fmt.Errorf("hooks/%s is not a shell script StackHub can read: %v", name, err)
		}
		h := &hookEval{hook: name, appID: appID, env: env, post: strings.HasPrefix(name, "post-"), vars: map[string]hookVal{}, funcs: map[string]*syntax.FuncDecl{},
			files: eff.files, dirs: map[string]bool{".": true}, eff: eff}
		for f := range eff.files {
			for d := path.Dir(f); d != "." && d != "/"; d = path.Dir(d) {
				h.dirs[d] = true
			}
		}
		if _, err := h.stmts(prog.Stmts); err != nil {
			return nil, err
		}
		if len(h.started) > 0 {
			eff.notes = append(eff.notes, fmt.Sprintf("hooks/%s starts %s before the other services on Umbrel (to wait "+
				"for a file they write); StackHub starts every service together", name, strings.Join(h.started, ", ")))
		}
	}
	return eff, nil
}

func (h *hookEval) refuse(n syntax.Node, what string) error {
	return fmt.Errorf("hooks/%s line %d %s: a step of Umbrel's own lifecycle that StackHub does not run", h.hook,
		n.Pos().Line(), what)
}

func nodeText(n syntax.Node) string {
	var b strings.Builder
	_ = syntax.NewPrinter(syntax.Minify(false)).Print(&b, n)
	s := strings.Join(strings.Fields(b.String()), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func (h *hookEval) stmts(list []*syntax.Stmt) (hookStop, error) {
	for _, s := range list {
		stop, err := h.stmt(s)
		if err != nil || stop != hookGo {
			return stop, err
		}
	}
	return hookGo, nil
}

// branch runs list in a branch a fresh install may or may not take: its stops do not end the caller.
func (h *hookEval) branch(list []*syntax.Stmt) error {
	h.maybe++
	defer func() { h.maybe-- }()
	_, err := h.stmts(list)
	return err
}

func (h *hookEval) stmt(s *syntax.Stmt) (hookStop, error) {
	if h.depth > 50 {
		return hookGo, h.refuse(s, "recurses too deep")
	}
	h.depth++
	defer func() { h.depth-- }()
	stop, err := h.stmt1(s)
	if err == nil && h.impure != nil {
		err, h.impure = h.impure, nil
	}
	return stop, err
}

// hookReaders only read or print; a command substitution or a condition may run them, nothing else.
var hookReaders = setOf("echo", "printf", "true", "false", ":", "grep", "cat", "stat", "ls", "wc", "head", "tail",
	"awk", "cut", "tr", "test", "[", "seq", "readlink", "realpath", "dirname", "basename", "command", "type", "id",
	"whoami", "date", "find", "du", "df", "hostname", "ip", "uname", "sort", "uniq", "nproc", "jq", "yq", "sed",
	"openssl", "python3", "python", "sleep")

// pure records a refusal when node runs a command that is more than a reader (docker, Umbrel's app script, an
// edit in place), or calls a function of the hook that does.
func (h *hookEval) pure(node syntax.Node) {
	seen := map[string]bool{}
	var walk func(n syntax.Node)
	walk = func(n syntax.Node) {
		syntax.Walk(n, func(n syntax.Node) bool {
			if h.impure != nil {
				return false
			}
			call, ok := n.(*syntax.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			name := call.Args[0].Lit()
			if fn, ok := h.funcs[name]; ok {
				if !seen[name] {
					seen[name] = true
					walk(fn.Body)
				}
				return true
			}
			if !hookPathCmds[name] && !hookReader(name, call) {
				h.impure = h.refuse(call, "runs "+strconv.Quote(nodeText(call)))
				return false
			}
			return true
		})
	}
	walk(node)
}

var awkEffects = regexp.MustCompile(`\bsystem\s*\(|\bprintf?\b[^;{}\n]*[^=!<>]>>?\s*[^=\s]|\|\s*getline|\bgetline\b.*<`)

// hookReader tells whether a call of a reader command only reads: no edit in place, no command it runs.
func hookReader(name string, call *syntax.CallExpr) bool {
	if !hookReaders[name] {
		return false
	}
	var args []string
	for _, a := range call.Args[1:] {
		args = append(args, a.Lit())
	}
	first := ""
	if len(args) > 0 {
		first = args[0]
	}
	switch name {
	case "sed", "yq":
		return !slices.ContainsFunc(args, func(a string) bool {
			return a == "-i" || strings.HasPrefix(a, "-i.") || a == "--in-place" || a == "--inplace"
		})
	case "command":
		return first == "-v" || first == "-V"
	case "openssl":
		return first == "rand" || first == "dgst"
	case "python", "python3":
		return fernetKey.MatchString(nodeText(call))
	case "find": // -exec of a folder and mode command (chmod, chown) only prepares files
		for i, a := range args {
			if strings.HasPrefix(a, "-exec") || strings.HasPrefix(a, "-ok") {
				if i+1 >= len(args) || !hookPathCmds[args[i+1]] {
					return false
				}
			}
			if a == "-delete" || strings.HasPrefix(a, "-fprint") {
				return false
			}
		}
	case "awk":
		for _, w := range call.Args[1:] {
			var b strings.Builder
			_ = syntax.NewPrinter().Print(&b, w)
			if awkEffects.MatchString(b.String()) {
				return false
			}
		}
	}
	return true
}

func (h *hookEval) stmt1(s *syntax.Stmt) (hookStop, error) {
	switch c := s.Cmd.(type) {
	case nil:
		return hookGo, nil
	case *syntax.CallExpr:
		return h.call(s, c)
	case *syntax.DeclClause:
		for _, a := range c.Args {
			if a.Naked || a.Name == nil {
				continue
			}
			h.assign(a)
		}
		return hookGo, nil
	case *syntax.FuncDecl:
		h.funcs[c.Name.Value] = c
		return hookGo, nil
	case *syntax.IfClause:
		return h.ifClause(c)
	case *syntax.Block:
		return h.stmts(c.Stmts)
	case *syntax.Subshell:
		_, err := h.stmts(c.Stmts)
		return hookGo, err
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt, syntax.OrStmt:
			h.pure(c.X)
			cond := h.cond(c.X)
			if cond == condUnknown {
				if _, err := h.stmt(c.X); err != nil {
					return hookGo, err
				}
			}
			if (c.Op == syntax.AndStmt && cond == condFalse) || (c.Op == syntax.OrStmt && cond == condTrue) {
				return hookGo, nil
			}
			if cond == condUnknown {
				return hookGo, h.branch([]*syntax.Stmt{c.Y})
			}
			return h.stmt(c.Y)
		default: // a pipeline: only readers and printers
			for _, side := range []*syntax.Stmt{c.X, c.Y} {
				if _, err := h.stmt(side); err != nil {
					return hookGo, err
				}
			}
			return hookGo, nil
		}
	case *syntax.TestClause, *syntax.ArithmCmd, *syntax.LetClause:
		return hookGo, nil // a test or arithmetic alone changes nothing
	case *syntax.WhileClause:
		want := condTrue
		if c.Until {
			want = condFalse
		}
		if cond := h.condList(c.Cond); cond != condUnknown && cond != want {
			return hookGo, nil
		}
		return hookGo, h.branch(c.Do) // a wait loop: its body may run; whatever it does must be mappable
	case *syntax.ForClause:
		return hookGo, h.branch(c.Do)
	case *syntax.CaseClause:
		for _, item := range c.Items {
			if err := h.branch(item.Stmts); err != nil {
				return hookGo, err
			}
		}
		return hookGo, nil
	default:
		return hookGo, h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
	}
}

func (h *hookEval) ifClause(c *syntax.IfClause) (hookStop, error) {
	for ; c != nil; c = c.Else {
		if c.Cond == nil { // the final else
			return h.stmts(c.Then)
		}
		switch h.condList(c.Cond) {
		case condTrue:
			return h.stmts(c.Then)
		case condUnknown:
			if err := h.branch(c.Then); err != nil {
				return hookGo, err
			}
			// The other branches may run too.
			for e := c.Else; e != nil; e = e.Else {
				if err := h.branch(e.Then); err != nil {
					return hookGo, err
				}
			}
			return hookGo, nil
		}
	}
	return hookGo, nil
}

func (h *hookEval) assign(a *syntax.Assign) {
	if a.Array != nil {
		h.vars[a.Name.Value] = hookVal{unknown: "an array"}
		return
	}
	v := hookVal{}
	if a.Value != nil {
		h.naming = a.Name.Value
		v = h.word(a.Value)
		h.naming = ""
	}
	if old, ok := h.vars[a.Name.Value]; h.maybe > 0 && (!ok || old != v) {
		v = hookVal{unknown: a.Name.Value + ", set under a condition StackHub cannot decide"}
	}
	if a.Append {
		old := h.vars[a.Name.Value]
		v = hookVal{s: old.s + v.s, unknown: old.unknown + v.unknown}
	}
	h.vars[a.Name.Value] = v
}

// quiet are commands that read, print, wait or test: nothing for the stack (unless their output goes to a file).
var hookQuietCmds = setOf("echo", "printf", "sleep", "true", ":", "set", "shopt", "grep", "cat", "stat", "ls", "wc",
	"head", "tail", "awk", "cut", "tr", "test", "[", "seq", "readlink", "realpath", "dirname", "basename", "wait",
	"command", "type", "hash", "id", "whoami", "date", "find", "du", "df", "sync", "trap", "umask")

// hookPathCmds prepare folders and files; on a fresh install the engine creates the bind folders itself.
var hookPathCmds = setOf("mkdir", "chown", "chmod", "chgrp", "rm", "rmdir", "touch")

func (h *hookEval) call(s *syntax.Stmt, c *syntax.CallExpr) (hookStop, error) {
	if len(c.Args) == 0 {
		for _, a := range c.Assigns {
			h.assign(a)
		}
		return hookGo, nil
	}
	args := make([]hookVal, len(c.Args))
	for i, w := range c.Args {
		args[i] = h.word(w)
	}
	name := args[0].s
	if args[0].unknown != "" {
		return hookGo, h.refuse(s, "runs a command it computes")
	}
	switch name {
	case "exit":
		if h.maybe > 0 {
			return hookGo, nil // this branch may not be taken; what follows it still counts
		}
		return hookExit, nil
	case "return":
		if h.maybe > 0 {
			return hookGo, nil
		}
		return hookReturn, nil
	case "break", "continue":
		return hookBreak, nil
	case "local", "export", "readonly", "declare":
		return hookGo, nil
	case "cat":
		if out, ok := h.outFile(s); ok {
			return hookGo, h.writeHeredoc(s, out)
		}
	case "echo":
		if out, ok := h.outFile(s); ok {
			return hookGo, h.writeEcho(s, out, args[1:])
		}
	case "sed":
		return hookGo, h.sed(s, args[1:])
	case "cp":
		return hookGo, h.cp(s, args[1:])
	}
	if fn, ok := h.funcs[name]; ok {
		saved := h.args
		h.args = args[1:]
		stop, err := h.stmt(fn.Body)
		h.args = saved
		if stop == hookExit {
			return hookExit, err
		}
		return hookGo, err
	}
	if hookPathCmds[name] {
		h.paths(name, args[1:])
		return hookGo, nil
	}
	if hookQuietCmds[name] {
		if hookReaders[name] && !hookReader(name, c) {
			return hookGo, h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
		}
		if out, ok := h.outFile(s); ok && name != "grep" {
			return hookGo, h.refuse(s, fmt.Sprintf("writes %s with %q", out, nodeText(s)))
		}
		return hookGo, nil
	}
	if strings.HasSuffix(name, "/scripts/app") {
		return hookGo, h.appScript(s, args[1:])
	}
	return hookGo, h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
}

// outFile is the project file a statement's output goes to (> or >>), if any.
func (h *hookEval) outFile(s *syntax.Stmt) (string, bool) {
	for _, r := range s.Redirs {
		if r.Op != syntax.RdrOut && r.Op != syntax.AppOut && r.Op != syntax.RdrAll && r.Op != syntax.RdrClob {
			continue
		}
		if r.N != nil && r.N.Value == "2" {
			continue
		}
		v := h.word(r.Word)
		if v.s == "/dev/null" || strings.HasPrefix(v.s, "/dev/std") {
			continue
		}
		return v.s, true
	}
	return "", false
}

// projectPath is a path the hook names inside the app's folder, relative to it ("data/x"), or "".
func projectPath(p string) string {
	if p == "." || p == "./" {
		return "."
	}
	if !strings.HasPrefix(p, "./") || strings.Contains(p, hookMark) {
		return ""
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return ""
	}
	return c
}

func (h *hookEval) paths(cmd string, args []hookVal) {
	for _, a := range args {
		if strings.HasPrefix(a.s, "-") || a.unknown != "" {
			continue
		}
		p := projectPath(a.s)
		if p == "" || p == "." {
			continue
		}
		switch cmd {
		case "mkdir":
			for d := p; d != "." && d != "/"; d = path.Dir(d) {
				h.dirs[d] = true
			}
		case "rm", "rmdir":
			if h.maybe == 0 {
				delete(h.files, p)
				delete(h.dirs, p)
			}
		case "touch":
			if _, ok := h.files[p]; !ok && h.maybe == 0 {
				h.files[p] = ""
			}
		}
	}
}

// write records a file the hook writes: on a fresh install, only where the hook surely writes it.
func (h *hookEval) write(s *syntax.Stmt, target, content string, appendTo bool) error {
	p := projectPath(target)
	if p == "" || p == "." {
		return h.refuse(s, fmt.Sprintf("writes %s, outside the app's folder", strings.ReplaceAll(target, hookMark, "")))
	}
	if h.maybe > 0 {
		return h.refuse(s, fmt.Sprintf("writes %s under a condition StackHub cannot decide at import", p))
	}
	if appendTo {
		content = h.files[p] + content
	}
	h.files[p] = content
	h.eff.changed[p] = true
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		h.dirs[d] = true
	}
	return nil
}

func (h *hookEval) writeHeredoc(s *syntax.Stmt, out string) error {
	for _, r := range s.Redirs {
		if r.Op != syntax.Hdoc && r.Op != syntax.DashHdoc {
			continue
		}
		var content hookVal
		if r.Hdoc != nil {
			if heredocQuoted(r.Word) {
				var b strings.Builder
				for _, p := range r.Hdoc.Parts {
					if l, ok := p.(*syntax.Lit); ok {
						b.WriteString(l.Value)
					}
				}
				content.s = b.String()
			} else {
				for _, p := range r.Hdoc.Parts {
					v := h.part(p)
					if _, ok := p.(*syntax.Lit); ok {
						v.s = heredocUnescape.Replace(v.s) // bash's escapes in an unquoted here-document
					}
					content.s += v.s
					if v.unknown != "" && content.unknown == "" {
						content.unknown = v.unknown
					}
				}
			}
		}
		if content.unknown != "" {
			return h.refuse(s, fmt.Sprintf("writes %s from %s", out, content.unknown))
		}
		return h.write(s, out, content.s, appendRedir(s))
	}
	return h.refuse(s, fmt.Sprintf("copies another file into %s", out))
}

var heredocUnescape = strings.NewReplacer(`\$`, "$", "\\`", "`", `\\`, `\`, "\\\n", "")

func heredocQuoted(w *syntax.Word) bool {
	for _, p := range w.Parts {
		switch p.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted:
			return true
		}
	}
	return strings.Contains(w.Lit(), `\`)
}

func appendRedir(s *syntax.Stmt) bool {
	for _, r := range s.Redirs {
		if r.Op == syntax.AppOut {
			return true
		}
	}
	return false
}

func (h *hookEval) writeEcho(s *syntax.Stmt, out string, args []hookVal) error {
	newline := true
	var parts []string
	for i, a := range args {
		if i == 0 && a.s == "-n" {
			newline = false
			continue
		}
		if a.unknown != "" {
			return h.refuse(s, fmt.Sprintf("writes %s from %s", out, a.unknown))
		}
		parts = append(parts, a.s)
	}
	text := strings.Join(parts, " ")
	if newline {
		text += "\n"
	}
	return h.write(s, out, text, appendRedir(s))
}

func (h *hookEval) sed(s *syntax.Stmt, args []hookVal) error {
	inPlace, ere := false, false
	var script []string
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.unknown != "" {
			return h.refuse(s, "edits a file with "+a.unknown)
		}
		switch {
		case a.s == "-i" || a.s == "--in-place" || (strings.HasPrefix(a.s, "-i.") && len(a.s) > 3):
			inPlace = true // -i.bak also keeps a copy, which nothing reads
		case a.s == "-E" || a.s == "-r" || a.s == "--regexp-extended":
			ere = true
		case a.s == "-iE" || a.s == "-Ei":
			inPlace, ere = true, true
		case a.s == "-e" && i+1 < len(args):
			i++
			script = append(script, args[i].s)
		case strings.HasPrefix(a.s, "-"):
			return h.refuse(s, "runs sed with "+a.s)
		case len(script) == 0:
			script = append(script, a.s)
		default:
			files = append(files, a.s)
		}
	}
	if !inPlace {
		return nil // sed that prints changes nothing
	}
	if len(files) != 1 || len(script) == 0 {
		return h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
	}
	p := projectPath(files[0])
	text, ok := h.files[p]
	if p == "" || !ok {
		if h.maybe > 0 || p == "" {
			return h.refuse(s, fmt.Sprintf("edits %s, which is not a file of the app", strings.ReplaceAll(files[0], hookMark, "")))
		}
		return nil // sed fails on a missing file; Umbrel ignores the hook's failure
	}
	if h.maybe > 0 {
		return h.refuse(s, fmt.Sprintf("edits %s under a condition StackHub cannot decide at import", p))
	}
	for _, cmd := range script {
		out, err := sedApply(cmd, text, ere)
		if err != nil {
			return h.refuse(s, fmt.Sprintf("edits %s with %q (%v)", p, strings.ReplaceAll(cmd, hookMark, ""), err))
		}
		text = out
	}
	if text != h.files[p] {
		h.files[p] = text
		h.eff.changed[p] = true
	}
	return nil
}

// sedApply applies one sed command (s or d) to text, line by line as sed does.
func sedApply(cmd string, text string, ere bool) (string, error) {
	if addr, ok := sedAddress(cmd); ok {
		re, err := sedRegexp(addr, ere)
		if err != nil {
			return "", err
		}
		lines := strings.SplitAfter(text, "\n")
		out := lines[:0]
		for _, l := range lines {
			if l == "" || !re.MatchString(strings.TrimSuffix(l, "\n")) {
				out = append(out, l)
			}
		}
		return strings.Join(out, ""), nil
	}
	if len(cmd) < 4 || cmd[0] != 's' {
		return "", errors.New("only s and d commands are read")
	}
	d := string(cmd[1])
	parts := splitSed(cmd[2:], d)
	if len(parts) != 3 {
		return "", errors.New("not an s command StackHub reads")
	}
	re, err := sedRegexp(parts[0], ere)
	if err != nil {
		return "", err
	}
	flags := parts[2]
	if strings.Trim(flags, "g") != "" {
		return "", fmt.Errorf("flags %q", flags)
	}
	repl := sedReplacement(parts[1])
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		if strings.Contains(flags, "g") {
			body = re.ReplaceAllString(body, repl)
		} else if loc := re.FindStringSubmatchIndex(body); loc != nil {
			var dst []byte
			dst = re.ExpandString(dst, repl, body, loc)
			body = body[:loc[0]] + string(dst) + body[loc[1]:]
		}
		if nl {
			body += "\n"
		}
		lines[i] = body
	}
	return strings.Join(lines, ""), nil
}

// sedAddress reads the delete command /A/d or \<d>A<d>d.
func sedAddress(cmd string) (string, bool) {
	var d, rest string
	switch {
	case strings.HasPrefix(cmd, "/"):
		d, rest = "/", cmd[1:]
	case strings.HasPrefix(cmd, `\`) && len(cmd) > 2:
		d, rest = string(cmd[1]), cmd[2:]
	default:
		return "", false
	}
	parts := splitSed(rest, d)
	if len(parts) != 2 || parts[1] != "d" {
		return "", false
	}
	return parts[0], true
}

// splitSed splits on the delimiter d, not where it is escaped.
func splitSed(s, d string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && string(s[i+1]) == d:
			cur.WriteString(d)
			i++
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i])
			cur.WriteByte(s[i+1])
			i++
		case string(s[i]) == d:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(parts, cur.String())
}

// sedRegexp compiles a sed address or pattern: ERE is RE2's syntax for what hooks use; in BRE, + ? ( ) { } |
// are literal unless escaped.
func sedRegexp(p string, ere bool) (*regexp.Regexp, error) {
	if strings.Contains(p, hookMark) {
		return nil, errors.New("a pattern built from the environment")
	}
	if !ere {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			switch {
			case c == '\\' && i+1 < len(p) && strings.IndexByte("+?(){}|", p[i+1]) >= 0:
				b.WriteByte(p[i+1])
				i++
			case c == '\\' && i+1 < len(p):
				b.WriteByte(c)
				b.WriteByte(p[i+1])
				i++
			case strings.IndexByte("+?(){}|", c) >= 0:
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
		p = b.String()
	}
	return regexp.Compile(p)
}

// sedReplacement turns sed's & and \1 into Go's ${0} and ${1}, and escapes $ (a mark stays as it is).
func sedReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '&':
			b.WriteString("${0}")
		case c == '\\' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			b.WriteString("${" + string(r[i+1]) + "}")
			i++
		case c == '\\' && i+1 < len(r) && r[i+1] == 'n':
			b.WriteByte('\n')
			i++
		case c == '\\' && i+1 < len(r):
			b.WriteByte(r[i+1])
			i++
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cp from the app's package to the same file of the install: the install already holds the package's file.
func (h *hookEval) cp(s *syntax.Stmt, args []hookVal) error {
	var ops []hookVal
	for _, a := range args {
		if !strings.HasPrefix(a.s, "-") || a.unknown != "" {
			ops = append(ops, a)
		}
	}
	if len(ops) == 2 && ops[0].unknown == "" && ops[1].unknown == "" {
		src, ok := strings.CutPrefix(ops[0].s, hookMark+"SCRIPT_APP_REPO_DIR"+hookMark+"/")
		if dst := projectPath(ops[1].s); ok && dst != "" && path.Clean(src) == dst {
			return nil
		}
	}
	return h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
}

// appScript: Umbrel's app script. Only `compose <this app> up -d [service...]` (an early start) is read.
func (h *hookEval) appScript(s *syntax.Stmt, args []hookVal) error {
	if len(args) >= 3 && args[0].s == "compose" && args[1].s == h.appID && args[2].s == "up" {
		var svcs []string
		detached := false
		for _, a := range args[3:] {
			switch {
			case a.s == "-d" || a.s == "--detach":
				detached = true
			case strings.HasPrefix(a.s, "-") || a.unknown != "":
				return h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
			default:
				svcs = append(svcs, a.s)
			}
		}
		if detached && len(svcs) > 0 {
			for _, sv := range svcs {
				if !slices.Contains(h.started, sv) {
					h.started = append(h.started, sv)
				}
			}
			return nil
		}
	}
	return h.refuse(s, "runs "+strconv.Quote(nodeText(s)))
}

type condVal int

const (
	condUnknown condVal = iota
	condTrue
	condFalse
)

func condNot(c condVal) condVal {
	switch c {
	case condTrue:
		return condFalse
	case condFalse:
		return condTrue
	}
	return condUnknown
}

func (h *hookEval) condList(list []*syntax.Stmt) condVal {
	if len(list) == 0 {
		return condUnknown
	}
	for _, s := range list {
		h.pure(s)
	}
	return h.cond(list[len(list)-1])
}

// cond decides a statement used as a condition on a fresh install.
func (h *hookEval) cond(s *syntax.Stmt) condVal {
	c := h.cond1(s)
	if s.Negated {
		return condNot(c)
	}
	return c
}

func (h *hookEval) cond1(s *syntax.Stmt) condVal {
	switch c := s.Cmd.(type) {
	case *syntax.TestClause:
		return h.test(c.X)
	case *syntax.BinaryCmd:
		x := h.cond(c.X)
		switch c.Op {
		case syntax.AndStmt:
			if x == condFalse {
				return condFalse
			}
			y := h.cond(c.Y)
			if x == condTrue {
				return y
			}
			if y == condFalse {
				return condFalse
			}
		case syntax.OrStmt:
			if x == condTrue {
				return condTrue
			}
			y := h.cond(c.Y)
			if x == condFalse {
				return y
			}
			if y == condTrue {
				return condTrue
			}
		}
		return condUnknown
	case *syntax.CallExpr:
		if len(c.Args) == 0 {
			return condUnknown
		}
		args := make([]hookVal, len(c.Args))
		for i, w := range c.Args {
			args[i] = h.word(w)
		}
		switch args[0].s {
		case "[", "test":
			return h.bracket(args[1:])
		case "grep":
			return h.grep(args[1:])
		case "true", ":":
			return condTrue
		case "false":
			return condFalse
		}
	}
	return condUnknown
}

// bracket decides `[ ... ]` / `test ...` of the simple forms.
func (h *hookEval) bracket(args []hookVal) condVal {
	if len(args) > 0 && args[len(args)-1].s == "]" {
		args = args[:len(args)-1]
	}
	if len(args) > 0 && args[0].s == "!" {
		return condNot(h.bracket(args[1:]))
	}
	if len(args) == 2 {
		return h.fileTest(args[0].s, args[1])
	}
	return condUnknown
}

func (h *hookEval) test(x syntax.TestExpr) condVal {
	switch t := x.(type) {
	case *syntax.ParenTest:
		return h.test(t.X)
	case *syntax.UnaryTest:
		if t.Op == syntax.TsNot {
			return condNot(h.test(t.X))
		}
		w, ok := t.X.(*syntax.Word)
		if !ok {
			return condUnknown
		}
		return h.fileTest(t.Op.String(), h.word(w))
	case *syntax.BinaryTest:
		switch t.Op {
		case syntax.AndTest:
			a, b := h.test(t.X), h.test(t.Y)
			if a == condFalse || b == condFalse {
				return condFalse
			}
			if a == condTrue && b == condTrue {
				return condTrue
			}
			return condUnknown
		case syntax.OrTest:
			a, b := h.test(t.X), h.test(t.Y)
			if a == condTrue || b == condTrue {
				return condTrue
			}
			if a == condFalse && b == condFalse {
				return condFalse
			}
			return condUnknown
		case syntax.TsMatch, syntax.TsMatchShort, syntax.TsNoMatch:
			xw, ok1 := t.X.(*syntax.Word)
			yw, ok2 := t.Y.(*syntax.Word)
			if !ok1 || !ok2 {
				return condUnknown
			}
			a, b := h.word(xw), h.word(yw)
			if a.unknown != "" || b.unknown != "" || strings.Contains(a.s+b.s, hookMark) ||
				strings.ContainsAny(b.s, "*?[") {
				return condUnknown
			}
			if (a.s == b.s) == (t.Op != syntax.TsNoMatch) {
				return condTrue
			}
			return condFalse
		}
	case *syntax.Word:
		v := h.word(t)
		if v.unknown != "" {
			return condUnknown
		}
		if v.s != "" {
			return condTrue
		}
		return condFalse
	}
	return condUnknown
}

// fileTest decides -f, -d, -e, -s, -x, -z, -n on a fresh install's files.
func (h *hookEval) fileTest(op string, v hookVal) condVal {
	if v.unknown != "" {
		return condUnknown
	}
	switch op {
	case "-z", "-n":
		if strings.Contains(v.s, hookMark) {
			return condUnknown
		}
		if (v.s == "") == (op == "-z") {
			return condTrue
		}
		return condFalse
	}
	p := projectPath(v.s)
	if p == "" || (h.post && !h.eff.changed[p]) {
		return condUnknown // outside the app's folder (Umbrel's), or what the running app may have written
	}
	content, isFile := h.files[p]
	isDir := h.dirs[p]
	var ok bool
	switch op {
	case "-f", "-x":
		ok = isFile
	case "-d":
		ok = isDir
	case "-e":
		ok = isFile || isDir
	case "-s":
		ok = isFile && content != ""
	default:
		return condUnknown
	}
	if ok {
		return condTrue
	}
	return condFalse
}

// grep -q[ExF] PATTERN FILE on a fresh install's file (a missing file does not match).
func (h *hookEval) grep(args []hookVal) condVal {
	quiet, ere, fixed, whole := false, false, false, false
	var ops []string
	for _, a := range args {
		if a.unknown != "" {
			return condUnknown
		}
		if strings.HasPrefix(a.s, "-") && len(ops) == 0 && len(a.s) > 1 {
			for _, f := range a.s[1:] {
				switch f {
				case 'q':
					quiet = true
				case 'E':
					ere = true
				case 'F':
					fixed = true
				case 'x':
					whole = true
				case 's':
				default:
					return condUnknown
				}
			}
			continue
		}
		if a.s == "--quiet" {
			quiet = true
			continue
		}
		ops = append(ops, a.s)
	}
	if !quiet || len(ops) != 2 {
		return condUnknown
	}
	p := projectPath(ops[1])
	if p == "" || (h.post && !h.eff.changed[p]) {
		return condUnknown
	}
	text, ok := h.files[p]
	if !ok {
		return condFalse
	}
	// A value of Umbrel's environment in the pattern is unknown here: it is matched as its name, so only a match
	// of the rest decides.
	pat, marked := ops[0], strings.Contains(ops[0], hookMark)
	pat = strings.ReplaceAll(pat, hookMark, "")
	if fixed {
		pat = regexp.QuoteMeta(pat)
	}
	if whole {
		pat = "^(?:" + pat + ")$"
	}
	re, err := sedRegexp(pat, ere || fixed)
	if err != nil {
		return condUnknown
	}
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return condTrue
		}
	}
	if marked {
		return condUnknown
	}
	return condFalse
}

// word evaluates a shell word: quotes removed, variables replaced by their values (Umbrel's environment kept as
// references), and the command substitutions hooks use to name paths or make keys.
func (h *hookEval) word(w *syntax.Word) hookVal {
	var out hookVal
	if w == nil {
		return out
	}
	for _, p := range w.Parts {
		v := h.part(p)
		out.s += v.s
		if v.unknown != "" && out.unknown == "" {
			out.unknown = v.unknown
		}
	}
	return out
}

func (h *hookEval) part(p syntax.WordPart) hookVal {
	switch p := p.(type) {
	case *syntax.Lit:
		return hookVal{s: p.Value}
	case *syntax.SglQuoted:
		return hookVal{s: p.Value}
	case *syntax.DblQuoted:
		var out hookVal
		for _, q := range p.Parts {
			v := h.part(q)
			out.s += v.s
			if v.unknown != "" && out.unknown == "" {
				out.unknown = v.unknown
			}
		}
		return out
	case *syntax.ParamExp:
		return h.param(p)
	case *syntax.CmdSubst:
		return h.subst(p)
	}
	return hookVal{unknown: "a shell expansion"}
}

func (h *hookEval) param(p *syntax.ParamExp) hookVal {
	if p.Param == nil || p.Excl || p.Length || p.Slice != nil || p.Repl != nil || p.Names != 0 {
		return hookVal{unknown: "a shell expansion"}
	}
	name := p.Param.Value
	if p.Index != nil {
		if name == "BASH_SOURCE" {
			return hookVal{s: "./hooks/" + h.hook}
		}
		return hookVal{unknown: "an array"}
	}
	var v hookVal
	set := true
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 1 && n <= len(h.args) {
			v = h.args[n-1]
		} else {
			set = false
		}
	} else if name == "@" || name == "*" {
		return hookVal{unknown: "the hook's arguments"}
	} else if x, ok := h.vars[name]; ok {
		v = x
	} else {
		switch {
		case name == "APP_DATA_DIR" && h.hook != "pre-install":
			v = hookVal{s: "."}
		case name == "APP_ID" && h.hook != "pre-install":
			v = hookVal{s: h.appID}
		case h.env[name] || name == "UMBREL_ROOT" || name == "SCRIPT_APP_REPO_DIR" || name == "TOR_DATA_DIR":
			v = hookVal{s: hookMark + name + hookMark}
		default:
			set = false
		}
	}
	if p.Exp != nil {
		switch p.Exp.Op {
		case syntax.DefaultUnset, syntax.DefaultUnsetOrNull:
			if !set || (p.Exp.Op == syntax.DefaultUnsetOrNull && v.s == "" && v.unknown == "") {
				return h.word(p.Exp.Word)
			}
		default:
			return hookVal{unknown: "a shell expansion"}
		}
	}
	return v
}

var (
	opensslRand = regexp.MustCompile(`^openssl rand -(hex|base64) (\d+)$`)
	fernetKey   = regexp.MustCompile(`Fernet\.generate_key\(\)`)
)

// subst evaluates $(...): readlink/realpath/dirname of paths, a random key, or unknown.
func (h *hookEval) subst(c *syntax.CmdSubst) hookVal {
	h.pure(c)
	if len(c.Stmts) != 1 {
		return hookVal{unknown: "a command's output"}
	}
	call, ok := c.Stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return hookVal{unknown: "a command's output"}
	}
	var args []hookVal
	for _, w := range call.Args {
		args = append(args, h.word(w))
	}
	var plain []string
	for _, a := range args[1:] {
		if a.unknown != "" {
			return hookVal{unknown: a.unknown}
		}
		if !strings.HasPrefix(a.s, "-") {
			plain = append(plain, a.s)
		}
	}
	text := nodeText(c.Stmts[0])
	switch args[0].s {
	case "readlink", "realpath":
		if len(plain) == 1 {
			return hookVal{s: cleanHookPath(plain[0])}
		}
	case "dirname":
		if len(plain) == 1 && strings.HasPrefix(plain[0], "./") {
			return hookVal{s: cleanHookPath(plain[0] + "/..")}
		} else if len(plain) == 1 {
			return hookVal{s: path.Dir(plain[0])}
		}
	case "openssl":
		if m := opensslRand.FindStringSubmatch(strings.Join(argStrings(args), " ")); m != nil {
			n, _ := strconv.Atoi(m[2])
			return hookVal{s: h.secretRef(n, m[1])}
		}
	case "python3", "python":
		if fernetKey.MatchString(text) {
			return hookVal{s: h.secretRef(32, "base64")} // a Fernet key: 32 random bytes, base64
		}
	}
	return hookVal{unknown: strconv.Quote(text)}
}

func argStrings(args []hookVal) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.s
	}
	return out
}

// secretRef makes a generated secret, named after the variable being assigned, and refers to it.
func (h *hookEval) secretRef(bytes int, encoding string) string {
	name := h.naming
	if name == "" || h.env[name] {
		name = fmt.Sprintf("HOOK_SECRET_%d", len(h.eff.secrets)+1)
	}
	h.eff.secrets[name] = secretSpec{bytes: max(bytes, 8), encoding: encoding}
	return hookMark + name + hookMark
}

// cleanHookPath cleans a path inside the app's folder, keeping the "./" that marks it as one.
func cleanHookPath(p string) string {
	if !strings.HasPrefix(p, "./") && p != "." {
		return p
	}
	c := path.Clean(p)
	if c == "." || strings.HasPrefix(c, "..") {
		return c
	}
	return "./" + c
}

// umbrelApplyHooks reads the app's hooks (umbrelHookEffects) and puts what they do into the stack: the files they
// write or edit replace the folder's, the random keys they make are secrets, and a file holding a value of
// Umbrel's environment is left to Compose's interpolation (an env_file, or a config when the compose file binds
// it alone); otherwise the app is refused.
func umbrelApplyHooks(fsys fs.FS, dir, id string, b *storeStack, files Files) error {
	env := map[string]bool{}
	for k := range b.env {
		env[k] = true
	}
	eff, err := umbrelHookEffects(fsys, dir, id, files, env)
	if err != nil {
		return err
	}
	for _, n := range eff.notes {
		b.note("%s", n)
	}
	used := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(eff.changed)) {
		text, ok := files[p]
		if !ok {
			continue
		}
		if !strings.Contains(text, hookMark) {
			b.note("%s is written by a hook on Umbrel; it is the stack's file here", p)
			continue
		}
		parts := strings.Split(text, hookMark)
		for i := 1; i < len(parts); i += 2 {
			name := parts[i]
			if _, ok := eff.secrets[name]; ok {
				used[name] = true
				continue
			}
			if _, ok := b.env[name]; !ok {
				return fmt.Errorf("a hook writes %s into %s, a value StackHub does not have", name, p)
			}
		}
		envFile := b.isEnvFile(p)
		for i := range parts {
			if i%2 == 1 {
				parts[i] = "${" + parts[i] + "}"
			} else if !envFile {
				parts[i] = strings.ReplaceAll(parts[i], "$", "$$") // a config's content is interpolated
			}
		}
		text = strings.Join(parts, "")
		switch {
		case envFile:
			files[p] = text
			b.note("%s is completed by a hook on Umbrel; its values are Compose variables here", p)
		case b.templateConfig(p, text):
			delete(files, p)
			b.note("%s is completed by a hook on Umbrel; it is a config Compose completes here", p)
		default:
			return fmt.Errorf("a hook writes a value of Umbrel's environment into %s, which is neither an env_file "+
				"nor a file the compose file binds, so nothing would fill it in", p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if _, ok := b.env[name]; ok {
			return fmt.Errorf("a hook generates %s, which the stack already defines", name)
		}
		spec := eff.secrets[name]
		b.secret(name, spec.bytes, spec.encoding)
		b.note("%s is a random key a hook generates on Umbrel; it is a generated secret here", name)
	}
	return nil
}

// isEnvFile tells whether a service reads ./p as an env_file.
func (b *storeStack) isEnvFile(p string) bool {
	for _, svc := range b.services() {
		var list []any
		switch v := svc["env_file"].(type) {
		case string:
			list = []any{v}
		case []any:
			list = v
		}
		for _, item := range list {
			f, _ := item.(string)
			if m, ok := item.(map[string]any); ok {
				f, _ = m["path"].(string)
			}
			if f != "" && path.Clean(f) == path.Clean("./"+p) {
				return true
			}
		}
	}
	return false
}
