package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/auth"
)

// CanHost tells whether the viewer may see the host pages (host:read): the admin and operators.
func (m Me) CanHost() bool { return auth.Can(m.Actor, auth.HostRead) == nil }

// CanInstall tells whether the viewer may install and operate apps (host:write).
func (m Me) CanInstall() bool { return auth.Can(m.Actor, auth.HostWrite) == nil }

// IsAdmin tells whether the viewer may use the admin pages: the admin token or an admin user.
func (m Me) IsAdmin() bool { return auth.IsAdmin(m.Actor) }

func (u *UI) registerAccounts(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/account", u.page(u.accountPage))
	mux.HandleFunc("POST /ui/account/sessions/{id}/end", u.page(u.endSession))
	mux.HandleFunc("POST /ui/account/sessions/end-others", u.page(u.endOtherSessions))
	mux.HandleFunc("POST /ui/admin/users/{uid}/role", u.page(u.adminSetRole))
	mux.HandleFunc("GET /ui/admin/audit", u.page(u.adminAuditPage))
}

func sessionCookie(r *http.Request) string { return reqauth.Credentials(r).Session }

// accountPage shows the user's role, their sessions (a button to end each and one for all others) and their
// second factors, which its script changes through /api/v1/account.
func (u *UI) accountPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !requireSignIn(w, r, me) {
		return
	}
	ss, err := u.d.Auth.Sessions(r.Context(), me.Actor, sessionCookie(r))
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	data := map[string]any{"Sessions": ss, "Role": me.Role}
	if me.User { // second factors belong to users; the admin token has none
		if data["Factors"], err = u.d.Auth.FactorsOf(r.Context(), me.UID); err == nil {
			data["Passkeys"], err = u.d.Auth.Passkeys(r.Context(), me.Actor)
		}
		if err != nil {
			u.fail(w, r, me, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "account", View{Title: "Your account", Me: me, Data: data})
}

func (u *UI) endSession(w http.ResponseWriter, r *http.Request, me Me) {
	if err := u.d.Auth.EndSession(r.Context(), me.Actor, r.PathValue("id")); err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/account", "That session is signed out.")
}

func (u *UI) endOtherSessions(w http.ResponseWriter, r *http.Request, me Me) {
	if err := u.d.Auth.EndOtherSessions(r.Context(), me.Actor, sessionCookie(r)); err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/account", "Signed out everywhere else.")
}

// adminSetRole sets a user's role from the users page; the service ends the user's sessions.
func (u *UI) adminSetRole(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	uid, err := pathID(r, "uid", "user")
	role := r.PostForm.Get("role")
	if err == nil {
		err = u.d.Hub.SetRole(r.Context(), me.Actor, uid, role)
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	redirect(w, r, "/ui/admin/users", "User "+strconv.FormatInt(uid, 10)+" is now "+role+"; their sessions ended.")
}

// adminAuditPage lists the audit log, filtered as GET /api/v1/audit is.
func (u *UI) adminAuditPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !u.adminGate(w, r, me) {
		return
	}
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		since, _ = time.Parse("2006-01-02", s) // a date from the form; anything else shows everything
	}
	rs, err := u.d.Audit.Query(r.Context(), me.Actor, q.Get("actor"), q.Get("action"), since)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, http.StatusOK, "admin_audit", View{Title: "Audit log", Me: me,
		Data: map[string]any{"Records": rs, "Actor": q.Get("actor"), "Action": q.Get("action"), "Since": q.Get("since")}})
}
