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
