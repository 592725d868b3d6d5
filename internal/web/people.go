package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/hub"
)

// Page sizes of the people pages.
const (
	peopleProfileRows  = 12 // apps, stars and timeline entries on a profile
	peopleTimelineRows = 30
	peopleNoteRows     = 50
)

func (u *UI) registerPeople(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/users/{uid}", u.page(u.profilePage))
	mux.HandleFunc("POST /ui/users/{uid}/follow", u.page(u.follow))
	mux.HandleFunc("GET /ui/u/{name}", u.page(u.userByName))
	mux.HandleFunc("GET /ui/timeline", u.page(u.timelinePage))
	mux.HandleFunc("GET /ui/notifications", u.page(u.notificationsPage))
	mux.HandleFunc("POST /ui/notifications/read-all", u.page(u.readAllNotifications))
	mux.HandleFunc("POST /ui/notifications/{created}/read", u.page(u.toggleNotificationRead))
	u.registerPublish(mux)
}

// peoplePageIndex is the 0-based page of a list from ?page=; withParam drops page=0 from links.
func peoplePageIndex(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// peoplePageOf asks for one row past the page, so the page knows whether an older one exists.
func peoplePageOf(index, rows int) hub.Page { return hub.Page{Limit: rows + 1, Offset: index * rows} }

// peoplePager is what the "people-pager" partial needs: the current page and the links to its neighbours
// (empty when there is none).
type peoplePager struct {
	Index        int
	Newer, Older string
}

// peopleTrim cuts a list fetched with peoplePageOf to its page and links the pages around it, keeping the rest
// of the query (a filter, say).
func peopleTrim[T any](list []T, index, rows int, q url.Values) ([]T, peoplePager) {
	p := peoplePager{Index: index}
	if index > 0 {
		p.Newer = withParam(q, "page", index-1)
	}
	if len(list) > rows {
		list = list[:rows]
		p.Older = withParam(q, "page", index+1)
	}
	return list, p
}

type peopleProfileData struct {
	Profile *hub.Profile
}

func (u *UI) profilePage(w http.ResponseWriter, r *http.Request, me Me) {
	uid, err := pathID(r, "uid", "user")
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	pr, err := u.d.Hub.Profile(r.Context(), me.Actor, uid, peopleProfileRows)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, http.StatusOK, "profile", View{Title: pr.User.Name, Me: me, Data: peopleProfileData{Profile: pr}})
}

// follow toggles following a user, then returns to back (a local path: the app page's "follow the author"
// posts here) or to the profile.
func (u *UI) follow(w http.ResponseWriter, r *http.Request, me Me) {
	uid, err := pathID(r, "uid", "user")
	if err == nil {
		err = parseForm(r)
	}
	var on bool
	if err == nil {
		on, err = u.d.Hub.ToggleFollow(r.Context(), me.Actor, uid)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	target := "/ui/users/" + strconv.FormatInt(uid, 10)
	if back := r.PostForm.Get("back"); back != "" && safeNext(back) == back {
		target = back
	}
	redirect(w, r, target, toggled(on, "You now follow this user.", "You no longer follow this user."))
}

// userByName resolves an @mention's simple name to the profile.
func (u *UI) userByName(w http.ResponseWriter, r *http.Request, me Me) {
	uid, err := u.d.Hub.UserIDByName(r.Context(), r.PathValue("name"))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	http.Redirect(w, r, "/ui/users/"+strconv.FormatInt(uid, 10), http.StatusSeeOther)
}

type peopleTimelineData struct {
	Lines []hub.TimelineLine
	Pager peoplePager
}

func (u *UI) timelinePage(w http.ResponseWriter, r *http.Request, me Me) {
	idx := peoplePageIndex(r)
	lines, err := u.d.Hub.TimelineLines(r.Context(), nil, peoplePageOf(idx, peopleTimelineRows))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	d := peopleTimelineData{}
	d.Lines, d.Pager = peopleTrim(lines, idx, peopleTimelineRows, r.URL.Query())
	u.render(w, r, http.StatusOK, "timeline", View{Title: "Timeline", Me: me, Data: d})
}

type peopleNotesData struct {
	Items []hub.NotificationItem
	Pager peoplePager
}

func (u *UI) notificationsPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !requireSignIn(w, r, me) {
		return
	}
	var d peopleNotesData // the admin is not a user and has no notifications
	if !me.Admin {
		idx := peoplePageIndex(r)
		items, err := u.d.Hub.NotificationItems(r.Context(), me.Actor, peoplePageOf(idx, peopleNoteRows))
		if err != nil {
			u.fail(w, r, me, err)
			return
		}
		d.Items, d.Pager = peopleTrim(items, idx, peopleNoteRows, r.URL.Query())
	}
	u.render(w, r, http.StatusOK, "notifications", View{Title: "Notifications", Me: me, Data: d})
}

func (u *UI) toggleNotificationRead(w http.ResponseWriter, r *http.Request, me Me) {
	created, err := pathID(r, "created", "notification")
	var read bool
	if err == nil {
		read, err = u.d.Hub.ToggleNotificationRead(r.Context(), me.Actor, me.UID, created)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/notifications", toggled(read, "Marked read.", "Marked unread."))
}

func (u *UI) readAllNotifications(w http.ResponseWriter, r *http.Request, me Me) {
	n, err := u.d.Hub.MarkAllNotificationsRead(r.Context(), me.Actor)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/notifications", "Marked "+strconv.FormatInt(n, 10)+" notifications read.")
}

// peopleCategory is a category as the category selects and the admin's outline show it.
type peopleCategory struct {
	hub.CategoryNode
	Label string // the name indented by depth, since an <option> cannot be styled
	Value string // the id as the form sends it
}

func peopleCategories(cats []hub.Category) []peopleCategory {
	nodes := hub.CategoryOutline(cats)
	out := make([]peopleCategory, len(nodes))
	for i, n := range nodes {
		out[i] = peopleCategory{CategoryNode: n, Label: strings.Repeat("— ", n.Depth) + n.Name,
			Value: strconv.FormatInt(n.ID, 10)}
	}
	return out
}
