package host

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
)

// rollbackInfo is what a failed install must undo, stored on the job so a restarted server knows it too.
type rollbackInfo struct {
	FreshDir       bool     `json:"fresh_dir"`       // the project directory did not exist before
	VolumesBefore  []string `json:"volumes_before"`  // the project's volumes that predate this install (kept)
	VolumesChecked bool     `json:"volumes_checked"` // VolumesBefore was read; otherwise every volume predates it
}

// prepare books the ports, records the instance and its job, and renders the project directory.
func (s *Service) prepare(ctx context.Context, app *store.App, up *store.Update, stack *catalog.Stack,
	settings []catalog.Setting, req InstallRequest, route *store.Route) (*store.Instance, *store.Job, error) {
	s.bookMu.Lock()
	defer s.bookMu.Unlock()
	project := s.Project(req.Name)
	if _, err := s.store.Q().Instance(ctx, req.Name); err == nil {
		return nil, nil, apperr.New(apperr.Conflict, "%s already exists", req.Name)
	}
	if taken, err := s.engine.Exists(ctx, project, project); err != nil {
		return nil, nil, apperr.Wrap(apperr.Unavailable, err, "Docker Engine does not answer; is dockerd running?")
	} else if taken {
		return nil, nil, apperr.New(apperr.Conflict, "%s already exists (a Docker project or container named %s is there)", req.Name, project)
	}
	ports, err := s.bookPorts(ctx, req.Name, stack.Compose, settings, req.Settings)
	if err != nil {
		return nil, nil, err
	}
	var routes []store.Route
	if route != nil {
		routes = []store.Route{*route}
	}
	values, secrets, err := s.values(req, up.Version, stack, ports, routes)
	if err != nil {
		return nil, nil, err
	}
	dir := s.projectDir(req.Name)
	_, statErr := os.Stat(dir)
	rb := rollbackInfo{FreshDir: os.IsNotExist(statErr)}
	rbJSON, _ := json.Marshal(rb)
	settingsJSON, _ := json.Marshal(req.Settings)
	secretsJSON, _ := json.Marshal(secrets)
	now := s.ms()
	inst := &store.Instance{Name: req.Name, Project: project, App: app.ID, AppKey: req.App, Reversion: up.Reversion,
		Version: up.Version, State: store.StateInstalling, Settings: string(settingsJSON), Secrets: string(secretsJSON),
		HostAccess: len(stack.HostAccess) > 0, PublishIP: s.cfg.PublishIP, Node: req.Node, CreatedAt: now, UpdatedAt: now}
	if s.cluster != nil {
		inst.ReserveMilliCPUs, inst.ReserveMemory = reserve(stack.Requirements)
	}
	job := &store.Job{Instance: req.Name, Kind: "install", Stage: "queued", State: store.JobRunning,
		Rollback: string(rbJSON), CreatedAt: now, UpdatedAt: now}
	err = s.store.Tx(ctx, func(q *store.Q) error {
		if err := q.CreateInstance(ctx, inst); err != nil {
			return err
		}
		for _, b := range ports {
			if err := q.BookPort(ctx, b); err != nil {
				return fmt.Errorf("book port %d: %w", b.Port, err)
			}
		}
		if route != nil { // recorded with the install, so a taken name refuses it whole
			if err := q.CreateRoute(ctx, route); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return apperr.Field(apperr.Conflict, "domain", "%s%s is routed to another app already", route.Domain, route.Path)
				}
				return err
			}
		}
		return q.CreateJob(ctx, job)
	})
	if err != nil {
		if apperr.As(err).Kind == apperr.Conflict {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("record %s: %w", req.Name, err)
	}
	out, err := s.render(ctx, dir, project, stack, values, nil)
	if err == nil {
		err = s.checkRendered(ctx, req.Name, project, dir)
	}
	if err == nil {
		err = s.store.Tx(ctx, func(q *store.Q) error {
			if err := q.SetInstanceServices(ctx, req.Name, strings.Join(out.services, ",")); err != nil {
				return err
			}
			return q.SetInstanceRendered(ctx, req.Name, out.hashes.encode())
		})
	}
	if err != nil {
		if rb.FreshDir {
			_ = os.RemoveAll(dir)
		}
		_ = s.store.Q().DeleteInstance(context.WithoutCancel(ctx), req.Name)
		return nil, nil, err
	}
	inst.Services, inst.Rendered = strings.Join(out.services, ","), out.hashes.encode()
	return inst, job, nil
}

// executable tells the stack files rendered executable, as files carry no mode: shell scripts (by name or a #!
// line) and ELF binaries (a static binary a Dockerfile copies onto scratch).
func executable(rel, body string) bool {
	return strings.HasSuffix(rel, ".sh") || strings.HasPrefix(body, "#!") || strings.HasPrefix(body, "\x7fELF")
}

// udpRe finds a variable used as the host side of a UDP port mapping.
var udpRe = regexp.MustCompile(`\$\{?([A-Z0-9_]+_PORT_SET)\b[^\n]*/udp`)

// bookPorts picks a free host port for every port setting: the user's choice (which must be free) or the first
// free one from the template's default upwards.
func (s *Service) bookPorts(ctx context.Context, name, compose string, settings []catalog.Setting, given map[string]string) ([]store.PortBooking, error) {
	published, held, err := s.portsInUse(ctx)
	if err != nil {
		return nil, err
	}
	udp := map[string]bool{}
	for _, m := range udpRe.FindAllStringSubmatch(compose, -1) {
		udp[m[1]] = true
	}
	var out []store.PortBooking
	for _, st := range settings {
		if !st.Port {
			continue
		}
		proto := "tcp"
		if udp[st.Name] {
			proto = "udp"
		}
		free := func(p int) bool {
			return !held[proto+strconv.Itoa(p)] && (proto == "udp" || !published[p]) && canBind(proto, p)
		}
		if v, ok := given[st.Name]; ok {
			p, _ := strconv.Atoi(v)
			if !free(p) {
				return nil, apperr.Field(apperr.Conflict, "settings", "port %d for %s is already in use; choose another or leave it out", p, st.Name)
			}
			held[proto+v] = true
			out = append(out, store.PortBooking{Port: p, Protocol: proto, Instance: name, Variable: st.Name})
			continue
		}
		start, err := strconv.Atoi(st.Default)
		if err != nil || start < 1 {
			start = 8000
		}
		p := start
		for p <= portMax && !free(p) {
			p++
		}
		if p > portMax {
			return nil, apperr.New(apperr.Conflict, "no free port for %s between %d and %d", st.Name, start, portMax)
		}
		held[proto+strconv.Itoa(p)] = true
		out = append(out, store.PortBooking{Port: p, Protocol: proto, Instance: name, Variable: st.Name})
	}
	return out, nil
}

// portsInUse returns the host ports containers publish and those booked (by protocol+port, such as "udp53").
func (s *Service) portsInUse(ctx context.Context) (published map[int]bool, held map[string]bool, err error) {
	published, err = s.engine.PublishedPorts(ctx)
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.Unavailable, err, "Docker Engine does not answer; is dockerd running?")
	}
	booked, err := s.store.Q().PortBookings(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	held = map[string]bool{}
	for _, b := range booked {
		held[b.Protocol+strconv.Itoa(b.Port)] = true
	}
	return published, held, nil
}

// checkRendered checks the rendered project against this host before anything is created: the runtimes, devices
// and GPUs it asks for are here (when the engine can tell), and its fixed host ports are free, which it books.
func (s *Service) checkRendered(ctx context.Context, name, project, dir string) error {
	p, err := engine.Load(ctx, project, dir)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "the rendered project does not load")
	}
	if hc, ok := s.engine.(engine.HostChecker); ok {
		if err := hc.CheckHost(ctx, p); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "%s cannot run on this host: %v", name, err)
		}
	}
	return s.bookFixedPorts(ctx, name, p)
}

// bookFixedPorts books the host ports the rendered project publishes that no port setting booked (DNS on 53, a
// port from a setting without the _PORT_SET suffix, a :-default): each must be free, or the install is refused.
func (s *Service) bookFixedPorts(ctx context.Context, name string, p *engine.Project) error {
	mine, err := s.store.Q().PortBookings(ctx, name)
	if err != nil {
		return err
	}
	own := map[string]bool{}
	for _, b := range mine {
		own[b.Protocol+strconv.Itoa(b.Port)] = true
	}
	published, held, err := s.portsInUse(ctx)
	if err != nil {
		return err
	}
	var out []store.PortBooking
	for _, hp := range publishedPorts(p) {
		key := hp.proto + strconv.Itoa(hp.port)
		if own[key] {
			continue
		}
		if held[key] || hp.proto == "tcp" && published[hp.port] || !canBind(hp.proto, hp.port) {
			return apperr.New(apperr.Conflict, "port %d/%s, which service %s publishes as a fixed host port, "+
				"is already in use; free it, then try again", hp.port, hp.proto, hp.service)
		}
		own[key] = true
		out = append(out, store.PortBooking{Port: hp.port, Protocol: hp.proto, Instance: name, Variable: "service " + hp.service})
	}
	return s.store.Tx(ctx, func(q *store.Q) error {
		for _, b := range out {
			if err := q.BookPort(ctx, b); err != nil {
				return fmt.Errorf("book port %d: %w", b.Port, err)
			}
		}
		return nil
	})
}

// hostPort is one host port a project publishes.
type hostPort struct {
	service, proto string
	port           int
}

// publishedPorts lists the host ports p publishes, its services in name order.
func publishedPorts(p *engine.Project) []hostPort {
	var out []hostPort
	for _, svc := range slices.Sorted(maps.Keys(p.Services)) {
		for _, pc := range p.Services[svc].Ports {
			if lo, hi, ok := portRange(pc.Published); ok {
				for port := lo; port <= hi; port++ {
					out = append(out, hostPort{svc, cmp.Or(pc.Protocol, "tcp"), port})
				}
			}
		}
	}
	return out
}

// portRange reads a published port, "8080" or "8000-8010"; ok is false when there is none.
func portRange(published string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(published, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 1 {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > portMax {
			return 0, 0, false
		}
	}
	return lo, hi, true
}

// canBind reports whether no process on the host holds the port, on any address.
func canBind(proto string, port int) bool {
	for _, addr := range []string{":", "127.0.0.1:"} {
		a := addr + strconv.Itoa(port)
		if proto == "udp" {
			c, err := net.ListenPacket("udp", a)
			if err != nil {
				return false
			}
			c.Close()
			continue
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// powerAlphabet is the W9_POWER_PASSWORD alphabet: letters, digits and "!", as the catalog says.
const powerAlphabet = auth.Alphanumeric + "!"

// values are the engine's variables for the rendered .env, and the secrets among them.
func (s *Service) values(req InstallRequest, version string, stack *catalog.Stack, ports []store.PortBooking, routes []store.Route) (map[string]string, map[string]string, error) {
	v := map[string]string{"W9_ID": s.Project(req.Name), "W9_APP_NAME": req.App, "W9_VERSION": version}
	for k, val := range req.Settings {
		v[k] = val
	}
	httpPort := ""
	for _, b := range ports {
		v[b.Variable] = strconv.Itoa(b.Port)
		if b.Variable == "W9_HTTP_PORT_SET" {
			httpPort = v[b.Variable]
		}
	}
	secrets := map[string]string{}
	pw, err := strongPassword()
	if err != nil {
		return nil, nil, err
	}
	v["W9_POWER_PASSWORD"], secrets["W9_POWER_PASSWORD"] = pw, pw
	has := map[string]bool{}
	vars, err := catalog.ParseEnv(stack.Env)
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.Invalid, err, "the template's .env does not parse")
	}
	for _, e := range vars {
		has[e.Key] = true
	}
	if has["W9_RCODE"] {
		code, err := auth.RandomString(12, auth.Alphanumeric)
		if err != nil {
			return nil, nil, err
		}
		v["W9_RCODE"], secrets["W9_RCODE"] = code, code
	}
	if err := generateSecrets(stack.Secrets, v, secrets); err != nil {
		return nil, nil, err
	}
	if has[catalog.VarAddress] {
		v[catalog.VarAddress] = s.cfg.PublicAddress
	}
	if has["W9_URL"] {
		v["W9_URL"] = s.appURL(routes, stack.Env, httpPort, req.Settings["W9_URL"])
	}
	return v, secrets, nil
}

// generateSecrets fills every secret the stack names that values and secrets do not hold yet (an upgrade keeps the
// install's own) with a fresh value from crypto/rand.
func generateSecrets(specs []catalog.Secret, values, secrets map[string]string) error {
	for _, sp := range specs {
		if _, ok := secrets[sp.Name]; ok {
			continue
		}
		n := sp.Length
		if n == 0 {
			n = catalog.DefaultSecretLength
		}
		var val string
		switch sp.Encoding {
		case "hex", "base64":
			b := make([]byte, n)
			if _, err := rand.Read(b); err != nil {
				return fmt.Errorf("generate secret %s: %w", sp.Name, err)
			}
			if val = hex.EncodeToString(b); sp.Encoding == "base64" {
				val = base64.StdEncoding.EncodeToString(b)
			}
		default:
			var err error
			if val, err = auth.RandomString(n, auth.Alphanumeric); err != nil {
				return fmt.Errorf("generate secret %s: %w", sp.Name, err)
			}
		}
		values[sp.Name], secrets[sp.Name] = val, val
	}
	return nil
}

// strongPassword draws 20 characters until it has an upper and a lower letter, a digit and "!", which most apps'
// password rules accept.
func strongPassword() (string, error) {
	for {
		p, err := auth.RandomString(20, powerAlphabet)
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && strings.ContainsAny(p, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(p, "0123456789") && strings.Contains(p, "!") {
			return p, nil
		}
	}
}

func (s *Service) projectDir(name string) string { return filepath.Join(s.cfg.DataDir, "apps", name) }

// rendered is what render wrote into a project directory.
type rendered struct {
	services []string
	hashes   rendering // every file rendered, kept ones included: the record for Instance.Rendered
	kept     []string  // extra files the admin changed: left as they were, the rendering beside as <file>.new
	replaced []string  // owned files (the Compose file, .env) whose local edits were overwritten
	restored []string  // extra files the admin had removed, written again
}

// render writes the project directory: the compose file, .env (0600: it holds secrets) and the template's files,
// then loads it with compose-go to check it and list its services. last is nil for a fresh rendering (an
// install, a staging directory), which writes every file; for an upgrade it is what StackHub last rendered
// there, and each file is placed as place decides: the admin's edits to the extra files are kept.
func (s *Service) render(ctx context.Context, dir, project string, stack *catalog.Stack, values map[string]string, last rendering) (*rendered, error) {
	env, err := catalog.RenderEnv(stack.Env, values)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "the template's .env cannot be rendered")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	out := &rendered{hashes: rendering{}}
	write := func(rel, text string, mode os.FileMode, owned bool) error {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			return apperr.New(apperr.Invalid, "template file %q leaves the project directory", rel)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		out.hashes[rel] = hashOf([]byte(text))
		if last != nil {
			cur, exists, err := readIfExists(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			switch place(owned, exists, cur, last[rel], []byte(text)) {
			case placeKeep:
				out.kept = append(out.kept, rel)
				path += newSuffix // the admin's file stays; a .new of an earlier upgrade is overwritten
			case placeReplace:
				out.replaced = append(out.replaced, rel)
			case placeRestore:
				out.restored = append(out.restored, rel)
				fallthrough
			case placeWrite:
				if !owned {
					if err := dropStaleNew(path, last[rel]); err != nil {
						return fmt.Errorf("remove the old %s%s: %w", path, newSuffix, err)
					}
				}
			}
		}
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return os.Chmod(path, mode) // WriteFile keeps an existing file's mode
	}
	if err := write(engine.ComposeFile, stack.Compose, 0o644, true); err != nil {
		return nil, err
	}
	if err := write(".env", env, 0o600, true); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(stack.Files))
	for rel := range stack.Files {
		names = append(names, rel)
	}
	slices.Sort(names)
	for _, rel := range names {
		mode := os.FileMode(0o644)
		if executable(rel, stack.Files[rel]) {
			mode = 0o755
		}
		if err := write(rel, stack.Files[rel], mode, false); err != nil {
			return nil, err
		}
	}
	p, err := engine.Load(ctx, project, dir)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "the rendered project does not load")
	}
	if out.services, err = runningServices(p); err != nil {
		return nil, err
	}
	return out, nil
}

// runningServices are the project's services that run containers, in dependency order: deploy.replicas: 0 runs none.
func runningServices(p *engine.Project) ([]string, error) {
	order, err := engine.Order(p)
	return slices.DeleteFunc(order, func(svc string) bool { return engine.Replicas(p, svc) == 0 }), err
}
