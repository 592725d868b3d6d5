package geekapk

import (
	"context"
	"net/http"
	"strconv"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/hub"
)

// shortApp is the ?short form of an app.
type shortApp struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Package  *string `json:"package"`
	IconURL  *string `json:"icon_url"`
	StarsNum int64   `json:"stars_num"`
}

func hubSortOf(key, mode string) (hub.Sort, error) {
	return hub.SortOf(key, mode, "id", "ctime", "updated", "star", "replies", "size")
}

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeApp(m)
	if err != nil {
		return err
	}
	aid, err := h.hub.CreateApp(r.Context(), a, in)
	if err != nil {
		return err
	}
	return writeText(w, http.StatusOK, strconv.FormatInt(aid, 10))
}

func (h *Handler) apps(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.Apps(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) app(w http.ResponseWriter, r *http.Request) error {
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	app, err := h.hub.App(r.Context(), aid)
	if err != nil {
		return err
	}
	if flag(r, "short") {
		return writeJSON(w, http.StatusOK, shortApp{app.ID, app.Name, app.Package, app.IconURL, app.StarsNum})
	}
	return writeJSON(w, http.StatusOK, app)
}

func (h *Handler) updateApp(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeApp(m)
	if err != nil {
		return err
	}
	app, err := h.hub.UpdateApp(r.Context(), a, aid, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, app)
}

func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	if isDoge(r) { // the /doge path shares the service method with the user path, but is the admin's alone
		if err := h.hub.CheckAdmin(a); err != nil {
			return err
		}
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	if err := h.hub.DeleteApp(r.Context(), a, aid, flag(r, "recursive")); err != nil {
		return err
	}
	return gone(w)
}

func (h *Handler) appStargazers(w http.ResponseWriter, r *http.Request) error {
	return idList("aid", h.hub.AppStargazers)(w, r)
}

func (h *Handler) starred(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("aid", func(ctx context.Context, a auth.Actor, aid int64) (any, error) {
		return h.hub.Starred(ctx, a, aid)
	})(w, r)
}

func (h *Handler) toggleStar(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("aid", func(ctx context.Context, a auth.Actor, aid int64) (any, error) {
		return h.hub.ToggleStar(ctx, a, aid)
	})(w, r)
}

func (h *Handler) appComments(w http.ResponseWriter, r *http.Request) error {
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	q := query(r)
	s, err := hub.SortOf(q.Get("s"), q.Get("m"), "ctime", "ctime", "utime", "stars", "replies")
	if err != nil {
		return err
	}
	p, err := pageOf(q)
	if err != nil {
		return err
	}
	ids, err := h.hub.AppComments(r.Context(), aid, s, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) updates(w http.ResponseWriter, r *http.Request) error {
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	us, err := h.hub.Updates(r.Context(), aid, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, us)
}

func (h *Handler) countUpdates(w http.ResponseWriter, r *http.Request) error {
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	n, err := h.hub.CountUpdates(r.Context(), aid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

func (h *Handler) publishUpdate(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeUpdate(m)
	if err != nil {
		return err
	}
	u, err := h.hub.PublishUpdate(r.Context(), a, aid, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

func (h *Handler) saveUpdate(w http.ResponseWriter, r *http.Request) error {
	a, aid, rev, err := h.updateKey(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeUpdate(m)
	if err != nil {
		return err
	}
	u, err := h.hub.SaveUpdate(r.Context(), a, aid, rev, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (h *Handler) deleteUpdate(w http.ResponseWriter, r *http.Request) error {
	a, aid, rev, err := h.updateKey(r)
	if err != nil {
		return err
	}
	if err := h.hub.DeleteUpdate(r.Context(), a, aid, rev); err != nil {
		return err
	}
	return gone(w)
}

func (h *Handler) updateKey(r *http.Request) (auth.Actor, int64, int64, error) {
	a, err := h.actor(r)
	if err != nil {
		return a, 0, 0, err
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return a, 0, 0, err
	}
	rev, err := pathID(r, "rev")
	return a, aid, rev, err
}

func (h *Handler) createComment(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeComment(m)
	if err != nil {
		return err
	}
	cid, err := h.hub.CreateComment(r.Context(), a, aid, in)
	if err != nil {
		return err
	}
	return writeText(w, http.StatusOK, strconv.FormatInt(cid, 10))
}
