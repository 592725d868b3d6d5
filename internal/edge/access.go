package edge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/auth"
)

const (
	authPath      = "/.stackhub/auth"    // on an app's domain: where a visitor comes back with a one-time code
	AuthorizePath = "/ui/edge/authorize" // on StackHub's own site: hands a signed-in visitor a code for an app's domain
	sessionCookie = "stackhub_edge"
	codeTTL       = time.Minute      // a code is used at once by the redirect that carries it
	sessionTTL    = 12 * time.Hour   // an app-domain session; then the visitor passes by StackHub again
	basicTTL      = 10 * time.Minute // as auth's passhash cache: a verified basic password skips argon2id
)

// admit applies the route's access mode; it answers the refusal itself and returns false, or returns the name to
// pass to the app in X-StackHub-User ("" for public and basic).
func (e *Edge) admit(w http.ResponseWriter, r *http.Request, en *entry, c client, secure bool) (string, bool) {
	switch en.route.Access {
	case "public":
		return "", true
	case "basic":
		key := "basic:" + strconv.FormatInt(en.route.ID, 10) + ":" + c.addr.String()
		if blocked, wait := e.limiter.Blocked(key); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writePage(w, http.StatusTooManyRequests, "Too many attempts", c.host+": too many wrong passwords; try again in a minute.")
			return "", false
		}
		user, pass, ok := r.BasicAuth()
		if ok && e.checkBasic(en, user, pass) {
			return "", true
		}
		if ok {
			e.limiter.Fail(key)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="`+c.host+`", charset="UTF-8"`)
		unauthorizedPage(w, c.host)
		return "", false
	case "users", "admin":
		if s, ok := e.readSession(r, c.host); ok && (en.route.Access == "users" || s.admin) {
			return s.name, true
		}
		// Off to StackHub's sign-in, which sends the visitor back here with a code.
		q := url.Values{"domain": {c.host}, "next": {r.URL.RequestURI()}}
		http.Redirect(w, r, e.portal()+AuthorizePath+"?"+q.Encode(), http.StatusFound)
		return "", false
	}
	forbiddenPage(w, c.host, "this route's access mode is unknown")
	return "", false
}

// portal is StackHub's own address for visitors: Config.PortalURL, or https://<--domain> through the edge.
func (e *Edge) portal() string {
	if e.cfg.PortalURL != "" {
		return strings.TrimSuffix(e.cfg.PortalURL, "/")
	}
	if e.httpsPort.Load() != 0 {
		return "https://" + withPort(e.cfg.Domain, int(e.httpsPort.Load()), 443)
	}
	return "http://" + withPort(e.cfg.Domain, int(e.httpPort.Load()), 80)
}

// checkBasic compares a `basic` login: the name in constant time against each account, the password with
// argon2id unless the same route, name and password were verified within basicTTL.
func (e *Edge) checkBasic(en *entry, user, pass string) bool {
	var hash string
	for _, u := range en.users {
		if subtle.ConstantTimeCompare([]byte(u.User), []byte(user)) == 1 {
			hash = u.Hash
		}
	}
	if hash == "" {
		return false
	}
	key := e.basicKey(en.route.ID, user, pass, hash)
	if e.basic.fresh(key) {
		return true
	}
	ok, err := auth.Verify(pass, hash)
	if err != nil || !ok {
		return false
	}
	e.basic.put(key)
	return true
}

// basicKey is a keyed digest of a verified login: the cache never holds a password.
func (e *Edge) basicKey(route int64, user, pass, hash string) string {
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(strconv.FormatInt(route, 10) + "\x00" + user + "\x00" + pass + "\x00" + hash))
	return string(m.Sum(nil))
}

type basicCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (b *basicCache) fresh(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	exp, ok := b.m[key]
	return ok && time.Now().Before(exp)
}

func (b *basicCache) put(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if len(b.m) > 10_000 { // bound the memory: drop what expired
		for k, exp := range b.m {
			if now.After(exp) {
				delete(b.m, k)
			}
		}
	}
	b.m[key] = now.Add(basicTTL)
}

// codes are the one-time codes StackHub hands a signed-in visitor to carry to an app's domain: random, stored
// only as their SHA-256, used once, valid codeTTL.
type codes struct {
	mu sync.Mutex
	m  map[string]codeEntry
}

type codeEntry struct {
	domain string
	name   string
	admin  bool
	exp    time.Time
}

func (c *codes) issue(en codeEntry) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	code := base64.RawURLEncoding.EncodeToString(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, v := range c.m {
		if now.After(v.exp) {
			delete(c.m, k)
		}
	}
	en.exp = now.Add(codeTTL)
	c.m[digest(code)] = en
	return code, nil
}

// take returns the code's entry and forgets it.
func (c *codes) take(code string) (codeEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := digest(code)
	en, ok := c.m[k]
	delete(c.m, k)
	if !ok || time.Now().After(en.exp) {
		return codeEntry{}, false
	}
	return en, true
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// session is what an app-domain cookie holds.
type session struct {
	name  string
	admin bool
}

// sessionValue signs domain, name, admin flag and expiry with the edge's key.
func (e *Edge) sessionValue(domain string, s session, exp time.Time) string {
	admin := "0"
	if s.admin {
		admin = "1"
	}
	payload := strings.Join([]string{domain, admin, strconv.FormatInt(exp.Unix(), 10), s.name}, "|")
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// readSession verifies the request's app-domain cookie for host.
func (e *Edge) readSession(r *http.Request, host string) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	p64, s64, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(s64)
	if err1 != nil || err2 != nil {
		return session{}, false
	}
	m := hmac.New(sha256.New, e.key)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return session{}, false
	}
	parts := strings.SplitN(string(payload), "|", 4)
	if len(parts) != 4 || parts[0] != host {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || time.Now().Unix() > exp {
		return session{}, false
	}
	return session{name: parts[3], admin: parts[1] == "1"}, true
}

// finishSignIn exchanges a one-time code, on the app's domain, for that domain's session cookie.
func (e *Edge) finishSignIn(w http.ResponseWriter, r *http.Request, c client, secure bool) {
	en, ok := e.codes.take(r.URL.Query().Get("code"))
	if !ok || en.domain != c.host {
		forbiddenPage(w, c.host, "this sign-in link is used, expired or meant for another name; open the app again")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: e.sessionValue(c.host, session{name: en.name, admin: en.admin},
		time.Now().Add(sessionTTL)), Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusFound)
}

// localPath keeps a redirect on the same site: a path, never //host or a scheme.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// Authorize serves GET /ui/edge/authorize on StackHub's own site: a signed-in visitor gets a one-time code and is
// sent back to the app's domain; anyone else goes to the sign-in page first, which returns here. The way back is
// a page that moves on by itself, not a redirect: after the sign-in form, a redirect to another origin would be
// one hop of the form's navigation, which the UI's Content-Security-Policy (form-action 'self') blocks.
func (e *Edge) Authorize(w http.ResponseWriter, r *http.Request) {
	host, next := hostOnly(r.URL.Query().Get("domain")), localPath(r.URL.Query().Get("next"))
	en := e.snap.Load().lookup(host, strings.SplitN(next, "?", 2)[0])
	if en == nil || (en.route.Access != "users" && en.route.Access != "admin") {
		notFoundPage(w, host)
		return
	}
	actor, err := e.auth.Authenticate(r.Context(), reqauth.Credentials(r))
	if err != nil || (!actor.Admin && !actor.User) {
		http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	if en.route.Access == "admin" && !auth.IsAdmin(actor) {
		forbiddenPage(w, host, "only the administrator may open this app")
		return
	}
	name := "admin"
	if !auth.IsAdmin(actor) {
		u, err := e.store.Q().User(r.Context(), actor.UID)
		if err != nil {
			e.log.Error("edge authorize", "uid", actor.UID, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		name = u.SimpleName
	}
	code, err := e.codes.issue(codeEntry{domain: host, name: name, admin: auth.IsAdmin(actor)})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	continuePage(w, host, e.appBase(host, en)+authPath+"?"+url.Values{"code": {code}, "next": {next}}.Encode())
}

// appBase is scheme://host[:port] of an app's domain, on the listener its route prefers.
func (e *Edge) appBase(host string, en *entry) string {
	if en.route.HTTPS != "off" && e.httpsPort.Load() != 0 {
		return "https://" + withPort(host, int(e.httpsPort.Load()), 443)
	}
	return "http://" + withPort(host, int(e.httpPort.Load()), 80)
}
