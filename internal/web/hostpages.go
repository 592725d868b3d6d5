package web

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/store"
)

// The admin's host pages: install an app, watch its job, manage what runs (hostpages_apps.go) and the server
// (hostpages_server.go). Every page asks the host service, which refuses anybody but the admin.
func (u *UI) registerHost(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/apps/{aid}/install", u.page(u.installPage))
	mux.HandleFunc("POST /ui/install", u.page(u.install))
	mux.HandleFunc("GET /ui/jobs/{id}", u.page(u.jobPage))
	mux.HandleFunc("GET /ui/my-apps", u.page(u.myAppsPage))
	mux.HandleFunc("GET /ui/my-apps/{name}", u.page(u.myAppPage))
	mux.HandleFunc("POST /ui/my-apps/{name}/{action}", u.page(u.operate))
	mux.HandleFunc("POST /ui/my-apps/{name}/uninstall", u.page(u.uninstall))
	mux.HandleFunc("POST /ui/my-apps/{name}/upgrade", u.page(u.upgrade))
	mux.HandleFunc("POST /ui/my-apps/{name}/rollback", u.page(u.rollback))
	mux.HandleFunc("POST /ui/my-apps/{name}/domains", u.page(u.addDomain))
	mux.HandleFunc("POST /ui/my-apps/{name}/domains/remove", u.page(u.removeDomain))
	mux.HandleFunc("GET /ui/server", u.page(u.serverPage))
	mux.HandleFunc("GET /ui/server/metrics", u.page(u.serverMetrics))
}

// settingPrefix names a template setting's input: set_W9_HTTP_PORT_SET.
const settingPrefix = "set_"

// installFields maps the host service's field names to the install form's inputs.
var installFields = map[string]string{"appId": "name", "appName": "app", "domain": "domain", "node": "node"}

func (u *UI) installPage(w http.ResponseWriter, r *http.Request, me Me) {
	plan, err := u.d.Host.Plan(r.Context(), me.Actor, r.PathValue("aid"), r.URL.Query().Get("version"))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := newForm()
	f.Values.Set("name", plan.Name)
	f.Values.Set("version", plan.Choice)
	for _, st := range plan.Settings {
		f.Values.Set(settingPrefix+st.Name, st.Value)
	}
	u.render(w, r, http.StatusOK, "install", View{Title: "Install " + plan.AppName, Me: me, Form: f, Data: plan})
}

// install starts an install job and sends the browser to its progress. A refused install shows the form again,
// with the service's error next to its field; nothing was created.
func (u *UI) install(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	pf := r.PostForm
	req := host.InstallRequest{App: pf.Get("app"), Name: strings.TrimSpace(pf.Get("name")), Version: pf.Get("version"),
		Settings: map[string]string{}, Force: pf.Get("force") != "", Domain: strings.TrimSpace(pf.Get("domain")),
		Node: pf.Get("node")}
	for k, v := range pf {
		// An empty setting means the template's default (or, for a port, the first free one).
		if name, ok := strings.CutPrefix(k, settingPrefix); ok && strings.TrimSpace(v[0]) != "" {
			req.Settings[name] = strings.TrimSpace(v[0])
		}
	}
	if req.Name == "" {
		f := formOf(r)
		f.Errors["name"] = "choose a name for this copy of the app"
		u.installAgain(w, r, me, req, f, nil)
		return
	}
	res, err := u.d.Host.Install(r.Context(), me.Actor, req)
	if err != nil {
		// The host service's internal errors (a Docker failure) are not the form's either.
		if refused(err) || apperr.As(err).Kind == apperr.Internal {
			u.fail(w, r, me, err)
			return
		}
		f := formOf(r)
		f.Fail(err, installFields)
		u.installAgain(w, r, me, req, f, err)
		return
	}
	redirect(w, r, "/ui/jobs/"+strconv.FormatInt(res.Job, 10), "Installing "+res.Instance+"…")
}

// installAgain renders the install form with the submitted values and errors; the form's choices (versions,
// settings) come from a fresh plan.
func (u *UI) installAgain(w http.ResponseWriter, r *http.Request, me Me, req host.InstallRequest, f *Form, cause error) {
	version := req.Version
	if _, bad := f.Errors["version"]; bad {
		version = ""
	}
	plan, err := u.d.Host.Plan(r.Context(), me.Actor, req.App, version)
	if err != nil {
		if cause == nil {
			cause = err
		}
		u.fail(w, r, me, cause)
		return
	}
	if msg, ok := f.Errors["settings"]; ok {
		// The service names the setting in its sentence; show it under that input.
		for _, st := range plan.Settings {
			if hasWord(msg, st.Name) {
				delete(f.Errors, "settings")
				f.Errors[settingPrefix+st.Name] = msg
				break
			}
		}
	}
	if msg, ok := f.Errors["app"]; ok {
		delete(f.Errors, "app")
		f.Error = msg
	}
	u.render(w, r, statusOf(cause), "install", View{Title: "Install " + plan.AppName, Me: me, Form: f, Data: plan})
}

// stageView is one step of an install as the progress list shows it.
type stageView struct {
	Key, Label, State string // State: done, current, todo or failed
}

// installStages are the install job's stages in order, as the host service names them.
var installStages = []stageView{{Key: "queued", Label: "Queued"}, {Key: "pulling", Label: "Pulling images"},
	{Key: "creating", Label: "Creating containers"}, {Key: "starting", Label: "Starting"},
	{Key: "waiting", Label: "Waiting until healthy"}, {Key: "done", Label: "Running"}}

// jobView is a job page's data, shared with the install dialog, which shows the same block.
type jobView struct {
	Report  *host.JobReport
	Stages  []stageView
	OpenURL string
	LastSeq int64
	// Incomplete: a failed install's rollback could not remove everything.
	Incomplete bool
}

func (u *UI) jobPage(w http.ResponseWriter, r *http.Request, me Me) {
	id, err := pathID(r, "id", "job")
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	rep, err := u.d.Host.JobReport(r.Context(), me.Actor, id)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	v := jobView{Report: rep}
	if rep.Instance != nil {
		v.OpenURL = u.openURL(r, rep.Instance.Port)
	}
	if n := len(rep.Events); n > 0 {
		v.LastSeq = rep.Events[n-1].Seq
	}
	if rep.Job.Kind == "install" {
		v.Stages = stagesOf(rep.Job)
		v.Incomplete = strings.Contains(rep.Job.Error, "rollback incomplete")
	}
	title := strings.ToUpper(rep.Job.Kind[:1]) + rep.Job.Kind[1:] + " " + rep.Job.Instance
	u.render(w, r, http.StatusOK, "job", View{Title: title, Me: me, Data: v})
}

// stagesOf marks the install stages the job has passed, the one it is at, and where it failed.
func stagesOf(j *store.Job) []stageView {
	out := make([]stageView, len(installStages))
	copy(out, installStages)
	at := -1
	for i, s := range out {
		if s.Key == j.Stage {
			at = i
		}
	}
	for i := range out {
		switch {
		case j.State == store.JobSucceeded || i < at:
			out[i].State = "done"
		case i == at && j.State == store.JobFailed:
			out[i].State = "failed"
		case i == at:
			out[i].State = "current"
		default:
			out[i].State = "todo"
		}
	}
	return out
}

// openURL is where the admin opens an app on port: the configured public address, else the host this page was
// reached by.
func (u *UI) openURL(r *http.Request, port string) string {
	if port == "" {
		return ""
	}
	if s := u.d.Host.URLFor(port); s != "" {
		return s
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if strings.Contains(h, ":") {
		h = "[" + h + "]" // IPv6
	}
	return "http://" + h + ":" + port
}
