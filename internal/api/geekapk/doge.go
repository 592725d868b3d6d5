package geekapk

import (
	"net/http"
	"strconv"
)

func (h *Handler) userAdd(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	in, err := decodeUser(m)
	if err != nil {
		return err
	}
	uid, metapass, err := h.hub.CreateUser(r.Context(), a, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeText(w, http.StatusCreated, strconv.FormatInt(uid, 10)+":"+metapass)
}

func (h *Handler) dogeDeleteUser(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	if err := h.hub.CheckAdmin(a); err != nil {
		return err
	}
	return h.deleteUserAs(w, r, a)
}

func (h *Handler) toggleUser(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	enabled, err := h.hub.ToggleUserEnabled(r.Context(), a, uid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"uid": uid, "enabled": enabled})
}

func (h *Handler) setMetapass(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	body, err := readToken(w, r)
	if err != nil {
		return err
	}
	mp, err := h.hub.SetMetapass(r.Context(), a, uid, body)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]any{"uid": uid, "metapass": mp})
}

func (h *Handler) createCategory(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	parent, err := pathID(r, "parent")
	if err != nil {
		return err
	}
	name, err := readToken(w, r)
	if err != nil {
		return err
	}
	tid, err := h.hub.CreateCategory(r.Context(), a, parent, name)
	if err != nil {
		return err
	}
	return writeText(w, http.StatusOK, strconv.FormatInt(tid, 10))
}

func (h *Handler) renameCategory(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	name, err := readToken(w, r)
	if err != nil {
		return err
	}
	c, err := h.hub.RenameCategory(r.Context(), a, tid, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tid": c.ID, "name": c.Name, "parent": c.Parent})
}

func (h *Handler) moveCategory(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	body, err := readToken(w, r)
	if err != nil {
		return err
	}
	parent, err := strconv.ParseInt(body, 10, 64)
	if err != nil {
		return fieldErr("parent", "the body must be the new parent's id, or 0 for none")
	}
	c, err := h.hub.MoveCategory(r.Context(), a, tid, parent)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tid": c.ID, "name": c.Name, "parent": c.Parent})
}

func (h *Handler) deleteCategory(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	tid, err := pathID(r, "tid")
	if err != nil {
		return err
	}
	if err := h.hub.DeleteCategory(r.Context(), a, tid); err != nil {
		return err
	}
	return gone(w)
}
