package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

func (u *UI) registerSession(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/signin", u.page(u.signInPage))
	mux.HandleFunc("POST /ui/signin", u.page(u.signIn))
	mux.HandleFunc("GET /ui/signin/second", u.page(u.secondPage))
	mux.HandleFunc("POST /ui/signin/second", u.page(u.secondFactor))
	mux.HandleFunc("POST /ui/signin/passkey/options", u.passkeyOptions)
	mux.HandleFunc("POST /ui/signin/passkey", u.passkeySignIn)
	mux.HandleFunc("POST /ui/signout", u.page(u.signOut))
	mux.HandleFunc("GET /ui/password", u.page(u.passwordPage))
	mux.HandleFunc("POST /ui/password", u.page(u.setPassword))
}

func (u *UI) signInPage(w http.ResponseWriter, r *http.Request, me Me) {
	u.render(w, r, http.StatusOK, "signin", View{Title: "Sign in", Me: me, Data: signInData(r, "user")})
}

func signInData(r *http.Request, tab string) map[string]any {
	return map[string]any{"Next": safeNext(r.FormValue("next")), "Tab": tab}
}

// signIn opens a session for a user (login + password) or the admin (token).
func (u *UI) signIn(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	from := reqauth.Credentials(r)
	var token string
	var err error
	tab := r.PostForm.Get("kind")
	if tab == "admin" {
		token, err = u.d.Auth.SignInAdmin(r.Context(), r.PostForm.Get("token"), from)
	} else {
		tab = "user"
		var in auth.SignIn
		in, err = u.d.Auth.SignInUser(r.Context(), r.PostForm.Get("login"), r.PostForm.Get("password"), from)
		if err == nil && in.Pending != "" {
			setPending(w, r, in.Pending)
			redirect(w, r, "/ui/signin/second?next="+url.QueryEscape(safeNext(r.PostForm.Get("next"))), "")
			return
		}
		token = in.Session
	}
	if err != nil {
		f := formOf(r)
		f.Values.Del("password")
		f.Values.Del("token")
		f.Fail(err, nil)
		u.render(w, r, statusOf(err), "signin", View{Title: "Sign in", Me: me, Form: f, Data: signInData(r, tab)})
		return
	}
	setSession(w, r, token)
	redirect(w, r, safeNext(r.PostForm.Get("next")), "Signed in.")
}

func (u *UI) signOut(w http.ResponseWriter, r *http.Request, me Me) {
	if c, err := r.Cookie(reqauth.SessionCookie); err == nil {
		if err := u.d.Auth.SignOut(r.Context(), c.Value); err != nil {
			u.fail(w, r, me, err)
			return
		}
	}
	setSession(w, r, "")
	redirect(w, r, "/", "Signed out.")
}

func (u *UI) passwordPage(w http.ResponseWriter, r *http.Request, me Me) {
	f := newForm()
	if me.User {
		f.Values.Set("login", strconv.FormatInt(me.UID, 10))
	}
	u.render(w, r, http.StatusOK, "password", View{Title: "Set your password", Me: me, Form: f})
}

// setPassword sets a user's password with their metapass (the one-time secret the admin handed them). Every
// session of that user ends; the user signs in again with the new password.
func (u *UI) setPassword(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	f := formOf(r)
	pw, again := r.PostForm.Get("password"), r.PostForm.Get("password2")
	switch {
	case len([]rune(pw)) < 8:
		f.Errors["password"] = "use at least 8 characters"
	case pw != again:
		f.Errors["password2"] = "the two passwords differ"
	}
	uid, err := u.lookupUser(r, r.PostForm.Get("login"))
	if err != nil {
		f.Fail(err, nil)
	}
	if !f.Has() {
		err = u.d.Auth.SetPasshash(r.Context(), uid, r.PostForm.Get("metapass"), auth.PasshashOf(pw), reqauth.ClientAddr(r))
		switch {
		case apperr.Is(err, apperr.Unauthorized):
			f.Errors["metapass"] = "wrong metapass"
		case err != nil:
			f.Fail(err, map[string]string{"passhash": "password"})
		}
	}
	if f.Has() {
		for _, k := range []string{"password", "password2", "metapass"} {
			f.Values.Del(k)
		}
		u.render(w, r, statusOf(err), "password", View{Title: "Set your password", Me: me, Form: f})
		return
	}
	if me.User && me.UID == uid {
		setSession(w, r, "")
	}
	redirect(w, r, "/ui/signin", "Password set. Sign in with it.")
}

// lookupUser resolves a user id or simple name to a uid.
func (u *UI) lookupUser(r *http.Request, login string) (int64, error) {
	login = strings.TrimSpace(login)
	if id, err := strconv.ParseInt(login, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	return u.d.Hub.UserIDByName(r.Context(), login)
}

// setSession sets (or, with an empty token, clears) the session cookie. HttpOnly keeps it from scripts, Lax
// keeps it off cross-site writes, and Secure follows the connection.
func setSession(w http.ResponseWriter, r *http.Request, token string) {
	c := &http.Cookie{Name: reqauth.SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(auth.SessionTTL.Seconds())}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
