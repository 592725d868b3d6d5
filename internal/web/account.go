package web

import (
	"net/http"

	"github.com/stackhub/stackhub/internal/apperr"
)

func (u *UI) registerAccount(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/account", u.page(u.accountPage))
}

// accountPage shows the signed-in user's second factors; its script changes them through /api/v1/account.
func (u *UI) accountPage(w http.ResponseWriter, r *http.Request, me Me) {
	if !requireSignIn(w, r, me) {
		return
	}
	if !me.User {
		u.fail(w, r, me, apperr.New(apperr.Forbidden, "the admin token has no account; sign in as a user to set up second factors"))
		return
	}
	factors, err := u.d.Auth.FactorsOf(r.Context(), me.UID)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	keys, err := u.d.Auth.Passkeys(r.Context(), me.Actor)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, http.StatusOK, "account", View{Title: "Your account", Me: me,
		Data: map[string]any{"Factors": factors, "Passkeys": keys}})
}
