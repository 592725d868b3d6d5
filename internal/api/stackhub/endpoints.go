package stackhub

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/host"
)

func (h *Handler) install(r *http.Request, a auth.Actor, p params) (string, any, error) {
	app, err := p.required("appName", "wordpress")
	if err != nil {
		return "", nil, err
	}
	name, err := p.str("appId")
	if err != nil {
		return "", nil, err
	}
	version, err := p.str("version")
	if err != nil {
		return "", nil, err
	}
	storeName, err := p.str("store")
	if err != nil {
		return "", nil, err
	}
	settings, err := p.settings()
	if err != nil {
		return "", nil, err
	}
	domain, err := p.str("domain")
	if err != nil {
		return "", nil, err
	}
	node, err := p.str("node")
	if err != nil {
		return "", nil, err
	}
	res, err := h.host.Install(r.Context(), a, host.InstallRequest{App: app, Name: name, Version: version,
		Store: storeName, Settings: settings, Force: p.flag("force"), Domain: domain, Node: node})
	if err != nil {
		return "", nil, err
	}
	msg := app + " " + res.Version + " is being installed as " + res.Instance + "; follow job " +
		strconv.FormatInt(res.Job, 10) + " or poll getAppInfo"
	return msg, map[string]string{"containerName": res.Container, "port": res.Port, "db_port": res.DBPort,
		"info": "installing", "job": strconv.FormatInt(res.Job, 10)}, nil
}

func (h *Handler) uninstall(r *http.Request, a auth.Actor, p params) (string, any, error) {
	name, err := p.required("appName", "wordpress")
	if err != nil {
		return "", nil, err
	}
	purge := p.flag("purge")
	if err := h.host.Uninstall(r.Context(), a, name, purge); err != nil {
		return "", nil, err
	}
	msg := name + " is uninstalled; its data volumes and upgrade snapshots are kept (uninstall with purge=true to delete them)"
	if purge {
		msg = name + " is uninstalled and its data deleted (volumes, files and upgrade snapshots)"
	}
	return msg, map[string]any{}, nil
}

func (h *Handler) appInfo(r *http.Request, a auth.Actor, p params) (string, any, error) {
	name, err := p.required("appName", "wordpress")
	if err != nil {
		return "", nil, err
	}
	in, err := h.host.Instance(r.Context(), a, name)
	if err != nil {
		return "", nil, err
	}
	return name + " is " + in.Info, map[string]string{"status": in.Status, "port": in.Port, "db_port": in.DBPort,
		"info": in.Info}, nil
}

func (h *Handler) allAppInfo(r *http.Request, a auth.Actor, _ params) (string, any, error) {
	ins, err := h.host.Instances(r.Context(), a)
	if err != nil {
		return "", nil, err
	}
	out := make([]map[string]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, map[string]string{"appName": in.Name, "containerName": in.Container, "status": in.Status,
			"port": in.Port, "db_port": in.DBPort, "info": in.Info})
	}
	return strconv.Itoa(len(out)) + " apps are installed", out, nil
}

func (h *Handler) uninstallAll(r *http.Request, a auth.Actor, p params) (string, any, error) {
	res, err := h.host.UninstallAll(r.Context(), a, p.flag("purge"))
	if err != nil {
		return "", nil, err
	}
	var failed []string
	for _, x := range res {
		if x.Code != "1" {
			failed = append(failed, x.AppName)
		}
	}
	if len(failed) > 0 {
		return "", nil, &partial{names: failed, results: res}
	}
	return strconv.Itoa(len(res)) + " apps are uninstalled", res, nil
}

// partial is an uninstallAllApp where some instances failed: code "0" with every instance's result.
type partial struct {
	names   []string
	results []host.Result
}

func (p *partial) Error() string {
	return "these apps could not be uninstalled: " + strings.Join(p.names, ", ") + "; see each message"
}

func (h *Handler) searchServer(r *http.Request, a auth.Actor, _ params) (string, any, error) {
	srv, err := h.host.Server(r.Context(), a, h.weakToken)
	if err != nil {
		return "", nil, err
	}
	s := srv.Metrics
	info := "no risk found"
	if len(srv.Risks) > 0 {
		info = strings.Join(srv.Risks, "; ")
	}
	return "server checked: " + strconv.Itoa(len(srv.Risks)) + " risks", map[string]any{
		"cpu": pct(s.CPUPercent), "memory": pct(s.MemPercent()), "hdd": pct(s.DiskPercent()),
		"risk": strconv.Itoa(len(srv.Risks)), "info": info,
		"cpu_cores": s.CPUCores, "mem_total": s.MemTotal, "mem_used": s.MemUsed, "disk_total": s.DiskTotal,
		"disk_used": s.DiskUsed, "load1": s.Load1, "docker": srv.Docker,
	}, nil
}
