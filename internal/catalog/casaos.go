package catalog

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// casaosImporter reads a CasaOS app store (IceWhaleTech/CasaOS-AppStore, BigBear's casaos store):
// Apps/<Name>/docker-compose.yml with the store's metadata in the x-casaos extension (docs/stores.md §3).
type casaosImporter struct{}

func (casaosImporter) Format() string { return "casaos" }

// Detect: Apps/<Name>/docker-compose.yml for at least one name.
func (casaosImporter) Detect(fsys fs.FS) bool {
	m, _ := fs.Glob(fsys, "Apps/*/"+ComposeFile)
	return len(m) > 0
}

func (casaosImporter) Read(fsys fs.FS, _ ReadOptions) ([]Template, []Refusal, error) {
	entries, err := fs.ReadDir(fsys, "Apps")
	if err != nil {
		return nil, nil, fmt.Errorf("read CasaOS store: %w", err)
	}
	var out []Template
	var refused []Refusal
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		t, err := readCasaOSApp(fsys, path.Join("Apps", e.Name()), e.Name())
		if err != nil {
			key, kerr := AppKey(e.Name())
			if kerr != nil {
				key = e.Name()
			}
			refused = append(refused, Refusal{Key: key, Reason: err.Error()})
			continue
		}
		out = append(out, t)
	}
	return out, refused, nil
}

// casaosHostValues are the variables CasaOS fills from the host, with the defaults StackHub gives them as
// settings: the user and group the app's files belong to, and the time zone.
var casaosHostValues = []struct{ name, def, what string }{
	{"PUID", "1000", "user id the app's files belong to"},
	{"PGID", "1000", "group id the app's files belong to"},
	{"TZ", "UTC", "time zone"},
}

// casaosAppID matches CasaOS's $AppID / ${AppID}, the install's name.
var casaosAppID = regexp.MustCompile(`\$\{AppID\}|\$AppID\b`)

// casaosApp holds one app while it is mapped.
type casaosApp struct {
	env     *envBuilder
	secrets []Secret
	notes   []string
	// literals maps a hard-coded credential's value to the secret that replaces it, so the same literal in two
	// services (the app's DB_PASSWORD and the database's POSTGRES_PASSWORD) stays one value.
	literals map[string]string
	// appDataRoots are the distinct first folders under /DATA/AppData the app binds.
	appDataRoots map[string]bool
}

func readCasaOSApp(fsys fs.FS, dir, folder string) (Template, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, ComposeFile))
	if err != nil {
		return Template{}, fmt.Errorf("read %s: %w", ComposeFile, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Template{}, fmt.Errorf("%s is not YAML: %w", ComposeFile, err)
	}
	meta, _ := doc["x-casaos"].(map[string]any)
	if meta == nil {
		return Template{}, fmt.Errorf("%s has no x-casaos metadata", ComposeFile)
	}
	// The folder names the app in every CasaOS-format store (BigBear prefixes its compose names with
	// "big-bear-"), so the same app from two stores meets under one key; the compose name is the fallback.
	id := str(doc["name"])
	if id == "" {
		id = folder
	}
	key, err := AppKey(folder)
	if err != nil {
		if key, err = AppKey(id); err != nil {
			return Template{}, err
		}
	}
	services, _ := doc["services"].(map[string]any)
	if len(services) == 0 {
		return Template{}, fmt.Errorf("%s has no services", ComposeFile)
	}
	main := str(meta["main"])
	if _, ok := services[main]; !ok {
		names := slices.Sorted(maps.Keys(services))
		main = names[0]
		if _, ok := services[id]; ok {
			main = id
		}
	}
	a := &casaosApp{env: newEnvBuilder(), literals: map[string]string{}, appDataRoots: map[string]bool{}}
	t := Template{
		Key:           key,
		Name:          firstNonEmpty(langText(meta["title"]), id),
		Tagline:       firstLineOf(langText(meta["tagline"])),
		Release:       true,
		Icon:          str(meta["icon"]),
		Homepage:      firstNonEmpty(str(meta["website"]), str(meta["project_url"])),
		Architectures: strList(meta["architectures"]),
	}
	if c := strings.TrimSpace(str(meta["category"])); c != "" {
		t.Categories = []string{c}
	}
	for _, s := range strList(meta["screenshot_link"]) {
		if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
			t.Screenshots = append(t.Screenshots, s)
		}
	}

	// The version is the main service's image tag; the compose then names ${W9_VERSION}.
	mainSvc, _ := services[main].(map[string]any)
	if mainSvc == nil {
		return Template{}, fmt.Errorf("service %s is not a mapping", main)
	}
	var version string
	mainSvc["image"], version = versionedImage(str(mainSvc["image"]), str(meta["version"]))
	t.Versions = []string{version}
	a.env.literal(VarVersion, version, "the main service's image tag (the store's version)")
	a.env.raw(VarID, key, "StackHub sets these at install")
	for _, hv := range casaosHostValues {
		a.env.literal(hv.name+settingSuffix, hv.def, "the "+hv.what+" (CasaOS's $"+hv.name+")")
		a.env.raw(hv.name, "${"+hv.name+settingSuffix+"}", "")
	}
	a.env.literal(SharedDirVar, SharedDirDefault, "the shared folders (CasaOS's /DATA/Media, /DATA/Downloads, ...)")

	// First pass: which /DATA/AppData roots the app uses, to keep them apart when it uses several.
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc, _ := services[name].(map[string]any)
		for _, v := range anyList(svc["volumes"]) {
			if src := volumeSource(v); strings.HasPrefix(src, "/DATA/AppData/") {
				root, _, _ := strings.Cut(strings.TrimPrefix(src, "/DATA/AppData/"), "/")
				a.appDataRoots[root] = true
			}
		}
	}
	webPort := strings.Trim(str(meta["port_map"]), `"' `)
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc, ok := services[name].(map[string]any)
		if !ok {
			return Template{}, fmt.Errorf("service %s is not a mapping", name)
		}
		if err := a.mapService(name, svc, name == main, webPort); err != nil {
			return Template{}, err
		}
	}
	a.connectionStrings(services)
	if a.env.has("W9_HTTP_PORT_SET") && (webPort != "" || str(meta["scheme"]) != "") {
		a.env.raw(VarURL, "", "the app's address, set by StackHub")
	}
	delete(doc, "x-casaos")
	delete(doc, "name") // the engine names the project per install
	for k := range doc {
		if strings.HasPrefix(k, "x-") {
			delete(doc, k)
		}
	}
	compose, err := marshalCompose(doc)
	if err != nil {
		return Template{}, err
	}
	compose = casaosAppID.ReplaceAllString(compose, "$${"+VarID+"}")
	compose = a.requiredCredentials(compose)
	t.Stack = Stack{Compose: compose, Env: a.env.String(), Secrets: a.secrets}
	t.Description = casaosDescription(meta, a.literals)
	t.Notes = a.notes
	if err := Validate(&t.Stack, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
		return Template{}, err
	}
	return t, nil
}

// mapService rewrites one service in place: its name, ports, binds, environment and CasaOS extension.
func (a *casaosApp) mapService(name string, svc map[string]any, main bool, webPort string) error {
	if main {
		svc["container_name"] = "${" + VarID + "}"
	}
	if str(svc["network_mode"]) == "bridge" {
		delete(svc, "network_mode") // the default; any other mode stays, as host access when it is the host's
	}
	if err := a.mapPorts(name, svc, main, webPort); err != nil {
		return err
	}
	vols := anyList(svc["volumes"])
	for i, v := range vols {
		vols[i] = a.mapVolume(v)
	}
	if len(vols) > 0 {
		svc["volumes"] = vols
	}
	if devs := anyList(svc["devices"]); len(devs) > 0 {
		a.notes = append(a.notes, fmt.Sprintf("service %s maps host devices (%s): host access, and an install on a host "+
			"without them is refused", name, joinAny(devs)))
	}
	return a.mapEnvironment(name, svc)
}

// mapPorts turns each literal published host port into a booked setting: the one port_map names (else the main
// service's first tcp port) is W9_HTTP_PORT_SET, its container port W9_HTTP_PORT.
func (a *casaosApp) mapPorts(name string, svc map[string]any, main bool, webPort string) error {
	ports := anyList(svc["ports"])
	if len(ports) == 0 || str(svc["network_mode"]) == "host" {
		return nil
	}
	webIndex := -1
	if main {
		for i, p := range ports {
			_, host, _, proto := portParts(p)
			if proto == "tcp" && isPortNumber(host) && (host == webPort || webIndex < 0 && webPort == "") {
				webIndex = i
			}
		}
		if webIndex < 0 { // port_map names no published port: the first tcp one is the web port
			for i, p := range ports {
				if _, host, _, proto := portParts(p); proto == "tcp" && isPortNumber(host) {
					webIndex = i
					break
				}
			}
		}
	}
	for i, p := range ports {
		ip, host, container, proto := portParts(p)
		if !isPortNumber(host) {
			continue // a range or a variable: a fixed port the engine books as such
		}
		v := portVar(name, host)
		if i == webIndex {
			v = "W9_HTTP_PORT_SET"
			if isPortNumber(container) {
				a.env.literal("W9_HTTP_PORT", container, "the web port inside the container")
			}
		}
		a.env.literal(v, host, "")
		short := "${" + v + "}:" + container + "/" + proto
		if ip != "" {
			short = ip + ":" + short
		}
		ports[i] = short
	}
	svc["ports"] = ports
	return nil
}

// portParts reads a port entry in either syntax.
func portParts(p any) (ip, host, container, proto string) {
	if m, ok := p.(map[string]any); ok {
		proto = str(m["protocol"])
		if proto == "" {
			proto = "tcp"
		}
		return str(m["host_ip"]), str(m["published"]), str(m["target"]), proto
	}
	return parsePort(str(p))
}

// volumeSource returns a bind entry's source.
func volumeSource(v any) string {
	if m, ok := v.(map[string]any); ok {
		return str(m["source"])
	}
	src, _, _ := strings.Cut(str(v), ":")
	return src
}

// mapVolume maps a bind source: /DATA/AppData/<app>/x → ./data/x (./data/<app>/x when the app binds several
// roots), the other /DATA shares → ${STACKHUB_SHARED_DIR}/<Share>/x; any other absolute path stays host access.
func (a *casaosApp) mapVolume(v any) any {
	src := volumeSource(v)
	dst := a.mapSource(src)
	if dst == src {
		return v
	}
	if m, ok := v.(map[string]any); ok {
		m["source"] = dst
		return m
	}
	return dst + strings.TrimPrefix(str(v), src)
}

func (a *casaosApp) mapSource(src string) string {
	clean := path.Clean(src)
	switch {
	case !strings.HasPrefix(src, "/DATA"):
		return src
	case clean == "/DATA/AppData" || strings.HasPrefix(clean, "/DATA/AppData/"):
		rest := strings.TrimPrefix(strings.TrimPrefix(clean, "/DATA/AppData"), "/")
		if len(a.appDataRoots) <= 1 {
			_, rest, _ = strings.Cut(rest, "/")
		}
		return cleanRel("./data", rest)
	case clean == "/DATA":
		return "${" + SharedDirVar + "}"
	case strings.HasPrefix(clean, "/DATA/"):
		return "${" + SharedDirVar + "}/" + strings.TrimPrefix(clean, "/DATA/")
	}
	return src
}

// mapEnvironment replaces hard-coded credentials with generated secrets and the values x-casaos describes
// with settings. The environment is rewritten as a mapping.
func (a *casaosApp) mapEnvironment(name string, svc map[string]any) error {
	env := envMap(svc["environment"])
	if env == nil {
		delete(svc, "x-casaos")
		return nil
	}
	described := casaosDescribedEnvs(svc)
	delete(svc, "x-casaos")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v, isNil := env[k], env[k] == nil
		val := str(v)
		switch {
		case isNil:
		case IsHardCodedCredential(k, val):
			env[k] = "${" + a.secret(k, val) + "}"
		case slices.ContainsFunc(casaosHostValues, func(h struct{ name, def, what string }) bool { return h.name == k }) &&
			!strings.Contains(val, "$"):
			env[k] = "${" + k + "}" // a literal TZ or PUID: the host value the settings give
		case described[k] && val != "" && !strings.Contains(val, "$"):
			setting := settingVar(envName(k))
			if a.env.has(setting) && a.env.vals[setting] != quoteEnvValue(val) {
				setting = settingVar(envName(name + "_" + k))
			}
			a.env.literal(setting, val, "")
			env[k] = "${" + setting + "}"
		}
	}
	svc["environment"] = env
	return nil
}

// connectionStrings makes the connection strings that carry a replaced credential (postgres://user:LITERAL@db/x)
// use its secret, in every service: the literal may be a credential only in another service's variables.
func (a *casaosApp) connectionStrings(services map[string]any) {
	for _, v := range services {
		svc, _ := v.(map[string]any)
		env, _ := svc["environment"].(map[string]any)
		for k, val := range env {
			s, ok := val.(string)
			if !ok {
				continue
			}
			for lit, sec := range a.literals {
				s = strings.ReplaceAll(s, ":"+lit+"@", ":${"+sec+"}@")
			}
			env[k] = s
		}
	}
}

// casaosDescribedEnvs are the environment variables a service's x-casaos envs describe: its installer form.
func casaosDescribedEnvs(svc map[string]any) map[string]bool {
	described := map[string]bool{}
	if ext, ok := svc["x-casaos"].(map[string]any); ok {
		for _, e := range anyList(ext["envs"]) {
			if m, ok := e.(map[string]any); ok {
				described[str(m["container"])] = true
			}
		}
	}
	return described
}

// requiredRef matches a ${NAME:?message} or ${NAME?message} reference: Compose refuses the file without NAME.
var requiredRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):?\?`)

// requiredCredentials generates the credentials the compose file requires the user to set (a token the store
// tells you to make with openssl rand): each credential-named ${NAME:?message} that .env lacks becomes a Secret,
// and the reference a plain ${NAME}, since the engine always fills it.
func (a *casaosApp) requiredCredentials(compose string) string {
	for _, m := range requiredRef.FindAllStringSubmatch(compose, -1) {
		name := m[1]
		if a.env.has(name) || !IsCredentialName(name) || isEngineVar(name) || isSettingName(name) {
			continue
		}
		a.env.raw(name, "", "generated at install (the store requires it)")
		a.secrets = append(a.secrets, Secret{Name: name, Length: DefaultSecretLength})
		a.notes = append(a.notes, name+": required by the compose file, generated at install (shown in the credentials)")
		ref := regexp.MustCompile(`\$\{` + name + `:?\?[^}]*\}`)
		compose = ref.ReplaceAllLiteralString(compose, "${"+name+"}")
	}
	return compose
}

// secret returns the secret variable replacing a hard-coded literal, creating it on first sight.
func (a *casaosApp) secret(name, literal string) string {
	if s, ok := a.literals[literal]; ok {
		return s
	}
	s := envName(name)
	for i := 2; a.env.has(s) || isEngineVar(s) || isSettingName(s); i++ {
		s = fmt.Sprintf("%s_%d", envName(name), i)
	}
	a.env.raw(s, "", "generated at install (the store hard-coded it)")
	a.secrets = append(a.secrets, secretFor(s, literal))
	a.literals[literal] = s
	a.notes = append(a.notes, fmt.Sprintf("%s: the hard-coded value is replaced by a secret generated at install "+
		"(shown in the credentials)", name))
	return s
}

// envMap reads a service's environment in either syntax as a mapping (a bare "KEY" is a nil value).
func envMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case []any:
		m := map[string]any{}
		for _, e := range x {
			k, val, ok := strings.Cut(str(e), "=")
			if ok {
				m[k] = val
			} else {
				m[k] = nil
			}
		}
		return m
	}
	return nil
}

// casaosDescription is the English description, then the tips to read before installing, with each replaced
// credential's literal pointing at the credentials instead.
func casaosDescription(meta map[string]any, literals map[string]string) string {
	d := strings.TrimSpace(langText(meta["description"]))
	tips, _ := meta["tips"].(map[string]any)
	if before := strings.TrimSpace(langText(tips["before_install"])); before != "" {
		lines := strings.Split(before, "\n")
		for i, line := range lines {
			if !mentionsCredential(line) {
				continue // "Default user: casaos" keeps the user name that happens to equal the password
			}
			for lit, sec := range literals {
				lines[i] = strings.ReplaceAll(lines[i], lit, "(generated at install: "+sec+" in the credentials)")
			}
		}
		before = strings.Join(lines, "\n")
		d += "\n\n## Before you install\n\n" + before
	}
	return truncateDescription(d)
}

// mentionsCredential reports whether a line of text talks about a password, secret, token or key.
func mentionsCredential(line string) bool {
	l := strings.ToLower(line)
	for _, w := range []string{"pass", "pwd", "secret", "token", "key", "credential"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// langText picks a text from CasaOS's per-language mappings: en_us in any case, else en_*, else the first in
// name order; a plain string is itself. before_install may also be a list of {content, value} items.
func langText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		for _, want := range []func(string) bool{
			func(k string) bool { return strings.EqualFold(k, "en_us") },
			func(k string) bool { return strings.HasPrefix(strings.ToLower(k), "en") },
			func(string) bool { return true },
		} {
			for _, k := range keys {
				if want(k) {
					if s := langText(x[k]); s != "" {
						return s
					}
				}
			}
		}
	case []any:
		var lines []string
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				lines = append(lines, strings.TrimSpace(langText(m["content"])+" "+str(m["value"])))
			} else {
				lines = append(lines, str(e))
			}
		}
		return strings.Join(lines, "\n")
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

func strList(v any) []string {
	var out []string
	for _, e := range anyList(v) {
		if s := strings.TrimSpace(str(e)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func joinAny(l []any) string {
	var out []string
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, str(m["source"]))
		} else {
			out = append(out, str(e))
		}
	}
	return strings.Join(out, ", ")
}
