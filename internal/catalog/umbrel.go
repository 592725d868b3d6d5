package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// umbrelImporter reads an Umbrel app store (getumbrel/umbrel-apps and community stores in its layout):
// <id>/umbrel-app.yml and <id>/docker-compose.yml, with optional exports.sh, hooks/ and *.template files
// (docs/stores.md §3). The repository carries no license: StackHub reads a copy the admin points it at.
type umbrelImporter struct{}

func (umbrelImporter) Format() string { return "umbrel" }

// umbrelGallery is where Umbrel publishes each app's icon and gallery images.
const umbrelGallery = "https://getumbrel.github.io/umbrel-apps-gallery/"

// Detect: <id>/umbrel-app.yml for at least one id.
func (umbrelImporter) Detect(fsys fs.FS) bool {
	m, _ := fs.Glob(fsys, "*/umbrel-app.yml")
	return len(m) > 0
}

func (umbrelImporter) Read(fsys fs.FS, _ ReadOptions) ([]Template, []Refusal, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read Umbrel store: %w", err)
	}
	var out []Template
	var refused []Refusal
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(e.Name(), "umbrel-app.yml")); err != nil {
			continue // not an app folder
		}
		key, err := AppKey(e.Name())
		if err != nil {
			refused = append(refused, Refusal{Key: e.Name(), Reason: err.Error()})
			continue
		}
		t, err := readUmbrelApp(fsys, e.Name(), key)
		if err != nil {
			refused = append(refused, Refusal{Key: key, Reason: err.Error()})
			continue
		}
		out = append(out, t)
	}
	return out, refused, nil
}

type umbrelManifest struct {
	ID                    string   `yaml:"id"`
	Name                  string   `yaml:"name"`
	Version               string   `yaml:"version"`
	Tagline               string   `yaml:"tagline"`
	Description           string   `yaml:"description"`
	Category              string   `yaml:"category"`
	Website               string   `yaml:"website"`
	Dependencies          []string `yaml:"dependencies"`
	Port                  int      `yaml:"port"`
	Path                  string   `yaml:"path"`
	Gallery               []string `yaml:"gallery"`
	DefaultUsername       string   `yaml:"defaultUsername"`
	DefaultPassword       string   `yaml:"defaultPassword"`
	DeterministicPassword bool     `yaml:"deterministicPassword"`
	Disabled              bool     `yaml:"disabled"`
	Icon                  string   `yaml:"icon"`
}

func readUmbrelApp(fsys fs.FS, dir, key string) (Template, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "umbrel-app.yml"))
	if err != nil {
		return Template{}, fmt.Errorf("umbrel-app.yml: %w", err)
	}
	var m umbrelManifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return Template{}, fmt.Errorf("umbrel-app.yml: %w", err)
	}
	if m.Disabled {
		return Template{}, errors.New("the store marks it disabled: true")
	}
	if len(m.Dependencies) > 0 {
		return Template{}, fmt.Errorf("it depends on other Umbrel apps (%s), which StackHub does not wire together",
			strings.Join(m.Dependencies, ", "))
	}
	id := m.ID
	if id == "" {
		id = dir
	}
	t := Template{Key: key, Name: m.Name, Release: true, Store: "umbrel", Tagline: m.Tagline,
		Description: strings.TrimSpace(m.Description), Homepage: m.Website}
	t.Description = trimDescription(t.Description)
	if m.Category != "" {
		t.Categories = []string{m.Category}
	}
	t.Icon = m.Icon
	if !strings.HasPrefix(t.Icon, "https://") {
		t.Icon = umbrelGallery + id + "/icon.svg"
	}
	for _, g := range m.Gallery {
		if strings.HasPrefix(g, "https://") {
			t.Screenshots = append(t.Screenshots, g)
		} else if g != "" {
			t.Screenshots = append(t.Screenshots, umbrelGallery+id+"/"+g)
		}
	}

	composeText, err := fs.ReadFile(fsys, path.Join(dir, "docker-compose.yml"))
	if err != nil {
		return Template{}, fmt.Errorf("docker-compose.yml: %w", err)
	}
	text := umbrelPaths(string(composeText))
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return Template{}, fmt.Errorf("docker-compose.yml: %w", err)
	}
	if doc == nil {
		return Template{}, errors.New("docker-compose.yml is empty")
	}
	delete(doc, "version")
	b := newStoreStack(doc)
	b.secret("APP_PASSWORD", 0, "")
	b.secret("APP_SEED", 32, "hex")
	b.setEnv(VarAddress, "localhost") // the engine writes the server's address in place of this default
	for _, k := range []string{"DEVICE_DOMAIN_NAME", "DEVICE_HOSTNAME", "APP_DOMAIN"} {
		b.setEnvRaw(k, "${"+VarAddress+"}")
	}
	// Umbrel's Tor folder (${UMBREL_ROOT}/tor/data), where an app's own tor service keeps its hidden services'
	// keys: the install's own folder here.
	if strings.Contains(text, "TOR_DATA_DIR") {
		b.setEnv("TOR_DATA_DIR", "./tor/data")
	}
	if strings.Contains(text, "${SHARED_FOLDERS_SET}") {
		b.setEnv("SHARED_FOLDERS_SET", "./shared")
	}
	exports, err := umbrelExports(fsys, path.Join(dir, "exports.sh"), b)
	if err != nil {
		return Template{}, err
	}

	// The app_proxy service is Umbrel's own proxy, not a container: it names the main service and its port.
	svcs := b.services()
	var main, port string
	if proxy := svcs["app_proxy"]; proxy != nil {
		delete(doc["services"].(map[string]any), "app_proxy")
		delete(svcs, "app_proxy")
		pe := envStrings(proxy["environment"])
		host := expandExports(pe["APP_HOST"], exports)
		port = expandExports(pe["APP_PORT"], exports)
		if main = umbrelMainService(b, id, pe["APP_HOST"], host, exports); main == "" {
			return Template{}, fmt.Errorf("app_proxy's APP_HOST %q names no service of docker-compose.yml", pe["APP_HOST"])
		}
		if !isPortNumber(port) {
			return Template{}, fmt.Errorf("app_proxy's APP_PORT %q is not a port", pe["APP_PORT"])
		}
	} else {
		// No proxy: the app serves its port itself (usually on the host's network); the manifest's port is it.
		main, port = umbrelHostService(b), strconv.Itoa(m.Port)
		if main == "" {
			return Template{}, errors.New("docker-compose.yml has no services")
		}
	}
	for _, name := range b.serviceNames() {
		svc := b.services()[name]
		umbrelNetworks(b, name, svc)
		if deps, ok := svc["depends_on"].([]any); ok {
			svc["depends_on"] = slices.DeleteFunc(deps, func(d any) bool { return d == "app_proxy" })
		}
		alias := id + "_" + name + "_1"
		if _, ok := svc["network_mode"]; ok {
			continue
		}
		if name == main {
			svc["container_name"] = "$W9_ID"
			addAlias(svc, alias)
		} else if _, ok := svc["container_name"]; !ok {
			svc["container_name"] = alias // the engine makes a fixed name the container's alias
		}
	}
	def := strconv.Itoa(m.Port)
	if m.Port <= 0 {
		def = port
	}
	b.bookPorts(main, port, false)
	b.publishWeb(main, port, def)
	if m.Path != "" && m.Path != "/" {
		b.setEnv("W9_ADMIN_PATH", m.Path)
	}
	if m.DefaultUsername != "" {
		b.setEnv("W9_LOGIN_USER", m.DefaultUsername)
	}
	switch {
	case m.DeterministicPassword:
		b.setEnvRaw("W9_LOGIN_PASSWORD", "${APP_PASSWORD}")
	case m.DefaultPassword != "":
		b.setEnv("W9_LOGIN_PASSWORD", m.DefaultPassword)
	}
	files, err := umbrelFiles(fsys, dir, b)
	if err != nil {
		return Template{}, err
	}
	if err := umbrelApplyHooks(fsys, dir, id, b, files); err != nil {
		return Template{}, err
	}
	t.Versions = []string{m.Version}
	if !tagPattern.MatchString(m.Version) {
		img, _ := b.services()[main]["image"].(string)
		t.Versions = []string{imageVersion(img)}
	}
	if err := b.finish(&t, files); err != nil {
		return Template{}, err
	}
	return t, nil
}

// umbrelPathRefs are Umbrel's path variables as a compose file or template writes them.
var umbrelPathRefs = strings.NewReplacer(
	"${APP_DATA_DIR}", ".", "$APP_DATA_DIR", ".",
	"${UMBREL_ROOT}/data/storage", "${SHARED_FOLDERS_SET}", "$UMBREL_ROOT/data/storage", "${SHARED_FOLDERS_SET}",
	"${UMBREL_ROOT}", "${SHARED_FOLDERS_SET}", "$UMBREL_ROOT", "${SHARED_FOLDERS_SET}")

// umbrelPaths maps the app's data directory to the project's (the per-install data directory) and Umbrel's
// storage root to the shared folders setting.
func umbrelPaths(s string) string { return umbrelPathRefs.Replace(s) }

// envStrings reads a service's environment in either syntax as strings; a bare "KEY" (no value) is left out.
func envStrings(v any) map[string]string {
	out := map[string]string{}
	for k, val := range envMap(v) {
		if val != nil {
			out[k] = str(val)
		}
	}
	return out
}

var shellRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expandExports replaces $VAR and ${VAR} by the value exports.sh gives it.
func expandExports(s string, exports map[string]string) string {
	return shellRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := shellRef.FindStringSubmatch(ref)[1]
		if v, ok := exports[name]; ok {
			return v
		}
		return ref
	})
}

// umbrelMainService finds the service APP_HOST names: <id>_<service>_1, a container_name, a service name, or a
// fixed address (an exports.sh IP) a service takes with ipv4_address.
func umbrelMainService(b *storeStack, id, raw, host string, exports map[string]string) string {
	svcs := b.services()
	if s, ok := strings.CutPrefix(host, id+"_"); ok {
		if s, ok := strings.CutSuffix(s, "_1"); ok && svcs[s] != nil {
			return s
		}
	}
	for _, name := range b.serviceNames() {
		if name == host || svcs[name]["container_name"] == host {
			return name
		}
		nets, _ := svcs[name]["networks"].(map[string]any)
		for _, n := range nets {
			nm, _ := n.(map[string]any)
			if ip, ok := nm["ipv4_address"].(string); ok && (ip == raw || expandExports(ip, exports) == host) {
				return name
			}
		}
	}
	return ""
}

// umbrelNetworks drops the fixed addresses Umbrel gives containers on its own network (ipv4_address): the
// services reach each other by name and alias.
func umbrelNetworks(b *storeStack, name string, svc map[string]any) {
	nets, _ := svc["networks"].(map[string]any)
	for n, v := range nets {
		nm, _ := v.(map[string]any)
		if _, ok := nm["ipv4_address"]; ok {
			delete(nm, "ipv4_address")
			b.note("service %s: its fixed address on network %s is dropped; it is reached by name", name, n)
		}
		if nm != nil && len(nm) == 0 {
			nets[n] = nil
		}
	}
}

// addAlias gives a service an alias on each network it joins (the default one when it names none).
func addAlias(svc map[string]any, alias string) {
	switch nets := svc["networks"].(type) {
	case nil:
		svc["networks"] = map[string]any{"default": map[string]any{"aliases": []any{alias}}}
	case []any:
		m := map[string]any{}
		for _, n := range nets {
			m[fmt.Sprint(n)] = map[string]any{"aliases": []any{alias}}
		}
		svc["networks"] = m
	case map[string]any:
		for n, v := range nets {
			nm, _ := v.(map[string]any)
			if nm == nil {
				nm = map[string]any{}
				nets[n] = nm
			}
			list, _ := nm["aliases"].([]any)
			nm["aliases"] = append(list, alias)
		}
	}
}

var (
	exportLine    = regexp.MustCompile(`^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	deriveEntropy = regexp.MustCompile(`^"?\$\(\s*derive_entropy\s[^)|]*(?:\|\s*head\s+-c\s*(\d+)\s*)?\)"?$`)
)

// umbrelExports reads exports.sh: each `export NAME=value` becomes a .env variable (a derived entropy, Umbrel's
// per-install secret, a generated secret; a value computed by a command is left empty with a note). It returns
// the literal values, to resolve APP_HOST and APP_PORT.
func umbrelExports(fsys fs.FS, file string, b *storeStack) (map[string]string, error) {
	out := map[string]string{}
	raw, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("exports.sh: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		m := exportLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, val := m[1], strings.TrimSpace(m[2])
		if i := strings.Index(val, " #"); i >= 0 && !strings.Contains(val[:i], `"`) {
			val = strings.TrimSpace(val[:i])
		}
		if e := deriveEntropy.FindStringSubmatch(val); e != nil {
			n := 64
			if e[1] != "" {
				n, _ = strconv.Atoi(e[1])
			}
			b.secret(name, max(n/2, 8), "hex")
			continue
		}
		if strings.Contains(val, "$(") || strings.Contains(val, "`") {
			b.setEnvRaw(name, "")
			b.note("exports.sh: %s is computed by a command on Umbrel; it is empty here", name)
			continue
		}
		if ref := undefinedRef(val, b); ref != "" {
			b.setEnvRaw(name, "")
			b.note("exports.sh: %s is computed from %s, a shell variable of Umbrel's; it is empty here", name, ref)
			continue
		}
		switch {
		case strings.HasPrefix(val, `"`) && strings.HasSuffix(val, `"`) && len(val) >= 2:
			inner := umbrelPaths(val[1 : len(val)-1])
			b.setEnvRaw(name, `"`+inner+`"`)
			out[name] = expandExports(inner, out)
		case strings.HasPrefix(val, "'") && strings.HasSuffix(val, "'") && len(val) >= 2:
			b.setEnv(name, val[1:len(val)-1])
			out[name] = val[1 : len(val)-1]
		default:
			val = umbrelPaths(val)
			b.setEnvRaw(name, `"`+val+`"`)
			out[name] = expandExports(val, out)
		}
	}
	return out, nil
}

// umbrelLayout are an app folder's own files, which are not the stack's.
var umbrelLayout = setOf("umbrel-app.yml", "docker-compose.yml", "exports.sh")

// umbrelFiles returns the app folder's other files as the stack's files. A *.template file is rendered at
// install: when the compose file binds the file it becomes, that bind is a Compose config whose content is the
// template (Compose substitutes its variables); otherwise it is written unrendered with a note.
func umbrelFiles(fsys fs.FS, dir string, b *storeStack) (Files, error) {
	files := Files{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if d.IsDir() && rel == "hooks" {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || umbrelLayout[rel] {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if target, ok := strings.CutSuffix(rel, ".template"); ok {
			if b.templateConfig(target, umbrelPaths(string(data))) {
				return nil
			}
			b.note("%s is not bound by the compose file; it is written unrendered as %s", rel, target)
			rel = target
		}
		files[rel] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the app's files: %w", err)
	}
	return files, nil
}

// templateConfig replaces every bind of ./target by a config holding content, and reports whether there was one.
func (b *storeStack) templateConfig(target, content string) bool {
	name := strings.Trim(nonKeyRun.ReplaceAllString(strings.ToLower(target), "-"), "-")
	found := false
	svcs := b.services()
	for _, sn := range b.serviceNames() {
		svc := svcs[sn]
		list, _ := svc["volumes"].([]any)
		var keep []any
		for _, item := range list {
			s, ok := item.(string)
			if !ok {
				keep = append(keep, item)
				continue
			}
			src, rest, _ := strings.Cut(s, ":")
			if path.Clean(src) != path.Clean("./"+target) || rest == "" {
				keep = append(keep, item)
				continue
			}
			ctr, _, _ := strings.Cut(rest, ":")
			cfgs, _ := svc["configs"].([]any)
			svc["configs"] = append(cfgs, map[string]any{"source": name, "target": ctr})
			found = true
		}
		if found {
			svc["volumes"] = keep
			if len(keep) == 0 {
				delete(svc, "volumes")
			}
		}
	}
	if found {
		cfgs, _ := b.doc["configs"].(map[string]any)
		if cfgs == nil {
			cfgs = map[string]any{}
			b.doc["configs"] = cfgs
		}
		cfgs[name] = map[string]any{"content": content}
	}
	return found
}

// umbrelHostService is the main service of an app without app_proxy: the first on the host's network, else the
// first.
func umbrelHostService(b *storeStack) string {
	for _, n := range b.serviceNames() {
		if b.services()[n]["network_mode"] == "host" {
			return n
		}
	}
	return stackMainService(b)
}

// undefinedRef returns the first variable a double-quoted or bare shell value refers to that .env does not define
// before it (a shell local of exports.sh), or "".
func undefinedRef(val string, b *storeStack) string {
	if strings.HasPrefix(val, "'") {
		return ""
	}
	for _, m := range shellRef.FindAllStringSubmatch(umbrelPaths(val), -1) {
		if _, ok := b.env[m[1]]; !ok && m[1] != "SHARED_FOLDERS_SET" {
			return m[1]
		}
	}
	return ""
}
