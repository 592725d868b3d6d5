package geekapk

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/webhook"
)

func (h *Handler) version_(w http.ResponseWriter, r *http.Request) error {
	return writeText(w, http.StatusOK, APIVersion+":"+h.version)
}

func (h *Handler) ping(w http.ResponseWriter, r *http.Request) error {
	return writeText(w, http.StatusOK, clientAddr(r))
}

func (h *Handler) validateMetapass(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	mp, err := readToken(w, r)
	if err != nil {
		return err
	}
	if err := h.auth.CheckMetapass(r.Context(), uid, mp, clientAddr(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, true)
}

func (h *Handler) validatePasshash(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	ph, err := readToken(w, r)
	if err != nil {
		return err
	}
	if err := h.auth.CheckPasshash(r.Context(), uid, ph, clientAddr(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, true)
}

func (h *Handler) setPassPath(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	mp, err := readToken(w, r)
	if err != nil {
		return err
	}
	if err := h.auth.SetPasshash(r.Context(), uid, mp, r.PathValue("passhash"), clientAddr(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, true)
}

func (h *Handler) setPassJSON(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	m, err := readObject(w, r)
	if err != nil {
		return err
	}
	d := &decoder{m: m}
	mp, ph := get[string](d, "metapass"), get[string](d, "passhash")
	if d.err != nil {
		return d.err
	}
	if err := h.auth.SetPasshash(r.Context(), uid, mp.V, ph.V, clientAddr(r)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, true)
}

// webhooks lists the configured hooks: whole for the admin, scheme and host only for anyone else.
func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil && !apperr.Is(err, apperr.Unauthorized) {
		return err
	}
	hooks := h.hooks
	if !auth.IsAdmin(a) {
		hooks = webhook.Public(hooks)
	}
	if hooks == nil {
		hooks = []webhook.Hook{}
	}
	return writeJSON(w, http.StatusOK, hooks)
}

func (h *Handler) timeline(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	lines, err := h.hub.Timeline(r.Context(), nil, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lines)
}

func (h *Handler) usersTimeline(w http.ResponseWriter, r *http.Request) error {
	var uids []int64
	for _, part := range strings.Split(r.PathValue("uids"), ",") {
		uid, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil {
			return apperr.Field(apperr.Invalid, "uids", "uids must be numbers separated by commas, like 1,2,3")
		}
		uids = append(uids, uid)
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	lines, err := h.hub.Timeline(r.Context(), uids, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lines)
}

func (h *Handler) mention(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		return err
	}
	n, err := h.hub.Mention(r.Context(), a, uid, cid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, n)
}

func (h *Handler) toggleNotification(w http.ResponseWriter, r *http.Request) error {
	a, uid, created, err := h.notificationKey(r)
	if err != nil {
		return err
	}
	read, err := h.hub.ToggleNotificationRead(r.Context(), a, uid, created)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, read)
}

func (h *Handler) deleteNotification(w http.ResponseWriter, r *http.Request) error {
	a, uid, created, err := h.notificationKey(r)
	if err != nil {
		return err
	}
	if err := h.hub.DeleteNotification(r.Context(), a, uid, created); err != nil {
		return err
	}
	return gone(w)
}
