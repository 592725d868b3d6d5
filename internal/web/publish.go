package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/hub"
)

func (u *UI) registerPublish(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/publish", u.page(u.publishPage))
	mux.HandleFunc("POST /ui/publish", u.page(u.publishApp))
	mux.HandleFunc("GET /ui/apps/{aid}/versions/new", u.page(u.versionPage))
	mux.HandleFunc("POST /ui/apps/{aid}/versions/new", u.page(u.publishVersion))
}

type pubData struct {
	Categories []peopleCategory
}

func (u *UI) publishPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !requireSignIn(w, r, me) {
		return
	}
	u.pubRenderApp(w, r, me, http.StatusOK, newForm())
}

func (u *UI) pubRenderApp(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form) {
	cats, err := u.d.Hub.Categories(r.Context())
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, status, "publish", View{Title: "Publish an app", Me: me, Form: f,
		Data: pubData{Categories: peopleCategories(cats)}})
}

// publishApp creates an app by the signed-in user and opens its page.
func (u *UI) publishApp(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	in := pubAppInput(f)
	var err error
	aid := int64(0)
	if !f.Has() {
		if aid, err = u.d.Hub.CreateApp(r.Context(), me.Actor, in); err != nil {
			f.Fail(err, nil)
		}
	}
	if f.Has() {
		u.pubRenderApp(w, r, me, statusOf(err), f)
		return
	}
	redirect(w, r, "/ui/apps/"+strconv.FormatInt(aid, 10), "App published. Add a version with a stack to make it installable.")
}

// pubAppInput decodes the publish form; what cannot be decoded is recorded on f next to its field.
func pubAppInput(f *Form) hub.AppInput {
	in := hub.AppInput{
		Name:        hub.Some(strings.TrimSpace(f.Get("name"))),
		Package:     pubOptText(f.Get("package")),
		IconURL:     pubOptText(f.Get("icon_url")),
		Desc:        hub.Some(f.Get("desc")),
		Permissions: pubOptText(strings.TrimSpace(f.Get("permissions"))),
		// The contract stores previews as one ";"-separated string; the form takes one URL per line.
		Previews: pubOptText(strings.Join(strings.Fields(f.Get("previews")), ";")),
	}
	if c := strings.TrimSpace(f.Get("category")); c != "" && c != "0" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			f.Errors["category"] = "pick a category from the list"
		}
		in.Category = hub.Some(&id)
	}
	if s := strings.TrimSpace(f.Get("size")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.Errors["size"] = "enter a whole number"
		}
		in.Size = hub.Some(n)
	}
	return in
}

// pubOptText is an optional text field: blank means none.
func pubOptText(s string) hub.Opt[*string] {
	if strings.TrimSpace(s) == "" {
		return hub.Some[*string](nil)
	}
	return hub.Some(&s)
}

type pubVersionData struct {
	App   *hub.App
	Files []pubFile // the files typed so far and empty slots for more
}

// pubFile is one extra file of a stack as the form shows it.
type pubFile struct {
	Index      int
	Path, Body string
}

// pubBlankFiles is how many empty file slots the form offers; without JavaScript they are the way to add files.
const pubBlankFiles = 2

func (u *UI) versionPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !requireSignIn(w, r, me) {
		return
	}
	u.pubRenderVersion(w, r, me, http.StatusOK, newForm())
}

// pubRenderVersion loads the app the caller may publish to (the service refuses anybody else) and shows the form.
func (u *UI) pubRenderVersion(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form) {
	aid, err := pathID(r, "aid", "app")
	var app *hub.App
	var next int64
	if err == nil {
		app, next, err = u.d.Hub.AppForPublishing(r.Context(), me.Actor, aid)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	if !f.Values.Has("rev") {
		f.Values.Set("rev", strconv.FormatInt(next, 10))
	}
	d := pubVersionData{App: app}
	paths, bodies := f.Values["file_path"], f.Values["file_body"]
	for i := range paths {
		if i < len(bodies) && (strings.TrimSpace(paths[i]) != "" || bodies[i] != "") {
			d.Files = append(d.Files, pubFile{Path: paths[i], Body: bodies[i]})
		}
	}
	for range pubBlankFiles {
		d.Files = append(d.Files, pubFile{})
	}
	for i := range d.Files {
		d.Files[i].Index = i
	}
	u.render(w, r, status, "version_new", View{Title: "New version of " + app.Name, Me: me, Form: f, Data: d})
}

// publishVersion adds a version, with its stack when a compose file was given, and opens the app's page.
func (u *UI) publishVersion(w http.ResponseWriter, r *http.Request, me Me) {
	aid, err := pathID(r, "aid", "app")
	if err == nil {
		err = parseForm(r)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	in := pubUpdateInput(f)
	if !f.Has() {
		if _, err = u.d.Hub.PublishUpdate(r.Context(), me.Actor, aid, in); err != nil {
			pubFailStack(f, err)
		}
	}
	if f.Has() {
		u.pubRenderVersion(w, r, me, statusOf(err), f)
		return
	}
	redirect(w, r, "/ui/apps/"+strconv.FormatInt(aid, 10), "Version "+strings.TrimSpace(f.Get("ver"))+" published.")
}

// pubUpdateInput decodes the version form; a stack is sent only when any of its parts was filled in.
func pubUpdateInput(f *Form) hub.UpdateInput {
	in := hub.UpdateInput{
		Version:    hub.Some(strings.TrimSpace(f.Get("ver"))),
		Updates:    hub.Some(f.Get("updates")),
		InstallURL: hub.Some(strings.TrimSpace(f.Get("install_url"))),
	}
	rev, err := strconv.ParseInt(strings.TrimSpace(f.Get("rev")), 10, 64)
	if err != nil {
		f.Errors["rev"] = "enter the reversion: a whole number that orders this version after the others"
	}
	in.Reversion = hub.Some(rev)
	st := catalog.Stack{Compose: f.Get("compose"), Env: f.Get("env"), Files: map[string]string{}}
	paths, bodies := f.Values["file_path"], f.Values["file_body"]
	for i, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" || i >= len(bodies) {
			continue
		}
		st.Files[p] = bodies[i]
	}
	if len(st.Files) == 0 {
		st.Files = nil
	}
	for _, req := range []struct {
		name string
		dst  *float64
	}{{"cpu", &st.Requirements.CPU}, {"memory", &st.Requirements.Memory}, {"disk", &st.Requirements.Disk}} {
		v := strings.TrimSpace(f.Get(req.name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			f.Errors["requirements"] = req.name + " must be a number"
		}
		*req.dst = n
	}
	if strings.TrimSpace(st.Compose) != "" || strings.TrimSpace(st.Env) != "" || st.Files != nil {
		in.Stack = hub.Some(&st)
	}
	return in
}

// pubFailStack places a refused stack's problems next to the part of the form they are in (the compose text, the
// .env text, the files, the requirements); any other error goes through Form.Fail.
func pubFailStack(f *Form, err error) {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		f.Fail(err, nil)
		return
	}
	for _, p := range append([]*catalog.ValidationError{ve}, ve.More...) {
		field, where := "files", p.File+" "
		switch p.File {
		case catalog.ComposeFile:
			field, where = "compose", ""
		case catalog.EnvFile:
			field, where = "env", ""
		case catalog.VariablesFile:
			field, where = "requirements", ""
		case "":
			field, where = "", ""
		}
		msg := p.Reason
		if p.Line > 0 {
			msg = fmt.Sprintf("%sline %d: %s", where, p.Line, p.Reason)
		} else if where != "" {
			msg = where + p.Reason
		}
		if field == "" {
			f.Error = pubJoin(f.Error, msg)
		} else {
			f.Errors[field] = pubJoin(f.Errors[field], msg)
		}
	}
}

func pubJoin(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
