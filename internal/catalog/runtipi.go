package catalog

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// runtipiImporter reads a Runtipi app store (runtipi/runtipi-appstore): apps/<id>/config.json, metadata/ and the
// dynamic compose docker-compose.json, else a docker-compose.yml with x-runtipi (docs/stores.md §3).
type runtipiImporter struct{}

func (runtipiImporter) Format() string { return "runtipi" }

// Detect: apps/<id>/config.json for at least one id.
func (runtipiImporter) Detect(fsys fs.FS) bool {
	m, _ := fs.Glob(fsys, "apps/*/config.json")
	return len(m) > 0
}

func (runtipiImporter) Read(fsys fs.FS, opt ReadOptions) ([]Template, []Refusal, error) {
	entries, err := fs.ReadDir(fsys, "apps")
	if err != nil {
		return nil, nil, fmt.Errorf("read Runtipi store: %w", err)
	}
	var out []Template
	var refused []Refusal
	for _, e := range entries {
		dir := path.Join("apps", e.Name())
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(dir, "config.json")); err != nil {
			continue // not an app folder
		}
		t, err := readRuntipiApp(fsys, dir, opt)
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

// runtipiConfig is apps/<id>/config.json (apps/app-info-schema.json upstream), the fields StackHub reads.
type runtipiConfig struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Available     *bool          `json:"available"`
	Deprecated    bool           `json:"deprecated"`
	Port          json.Number    `json:"port"`
	Version       string         `json:"version"`
	TipiVersion   json.Number    `json:"tipi_version"`
	Description   string         `json:"description"`
	ShortDesc     string         `json:"short_desc"`
	Categories    []string       `json:"categories"`
	Website       string         `json:"website"`
	Source        string         `json:"source"`
	Architectures []string       `json:"supported_architectures"`
	FormFields    []runtipiField `json:"form_fields"`
}

// runtipiField is one field of the app's install form.
type runtipiField struct {
	Type     string `json:"type"`
	Label    string `json:"label"`
	Hint     string `json:"hint"`
	Env      string `json:"env_variable"`
	Default  any    `json:"default"`
	Required bool   `json:"required"`
	Min      *int   `json:"min"`
	Max      *int   `json:"max"`
	Encoding string `json:"encoding"`
	// Placeholder is the example the form shows; a number field without a default takes it as one.
	Placeholder any `json:"placeholder"`
}

// runtipiIconMax bounds the logo embedded as a data: URL; a larger one is linked from the upstream repository.
const runtipiIconMax = 32 << 10

// runtipiIconURL is where an app's logo is when it is too large to embed.
const runtipiIconURL = "https://raw.githubusercontent.com/runtipi/runtipi-appstore/master/apps/%s/metadata/logo.jpg"

// runtipiService is a service while it is mapped: its Compose form and Runtipi's main-port marks.
type runtipiService struct {
	name         string
	svc          map[string]any
	internalPort string
	main         bool
}

func readRuntipiApp(fsys fs.FS, dir string, opt ReadOptions) (Template, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "config.json"))
	if err != nil {
		return Template{}, fmt.Errorf("read config.json: %w", err)
	}
	var cfg runtipiConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Template{}, fmt.Errorf("config.json: %w", err)
	}
	if cfg.ID == "" {
		cfg.ID = path.Base(dir)
	}
	key, err := AppKey(cfg.ID)
	if err != nil {
		return Template{}, err
	}
	if cfg.Available != nil && !*cfg.Available && !cfg.Deprecated && !opt.IncludeUnreleased {
		return Template{}, errors.New("config.json: available is false (the store does not offer it)")
	}
	services, err := readRuntipiCompose(fsys, dir)
	if err != nil {
		return Template{}, err
	}
	for _, s := range services {
		for _, v := range anyList(s.svc["volumes"]) {
			if src := volumeSource(v); strings.Contains(src, "${APP_DATA_DIR}/../") {
				return Template{}, fmt.Errorf("service %s binds another app's data (%s): it needs that app installed "+
					"beside it, which StackHub does not do", s.name, src)
			}
		}
	}
	t := Template{
		Key:           key,
		Name:          firstNonEmpty(cfg.Name, cfg.ID),
		Tagline:       firstLineOf(cfg.ShortDesc),
		Release:       true,
		Categories:    cfg.Categories,
		Homepage:      firstNonEmpty(cfg.Website, cfg.Source),
		Architectures: cfg.Architectures,
		Hidden:        cfg.Deprecated,
		Icon:          runtipiIcon(fsys, dir, cfg.ID),
	}
	desc, err := fs.ReadFile(fsys, path.Join(dir, "metadata", "description.md"))
	if err != nil || strings.TrimSpace(string(desc)) == "" {
		desc = []byte(cfg.Description)
	}
	t.Description = truncateDescription(string(desc))

	env := newEnvBuilder()
	mainIdx := slices.IndexFunc(services, func(s runtipiService) bool { return s.main })
	if mainIdx < 0 {
		mainIdx = slices.IndexFunc(services, func(s runtipiService) bool { return s.internalPort != "" })
	}
	if mainIdx < 0 {
		mainIdx = 0
	}
	main := &services[mainIdx]
	var version string
	main.svc["image"], version = versionedImage(str(main.svc["image"]), cfg.Version)
	t.Versions = []string{version}
	env.literal(VarVersion, version, "the main service's image tag (the store's version)")
	env.raw(VarID, key, "StackHub sets these at install")
	env.literal("TZ"+settingSuffix, "UTC", "the time zone (Runtipi's TZ)")
	env.raw("TZ", "${TZ"+settingSuffix+"}", "")
	env.literal(SharedDirVar, SharedDirDefault, "the shared folders (Runtipi's ROOT_FOLDER_HOST/media, ...)")
	env.literal("APP_DATA_DIR", ".", "Runtipi's per-install data directory: the project")
	env.raw("ROOT_FOLDER_HOST", "${"+SharedDirVar+"}", "")
	env.raw("APP_ID", "${"+VarID+"}", "")

	web := main.internalPort != "" && str(main.svc["network_mode"]) != "host"
	if web {
		hostPort := cfg.Port.String()
		if !isPortNumber(hostPort) {
			hostPort = main.internalPort
		}
		if !isPortNumber(hostPort) {
			hostPort = "8080"
		}
		env.literal("W9_HTTP_PORT_SET", hostPort, "the web port")
		env.raw("APP_PORT", "${W9_HTTP_PORT_SET}", "")
		target := main.internalPort // a reference (${APP_PORT}) is read by Compose from .env
		if isPortNumber(target) {
			env.literal("W9_HTTP_PORT", target, "the web port inside the container")
			target = "${W9_HTTP_PORT}"
		}
		env.raw(VarURL, "", "the app's address, set by StackHub")
		env.raw("APP_DOMAIN", "${"+VarURL+"}", "Runtipi's address of the app: host:port")
		main.svc["ports"] = append([]any{"${W9_HTTP_PORT_SET}:" + target}, anyList(main.svc["ports"])...)
	} else {
		env.literal("APP_DOMAIN", "localhost", "Runtipi's address of the app")
	}
	env.literal("APP_PROTOCOL", "http", "")
	env.literal("LOCAL_DOMAIN", "tipi.local", "")
	env.literal("NETWORK_INTERFACE", "0.0.0.0", "the host address published ports listen on")
	env.literal("INTERNAL_IP", "127.0.0.1", "")
	main.svc["container_name"] = "${" + VarID + "}"

	secrets, notes := runtipiFields(cfg.FormFields, env)
	t.Notes = notes
	doc := map[string]any{}
	svcs := map[string]any{}
	for _, s := range services {
		runtipiPorts(s.name, s.svc, env)
		svcs[s.name] = s.svc
	}
	doc["services"] = svcs
	compose, err := marshalCompose(doc)
	if err != nil {
		return Template{}, err
	}
	t.Stack = Stack{Compose: compose, Env: env.String(), Secrets: secrets}
	if err := Validate(&t.Stack, ValidateOptions{AllowHostAccess: true, MaxSize: MaxImportSize}); err != nil {
		return Template{}, err
	}
	return t, nil
}

// runtipiFields maps the install form: random fields (and password ones, which Runtipi asks the user for)
// become generated secrets; the others settings X_SET with the field's default, X referring to it.
func runtipiFields(fields []runtipiField, env *envBuilder) ([]Secret, []string) {
	var secrets []Secret
	var notes []string
	for _, f := range fields {
		name := f.Env
		if !envKeyPattern.MatchString(name) || env.has(name) || isEngineVar(name) {
			continue
		}
		switch f.Type {
		case "random", "password":
			if isSettingName(name) {
				env.literal(name, str(f.Default), f.Label)
				continue
			}
			n := DefaultSecretLength
			if f.Min != nil && *f.Min > 0 {
				n = *f.Min
			}
			enc := f.Encoding
			if enc != "hex" && enc != "base64" {
				enc = ""
			}
			if f.Type == "password" {
				enc = ""
				n = max(n, 16)
				notes = append(notes, fmt.Sprintf("%s (%s): generated at install instead of asked for (shown in the credentials)", name, f.Label))
			}
			env.raw(name, "", f.Label+": generated at install")
			secrets = append(secrets, Secret{Name: name, Length: min(max(n, 8), maxSecretLength), Encoding: enc})
		default:
			def := str(f.Default)
			if f.Type == "boolean" && def == "" {
				def = "false"
			}
			if _, err := strconv.ParseFloat(str(f.Placeholder), 64); def == "" && f.Type == "number" && err == nil {
				def = str(f.Placeholder)
			}
			if isSettingName(name) {
				env.literal(name, def, f.Label)
				continue
			}
			env.literal(settingVar(name), def, firstNonEmpty(f.Label, name))
			env.raw(name, "${"+settingVar(name)+"}", "")
		}
	}
	return secrets, notes
}

// runtipiPorts turns the literal host ports a service publishes (addPorts, or a YAML ports list) into booked
// settings.
func runtipiPorts(name string, svc map[string]any, env *envBuilder) {
	ports := anyList(svc["ports"])
	for i, p := range ports {
		ip, host, container, proto := portParts(p)
		if !isPortNumber(host) {
			continue
		}
		v := portVar(name, host)
		env.literal(v, host, "")
		short := "${" + v + "}:" + container + "/" + proto
		if ip != "" {
			short = ip + ":" + short
		}
		ports[i] = short
	}
}

// runtipiIcon is metadata/logo.jpg as a data: URL when at most runtipiIconMax bytes, else its upstream URL.
func runtipiIcon(fsys fs.FS, dir, id string) string {
	fi, err := fs.Stat(fsys, path.Join(dir, "metadata", "logo.jpg"))
	if err != nil {
		return ""
	}
	if fi.Size() <= runtipiIconMax {
		if b, err := fs.ReadFile(fsys, path.Join(dir, "metadata", "logo.jpg")); err == nil {
			return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(b)
		}
	}
	return fmt.Sprintf(runtipiIconURL, id)
}

// readRuntipiCompose reads the app's services: docker-compose.json (the dynamic compose) when present, else the
// docker-compose.yml with x-runtipi marks.
func readRuntipiCompose(fsys fs.FS, dir string) ([]runtipiService, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "docker-compose.json"))
	if err == nil {
		return runtipiDynamic(raw)
	}
	raw, err = fs.ReadFile(fsys, path.Join(dir, ComposeFile))
	if err != nil {
		return nil, errors.New("the app has neither docker-compose.json nor docker-compose.yml")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s is not YAML: %w", ComposeFile, err)
	}
	if _, ok := doc["x-runtipi"]; !ok {
		return nil, fmt.Errorf("%s has no x-runtipi marks and there is no docker-compose.json (a legacy compose "+
			"that needs Runtipi's own network and labels)", ComposeFile)
	}
	svcs, _ := doc["services"].(map[string]any)
	var out []runtipiService
	for _, name := range slices.Sorted(maps.Keys(svcs)) {
		svc, ok := svcs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: service %s is not a mapping", ComposeFile, name)
		}
		s := runtipiService{name: name, svc: svc}
		if x, ok := svc["x-runtipi"].(map[string]any); ok {
			s.internalPort = str(x["internal_port"])
			s.main = x["is_main"] == true
		}
		delete(svc, "x-runtipi")
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no services", ComposeFile)
	}
	return out, nil
}

// runtipiDynamicKeys maps the dynamic compose's service keys onto Compose's; the ones not listed (addPorts,
// volumes, environment, healthCheck, dependsOn, internalPort, isMain) are mapped by hand, and the rest
// (addToMainNetwork: Runtipi's reverse proxy) are dropped.
var runtipiDynamicKeys = map[string]string{
	"image": "image", "command": "command", "entrypoint": "entrypoint", "user": "user", "hostname": "hostname",
	"tty": "tty", "privileged": "privileged", "pid": "pid", "networkMode": "network_mode", "capAdd": "cap_add",
	"capDrop": "cap_drop", "securityOpt": "security_opt", "devices": "devices", "sysctls": "sysctls",
	"ulimits": "ulimits", "shmSize": "shm_size", "workingDir": "working_dir", "stopSignal": "stop_signal",
	"stopGracePeriod": "stop_grace_period", "stdinOpen": "stdin_open", "logging": "logging",
	"readOnly": "read_only", "extraHosts": "extra_hosts", "extraLabels": "labels", "deploy": "deploy",
	"dependsOn": "depends_on",
}

// runtipiHealthKeys are the healthCheck keys spelt differently from Compose's.
var runtipiHealthKeys = map[string]string{"startInterval": "start_interval", "startPeriod": "start_period"}

// runtipiDynamic reads docker-compose.json.
func runtipiDynamic(raw []byte) ([]runtipiService, error) {
	var doc struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("docker-compose.json: %w", err)
	}
	if len(doc.Services) == 0 {
		return nil, errors.New("docker-compose.json has no services")
	}
	var out []runtipiService
	for i, in := range doc.Services {
		name := str(in["name"])
		if name == "" {
			return nil, fmt.Errorf("docker-compose.json: services[%d] has no name", i)
		}
		svc := map[string]any{"restart": "unless-stopped"}
		for k, v := range in {
			if ck, ok := runtipiDynamicKeys[k]; ok {
				svc[ck] = v
			}
		}
		if hc, ok := in["healthCheck"].(map[string]any); ok {
			h := map[string]any{}
			for k, v := range hc {
				if ck, ok := runtipiHealthKeys[k]; ok {
					k = ck
				}
				h[k] = v
			}
			svc["healthcheck"] = h
		}
		if env := runtipiEnv(in["environment"]); len(env) > 0 {
			svc["environment"] = env
		}
		var vols []any
		for _, v := range anyList(in["volumes"]) {
			m, _ := v.(map[string]any)
			entry := map[string]any{"type": "bind", "source": str(m["hostPath"]), "target": str(m["containerPath"])}
			if m["readOnly"] == true {
				entry["read_only"] = true
			}
			vols = append(vols, entry)
		}
		if len(vols) > 0 {
			svc["volumes"] = vols
		}
		var ports []any
		for _, p := range anyList(in["addPorts"]) {
			m, _ := p.(map[string]any)
			host, container := str(m["hostPort"]), str(m["containerPort"])
			prefix := ""
			if ip := str(m["interface"]); ip != "" {
				prefix = ip + ":"
			}
			udp, tcp := m["udp"] == true, m["tcp"] == true
			if tcp || !udp {
				ports = append(ports, prefix+host+":"+container+"/tcp")
			}
			if udp {
				ports = append(ports, prefix+host+":"+container+"/udp")
			}
		}
		if len(ports) > 0 {
			svc["ports"] = ports
		}
		s := runtipiService{name: name, svc: svc, internalPort: str(in["internalPort"]), main: in["isMain"] == true}
		if f, ok := in["internalPort"].(float64); ok {
			s.internalPort = strconv.Itoa(int(f))
		}
		out = append(out, s)
	}
	return out, nil
}

// runtipiEnv reads the dynamic compose's environment: a mapping, or a list of {key, value}.
func runtipiEnv(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			out[k] = str(val)
		}
		return out
	case []any:
		out := map[string]any{}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out[str(m["key"])] = str(m["value"])
			}
		}
		return out
	}
	return nil
}
