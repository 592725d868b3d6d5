package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// page is one page file with templates/layout.html and the partial files (templates/_*.html) it calls, directly
// or through another partial: every page defines its own "content" (and optionally "scripts"). It is parsed when
// it is first shown, and then kept: parsed, the UI's pages hold about 2 MB of heap (html/template keeps a copy of
// the layout and of every partial for each page), which a server nobody browses has no use for. A page gets
// only the partials it calls; all of them in every page would cost another 2 MB.
type page struct {
	files []string // the layout, the partials, the page file last
	once  sync.Once
	t     atomic.Pointer[template.Template] // set once parsed
	err   error
}

// template parses the page on its first call and answers the same set, or the same error, ever after.
func (p *page) template() (*template.Template, error) {
	p.once.Do(func() {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, p.files...)
		if err != nil {
			p.err = fmt.Errorf("parse %s: %w", p.files[len(p.files)-1], err)
			return
		}
		p.t.Store(t)
	})
	return p.t.Load(), p.err
}

// pageFiles finds every page and the files its set is parsed from, without parsing any of them.
func pageFiles() (map[string]*page, error) {
	partials, err := fs.Glob(files, "templates/_*.html")
	if err != nil {
		return nil, err
	}
	const layout = "templates/layout.html"
	calls := map[string][]string{}   // file → the templates it calls
	definedIn := map[string]string{} // template name → the partial file that defines it
	for _, f := range append([]string{layout}, partials...) {
		src, err := fs.ReadFile(files, f)
		if err != nil {
			return nil, err
		}
		calls[f] = templateNames(callRe, src)
		if f != layout {
			for _, name := range templateNames(defineRe, src) {
				definedIn[name] = f
			}
		}
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*page{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		src, err := fs.ReadFile(files, n)
		if err != nil {
			return nil, err
		}
		set := append([]string{layout}, partialsFor(append(templateNames(callRe, src), calls[layout]...), calls, definedIn, partials)...)
		pages[strings.TrimSuffix(name, ".html")] = &page{files: append(set, n)}
	}
	return pages, nil
}

var (
	callRe   = regexp.MustCompile(`\{\{-?\s*(?:template|block)\s+"([^"]+)"`)
	defineRe = regexp.MustCompile(`\{\{-?\s*(?:define|block)\s+"([^"]+)"`)
)

// templateNames lists the names re's first group matches in src.
func templateNames(re *regexp.Regexp, src []byte) []string {
	var out []string
	for _, m := range re.FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// partialsFor is the partial files (in the order of all) that define the templates called, and those they call.
func partialsFor(called []string, calls map[string][]string, definedIn map[string]string, all []string) []string {
	need := map[string]bool{}
	for len(called) > 0 {
		name := called[len(called)-1]
		called = called[:len(called)-1]
		if f, ok := definedIn[name]; ok && !need[f] {
			need[f] = true
			called = append(called, calls[f]...)
		}
	}
	return slices.DeleteFunc(slices.Clone(all), func(f string) bool { return !need[f] })
}

// Me is who is looking at a page.
type Me struct {
	auth.Actor
	Name   string // the user's display name; "admin" for the admin
	Unread int64  // unread notifications
}

// Signed tells whether anybody is signed in.
func (m Me) Signed() bool { return m.Admin || m.User }

// View is what every page template gets: the layout reads Title, Me and Flash; the page reads Data and Form.
type View struct {
	Title  string
	Me     Me
	Flash  string
	Path   string // the request path, for the navigation's current page
	Data   any
	Form   *Form
	Static string // the static files' cache-busting suffix
}

// Form carries a form's submitted values and the server's errors, by field name, back to the page.
type Form struct {
	Values url.Values
	Errors map[string]string
	Error  string // an error that is about no single field
}

// newForm is an empty form (a first visit).
func newForm() *Form { return &Form{Values: url.Values{}, Errors: map[string]string{}} }

// formOf keeps the submitted values so the page shows them again beside the errors.
func formOf(r *http.Request) *Form {
	f := newForm()
	if r.PostForm != nil {
		f.Values = r.PostForm
	}
	return f
}

// Get is a submitted value.
func (f *Form) Get(name string) string { return f.Values.Get(name) }

// Fail records err next to its field when the service named one known to the form, or above the form otherwise.
// fields maps the service's field names to the form's, for the few that differ.
func (f *Form) Fail(err error, fields map[string]string) {
	e := apperr.As(err)
	msg := e.Message
	if e.Kind == apperr.Internal {
		msg = "Something went wrong on the server; it has been logged. Try again."
	}
	if e.Field != "" {
		name := e.Field
		if m, ok := fields[name]; ok {
			name = m
		}
		if f.Errors == nil {
			f.Errors = map[string]string{}
		}
		f.Errors[name] = msg
		return
	}
	f.Error = msg
}

// Has tells whether the form has any error.
func (f *Form) Has() bool { return f.Error != "" || len(f.Errors) > 0 }

// me authenticates the request. A failure (a rate limit, a broken database) is an error page, not anonymity.
func (u *UI) me(r *http.Request) (Me, error) {
	a, err := u.d.Auth.Authenticate(r.Context(), reqauth.Credentials(r))
	if err != nil {
		return Me{}, err
	}
	m := Me{Actor: a}
	switch {
	case a.Admin:
		m.Name = "admin"
	case a.User:
		if usr, err := u.d.Hub.User(r.Context(), a.UID); err == nil {
			m.Name = usr.Name
		}
		if m.Unread, err = u.d.Hub.UnreadCount(r.Context(), a); err != nil {
			return Me{}, err
		}
	}
	return m, nil
}

// handler is a page or action with the caller already resolved.
type handler func(w http.ResponseWriter, r *http.Request, me Me)

// page wraps h with authentication and the HTML security headers.
func (u *UI) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		me, err := u.me(r)
		if err != nil {
			u.fail(w, r, Me{}, err)
			return
		}
		if me.NeedsSecondFactor && !setupPath(r.URL.Path) { // --require-2fa: only the set-up is open
			redirect(w, r, "/ui/account", "Your role needs a second factor: set one up below first.")
			return
		}
		h(w, r, me)
	}
}

// setupPath is a page a user who must set up a second factor may still open: the account page and signing out.
func setupPath(p string) bool { return p == "/ui/account" || p == "/ui/signout" }

// setHeaders forbids inline script and framing: everything user-written is escaped, and this is the second wall.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src * data:; style-src 'self'; script-src 'self'; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// render writes a page; it renders into a buffer first so a template error never leaves half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v View) {
	p, ok := u.pages[name]
	if !ok {
		u.d.Log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	t, err := p.template()
	if err != nil {
		u.d.Log.ErrorContext(r.Context(), "page template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Path, v.Static = r.URL.Path, u.boot
	if v.Form == nil {
		v.Form = newForm()
	}
	if v.Flash == "" {
		v.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.d.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail renders the error page with the status of err's kind; an internal error's text only reaches the log.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, me Me, err error) {
	e := apperr.As(err)
	status := apperr.HTTPStatus(e.Kind)
	msg := e.Message
	if e.Kind == apperr.Internal {
		u.d.Log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err)
		msg = "Something went wrong on the server; it has been logged."
	}
	if e.Kind == apperr.RateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.5)))
	}
	u.render(w, r, status, "error", View{Title: http.StatusText(status), Me: me,
		Data: map[string]any{"Status": status, "Message": msg, "SignIn": e.Kind == apperr.Unauthorized}})
}

// redirect answers a successful form with 303 to target and a one-time message for the next page.
func redirect(w http.ResponseWriter, r *http.Request, target, flash string) {
	if flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: "/", MaxAge: 60,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

const flashCookie = "stackhub_flash"

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	v, _ := url.QueryUnescape(c.Value)
	return v
}

// requireSignIn sends an anonymous visitor to the sign-in page and back; true when the caller may go on. After
// a form post, "back" is the page the form was on (a POST-only URL cannot be returned to).
func requireSignIn(w http.ResponseWriter, r *http.Request, me Me) bool {
	if me.Signed() {
		return true
	}
	next := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		next = "/"
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
			next = safeNext(ref.RequestURI())
		}
	}
	toSignIn(w, r, next)
	return false
}

// toSignIn sends the visitor to the sign-in page, which returns them to next.
func toSignIn(w http.ResponseWriter, r *http.Request, next string) {
	redirect(w, r, "/ui/signin?next="+url.QueryEscape(next), "Sign in first.")
}

// toggled is the flash after a toggle: yes when it is now on, no when off.
func toggled(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// parseForm parses the request's form; a body that does not parse is the client's mistake (400), not a server
// error to log.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "the form does not parse")
	}
	return nil
}

// pathID reads the numeric path segment name; anything else names nothing, so it is a 404 ("no <what> …").
func pathID(r *http.Request, name, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id < 0 {
		return 0, apperr.New(apperr.NotFound, "Resource was not found: no %s %q", what, r.PathValue(name))
	}
	return id, nil
}

// refused tells whether err refuses the caller (not signed in, or not allowed) rather than the form: such an
// error gets the error page, not the form again. False for nil.
func refused(err error) bool {
	return apperr.Is(err, apperr.Unauthorized) || apperr.Is(err, apperr.Forbidden)
}

// statusOf is the HTTP status of a form's failure: err's kind, or 400 for the form's own checks (err nil).
func statusOf(err error) int {
	if err == nil {
		return http.StatusBadRequest
	}
	return apperr.HTTPStatus(apperr.As(err).Kind)
}
