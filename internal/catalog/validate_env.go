package catalog

import (
	"errors"
	"path"
	"sort"
	"strconv"
	"strings"
)

// envInfo is a stack's .env as validation needs it.
type envInfo struct {
	entries []envEntry
	values  map[string]string // as Compose reads them
	defined map[string]bool
}

// provides reports whether the engine or the .env defines name.
func (e *envInfo) provides(name string) bool {
	return e.defined[name] || isEngineVar(name)
}

// checkEnv parses the .env text and checks port settings hold port numbers. What Compose reads its own way is a
// warning in w: a key defined twice (the last wins) and a reference to a key not defined above (empty: the
// engine appends the keys it adds, so even its own variables are empty when referred to before they are defined).
func checkEnv(text string, p, w *problems) *envInfo {
	entries, err := scanEnv(text)
	if err != nil {
		var ee *envError
		if errors.As(err, &ee) {
			p.add(EnvFile, ee.Line, "%v", ee.Err)
		} else {
			p.add(EnvFile, 0, "%v", err)
		}
		return nil
	}
	values, err := resolveEnv(text)
	if err != nil {
		p.add(EnvFile, 0, "%v", err)
		return nil
	}
	info := &envInfo{entries: entries, values: values, defined: map[string]bool{}}
	firstLine := map[string]int{}
	for _, e := range entries {
		l, dup := firstLine[e.Key]
		if dup {
			w.add(EnvFile, e.Line, "%s is defined twice (first on line %d); as in Compose the last one wins", e.Key, l)
		}
		checkEnvRefs(e, info.defined, p, w)
		if !dup {
			firstLine[e.Key] = e.Line
		}
		info.defined[e.Key] = true
		if strings.HasSuffix(e.Key, PortSuffix) && !validPort(values[e.Key]) && !dup {
			p.add(EnvFile, e.Line, "%s is %q; a *%s variable holds the default host port, a number from 1 to 65535",
				e.Key, values[e.Key], PortSuffix)
		}
	}
	return info
}

// checkEnvRefs checks a value's references; one to a key not defined above it is a warning (Compose reads it
// as empty). Single-quoted values are literal.
func checkEnvRefs(e envEntry, defined map[string]bool, p, w *problems) {
	if e.Quote == '\'' {
		return
	}
	for _, r := range findRefs(e.Value) {
		switch {
		case r.Invalid:
			p.add(EnvFile, e.Line, "%s has an invalid variable reference; write $NAME or ${NAME}, and $$ for a literal $", e.Key)
		case !defined[r.Name] && !r.HasDefault:
			w.add(EnvFile, e.Line, "%s refers to %s, which is not defined above it, so Compose reads it as empty; "+
				"define %s on an earlier line", e.Key, r.Name, r.Name)
		}
	}
}

// validPort reports whether v is a port number from 1 to 65535.
func validPort(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == v
}

// checkFiles checks the paths of the extra files: relative, clean, inside the project, not the compose file or
// .env, not <file>.new beside another file (an upgrade writes there), and no path both a file and a directory.
func checkFiles(s *Stack, p *problems) {
	names := make([]string, 0, len(s.Files))
	for name := range s.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	isFile := map[string]bool{}
	for _, name := range names {
		isFile[name] = true
	}
	for _, name := range names {
		switch {
		case name == "" || strings.ContainsRune(name, 0):
			p.add(name, 0, "a file path is empty or holds a NUL byte; give a relative path such as src/init.sh")
		case path.IsAbs(name) || strings.Contains(name, `\`):
			p.add(name, 0, "file paths must be relative, with forward slashes, such as src/init.sh")
		case path.Clean(name) != name:
			p.add(name, 0, "file path is not clean; write it as %s", path.Clean(name))
		case name == ".." || strings.HasPrefix(name, "../"):
			p.add(name, 0, "file path leaves the project directory; keep files inside it")
		case name == ComposeFile || name == EnvFile:
			p.add(name, 0, "this name is reserved for the stack's own %s; rename the file", name)
		case strings.HasSuffix(name, ".new") && isFile[strings.TrimSuffix(name, ".new")]:
			p.add(name, 0, "this name is reserved: an upgrade that keeps an edited %s writes the new version's copy here; rename the file",
				strings.TrimSuffix(name, ".new"))
		default:
			for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
				if isFile[dir] {
					p.add(name, 0, "%s is both a file and a directory; rename one of them", dir)
					break
				}
			}
		}
	}
}

// fileOrDir reports whether rel (clean, relative) is one of files or a directory holding one of them.
func fileOrDir(rel string, files map[string]string) bool {
	if _, ok := files[rel]; ok {
		return true
	}
	for name := range files {
		if rel == "." || strings.HasPrefix(name, rel+"/") {
			return true
		}
	}
	return false
}
