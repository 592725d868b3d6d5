package web

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// pendingCookie holds a sign-in whose password was right while it waits for the second factor
// (auth.PendingTTL); only the sign-in pages read it.
const pendingCookie = "stackhub_pending"

// setPending sets (or, with an empty token, clears) the pending sign-in cookie.
func setPending(w http.ResponseWriter, r *http.Request, token string) {
	c := &http.Cookie{Name: pendingCookie, Value: token, Path: "/ui/signin", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: int(auth.PendingTTL.Seconds())}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func pendingOf(r *http.Request) string {
	if c, err := r.Cookie(pendingCookie); err == nil {
		return c.Value
	}
	return ""
}

// secondPage asks for the second factor of a pending sign-in: a code, or a passkey.
func (u *UI) secondPage(w http.ResponseWriter, r *http.Request, me Me) {
	u.renderSecond(w, r, me, http.StatusOK, newForm())
}

func (u *UI) renderSecond(w http.ResponseWriter, r *http.Request, me Me, status int, f *Form) {
	factors, err := u.d.Auth.PendingFactors(r.Context(), pendingOf(r))
	if apperr.Is(err, apperr.Unauthorized) {
		setPending(w, r, "")
		redirect(w, r, "/ui/signin?next="+r.FormValue("next"), apperr.As(err).Message)
		return
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	u.render(w, r, status, "signin_second", View{Title: "Two-step sign-in", Me: me, Form: f,
		Data: map[string]any{"Next": safeNext(r.FormValue("next")), "Factors": factors}})
}

// secondFactor finishes a pending sign-in with a TOTP code or a recovery code.
func (u *UI) secondFactor(w http.ResponseWriter, r *http.Request, me Me) {
	if err := parseForm(r); err != nil {
		u.fail(w, r, me, err)
		return
	}
	in, err := u.d.Auth.CompleteSignIn(r.Context(), pendingOf(r), r.PostForm.Get("code"), reqauth.ClientAddr(r))
	if err != nil {
		f := formOf(r)
		f.Values.Del("code")
		f.Fail(err, nil)
		u.renderSecond(w, r, me, statusOf(err), f)
		return
	}
	setPending(w, r, "")
	setSession(w, r, in.Session)
	redirect(w, r, safeNext(r.PostForm.Get("next")), "Signed in.")
}

// passkeyRequest is what the sign-in page's script posts: second is true on the second-factor page; ceremony
// and credential (the browser's PublicKeyCredential as JSON) come with the answer.
type passkeyRequest struct {
	Second     bool            `json:"second"`
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Next       string          `json:"next"`
}

// passkeyOptions starts a passkey sign-in: alone, or as the second factor of the pending sign-in.
func (u *UI) passkeyOptions(w http.ResponseWriter, r *http.Request) {
	req, err := decodePasskey(r)
	if err != nil {
		u.failJSON(w, r, err)
		return
	}
	pending := ""
	if req.Second {
		pending = pendingOf(r)
		if pending == "" {
			pending = "none" // an expired pending sign-in, not a passkey-alone sign-in
		}
	}
	c, err := u.d.Auth.BeginPasskeySignIn(r.Context(), reqauth.RelyingParty(r), pending, reqauth.ClientAddr(r))
	if err != nil {
		u.failJSON(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// passkeySignIn checks the browser's passkey answer and opens the session; the answer names where to go.
func (u *UI) passkeySignIn(w http.ResponseWriter, r *http.Request) {
	req, err := decodePasskey(r)
	if err != nil {
		u.failJSON(w, r, err)
		return
	}
	pending := ""
	if req.Second {
		pending = pendingOf(r)
		if pending == "" {
			pending = "none"
		}
	}
	in, err := u.d.Auth.FinishPasskeySignIn(r.Context(), reqauth.RelyingParty(r), req.Ceremony, pending,
		req.Credential, reqauth.ClientAddr(r))
	if err != nil {
		u.failJSON(w, r, err)
		return
	}
	setPending(w, r, "")
	setSession(w, r, in.Session)
	writeJSON(w, http.StatusOK, map[string]string{"redirect": safeNext(req.Next)})
}

func decodePasskey(r *http.Request) (passkeyRequest, error) {
	var req passkeyRequest
	err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req)
	if err != nil && err != io.EOF {
		return req, apperr.Wrap(apperr.Invalid, err, "the request body is not the JSON the sign-in page sends")
	}
	return req, nil
}

// writeJSON answers a script's request.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// failJSON answers a script's request with {"error": {"message", "field"}}; internal causes stay in the log.
func (u *UI) failJSON(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	msg := e.Message
	if e.Kind == apperr.Internal {
		u.d.Log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
		msg = "Something went wrong on the server; it has been logged."
	} else {
		u.d.Log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, apperr.HTTPStatus(e.Kind), map[string]any{"error": map[string]string{"message": msg, "field": e.Field}})
}
