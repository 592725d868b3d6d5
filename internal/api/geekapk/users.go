package geekapk

import (
	"context"
	"net/http"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/hub"
)

// shortUser is the ?short form of a user.
type shortUser struct {
	ID         int64   `json:"id"`
	SimpleName string  `json:"simple_name"`
	Name       string  `json:"name"`
	AvatarURL  *string `json:"avatar_url"`
}

// idList serves a list of ids about the entity named by a path parameter.
func idList(param string, fn func(ctx context.Context, id int64, p hub.Page) ([]int64, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, param)
		if err != nil {
			return err
		}
		p, err := page(r)
		if err != nil {
			return err
		}
		ids, err := fn(r.Context(), id, p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, ids)
	}
}

// actorAndID serves a call that needs the caller and one id from the path.
func (h *Handler) actorAndID(param string, fn func(ctx context.Context, a auth.Actor, id int64) (any, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := h.actor(r)
		if err != nil {
			return err
		}
		id, err := pathID(r, param)
		if err != nil {
			return err
		}
		v, err := fn(r.Context(), a, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	u, err := h.hub.User(r.Context(), uid)
	if err != nil {
		return err
	}
	if flag(r, "short") {
		return writeJSON(w, http.StatusOK, shortUser{u.ID, u.SimpleName, u.Name, u.AvatarURL})
	}
	return writeJSON(w, http.StatusOK, u)
}

func userSort(r *http.Request) (hub.Sort, error) {
	q := r.URL.Query()
	return hub.SortOf(q.Get("s"), q.Get("m"), "id", "ctime", "otime", "followers")
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request) error {
	s, err := userSort(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.Users(r.Context(), s, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request) error {
	kw, err := readText(w, r)
	if err != nil {
		return err
	}
	s, err := userSort(r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.SearchUsers(r.Context(), r.URL.Query().Get("mode"), kw, s, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
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
	u, err := h.hub.UpdateUser(r.Context(), a, uid, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	return h.deleteUserAs(w, r, a)
}

func (h *Handler) deleteUserAs(w http.ResponseWriter, r *http.Request, a auth.Actor) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	if err := h.hub.DeleteUser(r.Context(), a, uid); err != nil {
		return err
	}
	return gone(w)
}

func (h *Handler) followers(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.Followers)(w, r)
}

func (h *Handler) following(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.Following)(w, r)
}

func (h *Handler) follows(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("uid", func(ctx context.Context, a auth.Actor, uid int64) (any, error) {
		return h.hub.Follows(ctx, a, uid)
	})(w, r)
}

func (h *Handler) toggleFollow(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("uid", func(ctx context.Context, a auth.Actor, uid int64) (any, error) {
		return h.hub.ToggleFollow(ctx, a, uid)
	})(w, r)
}

func (h *Handler) onlineAt(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	at, err := h.hub.OnlineAt(r.Context(), uid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, at)
}

func (h *Handler) markOnline(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("uid", func(ctx context.Context, a auth.Actor, uid int64) (any, error) {
		return h.hub.MarkOnline(ctx, a, uid)
	})(w, r)
}

func (h *Handler) userApps(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.UserApps)(w, r)
}

func (h *Handler) userComments(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.UserComments)(w, r)
}

func (h *Handler) userStars(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.UserStars)(w, r)
}

func (h *Handler) userCommentStars(w http.ResponseWriter, r *http.Request) error {
	return idList("uid", h.hub.UserCommentStars)(w, r)
}

func (h *Handler) userTimeline(w http.ResponseWriter, r *http.Request) error {
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	lines, err := h.hub.Timeline(r.Context(), []int64{uid}, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, lines)
}

func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ns, err := h.hub.Notifications(r.Context(), a, uid, flag(r, "all"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ns)
}

// notificationKey reads the caller and the (uid, created) address of a notification.
func (h *Handler) notificationKey(r *http.Request) (auth.Actor, int64, int64, error) {
	a, err := h.actor(r)
	if err != nil {
		return a, 0, 0, err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return a, 0, 0, err
	}
	created, err := pathID(r, "created")
	return a, uid, created, err
}
