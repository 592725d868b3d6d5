package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/stackhub/stackhub/internal/sendtimeout"
)

// UserHeader carries the signed-in StackHub user to an app behind `users` or `admin` access. A client's own is
// always removed.
const UserHeader = "X-StackHub-User"

const acmePrefix = "/.well-known/acme-challenge/"

// userKey is UserHeader as http.Header keeps it.
var userKey = http.CanonicalHeaderKey(UserHeader)

// client is what the edge believes about a request's origin: the real client address, scheme and host, taken
// from X-Forwarded-* only when the peer is a trusted proxy.
type client struct {
	addr    netip.Addr
	proto   string
	host    string // lowercase, no port
	hostRaw string // as the client sent it (with its port)
	trusted bool   // the peer is a trusted proxy; its X-Forwarded-For is passed on
}

// Handler serves one listener: secure is the TLS one. Both apply the same routes and access rules.
func (e *Edge) Handler(secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := e.clientOf(r, secure)
		if e.cfg.Domain != "" && c.host == e.cfg.Domain {
			if !secure && e.httpsPort.Load() != 0 && !strings.HasPrefix(r.URL.Path, acmePrefix) {
				http.Redirect(w, r, e.httpsURL(c.host, r.URL.RequestURI()), http.StatusPermanentRedirect)
				return
			}
			e.main.ServeHTTP(w, r)
			return
		}
		if en, user := e.decide(w, r, c, secure); en != nil {
			e.proxy(w, r, en, c, user)
		}
	})
}

// decide applies the route table and the route's rules to a request for an app: it answers the request itself
// (a redirect, a page, a refusal, the end of a sign-in) and returns nil, or returns the route to proxy to and
// the user to name to the app. Both the fast path and net/http's server call it.
func (e *Edge) decide(w http.ResponseWriter, r *http.Request, c client, secure bool) (*entry, string) {
	if dotSegments(r.URL.Path) {
		// Routes match path prefixes: "/pub/../admin" would match "/pub" while the app serves /admin.
		writePage(w, http.StatusBadRequest, "Bad path", "The path has . or .. segments; send it resolved.")
		return nil, ""
	}
	en := e.snap.Load().lookup(c.host, r.URL.Path)
	if en == nil {
		notFoundPage(w, c.host)
		return nil, ""
	}
	rt := &en.route
	if !secure && rt.Redirect && rt.HTTPS != "off" && e.httpsPort.Load() != 0 && !strings.HasPrefix(r.URL.Path, acmePrefix) {
		http.Redirect(w, r, e.httpsURL(c.host, r.URL.RequestURI()), http.StatusPermanentRedirect)
		return nil, ""
	}
	if !allowed(en.allow, c.addr) {
		forbiddenPage(w, c.host, "your address "+c.addr.String()+" may not reach this app")
		return nil, ""
	}
	dropUserHeaders(r.Header) // only the edge says who the user is
	if r.URL.Path == authPath && (rt.Access == "users" || rt.Access == "admin") {
		e.finishSignIn(w, r, c, secure)
		return nil, ""
	}
	user, ok := e.admit(w, r, en, c, secure)
	if !ok {
		return nil, ""
	}
	return en, user
}

// dropUserHeaders removes the client's X-StackHub-User, and any spelling an app may read as the same name:
// CGI, PHP and WSGI servers turn "-" into "_", so X_StackHub_User would reach them as HTTP_X_STACKHUB_USER.
func dropUserHeaders(h http.Header) {
	delete(h, userKey)
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 && strings.EqualFold(strings.ReplaceAll(k, "_", "-"), UserHeader) {
			delete(h, k)
		}
	}
}

// dotSegments says whether path has a "." or ".." segment (browsers resolve them before they send a URL).
func dotSegments(path string) bool {
	for p := path; p != ""; {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// clientOf reads the peer address, and the X-Forwarded-* headers of a trusted proxy.
func (e *Edge) clientOf(r *http.Request, secure bool) client {
	c := client{proto: "http", hostRaw: r.Host}
	if secure {
		c.proto = "https"
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.addr = ap.Addr().Unmap()
	}
	if e.trusted(c.addr) {
		c.trusted = true
		// The nearest address not of a trusted proxy is the client; the ones before it could be forged.
		hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
		for i := len(hops) - 1; i >= 0; i-- {
			c.addr = hops[i]
			if !e.trusted(hops[i]) {
				break
			}
		}
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			c.proto = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			c.hostRaw = h
		}
	}
	c.host = hostOnly(c.hostRaw)
	return c
}

func (e *Edge) trusted(a netip.Addr) bool {
	for _, p := range e.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor parses X-Forwarded-For values in order; an entry that is not an address ends the list there.
func forwardedFor(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				return out
			}
			out = append(out, a.Unmap())
		}
	}
	return out
}

// hostOnly is a Host header's name in lowercase, without its port or a trailing dot.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allowed applies a route's allow list; an empty list allows everyone.
func allowed(allow []netip.Prefix, a netip.Addr) bool {
	if len(allow) == 0 {
		return true
	}
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// httpsURL is uri on host through the HTTPS listener.
func (e *Edge) httpsURL(host, uri string) string {
	return "https://" + withPort(host, int(e.httpsPort.Load()), 443) + uri
}

func withPort(host string, port, def int) string {
	if port == 0 || port == def {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// proxy sends the request to the route's app: streamed both ways (SSE and unknown-length bodies flushed as they come), WebSocket upgrades
// passed through, the original Host kept, X-Forwarded-* set.
func (e *Edge) proxy(w http.ResponseWriter, r *http.Request, en *entry, c client, user string) {
	if en.upstream == "" {
		e.badGateway(w, r, en)
		return
	}
	// An app may answer while the body still comes (an echo, a stream); on HTTP/1.1 net/http would close the
	// body at the answer's first byte unless told otherwise.
	_ = http.NewResponseController(w).EnableFullDuplex()
	// No Content-Type of the edge's own: net/http's server would guess one (text/html among them) for an answer
	// the app sent without; a nil entry stops it, and the app's own is added to it.
	w.Header()["Content-Type"] = nil
	target := &url.URL{Scheme: "http", Host: en.upstream}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if en.route.StripPath && en.route.Path != "/" {
				pr.Out.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(pr.In.URL.Path, en.route.Path), "/")
				pr.Out.URL.RawPath = ""
			}
			pr.Out.Host = pr.In.Host // apps answer for their own name
			if c.trusted {
				// Rewrite starts without the client's X-Forwarded-*; a trusted proxy's chain is kept and extended.
				if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
					pr.Out.Header["X-Forwarded-For"] = xff
				}
			}
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Proto", c.proto)
			pr.Out.Header.Set("X-Forwarded-Host", c.hostRaw)
			pr.Out.Header.Del(UserHeader)
			if user != "" {
				pr.Out.Header.Set(UserHeader, user)
			}
		},
		Transport:     e.transport,
		BufferPool:    &copyBuffers,
		FlushInterval: 0, // ReverseProxy still flushes at once for SSE and bodies of unknown length
		ErrorLog:      nil,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			e.log.Debug("edge upstream", "instance", en.route.Instance, "err", err)
			e.badGateway(w, r, en)
		},
	}
	sw := sendtimeout.NewWriter(w, r)
	rp.ServeHTTP(sw, r)
	sw.Finish()
}

// copyBuffers lends ReverseProxy the buffers it copies response bodies through: without a pool it allocates
// 32 KiB for every response, the most of the edge's garbage per request.
var copyBuffers buffers

type buffers struct{ p sync.Pool }

func (b *buffers) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *buffers) Put(buf []byte) { b.p.Put(&buf) }

// badGateway answers the 502 page with the app's name and its status now.
func (e *Edge) badGateway(w http.ResponseWriter, r *http.Request, en *entry) {
	status := "not answering"
	if code, info, err := e.host.Health(r.Context(), en.route.Instance); err == nil {
		status = map[string]string{"0": "not started", "1": "running", "2": "failed"}[code]
		if info != "" {
			status += ": " + info
		}
	} else if en.upErr != "" {
		status = en.upErr
	}
	badGatewayPage(w, en.route.Instance, status)
}
