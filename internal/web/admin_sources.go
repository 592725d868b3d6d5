package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/sources"
	"github.com/stackhub/stackhub/internal/store"
)

// registerSources mounts the admin's store sources page: the list with each last sync, and add, sync, remove.
func (u *UI) registerSources(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/admin/sources", u.page(u.adminSourcesPage))
	mux.HandleFunc("POST /ui/admin/sources", u.page(u.adminAddSource))
	mux.HandleFunc("POST /ui/admin/sources/{id}/sync", u.page(u.adminSyncSource))
	mux.HandleFunc("POST /ui/admin/sources/{id}/delete", u.page(u.adminRemoveSource))
}

type adminSourcesData struct {
	Sources []store.Source
	Formats []string
}

func (u *UI) sourcesService() (*sources.Service, error) {
	if u.d.Sources == nil {
		return nil, apperr.New(apperr.Unavailable, "Store sources are not running")
	}
	return u.d.Sources, nil
}

func (u *UI) adminSourcesPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	u.adminRenderSources(w, r, me, http.StatusOK, newForm())
}

func (u *UI) adminRenderSources(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form) {
	ss, err := u.sourcesService()
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	d := adminSourcesData{Formats: catalog.Formats()}
	if d.Sources, err = ss.List(r.Context(), me.Actor); err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, status, "admin_sources", View{Title: "Store sources", Me: me, Form: f, Data: d})
}

func (u *UI) adminAddSource(w http.ResponseWriter, r *http.Request, me Me) {
	ss, err := u.sourcesService()
	if err == nil {
		err = parseForm(r)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	src, err := ss.Add(r.Context(), me.Actor, sources.AddInput{URL: f.Get("url"), Format: f.Get("format"), Name: f.Get("name")})
	if refused(err) {
		u.fail(w, r, me, err)
		return
	}
	if err != nil {
		f.Fail(err, nil)
		u.adminRenderSources(w, r, me, statusOf(err), f)
		return
	}
	redirect(w, r, "/ui/admin/sources", "Source "+strconv.FormatInt(src.ID, 10)+" added; its first sync is running.")
}

func (u *UI) adminSyncSource(w http.ResponseWriter, r *http.Request, me Me) {
	ss, err := u.sourcesService()
	var id int64
	if err == nil {
		id, err = pathID(r, "id", "source")
	}
	var src *store.Source
	if err == nil {
		src, err = ss.Sync(r.Context(), me.Actor, id)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	flash := fmt.Sprintf("Source %d synced: %d apps accepted, %d refused, %d versions added, %d removed.", id,
		src.AppsAccepted, src.AppsRefused, src.VersionsAdded, src.VersionsRemoved)
	if src.Error != "" {
		flash = fmt.Sprintf("Source %d failed to sync: %s", id, src.Error)
	}
	redirect(w, r, "/ui/admin/sources", flash)
}

func (u *UI) adminRemoveSource(w http.ResponseWriter, r *http.Request, me Me) {
	ss, err := u.sourcesService()
	var id int64
	if err == nil {
		id, err = pathID(r, "id", "source")
	}
	if err == nil {
		err = ss.Remove(r.Context(), me.Actor, id)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/admin/sources", "Source "+strconv.FormatInt(id, 10)+" removed; its apps left the store, except the versions installs use.")
}
