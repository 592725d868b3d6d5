package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/edge"
	"github.com/stackhub/stackhub/internal/host"
)

// appRow is an instance as My apps shows it.
type appRow struct {
	host.Info
	Label   string // running, not started, failed
	Class   string // the status tag's class
	OpenURL string
}

func (u *UI) rowOf(r *http.Request, in host.Info) appRow {
	row := appRow{Info: in, OpenURL: u.openURL(r, in.Port)}
	switch in.Status {
	case host.StatusRunning:
		row.Label, row.Class = "running", "ok"
	case host.StatusFailed:
		row.Label, row.Class = "failed", "bad"
	default:
		row.Label, row.Class = "not started", "warn"
	}
	return row
}

func (u *UI) myAppsPage(w http.ResponseWriter, r *http.Request, me Me) {
	list, err := u.d.Host.Instances(r.Context(), me.Actor)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	rows := make([]appRow, 0, len(list))
	for _, in := range list {
		rows = append(rows, u.rowOf(r, in))
	}
	// job and app name the operation just started, which the page's script follows to its end.
	job, _ := strconv.ParseInt(r.URL.Query().Get("job"), 10, 64)
	u.render(w, r, http.StatusOK, "myapps", View{Title: "My apps", Me: me,
		Data: map[string]any{"Apps": rows, "Job": job, "JobApp": r.URL.Query().Get("app")}})
}

// myAppView is an instance's own page.
type myAppView struct {
	*host.Overview
	Row     appRow
	Edge    bool         // the Domains section shows
	Domains []edge.Route // with their certificate status when the certificate manager is wired
}

func (u *UI) myAppPage(w http.ResponseWriter, r *http.Request, me Me) {
	o, err := u.d.Host.Overview(r.Context(), me.Actor, r.PathValue("name"))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	v := myAppView{Overview: o, Row: u.rowOf(r, *o.Info), Edge: u.d.Edge != nil}
	if u.d.Edge != nil {
		if v.Domains, err = u.d.Edge.Routes(r.Context(), me.Actor, o.Info.Name); err != nil {
			u.fail(w, r, me, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "myapp", View{Title: o.Info.Name, Me: me, Data: v})
}

// addDomain routes a domain to the app from the Domains form; a refusal goes back to the page with the reason.
func (u *UI) addDomain(w http.ResponseWriter, r *http.Request, me Me) {
	name := r.PathValue("name")
	back := "/ui/my-apps/" + url.PathEscape(name) + "#domains"
	if u.d.Edge == nil {
		u.actionFailed(w, r, me, apperr.New(apperr.Unavailable, "the edge is not running on this server"), back)
		return
	}
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	pf := r.PostForm
	in := edge.RouteInput{Domain: pf.Get("domain"), Path: pf.Get("path"), Access: pf.Get("access"), HTTPS: pf.Get("https"),
		Allow: strings.Fields(strings.ReplaceAll(pf.Get("allow"), ",", " "))}
	if user := strings.TrimSpace(pf.Get("basic_user")); user != "" || pf.Get("basic_password") != "" {
		in.BasicUsers = []edge.BasicUser{{User: user, Password: pf.Get("basic_password")}}
	}
	ch, err := u.d.Edge.AddRoute(r.Context(), me.Actor, name, in)
	if err != nil {
		u.actionFailed(w, r, me, err, back)
		return
	}
	msg := ch.Route.URL + " now leads to " + name + "."
	if ch.Job != nil {
		redirect(w, r, "/ui/jobs/"+strconv.FormatInt(ch.Job.ID, 10), msg+" Rendering it again with its new address…")
		return
	}
	redirect(w, r, back, strings.TrimSpace(msg+" "+ch.Note))
}

// removeDomain removes one of the app's routes.
func (u *UI) removeDomain(w http.ResponseWriter, r *http.Request, me Me) {
	name := r.PathValue("name")
	back := "/ui/my-apps/" + url.PathEscape(name) + "#domains"
	if u.d.Edge == nil {
		u.actionFailed(w, r, me, apperr.New(apperr.Unavailable, "the edge is not running on this server"), back)
		return
	}
	domain, path := r.PostFormValue("domain"), r.PostFormValue("path")
	ch, err := u.d.Edge.RemoveRoute(r.Context(), me.Actor, name, domain, path)
	if err != nil {
		u.actionFailed(w, r, me, err, back)
		return
	}
	if ch.Job != nil {
		redirect(w, r, "/ui/jobs/"+strconv.FormatInt(ch.Job.ID, 10), domain+path+" no longer leads to "+name+". Rendering it again…")
		return
	}
	redirect(w, r, back, strings.TrimSpace(domain+path+" no longer leads to "+name+". "+ch.Note))
}

var actionWords = map[string]string{"start": "Starting", "stop": "Stopping", "restart": "Restarting"}

// operate starts, stops or restarts an instance; My apps follows the job and shows the new status.
func (u *UI) operate(w http.ResponseWriter, r *http.Request, me Me) {
	name, action := r.PathValue("name"), r.PathValue("action")
	job, err := u.d.Host.Operate(r.Context(), me.Actor, name, action)
	if err != nil {
		u.actionFailed(w, r, me, err, "/ui/my-apps")
		return
	}
	q := url.Values{"job": {strconv.FormatInt(job.ID, 10)}, "app": {name}}
	redirect(w, r, "/ui/my-apps?"+q.Encode()+"#app-"+name, actionWords[action]+" "+name+"…")
}

// uninstall removes an instance; its data volumes and upgrade snapshots stay unless the admin ticked purge.
func (u *UI) uninstall(w http.ResponseWriter, r *http.Request, me Me) {
	name := r.PathValue("name")
	purge := r.PostFormValue("purge") == "1"
	if err := u.d.Host.Uninstall(r.Context(), me.Actor, name, purge); err != nil {
		u.actionFailed(w, r, me, err, "/ui/my-apps")
		return
	}
	msg := name + " is uninstalled; its data volumes are kept and come back if you install it again under this name; its upgrade snapshots are kept too."
	if purge {
		msg = name + " is uninstalled and its data deleted: volumes, files and upgrade snapshots."
	}
	redirect(w, r, "/ui/my-apps", msg)
}

func (u *UI) upgrade(w http.ResponseWriter, r *http.Request, me Me) {
	name := r.PathValue("name")
	job, err := u.d.Host.Upgrade(r.Context(), me.Actor, name, r.PostFormValue("version"))
	if err != nil {
		u.actionFailed(w, r, me, err, "/ui/my-apps/"+url.PathEscape(name))
		return
	}
	redirect(w, r, "/ui/jobs/"+strconv.FormatInt(job.ID, 10), "Upgrading "+name+"…")
}

func (u *UI) rollback(w http.ResponseWriter, r *http.Request, me Me) {
	name := r.PathValue("name")
	job, err := u.d.Host.Rollback(r.Context(), me.Actor, name)
	if err != nil {
		u.actionFailed(w, r, me, err, "/ui/my-apps/"+url.PathEscape(name))
		return
	}
	redirect(w, r, "/ui/jobs/"+strconv.FormatInt(job.ID, 10), "Rolling back "+name+"…")
}

// actionFailed shows who may not act the error page; a refused action (busy, not installed, bad version) goes
// back to the page it came from with the reason.
func (u *UI) actionFailed(w http.ResponseWriter, r *http.Request, me Me, err error, back string) {
	if refused(err) || apperr.As(err).Kind == apperr.Internal {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, back, apperr.As(err).Message)
}
