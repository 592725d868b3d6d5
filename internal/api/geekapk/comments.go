package geekapk

import (
	"context"
	"net/http"
	"strings"

	"github.com/stackhub/stackhub/internal/auth"
)

// isDoge tells the admin paths from the user paths that share a handler.
func isDoge(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/doge/") }

func (h *Handler) comments(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.Comments(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) searchComments(w http.ResponseWriter, r *http.Request) error {
	kw, err := readText(w, r)
	if err != nil {
		return err
	}
	p, err := page(r)
	if err != nil {
		return err
	}
	ids, err := h.hub.SearchComments(r.Context(), kw, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ids)
}

func (h *Handler) comment(w http.ResponseWriter, r *http.Request) error {
	cid, err := pathID(r, "cid")
	if err != nil {
		return err
	}
	c, err := h.hub.Comment(r.Context(), cid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (h *Handler) editComment(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		return err
	}
	content, err := readText(w, r)
	if err != nil {
		return err
	}
	c, err := h.hub.EditComment(r.Context(), a, cid, content)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (h *Handler) deleteComment(w http.ResponseWriter, r *http.Request) error {
	a, err := h.actor(r)
	if err != nil {
		return err
	}
	if isDoge(r) { // the /doge path shares the service method with the user path, but is the admin's alone
		if err := h.hub.CheckAdmin(a); err != nil {
			return err
		}
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		return err
	}
	if err := h.hub.DeleteComment(r.Context(), a, cid, flag(r, "recursive")); err != nil {
		return err
	}
	return gone(w)
}

func (h *Handler) commentStarred(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("cid", func(ctx context.Context, a auth.Actor, cid int64) (any, error) {
		return h.hub.CommentStarred(ctx, a, cid)
	})(w, r)
}

func (h *Handler) toggleCommentStar(w http.ResponseWriter, r *http.Request) error {
	return h.actorAndID("cid", func(ctx context.Context, a auth.Actor, cid int64) (any, error) {
		return h.hub.ToggleCommentStar(ctx, a, cid)
	})(w, r)
}

func (h *Handler) replies(w http.ResponseWriter, r *http.Request) error {
	return idList("cid", h.hub.Replies)(w, r)
}

func (h *Handler) commentStargazers(w http.ResponseWriter, r *http.Request) error {
	return idList("cid", h.hub.CommentStargazers)(w, r)
}
