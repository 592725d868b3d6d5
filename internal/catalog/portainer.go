package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v4"
)

// portainerImporter reads a Portainer app templates list (v2 and v3: {"version", "templates": [...]}), as a
// folder holding templates.json (with the stack files of type 3 entries beside it) or the file itself
// (docs/stores.md §3).
type portainerImporter struct{}

func (portainerImporter) Format() string { return "portainer" }

// Detect: a templates.json at the root whose "templates" is a list.
func (portainerImporter) Detect(fsys fs.FS) bool {
	b, err := fs.ReadFile(fsys, StoreFile)
	if err != nil {
		return false
	}
	var doc struct {
		Templates []json.RawMessage `json:"templates"`
	}
	var list []json.RawMessage // v1: the list itself
	return json.Unmarshal(b, &doc) == nil && doc.Templates != nil || json.Unmarshal(b, &list) == nil && len(list) > 0
}

type portainerTemplate struct {
	Type          portainerType       `json:"type"`
	Title         string              `json:"title"`
	Name          string              `json:"name"`
	Description   string              `json:"description"`
	Note          string              `json:"note"`
	Categories    []string            `json:"categories"`
	Platform      string              `json:"platform"`
	Logo          string              `json:"logo"`
	Image         string              `json:"image"`
	Command       string              `json:"command"`
	Ports         []string            `json:"ports"`
	Volumes       []portainerVolume   `json:"volumes"`
	Env           []portainerEnv      `json:"env"`
	Labels        []portainerLabel    `json:"labels"`
	Privileged    bool                `json:"privileged"`
	Interactive   bool                `json:"interactive"`
	RestartPolicy string              `json:"restart_policy"`
	Network       string              `json:"network"`
	Hostname      string              `json:"hostname"`
	Devices       []json.RawMessage   `json:"devices"`
	CapAdd        []string            `json:"cap_add"`
	Repository    portainerRepository `json:"repository"`
}

type portainerVolume struct {
	Container string `json:"container"`
	Bind      string `json:"bind"`
	ReadOnly  bool   `json:"readonly"`
}

type portainerEnv struct {
	Name        string            `json:"name"`
	Label       string            `json:"label"`
	Default     json.RawMessage   `json:"default"`
	Preset      bool              `json:"preset"`
	Description string            `json:"description"`
	Select      []portainerChoice `json:"select"`
}

type portainerChoice struct {
	Text    string          `json:"text"`
	Value   json.RawMessage `json:"value"`
	Default bool            `json:"default"`
}

type portainerLabel struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type portainerRepository struct {
	URL       string `json:"url"`
	Stackfile string `json:"stackfile"`
}

func (portainerImporter) Read(fsys fs.FS, _ ReadOptions) ([]Template, []Refusal, error) {
	b, err := fs.ReadFile(fsys, StoreFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read Portainer templates: %w", err)
	}
	var doc struct {
		Version   string              `json:"version"`
		Templates []portainerTemplate `json:"templates"`
	}
	if trimmed := strings.TrimSpace(string(b)); strings.HasPrefix(trimmed, "[") { // v1: the list itself
		err = json.Unmarshal(b, &doc.Templates)
	} else {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read Portainer templates: %s: %w", StoreFile, err)
	}
	var out []Template
	var refused []Refusal
	first := map[string]int{} // key → index in out of the entry imported under it
	for i, pt := range doc.Templates {
		label := pt.Title
		if label == "" {
			label = pt.Name
		}
		key, err := portainerKey(pt)
		if err != nil {
			refused = append(refused, Refusal{Key: fmt.Sprintf("#%d", i+1), Reason: err.Error()})
			continue
		}
		if j, ok := first[key]; ok {
			// One list, one app per key: the first entry that imports is the app, the later ones name it.
			out[j].Notes = append(out[j].Notes, fmt.Sprintf("the list also has %q (type %d), the same app: not imported", label, pt.Type))
			continue
		}
		t, err := readPortainerTemplate(fsys, key, pt)
		if err != nil {
			refused = append(refused, Refusal{Key: key, Reason: fmt.Sprintf("%s: %v", label, err)})
			continue
		}
		first[key] = len(out)
		out = append(out, t)
	}
	return out, refused, nil
}

// portainerDecoration is a title's suffix naming the variant or the list it came from: "(container)",
// "{shmolf}", "[beta]".
var portainerDecoration = regexp.MustCompile(`\s*(\([^)]*\)|\{[^}]*\}|\[[^\]]*\])`)

// portainerKey is the app key of an entry: AppKey of its name, else of its title without decorations.
func portainerKey(pt portainerTemplate) (string, error) {
	id := pt.Name
	if id == "" {
		id = portainerDecoration.ReplaceAllString(pt.Title, "")
	}
	if strings.TrimSpace(id) == "" {
		return "", errors.New("the entry has neither a name nor a title")
	}
	return AppKey(id)
}

func readPortainerTemplate(fsys fs.FS, key string, pt portainerTemplate) (Template, error) {
	t := Template{Key: key, Name: strings.TrimSpace(portainerDecoration.ReplaceAllString(pt.Title, "")),
		Release: true, Categories: pt.Categories, Store: "portainer"}
	if t.Name == "" {
		t.Name = key
	}
	t.Tagline = strings.TrimSpace(pt.Description)
	t.Description = strings.TrimSpace(pt.Description)
	if n := strings.TrimSpace(pt.Note); n != "" {
		t.Description = strings.TrimSpace(t.Description + "\n\n" + n)
	}
	t.Description = trimDescription(t.Description)
	if strings.HasPrefix(pt.Logo, "https://") {
		t.Icon = pt.Logo
	}
	if pt.Platform == "windows" {
		return Template{}, errors.New("platform windows: StackHub runs Linux containers")
	}
	var b *storeStack
	main := key
	switch pt.Type {
	case 1:
		if pt.Image == "" {
			return Template{}, errors.New("type 1 (container) without an image")
		}
		b = newStoreStack(map[string]any{"services": map[string]any{key: portainerService(pt)}})
		t.Versions = []string{imageVersion(pt.Image)}
	case 3:
		text, err := portainerStackFile(fsys, pt.Repository)
		if err != nil {
			return Template{}, err
		}
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			return Template{}, fmt.Errorf("stack file %s: %w", pt.Repository.Stackfile, err)
		}
		if _, ok := doc["services"].(map[string]any); !ok {
			return Template{}, fmt.Errorf("stack file %s has no services", pt.Repository.Stackfile)
		}
		b = newStoreStack(doc)
		main = stackMainService(b)
		img, _ := b.services()[main]["image"].(string)
		t.Versions = []string{imageVersion(img)}
		b.dropSwarmKeys()
	case 2:
		return Template{}, errors.New("type 2 is a Docker Swarm stack, which StackHub does not run")
	case 4:
		return Template{}, errors.New("type 4 is an Edge/Kubernetes template, which StackHub does not run")
	default:
		return Template{}, fmt.Errorf("unknown template type %d", pt.Type)
	}
	if err := portainerEnvVars(b, pt, main); err != nil {
		return Template{}, err
	}
	svc := b.services()[main]
	if _, fixed := svc["network_mode"]; !fixed {
		svc["container_name"] = "$W9_ID"
	}
	mainTarget := ""
	if ports, _ := svc["ports"].([]any); len(ports) > 0 {
		if s, ok := ports[0].(string); ok {
			mainTarget = parsePortSpec(s).container
		} else if m, ok := ports[0].(map[string]any); ok {
			mainTarget = fmt.Sprint(m["target"])
		}
	}
	b.bookPorts(main, mainTarget, pt.Type == 1)
	b.mapVolumes(func(src string, bind bool) string {
		if bind && strings.HasPrefix(src, "/") && !isHostPath(src) {
			return dataPath(src)
		}
		return src
	})
	if err := b.finish(&t, nil); err != nil {
		return Template{}, err
	}
	return t, nil
}

// portainerService is the Compose service of a type 1 (container) entry.
func portainerService(pt portainerTemplate) map[string]any {
	svc := map[string]any{"image": escapeDollars(pt.Image)}
	restart := pt.RestartPolicy
	if restart == "" {
		restart = "unless-stopped"
	}
	svc["restart"] = restart
	if pt.Command != "" {
		svc["command"] = escapeDollars(pt.Command)
	}
	var ports []any
	for _, p := range pt.Ports {
		ports = append(ports, p)
	}
	if len(ports) > 0 && pt.Network != "host" {
		svc["ports"] = ports
	}
	var vols []any
	for _, v := range pt.Volumes {
		if v.Container == "" {
			continue
		}
		src := v.Bind
		if src == "" { // a named volume, named after its container path
			src = strings.Trim(nonKeyRun.ReplaceAllString(strings.ToLower(v.Container), "-"), "-")
			if src == "" {
				src = "data"
			}
		}
		e := escapeDollars(src) + ":" + escapeDollars(v.Container)
		if v.ReadOnly {
			e += ":ro"
		}
		vols = append(vols, e)
	}
	if len(vols) > 0 {
		svc["volumes"] = vols
	}
	if len(pt.Labels) > 0 {
		labels := map[string]any{}
		for _, l := range pt.Labels {
			if l.Name != "" {
				labels[escapeDollars(l.Name)] = escapeDollars(l.Value)
			}
		}
		svc["labels"] = labels
	}
	if pt.Privileged {
		svc["privileged"] = true
	}
	if pt.Interactive {
		svc["stdin_open"], svc["tty"] = true, true
	}
	switch pt.Network {
	case "host":
		svc["network_mode"] = "host"
	case "", "bridge":
	default:
		svc["network_mode"] = escapeDollars(pt.Network)
	}
	if pt.Hostname != "" {
		svc["hostname"] = escapeDollars(pt.Hostname)
	}
	if len(pt.CapAdd) > 0 {
		caps := make([]any, len(pt.CapAdd))
		for i, c := range pt.CapAdd {
			caps[i] = c
		}
		svc["cap_add"] = caps
	}
	var devices []any
	for _, d := range pt.Devices {
		var s string
		if json.Unmarshal(d, &s) == nil && s != "" {
			devices = append(devices, s)
		}
	}
	if len(devices) > 0 {
		svc["devices"] = devices
	}
	return svc
}

// portainerEnvVars maps the entry's env list: each variable is defined in .env for the stack file's ${NAME}
// references (and, for a container, set in its environment). A preset is a hidden fixed value, a credential (by
// its name) a generated secret, any other a *_SET setting with the entry's default (a select's default choice).
func portainerEnvVars(b *storeStack, pt portainerTemplate, main string) error {
	svc := b.services()[main]
	var environment map[string]any
	if pt.Type == 1 {
		environment = map[string]any{}
	}
	for _, e := range pt.Env {
		name := strings.TrimSpace(e.Name)
		if !envVarPattern.MatchString(name) {
			return fmt.Errorf("env name %q is not a variable name", e.Name)
		}
		def := jsonScalar(e.Default)
		for _, c := range e.Select {
			if c.Default || def == "" {
				def = jsonScalar(c.Value)
			}
			if c.Default {
				break
			}
		}
		switch {
		case e.Preset:
			b.setEnv(name, def)
		case IsCredentialName(name):
			b.secret(name, 0, "")
			if def != "" {
				b.note("%s: the list's default is replaced by a generated secret", name)
			}
		default:
			setting := varName(name) + settingSuffix
			if strings.HasSuffix(setting, PortSuffix) { // a value, not a port the engine books
				setting = varName(name) + "_VALUE" + settingSuffix
			}
			b.setEnv(setting, def)
			b.setEnvRaw(name, "${"+setting+"}")
		}
		if environment != nil {
			environment[name] = "${" + name + "}"
		}
	}
	if len(environment) > 0 {
		svc["environment"] = environment
	}
	return nil
}

// envVarPattern is a variable name Compose and dotenv accept.
var envVarPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonScalar is a JSON string, number or boolean as text; anything else is "".
func jsonScalar(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

// portainerStackFile reads a type 3 entry's stack file offline: from the list's own folder (the repository the
// list lives in), else from a copy of the named repository beside it (<owner>/<repo>/ or _external/<owner>/<repo>/,
// the owner and name in lowercase or as the URL spells them).
func portainerStackFile(fsys fs.FS, repo portainerRepository) (string, error) {
	if repo.Stackfile == "" {
		return "", errors.New("type 3 (stack) without repository.stackfile")
	}
	file := strings.TrimPrefix(path.Clean("/"+repo.Stackfile), "/")
	candidates := []string{file}
	u := strings.TrimSuffix(strings.TrimSuffix(repo.URL, "/"), ".git")
	parts := strings.Split(u, "/")
	if len(parts) >= 2 {
		owner, name := parts[len(parts)-2], parts[len(parts)-1]
		for _, o := range []string{owner, strings.ToLower(owner)} {
			for _, n := range []string{name, strings.ToLower(name)} {
				candidates = append(candidates, path.Join(o, n, file), path.Join("_external", o, n, file))
			}
		}
	}
	for _, c := range candidates {
		b, err := fs.ReadFile(fsys, c)
		if err == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("stack file %s of %s is not available offline (put a copy of that repository beside the templates list, as <owner>/<repo>/)",
		repo.Stackfile, repo.URL)
}

// stackMainService picks a stack's main service: the first (by name) that publishes a port, else the first.
func stackMainService(b *storeStack) string {
	names := b.serviceNames()
	for _, n := range names {
		if ports, _ := b.services()[n]["ports"].([]any); len(ports) > 0 {
			return n
		}
	}
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// portainerType is a template's type: a number (v2, v3) or v1's name ("container", "stack", "swarm"?).
type portainerType int

func (p *portainerType) UnmarshalJSON(b []byte) error {
	var n int
	if json.Unmarshal(b, &n) == nil {
		*p = portainerType(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("type is neither a number nor a name: %s", b)
	}
	switch s {
	case "container":
		*p = 1
	case "swarm":
		*p = 2
	case "stack":
		*p = 3
	default:
		*p = 0
	}
	return nil
}

// UnmarshalJSON reads a volume object, or v1's container path alone.
func (v *portainerVolume) UnmarshalJSON(b []byte) error {
	if json.Unmarshal(b, &v.Container) == nil {
		return nil
	}
	type plain portainerVolume
	return json.Unmarshal(b, (*plain)(v))
}
