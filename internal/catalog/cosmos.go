package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// cosmosImporter reads the Cosmos servapps market (azukaar/cosmos-servapps-official): servapps/<Name>/ with
// description.json and cosmos-compose.json, a whiskers template rendered before it is JSON (docs/stores.md §3).
type cosmosImporter struct{}

func (cosmosImporter) Format() string { return "cosmos" }

// cosmosImageBase is where the market publishes each servapp's folder (icon, screenshots).
const cosmosImageBase = "https://azukaar.github.io/cosmos-servapps-official/servapps/"

// Detect: servapps/<Name>/cosmos-compose.json for at least one name.
func (cosmosImporter) Detect(fsys fs.FS) bool {
	m, _ := fs.Glob(fsys, "servapps/*/cosmos-compose.json")
	return len(m) > 0
}

func (cosmosImporter) Read(fsys fs.FS, _ ReadOptions) ([]Template, []Refusal, error) {
	entries, err := fs.ReadDir(fsys, "servapps")
	if err != nil {
		return nil, nil, fmt.Errorf("read Cosmos servapps: %w", err)
	}
	var out []Template
	var refused []Refusal
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		key, err := AppKey(e.Name())
		if err != nil {
			refused = append(refused, Refusal{Key: e.Name(), Reason: err.Error()})
			continue
		}
		t, err := readCosmosApp(fsys, path.Join("servapps", e.Name()), e.Name(), key)
		if err != nil {
			refused = append(refused, Refusal{Key: key, Reason: err.Error()})
			continue
		}
		out = append(out, t)
	}
	return out, refused, nil
}

type cosmosDescription struct {
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	LongDescription string   `json:"longDescription"`
	Tags            []string `json:"tags"`
	Repository      string   `json:"repository"`
	Architectures   []string `json:"supported_architectures"`
}

type cosmosField struct {
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	InitialValue json.RawMessage `json:"initialValue"`
}

func readCosmosApp(fsys fs.FS, dir, folder, key string) (Template, error) {
	var desc cosmosDescription
	if b, err := fs.ReadFile(fsys, path.Join(dir, "description.json")); err != nil {
		return Template{}, fmt.Errorf("description.json: %w", err)
	} else if err := json.Unmarshal(b, &desc); err != nil {
		return Template{}, fmt.Errorf("description.json: %w", err)
	}
	raw, err := fs.ReadFile(fsys, path.Join(dir, "cosmos-compose.json"))
	if err != nil {
		return Template{}, fmt.Errorf("cosmos-compose.json: %w", err)
	}
	t := Template{Key: key, Name: desc.Name, Release: true, Store: "cosmos", Tagline: desc.Description,
		Categories: desc.Tags, Architectures: desc.Architectures, Icon: cosmosImageBase + folder + "/icon.png"}
	t.Description = htmlToText(desc.LongDescription)
	if t.Description == "" {
		t.Description = desc.Description
	}
	if strings.HasPrefix(desc.Repository, "https://") {
		t.Homepage = desc.Repository
	}
	if shots, err := fs.ReadDir(fsys, path.Join(dir, "screenshots")); err == nil {
		for _, s := range shots {
			t.Screenshots = append(t.Screenshots, cosmosImageBase+folder+"/screenshots/"+s.Name())
		}
	}

	// As the Cosmos installer does: render once without a context to read the form, then again with the form's
	// initial values. Values go in as Compose references (settings, secrets), so "$" is escaped first.
	text := strings.ReplaceAll(string(raw), "$", "$$")
	r := &cosmosRender{key: key, b: newStoreStack(nil), context: map[string]cosmosValue{}}
	first, _ := r.parse(r.render(text))
	if first != nil {
		r.readForm(first)
	}
	doc, err := r.parse(r.render(text))
	if err != nil {
		return Template{}, err
	}
	b := r.b
	b.doc = doc
	for _, k := range []string{"cosmos-installer", "x-cosmos-installer", "minVersion"} {
		delete(doc, k)
	}
	if len(b.services()) == 0 {
		return Template{}, errors.New("cosmos-compose.json has no services")
	}
	main := key
	if b.services()[main] == nil {
		main = stackMainService(b)
	}
	for _, name := range b.serviceNames() {
		cosmosService(b, name, b.services()[name])
	}
	mainSvc := b.services()[main]
	if _, ok := mainSvc["network_mode"]; !ok {
		mainSvc["container_name"] = "$W9_ID"
	}
	img, _ := mainSvc["image"].(string)
	t.Versions = []string{imageVersion(img)}
	b.bookPorts(main, "", false)
	cosmosRoutes(b, main)
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

// cosmosValue is one installer form value: a setting (referenced in text) and its default (for {if}).
type cosmosValue struct {
	ref   string
	truth bool
}

// cosmosRender renders a Cosmos template as whiskers does (tags {key}, {if [not ]key}, {else}, {/if},
// {for x in key}, {!comment!}, a backslash before "{" escapes a tag), with each value a Compose reference.
type cosmosRender struct {
	key     string
	b       *storeStack
	context map[string]cosmosValue
}

// whiskersTag is whiskers' tag syntax.
var whiskersTag = regexp.MustCompile(`(\\*)\{(?:([\w.\-@:]+)|>([\w.\-@:]+)|for +([\w\-]+) +in +([\w.\-@:]+)|if +(not +|)([\w.\-@:]+)|/(for|if))\}`)

var whiskersComment = regexp.MustCompile(`\{![\s\S]*?!\}`)

func (r *cosmosRender) render(text string) string {
	text = strings.ReplaceAll(text, "{StaticServiceName}", r.key)
	text = whiskersComment.ReplaceAllString(text, "")
	type block struct {
		stmt          string
		live, elsed   bool
		parentVisible bool
	}
	var out strings.Builder
	var stack []block
	visible := func() bool {
		return len(stack) == 0 || stack[len(stack)-1].live && stack[len(stack)-1].parentVisible
	}
	last := 0
	for _, m := range whiskersTag.FindAllStringSubmatchIndex(text, -1) {
		if visible() {
			out.WriteString(text[last:m[0]])
		}
		last = m[1]
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return text[m[2*i]:m[2*i+1]]
		}
		if esc := sub(1); esc != "" {
			if visible() {
				out.WriteString(strings.Replace(text[m[0]:m[1]], `\`, "", 1))
			}
			continue
		}
		switch {
		case sub(2) == "else":
			if n := len(stack); n > 0 && !stack[n-1].elsed {
				stack[n-1].elsed = true
				stack[n-1].live = !stack[n-1].live
			}
		case sub(2) != "":
			if visible() {
				out.WriteString(r.value(sub(2)))
			}
		case sub(3) != "": // partials: Cosmos passes none
		case sub(5) != "": // for: Cosmos's contexts hold no lists
			stack = append(stack, block{stmt: "for", live: false, parentVisible: visible()})
		case sub(7) != "":
			truth := r.truth(sub(7))
			if sub(6) != "" {
				truth = !truth
			}
			stack = append(stack, block{stmt: "if", live: truth, parentVisible: visible()})
		case sub(8) != "":
			if n := len(stack); n > 0 && stack[n-1].stmt == sub(8) {
				stack = stack[:n-1]
			}
		}
	}
	if visible() {
		out.WriteString(text[last:])
	}
	return out.String()
}

// value is what a {key} tag renders to.
func (r *cosmosRender) value(key string) string {
	head, rest, _ := strings.Cut(key, ".")
	switch head {
	case "ServiceName":
		return r.key
	case "DefaultDataPath":
		return "."
	case "Passwords":
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return ""
		}
		name := "PASSWORDS_" + strconv.Itoa(n)
		r.b.secret(name, 24, "")
		return "${" + name + "}"
	case "Hostnames", "RootHostname":
		return "${W9_URL}"
	case "RootProtocol":
		return "http"
	case "Context":
		if v, ok := r.context[rest]; ok {
			return v.ref
		}
	}
	return ""
}

// truth is whether an {if key} holds: a Context value's default, a password, the service name.
func (r *cosmosRender) truth(key string) bool {
	head, rest, _ := strings.Cut(key, ".")
	switch head {
	case "Context":
		return r.context[rest].truth
	case "ServiceName", "DefaultDataPath", "Passwords":
		return true
	}
	return false
}

// parse reads the rendered text as JSON.
func (r *cosmosRender) parse(text string) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("cosmos-compose.json, once rendered, is not JSON: %w", err)
	}
	return doc, nil
}

// readForm turns the installer form's fields into settings (a password field without a value into a secret),
// each field's initial value its default and what {if} tests.
func (r *cosmosRender) readForm(doc map[string]any) {
	inst, _ := doc["cosmos-installer"].(map[string]any)
	if inst == nil {
		inst, _ = doc["x-cosmos-installer"].(map[string]any)
	}
	raw, _ := json.Marshal(inst["form"])
	var form []cosmosField
	_ = json.Unmarshal(raw, &form)
	for _, f := range form {
		if f.Name == "" {
			continue
		}
		def := jsonScalar(f.InitialValue)
		truth := def != "" && def != "false" && def != "0"
		name := varName(f.Name)
		if name == "" {
			continue
		}
		def = strings.ReplaceAll(def, "$$", "$") // the first render escaped it
		switch {
		case f.Type == "checkbox":
			r.context[f.Name] = cosmosValue{ref: strconv.FormatBool(truth), truth: truth}
		case (f.Type == "password" || IsCredentialName(name)) && def == "":
			r.b.secret(name, 0, "")
			r.context[f.Name] = cosmosValue{ref: "${" + name + "}", truth: true}
		default:
			setting := name + settingSuffix
			if strings.HasSuffix(setting, PortSuffix) {
				setting = name + "_VALUE" + settingSuffix
			}
			r.b.setEnv(setting, def)
			r.context[f.Name] = cosmosValue{ref: "${" + setting + "}", truth: truth}
		}
	}
}

// cosmosService drops what only Cosmos reads from a service (UID/GID ownership, post-install commands) with a
// note, and turns its network names into the document's.
func cosmosService(b *storeStack, name string, svc map[string]any) {
	for _, k := range []string{"UID", "GID", "NetworkMode"} {
		delete(svc, k)
	}
	if cmds, ok := svc["post_install"].([]any); ok {
		delete(svc, "post_install")
		b.note("service %s: its %d post-install commands are not run", name, len(cmds))
	}
	cosmosCompose(b, name, svc)
	if nm, _ := svc["network_mode"].(string); strings.HasPrefix(nm, "cosmos-") {
		delete(svc, "network_mode") // Cosmos's own per-app network: the project's network is that
	}
	// A list of networks the document does not declare is Cosmos's own: those are created by Cosmos.
	declared, _ := b.doc["networks"].(map[string]any)
	switch nets := svc["networks"].(type) {
	case map[string]any:
		for n := range nets {
			if _, ok := declared[n]; !ok {
				delete(nets, n)
			}
		}
		if len(nets) == 0 {
			delete(svc, "networks")
		}
	case []any:
		var keep []any
		for _, n := range nets {
			if s, _ := n.(string); declared[s] != nil || hasKey(declared, s) {
				keep = append(keep, n)
			}
		}
		if len(keep) == 0 {
			delete(svc, "networks")
		} else {
			svc["networks"] = keep
		}
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// cosmosRoutes replaces each service's routes (Cosmos's reverse proxy) by a published port: each route's
// target port is booked, the main service's first the web port.
func cosmosRoutes(b *storeStack, main string) {
	svcs := b.services()
	for _, name := range b.serviceNames() {
		routes, _ := svcs[name]["routes"].([]any)
		delete(svcs[name], "routes")
		seen := map[string]bool{}
		for _, rt := range routes {
			m, _ := rt.(map[string]any)
			target, _ := m["target"].(string)
			port := routePort(target)
			if port == "" || seen[port] {
				continue
			}
			seen[port] = true
			if name == main {
				if _, ok := b.env["W9_HTTP_PORT_SET"]; !ok {
					b.publishWeb(main, port, port)
					continue
				}
			}
			if svcs[name]["network_mode"] != nil || publishes(svcs[name], port) {
				continue // the host's network, or a port the service publishes already
			}
			list, _ := svcs[name]["ports"].([]any)
			svcs[name]["ports"] = append(list, port+":"+port)
		}
	}
	b.bookPorts(main, "", false)
}

// routePort is the port of a route target ("http://app:8080"; 80 or 443 by the scheme when none).
func routePort(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return ""
	}
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// htmlToText is a store's HTML description as plain text: paragraphs and line breaks kept, tags dropped.
func htmlToText(s string) string {
	s = regexp.MustCompile(`(?i)</p>|<br\s*/?>`).ReplaceAllString(s, "\n\n")
	s = htmlTag.ReplaceAllString(s, "")
	for _, e := range [][2]string{{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", `"`}, {"&#39;", "'"}, {"&nbsp;", " "}} {
		s = strings.ReplaceAll(s, e[0], e[1])
	}
	s = strings.TrimSpace(regexp.MustCompile(`\n{3,}`).ReplaceAllString(s, "\n\n"))
	return trimDescription(s)
}

// cosmosCompose writes what Cosmos reads in the Docker API's way in Compose's: durations in seconds as "Ns", a
// depends_on without a condition as service_started, a volume's "mode": "ro" as read_only.
func cosmosCompose(b *storeStack, name string, svc map[string]any) {
	seconds := func(m map[string]any, k string) {
		if n, ok := m[k].(float64); ok {
			m[k] = strconv.FormatFloat(n, 'f', -1, 64) + "s"
		}
	}
	seconds(svc, "stop_grace_period")
	if hc, ok := svc["healthcheck"].(map[string]any); ok {
		for _, k := range []string{"interval", "timeout", "start_period", "start_interval"} {
			seconds(hc, k)
		}
	}
	if deps, ok := svc["depends_on"].(map[string]any); ok {
		for d, v := range deps {
			m, _ := v.(map[string]any)
			if m == nil {
				m = map[string]any{}
				deps[d] = m
			}
			if _, ok := m["condition"]; !ok {
				m["condition"] = "service_started"
			}
		}
	}
	for _, k := range []string{"links", "depends_on"} { // a link to a container the form left blank is none
		if list, ok := svc[k].([]any); ok {
			list = slices.DeleteFunc(list, func(v any) bool { return v == "" })
			if svc[k] = list; len(list) == 0 {
				delete(svc, k)
			}
		}
	}
	vols, _ := svc["volumes"].([]any)
	for _, v := range vols {
		if m, ok := v.(map[string]any); ok {
			if mode, ok := m["mode"]; ok {
				delete(m, "mode")
				if mode == "ro" {
					m["read_only"] = true
				}
			}
		}
	}
	switch svc["shm_size"].(type) {
	case nil, string, float64:
	default:
		delete(svc, "shm_size")
		b.note("service %s: shm_size is not a size and was dropped", name)
	}
}

// publishes reports whether a service already publishes its container port port.
func publishes(svc map[string]any, port string) bool {
	list, _ := svc["ports"].([]any)
	for _, item := range list {
		switch v := item.(type) {
		case string:
			if parsePortSpec(v).container == port {
				return true
			}
		case map[string]any:
			if fmt.Sprint(v["target"]) == port {
				return true
			}
		}
	}
	return false
}
