package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/hub"
)

// appCommentsPerPage is how many top-level comments one app page shows.
const appCommentsPerPage = 20

// appVersionsShown is how many of the newest versions the app page lists.
const appVersionsShown = 20

// The thread's bounds: the app page shows a few replies of each comment; a thread rooted at one comment (the
// "see more" link) shows many more of its replies.
var (
	appThreadLimits   = hub.ThreadLimits{Depth: 4, PerParent: 5, PerLevel: 200}
	appFocusedLimits  = hub.ThreadLimits{Depth: 4, PerParent: 50, PerLevel: 300}
	appMaxPreviews    = 12
	appCommentFormKey = "comment-content"
)

func (u *UI) registerApp(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/apps/{aid}", u.page(u.appPage))
	mux.HandleFunc("GET /ui/apps/{aid}/icon", u.page(u.appIcon))
	mux.HandleFunc("POST /ui/apps/{aid}/star", u.page(u.starApp))
	mux.HandleFunc("POST /ui/apps/{aid}/comments", u.page(u.postComment))
	mux.HandleFunc("POST /ui/comments/{cid}/star", u.page(u.starComment))
	mux.HandleFunc("POST /ui/comments/{cid}/edit", u.page(u.editComment))
	mux.HandleFunc("POST /ui/comments/{cid}/delete", u.page(u.deleteComment))
}

// appView is which part of an app's comments a page shows: a page of the whole thread, or one comment's thread.
type appView struct {
	Focus int64 // the comment at the root; 0: the app's top-level comments
	Page  int   // of top-level comments, from 1
}

// appData is the app page's data.
type appData struct {
	App          *hub.App
	Author       *hub.User // nil when the author's account was deleted
	Previews     []string
	Permissions  []string
	Categories   []hub.Category // every category the app is in
	Stores       []hub.AppStore // the stores that offer it
	SizeBytes    uint64         // the size field counts units of 100 bytes
	Versions     []hub.Version  // newest first
	VersionCount int64
	Stack        *catalog.Stack // the newest installable version's stack; nil when none is installable
	StackVersion string
	Starred      bool
	Follows      bool
	CanFollow    bool
	Thread       *hub.Thread
	View         appView
	FocusParent  int64  // the comment the focused one replies to
	Self         string // this page's path and query: where the forms on it come back to
	FormFor      string // which form the page's Form belongs to: "new", "reply-<cid>" or "edit-<cid>"
	PrevHref     string
	NextHref     string
}

func (u *UI) appPage(w http.ResponseWriter, r *http.Request, me Me) {
	aid, err := pathID(r, "aid", "app")
	if err == nil {
		var v appView
		if v, err = appViewOf(r.URL.Query()); err == nil {
			u.showApp(w, r, me, aid, v, http.StatusOK, nil, "")
			return
		}
	}
	u.fail(w, r, me, err)
}

// appIcon serves an icon a store shipped as a file. An SVG may hold script: it is served under a policy that
// runs nothing, and pages show it through <img>, which runs nothing either.
func (u *UI) appIcon(w http.ResponseWriter, r *http.Request, me Me) {
	aid, err := pathID(r, "aid", "app")
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	ic, err := u.d.Hub.AppIcon(r.Context(), aid)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ic.MediaType)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(ic.Body)
}

// showApp renders an app page; form and formFor carry a failed comment form back to its place.
func (u *UI) showApp(w http.ResponseWriter, r *http.Request, me Me, aid int64, v appView, status int, form *Form,
	formFor string) {
	d, err := u.appData(r.Context(), me, aid, v)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	d.FormFor = formFor
	u.render(w, r, status, "app", View{Title: d.App.Name, Me: me, Data: d, Form: form})
}

// appData gathers what the app page shows.
func (u *UI) appData(ctx context.Context, me Me, aid int64, v appView) (*appData, error) {
	h := u.d.Hub
	app, err := h.App(ctx, aid)
	if err != nil {
		return nil, err
	}
	d := &appData{App: app, View: v, Previews: appPreviews(app.Previews), Self: appSelf(aid, v)}
	if app.Size > 0 {
		d.SizeBytes = uint64(app.Size) * 100
	}
	if app.Permissions != nil {
		for _, p := range strings.Split(*app.Permissions, "\n") {
			if p = strings.TrimSpace(p); p != "" {
				d.Permissions = append(d.Permissions, p)
			}
		}
	}
	if d.Author, err = h.User(ctx, app.Author); apperr.Is(err, apperr.NotFound) {
		d.Author, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := u.appVersions(ctx, d); err != nil {
		return nil, err
	}
	if d.Categories, d.Stores, err = h.AppOrigins(ctx, aid); err != nil {
		return nil, err
	}
	if me.User {
		if d.Starred, err = h.Starred(ctx, me.Actor, aid); err != nil {
			return nil, err
		}
		if d.CanFollow = d.Author != nil && d.Author.ID != me.UID; d.CanFollow {
			if d.Follows, err = h.Follows(ctx, me.Actor, d.Author.ID); err != nil {
				return nil, err
			}
		}
	}
	return d, u.appThread(ctx, me, d)
}

// appVersions loads the newest versions and the stack of the newest installable one.
func (u *UI) appVersions(ctx context.Context, d *appData) error {
	n, err := u.d.Hub.CountUpdates(ctx, d.App.ID)
	if err != nil {
		return err
	}
	d.VersionCount = n
	// Versions come oldest first: skip to the newest few.
	vs, err := u.d.Hub.Updates(ctx, d.App.ID, hub.Page{Limit: appVersionsShown,
		Offset: int(max(0, n-appVersionsShown))})
	if err != nil {
		return err
	}
	slices.Reverse(vs)
	d.Versions = vs
	for _, v := range vs {
		if len(v.Stack) == 0 {
			continue
		}
		var st catalog.Stack
		if err := json.Unmarshal(v.Stack, &st); err != nil {
			// A stored stack that does not parse is a data problem to log, not a reason to hide the page.
			u.d.Log.WarnContext(ctx, "app page: stack does not parse", "app", d.App.ID, "rev", v.Reversion, "err", err)
			continue
		}
		d.Stack, d.StackVersion = &st, v.Version
		break
	}
	return nil
}

// appThread loads the comments the view asks for, with the paging links.
func (u *UI) appThread(ctx context.Context, me Me, d *appData) error {
	var err error
	if d.View.Focus != 0 {
		if d.Thread, err = u.d.Hub.CommentThread(ctx, me.Actor, d.App.ID, d.View.Focus, appFocusedLimits); err != nil {
			return err
		}
		if r := d.Thread.Comments[0].Reply; r != nil {
			d.FocusParent = *r
		}
		return nil
	}
	p := hub.Page{Limit: appCommentsPerPage, Offset: (d.View.Page - 1) * appCommentsPerPage}
	if d.Thread, err = u.d.Hub.AppThread(ctx, me.Actor, d.App.ID, p, appThreadLimits); err != nil {
		return err
	}
	base := fmt.Sprintf("/ui/apps/%d", d.App.ID)
	if d.View.Page > 1 {
		d.PrevHref = base + "#comments"
		if d.View.Page > 2 {
			d.PrevHref = fmt.Sprintf("%s?cpage=%d#comments", base, d.View.Page-1)
		}
	}
	if d.Thread.More {
		d.NextHref = fmt.Sprintf("%s?cpage=%d#comments", base, d.View.Page+1)
	}
	return nil
}

// appPreviews splits the previews field (";"-separated URLs); only http(s) URLs become images.
func appPreviews(field *string) []string {
	if field == nil {
		return nil
	}
	var out []string
	for _, p := range strings.Split(*field, ";") {
		p = strings.TrimSpace(p)
		if lp := strings.ToLower(p); strings.HasPrefix(lp, "https://") || strings.HasPrefix(lp, "http://") {
			out = append(out, p)
		}
		if len(out) == appMaxPreviews {
			break
		}
	}
	return out
}

// appSelf is the path and query of an app page view.
func appSelf(aid int64, v appView) string {
	s := fmt.Sprintf("/ui/apps/%d", aid)
	switch {
	case v.Focus != 0:
		s += fmt.Sprintf("?thread=%d", v.Focus)
	case v.Page > 1:
		s += fmt.Sprintf("?cpage=%d", v.Page)
	}
	return s
}

// appViewOf reads the view from the query: thread=<cid> or cpage=<n>.
func appViewOf(q url.Values) (appView, error) {
	v := appView{Page: 1}
	if s := q.Get("thread"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return v, apperr.Field(apperr.Invalid, "thread", "thread must be a comment id")
		}
		v.Focus = id
	}
	if s := q.Get("cpage"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 100000 {
			return v, apperr.Field(apperr.Invalid, "cpage", "cpage must be a page number from 1")
		}
		v.Page = p
	}
	return v, nil
}

// appBack is where a comment form returns to: its "back" field when that is an app page of this site.
func appBack(r *http.Request, app int64) string {
	b, _, _ := strings.Cut(r.PostForm.Get("back"), "#")
	if strings.HasPrefix(b, "/ui/apps/") && safeNext(b) == b {
		return b
	}
	return fmt.Sprintf("/ui/apps/%d", app)
}

// starApp stars or unstars an app for the signed-in user.
func (u *UI) starApp(w http.ResponseWriter, r *http.Request, me Me) {
	aid, err := pathID(r, "aid", "app")
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	if !appSignedIn(w, r, me, fmt.Sprintf("/ui/apps/%d", aid)) {
		return
	}
	on, err := u.d.Hub.ToggleStar(r.Context(), me.Actor, aid)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/ui/apps/%d", aid), toggled(on, "Starred.", "Star removed."))
}

// postComment posts a comment, or a reply when the form names one.
func (u *UI) postComment(w http.ResponseWriter, r *http.Request, me Me) {
	aid, err := pathID(r, "aid", "app")
	if err == nil {
		err = parseForm(r)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	if !appSignedIn(w, r, me, fmt.Sprintf("/ui/apps/%d#comments", aid)) {
		return
	}
	in := hub.CommentInput{Content: hub.Some(r.PostForm.Get("content"))}
	var reply int64
	if s := r.PostForm.Get("reply"); s != "" {
		if reply, err = strconv.ParseInt(s, 10, 64); err != nil || reply <= 0 {
			u.fail(w, r, me, apperr.Field(apperr.Invalid, "reply", "reply must be a comment id"))
			return
		}
		in.Reply = hub.Some(&reply)
	}
	cid, err := u.d.Hub.CreateComment(r.Context(), me.Actor, aid, in)
	if err != nil {
		// A reply's failure shows on the replied comment's own thread, where its form is sure to be.
		key, v, formFor := appCommentFormKey, appView{Page: 1}, "new"
		if reply != 0 && apperr.As(err).Field != "reply" { // a bad reply id has no thread to show
			key, v, formFor = fmt.Sprintf("reply-%d", reply), appView{Focus: reply, Page: 1}, fmt.Sprintf("reply-%d", reply)
		}
		u.commentFailed(w, r, me, err, aid, v, key, formFor)
		return
	}
	if reply != 0 {
		redirect(w, r, fmt.Sprintf("/ui/apps/%d?thread=%d#c%d", aid, reply, cid), "Reply posted.")
		return
	}
	redirect(w, r, fmt.Sprintf("/ui/apps/%d#c%d", aid, cid), "Comment posted.")
}

// commentFailed shows a field error next to the form's field on the app page; any other error gets the error
// page with its status (403 for somebody else's comment, 404 for a missing one).
func (u *UI) commentFailed(w http.ResponseWriter, r *http.Request, me Me, err error, aid int64, v appView,
	key, formFor string) {
	e := apperr.As(err)
	if e.Field == "" || e.Kind == apperr.NotFound {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	f.Fail(err, map[string]string{"content": key, "reply": key})
	u.showApp(w, r, me, aid, v, statusOf(err), f, formFor)
}

// commentOf parses the form and loads the comment a /ui/comments/{cid}/... action names, for a signed-in caller.
func (u *UI) commentOf(w http.ResponseWriter, r *http.Request, me Me) (*hub.Comment, bool) {
	cid, err := pathID(r, "cid", "comment")
	if err == nil {
		err = parseForm(r)
	}
	var c *hub.Comment
	if err == nil {
		c, err = u.d.Hub.Comment(r.Context(), cid)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return nil, false
	}
	return c, appSignedIn(w, r, me, fmt.Sprintf("/ui/apps/%d#c%d", c.App, c.ID))
}

// appSignedIn sends an anonymous visitor to sign in and then to page (the page the form was on: the form's own
// URL takes POST only); true when the caller may go on.
func appSignedIn(w http.ResponseWriter, r *http.Request, me Me, page string) bool {
	if me.Signed() {
		return true
	}
	toSignIn(w, r, page)
	return false
}

// starComment stars or unstars a comment.
func (u *UI) starComment(w http.ResponseWriter, r *http.Request, me Me) {
	c, ok := u.commentOf(w, r, me)
	if !ok {
		return
	}
	on, err := u.d.Hub.ToggleCommentStar(r.Context(), me.Actor, c.ID)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, fmt.Sprintf("%s#c%d", appBack(r, c.App), c.ID), toggled(on, "Comment starred.", "Star removed."))
}

// editComment replaces the content of one's own comment (or any, for the admin).
func (u *UI) editComment(w http.ResponseWriter, r *http.Request, me Me) {
	c, ok := u.commentOf(w, r, me)
	if !ok {
		return
	}
	if _, err := u.d.Hub.EditComment(r.Context(), me.Actor, c.ID, r.PostForm.Get("content")); err != nil {
		key := fmt.Sprintf("edit-%d", c.ID)
		u.commentFailed(w, r, me, err, c.App, appView{Focus: c.ID, Page: 1}, key, key)
		return
	}
	redirect(w, r, fmt.Sprintf("%s#c%d", appBack(r, c.App), c.ID), "Comment saved.")
}

// deleteComment deletes one's own comment (or any, for the admin). Its replies move to the archive of deleted
// comments (app 0), as the contract's non-recursive delete does.
func (u *UI) deleteComment(w http.ResponseWriter, r *http.Request, me Me) {
	c, ok := u.commentOf(w, r, me)
	if !ok {
		return
	}
	if err := u.d.Hub.DeleteComment(r.Context(), me.Actor, c.ID, false); err != nil {
		u.fail(w, r, me, err)
		return
	}
	// The comment's own thread is gone: go back to the comment it replied to, or to the app's comments.
	target := fmt.Sprintf("/ui/apps/%d#comments", c.App)
	if c.Reply != nil {
		target = fmt.Sprintf("/ui/apps/%d?thread=%d#c%d", c.App, *c.Reply, *c.Reply)
	}
	redirect(w, r, target, "Comment deleted.")
}
