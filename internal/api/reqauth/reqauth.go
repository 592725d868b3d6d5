// Package reqauth reads what an HTTP request presents as credentials, the same way for every front door: the
// admin token or an API token (URL parameter token, cookie doge_token, or Bearer; an API token starts with shk_),
// the user cookies and the web session.
package reqauth

import (
	"net"
	"net/http"
	"strings"

	"github.com/stackhub/stackhub/internal/auth"
)

// SessionCookie is the web UI's session cookie; the APIs accept it too, so the UI's scripts can use them.
const SessionCookie = "stackhub_session"

// Credentials gathers the request's credentials and client address.
func Credentials(r *http.Request) auth.Credentials {
	c := auth.Credentials{Client: ClientAddr(r), Token: r.URL.Query().Get("token"), Agent: r.UserAgent()}
	if c.Token == "" {
		if ck, err := r.Cookie("doge_token"); err == nil {
			c.Token = ck.Value
		}
	}
	if c.Token == "" {
		if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			c.Token = strings.TrimSpace(t)
		}
	}
	if ck, err := r.Cookie("geekapk_uid"); err == nil {
		c.UID = ck.Value
	}
	if ck, err := r.Cookie("geekapk_passhash"); err == nil {
		c.Passhash = ck.Value
	}
	if ck, err := r.Cookie(SessionCookie); err == nil {
		c.Session = ck.Value
	}
	return c
}

// ClientAddr is the peer's IP; proxies' headers are not trusted.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RelyingParty is the WebAuthn relying party of a request: the host name it was sent to (without the port) as
// the RP ID, and scheme://host[:port] as the origin the browser must report. A browser binds a passkey to that
// host name, so passkeys work at the name people use for the server; proxies' headers are not trusted.
func RelyingParty(r *http.Request) auth.RelyingParty {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	id := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		id = h
	}
	return auth.RelyingParty{ID: strings.ToLower(id), Origin: scheme + "://" + r.Host}
}
