package geekapk

import (
	"net/http"
)

func (h *Handler) categories(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.hub.Categories(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cs)
}

func (h *Handler) category(w http.ResponseWriter, r *http.Request) error {
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	c, err := h.hub.Category(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (h *Handler) categoryParent(w http.ResponseWriter, r *http.Request) error {
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	c, err := h.hub.CategoryParent(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (h *Handler) categoryApps(w http.ResponseWriter, r *http.Request) error {
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	s, err := hubSortOf(q.Get("s"), q.Get("m"))
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.CategoryApps(r.Context(), tid, s, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) searchCategory(w http.ResponseWriter, r *http.Request) error {
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	return h.searchAppsIn(w, r, &tid)
}

func (h *Handler) searchApps(w http.ResponseWriter, r *http.Request) error {
	return h.searchAppsIn(w, r, nil)
}

func (h *Handler) searchAppsIn(w http.ResponseWriter, r *http.Request, tid *int64) error {
	kw, err := readText(w, r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.SearchApps(r.Context(), tid, r.URL.Query().Get("s"), kw, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}
