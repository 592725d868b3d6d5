package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/webhook"
)

// Page sizes of the admin lists.
const (
	adminUserRows     = 100
	adminDeliveryRows = 50
)

func (u *UI) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/admin", u.page(u.adminPage))
	mux.HandleFunc("GET /ui/admin/users", u.page(u.adminUsersPage))
	mux.HandleFunc("POST /ui/admin/users", u.page(u.adminCreateUser))
	mux.HandleFunc("POST /ui/admin/users/{uid}/toggle", u.page(u.adminToggleUser))
	mux.HandleFunc("GET /ui/admin/categories", u.page(u.adminCategoriesPage))
	mux.HandleFunc("POST /ui/admin/categories", u.page(u.adminCreateCategory))
	mux.HandleFunc("POST /ui/admin/categories/{tid}/{action}", u.page(u.adminChangeCategory))
	mux.HandleFunc("GET /ui/admin/webhooks", u.page(u.adminWebhooksPage))
	mux.HandleFunc("POST /ui/admin/webhooks", u.page(u.adminAddWebhook))
	mux.HandleFunc("POST /ui/admin/webhooks/{id}/delete", u.page(u.adminDeleteWebhook))
}

// adminGate sends an anonymous visitor to sign in and shows anybody else but the admin the service's refusal.
// True when the admin may go on.
func (u *UI) adminGate(w http.ResponseWriter, r *http.Request, me Me) bool {
	if !requireSignIn(w, r, me) {
		return false
	}
	if err := u.d.Hub.CheckAdmin(me.Actor); err != nil {
		u.fail(w, r, me, err)
		return false
	}
	return true
}

func (u *UI) adminPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	u.render(w, r, http.StatusOK, "admin", View{Title: "Admin", Me: me})
}

// adminCreated is the user just made: the metapass is shown on this one response and kept nowhere in the clear.
type adminCreated struct {
	UID        int64
	SimpleName string
	Metapass   string
}

type adminUsersData struct {
	Users   []hub.User
	Pager   peoplePager
	Created *adminCreated
}

func (u *UI) adminUsersPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	u.adminRenderUsers(w, r, me, http.StatusOK, newForm(), nil)
}

func (u *UI) adminRenderUsers(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form, c *adminCreated) {
	idx := peoplePageIndex(r)
	users, err := u.d.Hub.AdminUsers(r.Context(), me.Actor, peoplePageOf(idx, adminUserRows))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	d := adminUsersData{Created: c}
	d.Users, d.Pager = peopleTrim(users, idx, adminUserRows, r.URL.Query())
	u.render(w, r, status, "admin_users", View{Title: "Users", Me: me, Form: f, Data: d})
}

// adminCreateUser makes a user and shows its metapass once, on this response (never in a redirect, a flash
// cookie or the log), for the admin to hand over.
func (u *UI) adminCreateUser(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	in := hub.UserInput{
		SimpleName: hub.Some(strings.TrimSpace(f.Get("simple_name"))),
		Name:       hub.Some(strings.TrimSpace(f.Get("name"))),
		AvatarURL:  pubOptText(strings.TrimSpace(f.Get("avatar_url"))),
		Bio:        hub.Some(f.Get("bio")),
	}
	uid, metapass, err := u.d.Hub.CreateUser(r.Context(), me.Actor, in)
	if refused(err) {
		u.fail(w, r, me, err)
		return
	}
	if err != nil {
		f.Fail(err, nil)
		u.adminRenderUsers(w, r, me, statusOf(err), f, nil)
		return
	}
	c := &adminCreated{UID: uid, SimpleName: in.SimpleName.V, Metapass: metapass}
	u.adminRenderUsers(w, r, me, http.StatusOK, newForm(), c)
}

// adminToggleUser disables or enables a user; disabling signs them out everywhere (the service does both).
func (u *UI) adminToggleUser(w http.ResponseWriter, r *http.Request, me Me) {
	uid, err := pathID(r, "uid", "user")
	var enabled bool
	if err == nil {
		enabled, err = u.d.Hub.ToggleUserEnabled(r.Context(), me.Actor, uid)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	user := "User " + strconv.FormatInt(uid, 10)
	redirect(w, r, "/ui/admin/users", toggled(enabled, user+" is enabled again.",
		user+" is disabled and signed out everywhere."))
}

// adminCategoryRow is one category in the admin's outline, with its name as typed after a failed rename.
type adminCategoryRow struct {
	peopleCategory
	Typed string // the rename field's value
}

type adminCategoriesData struct {
	Rows []adminCategoryRow
}

func (u *UI) adminCategoriesPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	u.adminRenderCategories(w, r, me, http.StatusOK, newForm(), 0)
}

// adminRenderCategories shows the outline; typedFor is the category whose row keeps the form's typed name.
func (u *UI) adminRenderCategories(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form, typedFor int64) {
	cats, err := u.d.Hub.Categories(r.Context())
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	var d adminCategoriesData
	for _, c := range peopleCategories(cats) {
		row := adminCategoryRow{peopleCategory: c, Typed: c.Name}
		if c.ID == typedFor {
			row.Typed = f.Get("name")
		}
		d.Rows = append(d.Rows, row)
	}
	if typedFor != 0 {
		f.Values = nil // the typed values belong to that row, not to the "new category" form
	}
	u.render(w, r, status, "admin_categories", View{Title: "Categories", Me: me, Form: f, Data: d})
}

func (u *UI) adminCreateCategory(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	parent, perr := strconv.ParseInt(strings.TrimSpace(f.Get("parent")), 10, 64)
	if perr != nil {
		parent = 0 // the select always sends a number; anything else means the top level
	}
	tid, err := u.d.Hub.CreateCategory(r.Context(), me.Actor, parent, f.Get("name"))
	if refused(err) {
		u.fail(w, r, me, err)
		return
	}
	if err != nil {
		f.Fail(err, nil)
		u.adminRenderCategories(w, r, me, statusOf(err), f, 0)
		return
	}
	redirect(w, r, "/ui/admin/categories", "Category "+strconv.FormatInt(tid, 10)+" created.")
}

// adminChangeCategory renames, moves or deletes a category; each row of the outline posts here.
func (u *UI) adminChangeCategory(w http.ResponseWriter, r *http.Request, me Me) {
	tid, err := pathID(r, "tid", "category")
	if err == nil {
		err = parseForm(r)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	ctx, id := r.Context(), strconv.FormatInt(tid, 10)
	var flash string
	switch r.PathValue("action") {
	case "rename":
		_, err = u.d.Hub.RenameCategory(ctx, me.Actor, tid, r.PostForm.Get("name"))
		flash = "Category " + id + " renamed."
	case "move":
		parent, perr := strconv.ParseInt(r.PostForm.Get("parent"), 10, 64)
		if perr != nil {
			parent = 0
		}
		_, err = u.d.Hub.MoveCategory(ctx, me.Actor, tid, parent)
		flash = "Category " + id + " moved."
	case "delete":
		err = u.d.Hub.DeleteCategory(ctx, me.Actor, tid)
		flash = "Category " + id + " deleted."
	default:
		err = apperr.New(apperr.NotFound, "Resource was not found: no category action %q", r.PathValue("action"))
	}
	if refused(err) || apperr.Is(err, apperr.NotFound) && r.PathValue("action") != "move" {
		u.fail(w, r, me, err)
		return
	}
	if err != nil {
		f := formOf(r)
		f.Fail(err, map[string]string{"name": "name-" + id, "parent": "parent-" + id})
		u.adminRenderCategories(w, r, me, statusOf(err), f, tid)
		return
	}
	redirect(w, r, "/ui/admin/categories", flash)
}

type adminWebhooksData struct {
	Configured []webhook.Hook
	Custom     []store.Webhook
	Deliveries []store.WebhookDelivery
	State      string
	States     []string
	EventTypes []string
	Pager      peoplePager
}

func (u *UI) adminWebhooksPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	u.adminRenderWebhooks(w, r, me, http.StatusOK, newForm())
}

func (u *UI) adminRenderWebhooks(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form) {
	d := adminWebhooksData{State: r.URL.Query().Get("state"), EventTypes: webhook.EventTypes,
		States: []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed}}
	var err error
	if d.Configured, d.Custom, err = u.d.Webhooks.Hooks(r.Context(), me.Actor); err != nil {
		u.fail(w, r, me, err)
		return
	}
	idx := peoplePageIndex(r)
	list, err := u.d.Webhooks.Deliveries(r.Context(), me.Actor, d.State, peoplePageOf(idx, adminDeliveryRows))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	d.Deliveries, d.Pager = peopleTrim(list, idx, adminDeliveryRows, r.URL.Query())
	u.render(w, r, status, "admin_webhooks", View{Title: "Webhooks", Me: me, Form: f, Data: d})
}

func (u *UI) adminAddWebhook(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	h, err := u.d.Webhooks.AddHook(r.Context(), me.Actor, f.Get("event"), f.Get("url"))
	if refused(err) {
		u.fail(w, r, me, err)
		return
	}
	if err != nil {
		f.Fail(err, nil)
		u.adminRenderWebhooks(w, r, me, statusOf(err), f)
		return
	}
	redirect(w, r, "/ui/admin/webhooks", "Webhook "+strconv.FormatInt(h.ID, 10)+" added.")
}

func (u *UI) adminDeleteWebhook(w http.ResponseWriter, r *http.Request, me Me) {
	id, err := pathID(r, "id", "webhook")
	if err == nil {
		err = u.d.Webhooks.DeleteHook(r.Context(), me.Actor, id)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/admin/webhooks", "Webhook "+strconv.FormatInt(id, 10)+" removed; its pending deliveries are cancelled.")
}
