package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/stackhub/stackhub/internal/sendtimeout"
)

// The HTTPS listener's HTTP/1.1 path (docs/edge.md §7 "Proxy"). net/http's server and Transport cost a proxied
// request two goroutine hand-offs on the way to the app, a background read on the client's connection and a
// dozen allocations: about 100 µs of CPU, where this path takes about 50 (bench/edge). One goroutine per client
// connection reads a request, writes it to an app connection of its own and copies the answer back.
//
// It serves only plain requests: HTTP/1.1 with no body or a Content-Length one of up to 32 KiB, no Upgrade,
// Expect or Transfer-Encoding, for a name other than StackHub's own. Anything else (HTTP/2, a WebSocket, a header
// it cannot hold, a malformed request) goes, with the bytes already read, to net/http's server, which serves the
// rest of that connection as it serves every connection of the plain HTTP listener. Both apply the same rules
// (decide); only the hop to the app differs.

// upstreamIdle is how long a client connection may wait for its next request before the edge closes the app
// connection it kept for it: an app then holds a connection per active client, not one per open browser tab, and
// the edge lets go before the app's own keep-alive timeout (5 s in Apache httpd and Node.js) can close it under a
// request. A var for tests.
var upstreamIdle = 4 * time.Second

const (
	headerTimeout = 10 * time.Second // as the servers' ReadHeaderTimeout
	idleTimeout   = 2 * time.Minute  // as their IdleTimeout
	maxHeader     = 8 << 10          // a longer header goes to net/http (which takes up to 1 MiB)
	// maxBody is the largest request body the fast path takes. It writes a body whole before it reads the answer,
	// which an app that answers while it still reads (an echo, a stream) could block on once the body outgrows
	// the sockets' buffers; net/http's server sends both ways at once.
	maxBody = 32 << 10
)

// errHandoff asks for the connection to go to net/http's server.
var errHandoff = errors.New("edge: hand the connection to net/http")

// handoff is the listener net/http's server accepts the connections the fast path gives up.
type handoff struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (l *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoff) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoff) Addr() net.Addr { return l.addr }

func (l *handoff) give(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// replayConn is a TLS connection handed over with bytes already read from it: they are read first.
type replayConn struct {
	*tls.Conn
	r     *bufio.Reader
	state *tls.ConnectionState
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type tlsStateKey struct{}

// connContext gives net/http's requests on a replayConn their TLS state (net/http knows it only of a *tls.Conn).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok {
		return context.WithValue(ctx, tlsStateKey{}, rc.state)
	}
	return ctx
}

// withTLSState sets r.TLS for a request that came on a replayConn.
func withTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		next.ServeHTTP(w, r)
	})
}

// fastConns tracks the fast path's connections for a graceful shutdown.
type fastConns struct {
	mu      sync.Mutex
	m       map[*h1conn]bool // → idle (waiting for a request)
	closing bool
	wg      sync.WaitGroup
}

func (f *fastConns) add(h *h1conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	if f.m == nil {
		f.m = map[*h1conn]bool{}
	}
	f.m[h] = false
	f.wg.Add(1)
	return true
}

func (f *fastConns) remove(h *h1conn) {
	f.mu.Lock()
	delete(f.m, h)
	f.mu.Unlock()
	f.wg.Done()
}

// setIdle records whether h waits for a request; false once shutting down (h should end).
func (f *fastConns) setIdle(h *h1conn, idle bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[h] = idle
	return !f.closing
}

// shutdown closes the idle connections, lets the busy ones finish their request, and closes what is left when
// ctx ends.
func (f *fastConns) shutdown(ctx context.Context) {
	f.mu.Lock()
	f.closing = true
	for h, idle := range f.m {
		if idle {
			_ = h.c.Close()
		}
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		f.mu.Lock()
		for h := range f.m {
			_ = h.c.Close()
			if u := h.upc.Load(); u != nil {
				_ = u.c.Close() // a goroutine waiting on its app ends too
			}
		}
		f.mu.Unlock()
		select { // closed connections end their goroutines at once; a handshake within its 10 s
		case <-done:
		case <-time.After(headerTimeout):
		}
	}
}

// ProxyCounts says how the HTTPS listener served: requests answered on the fast path, and connections given to
// net/http's server (HTTP/2, WebSockets, StackHub's own name, requests the fast path does not take).
func (e *Edge) ProxyCounts() (fast, handedOff int64) {
	return e.fastServed.Load(), e.handedOff.Load()
}

// serveTLS accepts TLS connections on ln until it is closed: HTTP/1.1 ones on the fast path, the others through
// hand to net/http.
func (e *Edge) serveTLS(ln net.Listener, cfg *tls.Config, hand *handoff, conns *fastConns) error {
	var delay time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			// Out of file descriptors and the like: wait and accept again, as net/http's server does, rather than
			// end the listener (and with it the server).
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				e.log.Warn("edge accept", "err", err)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		h := &h1conn{e: e, c: tls.Server(raw, cfg), hand: hand, conns: conns}
		if !conns.add(h) {
			_ = raw.Close()
			continue
		}
		go h.serve()
	}
}

// h1conn is one client connection on the fast path.
type h1conn struct {
	e     *Edge
	c     *tls.Conn
	hand  *handoff
	conns *fastConns
	state *tls.ConnectionState
	br    *bufio.Reader
	bw    *bufio.Writer
	up    *upConn      // the app connection this client's requests go through
	body  bytes.Reader // the request's body, read whole before the app hears of the request
	rec   recorder
	peer  string                 // the peer's address, as X-Forwarded-For names it
	upc   atomic.Pointer[upConn] // h.up, for a shutdown to close
	watch watch
	out   clientWriter // h.c, for h.bw: each write pushes the write deadline on (sendtimeout)
}

// watch notices a client that leaves while the edge waits on its app (a long poll, a quiet event stream): it
// reads the client's connection, as net/http's server does in the background, and when that ends it closes the
// app connection, which ends the wait and tells the app. It runs only once an answer is slow (watchAfter) or
// is a stream, so a quick answer costs a timer and no goroutine.
type watch struct {
	mu       sync.Mutex
	armed    bool // an exchange with the app runs
	running  bool
	done     chan struct{}
	stopping atomic.Bool
	left     atomic.Bool // the client went away while watched
	timer    *time.Timer
}

const watchAfter = time.Second

// upConn is a keep-alive connection to an app.
type upConn struct {
	addr string
	c    net.Conn
	held *heldConn // c, when it can wait for the answer as it sends the request
	// answered is when its last answer ended; zero until it has answered once.
	answered time.Time
	br       *bufio.Reader
	bw       *bufio.Writer
}

// alive peeks at the idle connection without blocking: the app has not closed it, and sent nothing unasked.
func (u *upConn) alive() bool {
	sc, ok := u.c.(syscall.Conn)
	if !ok || u.br.Buffered() > 0 {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN) // nothing to read: neither bytes nor the end
		return true
	})
	return err == nil && alive
}

// A connection's buffers: the client's reader holds a whole header; bodies larger than a buffer bypass it.
var (
	headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxHeader) }}
	readers     = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writers     = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
	// parsers read a request's header from a copy of its bytes, which stay in the connection's reader until the
	// request is known to be the fast path's.
	parsers = sync.Pool{New: func() any { return &parser{br: bufio.NewReaderSize(nil, 4<<10)} }}
)

type parser struct {
	rd bytes.Reader
	br *bufio.Reader
}

func (h *h1conn) serve() {
	handedOff := false
	handOff := func(c net.Conn) {
		// A deadline left by an answer here would cut what net/http's server writes unwrapped (a 100 Continue).
		_ = h.c.SetWriteDeadline(time.Time{})
		handedOff = true
		h.e.handedOff.Add(1)
		h.hand.give(c)
	}
	defer func() {
		h.closeUpstream()
		if !handedOff {
			_ = h.c.Close()
			if h.br != nil {
				h.br.Reset(nil)
				headReaders.Put(h.br)
			}
		}
		if h.bw != nil {
			h.bw.Reset(nil)
			writers.Put(h.bw)
		}
		h.conns.remove(h)
	}()
	_ = h.c.SetDeadline(time.Now().Add(headerTimeout))
	if err := h.c.HandshakeContext(context.Background()); err != nil {
		h.e.log.Debug("edge TLS handshake", "remote", h.c.RemoteAddr(), "err", err)
		return
	}
	_ = h.c.SetDeadline(time.Time{})
	st := h.c.ConnectionState()
	h.state = &st
	if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" {
		handOff(h.c)
		return
	}
	h.br = headReaders.Get().(*bufio.Reader)
	h.br.Reset(h.c)
	h.bw = writers.Get().(*bufio.Writer)
	h.out = clientWriter{c: h.c, wd: sendtimeout.NewDeadline(h.c)}
	h.bw.Reset(&h.out)
	remote := h.c.RemoteAddr().String()
	h.peer = remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		h.peer = host
	}
	for {
		if !h.conns.setIdle(h, true) {
			return
		}
		n, err := h.readHeader()
		if !h.conns.setIdle(h, false) {
			return
		}
		if err != nil {
			if errors.Is(err, errHandoff) {
				handOff(&replayConn{Conn: h.c, r: h.br, state: h.state})
			}
			return
		}
		req, err := h.parse(n)
		if err != nil {
			handOff(&replayConn{Conn: h.c, r: h.br, state: h.state})
			return
		}
		req.RemoteAddr, req.TLS = remote, h.state
		c := h.e.clientOf(req, true)
		if h.e.cfg.Domain != "" && c.host == h.e.cfg.Domain {
			// StackHub's own UI and API: WebSockets, streams and all.
			handOff(&replayConn{Conn: h.c, r: h.br, state: h.state})
			return
		}
		_, _ = h.br.Discard(n)
		// The header's deadlines end with it: a body takes as long as it takes, as on net/http's server, and the
		// watch reads the client for as long as the app takes to answer.
		_ = h.c.SetReadDeadline(time.Time{})
		req.Body = http.NoBody
		var buf []byte
		if req.ContentLength > 0 {
			// The whole body first (at most maxBody): a client that trickles it ties up this goroutine, not a
			// connection of its app (a PHP worker, say), which hears of the request once all of it is here.
			if buf = copyBuffers.Get(); int64(len(buf)) < req.ContentLength {
				buf = make([]byte, req.ContentLength) // only if maxBody outgrows the pool's buffers
			}
			if _, err := io.ReadFull(h.br, buf[:req.ContentLength]); err != nil {
				copyBuffers.Put(buf)
				return
			}
			h.body.Reset(buf[:req.ContentLength])
			req.Body = io.NopCloser(&h.body)
		}
		ok := h.respond(req, c) && !req.Close
		if buf != nil {
			h.body.Reset(nil)
			copyBuffers.Put(buf)
		}
		if !ok {
			return
		}
	}
}

// readHeader waits for a request and returns its header's length, blank line included, with the header in h.br.
// It leaves a read deadline on the connection, which serve clears once the header is taken.
func (h *h1conn) readHeader() (int, error) {
	if h.br.Buffered() == 0 {
		idle := idleTimeout
		if h.up != nil {
			_ = h.c.SetReadDeadline(time.Now().Add(upstreamIdle))
			_, err := h.br.Peek(1)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, err
			}
			if err != nil { // a timeout leaves the TLS connection usable: wait on without the app's
				h.closeUpstream()
				idle -= upstreamIdle
			}
		}
		if h.br.Buffered() == 0 {
			_ = h.c.SetReadDeadline(time.Now().Add(idle))
			if _, err := h.br.Peek(1); err != nil {
				return 0, err
			}
		}
	}
	for waited := false; ; {
		b, _ := h.br.Peek(h.br.Buffered())
		if b[0] == '\r' || b[0] == '\n' {
			return 0, errHandoff // net/http's parser decides what a leading blank line means
		}
		if i := headerEnd(b); i > 0 {
			return i, nil
		}
		if len(b) >= maxHeader {
			return 0, errHandoff
		}
		if !waited { // the rest of a header must follow its start within headerTimeout
			_ = h.c.SetReadDeadline(time.Now().Add(headerTimeout))
			waited = true
		}
		if _, err := h.br.Peek(len(b) + 1); err != nil {
			return 0, err
		}
	}
}

// headerEnd is the length of the header in b up to its first blank line ("\n\n" or "\n\r\n"), 0 if none yet.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// parse reads the request whose header is the first n bytes in h.br, and refuses (errHandoff) what the fast path
// does not serve.
func (h *h1conn) parse(n int) (*http.Request, error) {
	b, _ := h.br.Peek(n)
	p := parsers.Get().(*parser)
	p.rd.Reset(b)
	p.br.Reset(&p.rd)
	req, err := http.ReadRequest(p.br)
	p.br.Reset(nil)
	p.rd.Reset(nil)
	parsers.Put(p)
	if err != nil {
		return nil, errHandoff
	}
	hd := req.Header
	if req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Method == http.MethodConnect ||
		!strings.HasPrefix(req.RequestURI, "/") || len(req.TransferEncoding) > 0 ||
		hd["Transfer-Encoding"] != nil || hd["Expect"] != nil || hd["Upgrade"] != nil ||
		req.Host == "" || !httpguts.ValidHostHeader(req.Host) || req.ContentLength < 0 || req.ContentLength > maxBody {
		return nil, errHandoff
	}
	for k, vv := range hd {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, errHandoff
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errHandoff
			}
		}
	}
	return req, nil
}

// respond answers req: by the route's rules (a page, a redirect, a refusal) or from its app. It reports whether
// the connection may serve another request.
func (h *h1conn) respond(req *http.Request, c client) bool {
	h.e.fastServed.Add(1)
	h.rec.reset()
	en, user := h.e.decide(&h.rec, req, c, true)
	if en == nil {
		return h.writeRecorded(req)
	}
	if en.upstream == "" {
		h.e.badGateway(&h.rec, req, en)
		return h.writeRecorded(req)
	}
	ok, err := h.proxy(req, en, c, user)
	if err != nil {
		h.e.log.Debug("edge upstream", "instance", en.route.Instance, "err", err)
		h.rec.reset()
		h.e.badGateway(&h.rec, req, en)
		return h.writeRecorded(req)
	}
	return ok
}

// errClient ends the connection: the client went away, or the answer broke off after part of it was sent.
var errClient = errors.New("edge: client connection ended")

// proxy sends req to the app and copies its answer to the client. An error means nothing was sent to the
// client yet (answer it with the 502 page); ok=false that the connection must end.
func (h *h1conn) proxy(req *http.Request, en *entry, c client, user string) (ok bool, err error) {
	defer h.endWatch()
	for attempt := 0; ; attempt++ {
		reused, err := h.dial(en.upstream, !replayable(req) || req.ContentLength > 0)
		if err != nil {
			return false, err
		}
		res, err := h.exchange(req, c, en, user)
		if err == nil {
			return h.forward(req, res), nil
		}
		h.endWatch()
		h.closeUpstream()
		if h.watch.left.Load() {
			return false, nil // nobody to answer
		}
		// An app closes idle connections when it likes: an idempotent request without a body that found the
		// reused one closed is sent again once on a new one, as net/http's Transport does.
		if reused && attempt == 0 && req.ContentLength == 0 && replayable(req) && isClosed(err) {
			continue
		}
		if errors.Is(err, errClient) {
			return false, nil
		}
		return false, err
	}
}

// errNoAnswer is an app connection that ended before the first byte of an answer.
var errNoAnswer = errors.New("the app closed the connection without an answer")

// isClosed says the app's connection was found closed before any of the answer came.
func isClosed(err error) bool {
	return errors.Is(err, errNoAnswer) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// dial makes sure h has a connection to addr; reused says it served before. With check, a kept connection the
// app has closed meanwhile (it closes idle ones when it likes) is replaced first: a request that cannot be sent
// again must not be lost on it. Others are sent again instead (proxy), which spares a system call per request.
func (h *h1conn) dial(addr string, check bool) (reused bool, err error) {
	if h.up != nil && h.up.addr == addr && (!check || h.up.alive()) {
		return true, nil
	}
	h.closeUpstream()
	conn, err := upstreamDialer.Dial("tcp", addr)
	if err != nil {
		return false, err
	}
	u := &upConn{addr: addr, c: conn, br: readers.Get().(*bufio.Reader), bw: writers.Get().(*bufio.Writer)}
	if u.held = newHeldConn(conn); u.held != nil {
		u.c = u.held
	}
	u.br.Reset(u.c)
	u.bw.Reset(u.c)
	h.up = u
	h.upc.Store(u)
	return false, nil
}

var upstreamDialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

func (h *h1conn) closeUpstream() {
	if h.up == nil {
		return
	}
	h.upc.Store(nil)
	_ = h.up.c.Close()
	h.up.br.Reset(nil)
	readers.Put(h.up.br)
	h.up.bw.Reset(nil)
	writers.Put(h.up.bw)
	h.up = nil
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1) a proxy does not pass on, and the headers the edge
// writes itself.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true,
}

// forwardHeaders are the client's headers about its origin: replaced by the edge's own (a trusted proxy's
// X-Forwarded-For chain is extended instead).
var forwardHeaders = map[string]bool{
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
	userKey: true,
}

// exchange writes req to the app and reads the head of its answer (after any 1xx, which it passes on).
func (h *h1conn) exchange(req *http.Request, c client, en *entry, user string) (*http.Response, error) {
	// Held (sent from inside the wait for the answer) whole, so that none of it reaches an app that answers on the
	// header before the wait starts; only on a connection that answered just now (heldFresh).
	held := h.up.held
	if held != nil && !h.up.answered.IsZero() && time.Since(h.up.answered) < heldFresh {
		held.holdWrites()
	} else {
		held = nil
	}
	w := h.up.bw
	uri := req.RequestURI
	if en.route.StripPath && en.route.Path != "/" {
		u := url.URL{Path: "/" + strings.TrimPrefix(strings.TrimPrefix(req.URL.Path, en.route.Path), "/"),
			RawQuery: req.URL.RawQuery}
		uri = u.RequestURI()
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	conn := req.Header["Connection"]
	for k, vv := range req.Header {
		if hopHeaders[k] || forwardHeaders[k] || listed(conn, k) {
			if k == "Te" && httpguts.HeaderValuesContainsToken(vv, "trailers") {
				w.WriteString("Te: trailers\r\n") // an end-to-end request, as ReverseProxy keeps it
			}
			continue
		}
		for _, v := range vv {
			writeField(w, k, v)
		}
	}
	xff := h.peer
	if c.trusted {
		if prior := req.Header["X-Forwarded-For"]; len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
	}
	writeField(w, "X-Forwarded-For", xff)
	writeField(w, "X-Forwarded-Host", c.hostRaw)
	writeField(w, "X-Forwarded-Proto", c.proto)
	if user != "" {
		writeField(w, UserHeader, user)
	}
	if req.ContentLength > 0 || req.Header["Content-Length"] != nil {
		writeField(w, "Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	w.WriteString("\r\n")
	if req.ContentLength > 0 {
		if _, err := io.CopyN(w, req.Body, req.ContentLength); err != nil {
			return nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	h.armWatch()
	if held != nil {
		if err := held.sendAwait(); err != nil {
			return nil, err
		}
	}
	if _, err := h.up.br.Peek(1); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	for {
		res, err := http.ReadResponse(h.up.br, req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("the app switched protocols without being asked")
		}
		if res.StatusCode < 100 || res.StatusCode > 999 {
			return nil, fmt.Errorf("the app answered status %d", res.StatusCode)
		}
		if res.StatusCode >= 200 {
			return res, nil
		}
		// 1xx (103 Early Hints): pass it on and read on.
		h.writeHead(statusLine(res), res.Header, nil)
		if err := h.bw.Flush(); err != nil {
			return nil, errClient
		}
	}
}

func listed(conn []string, k string) bool {
	return len(conn) > 0 && httpguts.HeaderValuesContainsToken(conn, k)
}

func writeField(w *bufio.Writer, k, v string) {
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(v)
	w.WriteString("\r\n")
}

// writeHead writes a status line and the end-to-end headers of hd, then the framing fields in extra, and the
// blank line.
func (h *h1conn) writeHead(status string, hd http.Header, extra []string) {
	w := h.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(status)
	w.WriteString("\r\n")
	conn := hd["Connection"]
	for k, vv := range hd {
		if hopHeaders[k] || listed(conn, k) || !httpguts.ValidHeaderFieldName(k) {
			continue // Go's parser keeps "Content-Length " (a space before the colon) as a name of its own
		}
		for _, v := range vv {
			writeField(w, k, v)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		writeField(w, extra[i], extra[i+1])
	}
	w.WriteString("\r\n")
}

// statusLine is the answer's code with Go's reason phrase, as net/http's server writes it: the app's own could
// hold anything its parser let through (a bare CR).
func statusLine(res *http.Response) string {
	text := http.StatusText(res.StatusCode)
	if text == "" {
		text = "status code " + strconv.Itoa(res.StatusCode)
	}
	return strconv.Itoa(res.StatusCode) + " " + text
}

// forward copies the app's answer to the client; it reports whether the client connection may go on. The app
// connection is kept when its answer ended cleanly and it did not ask to close.
func (h *h1conn) forward(req *http.Request, res *http.Response) bool {
	extra := make([]string, 0, 8)
	if res.Header["Date"] == nil {
		extra = append(extra, "Date", time.Now().UTC().Format(http.TimeFormat))
	}
	bodyless := req.Method == http.MethodHead || res.StatusCode == http.StatusNoContent ||
		res.StatusCode == http.StatusNotModified
	chunked := false
	switch {
	case bodyless:
		if cl := res.Header["Content-Length"]; len(cl) == 1 && res.StatusCode != http.StatusNoContent {
			extra = append(extra, "Content-Length", cl[0]) // what a GET would have had
		}
	case res.ContentLength >= 0:
		extra = append(extra, "Content-Length", strconv.FormatInt(res.ContentLength, 10))
	default: // chunked or until the app closes: chunked to the client, each piece passed on as it comes
		chunked = true
		extra = append(extra, "Transfer-Encoding", "chunked")
		if len(res.Trailer) > 0 {
			keys := make([]string, 0, len(res.Trailer))
			for k := range res.Trailer {
				if httpguts.ValidHeaderFieldName(k) && !hopHeaders[k] {
					keys = append(keys, k)
				}
			}
			extra = append(extra, "Trailer", strings.Join(keys, ", "))
		}
	}
	if req.Close {
		extra = append(extra, "Connection", "close")
	}
	if chunked {
		h.watchNow()
	} else {
		h.quiet()
	}
	h.writeHead(statusLine(res), res.Header, extra)
	upOK, clientOK := true, true
	if !bodyless {
		upOK, clientOK = h.copyBody(res.Body, chunked)
		if chunked && upOK && clientOK {
			h.bw.WriteString("0\r\n")
			for k, vv := range res.Trailer {
				if !httpguts.ValidHeaderFieldName(k) || hopHeaders[k] {
					continue
				}
				for _, v := range vv {
					writeField(h.bw, k, v)
				}
			}
			h.bw.WriteString("\r\n")
		}
	}
	if err := h.bw.Flush(); err != nil {
		clientOK = false
	}
	// Bytes after the answer were never asked for (a body on a HEAD, 204 or 304): the connection is out of step.
	keep := upOK && clientOK && !res.Close && h.up.br.Buffered() == 0
	if !keep {
		_ = h.up.c.Close() // so that closing an unfinished body does not wait for the rest of it
	}
	_ = res.Body.Close()
	if !keep {
		h.closeUpstream()
	} else {
		h.up.answered = time.Now()
	}
	return upOK && clientOK
}

// copyBody copies an answer's body to the client, flushing whenever the app has nothing more ready, so that a
// stream (SSE, a long download) reaches the client as it comes.
func (h *h1conn) copyBody(body io.Reader, chunked bool) (upOK, clientOK bool) {
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if chunked {
				h.bw.WriteString(strconv.FormatInt(int64(n), 16))
				h.bw.WriteString("\r\n")
			}
			if _, werr := h.bw.Write(buf[:n]); werr != nil {
				return true, false
			}
			if chunked {
				h.bw.WriteString("\r\n")
			}
			if h.up.br.Buffered() == 0 && err == nil {
				if h.bw.Flush() != nil {
					return true, false
				}
			}
		}
		if err == io.EOF {
			return true, true
		}
		if err != nil {
			return false, true
		}
	}
}

// armWatch starts watching the client if the app has not answered within watchAfter.
func (h *h1conn) armWatch() {
	w := &h.watch
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(watchAfter, h.startWatch)
	} else {
		w.timer.Reset(watchAfter)
	}
}

// startWatch starts the watching goroutine, unless the exchange ended or it runs already.
func (h *h1conn) startWatch() {
	w := &h.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed || w.running {
		return
	}
	w.running, w.done = true, make(chan struct{})
	go func(up net.Conn, done chan struct{}) {
		defer close(done)
		// The request and its body are read: what comes now is the next request (kept in h.br), or the end.
		if _, err := h.br.Peek(1); err != nil && !w.stopping.Load() {
			w.left.Store(true)
			_ = up.Close()
		}
	}(h.up.c, w.done)
}

// watchNow watches the client from now on (the answer is a stream).
func (h *h1conn) watchNow() {
	w := &h.watch
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	h.startWatch()
}

// quiet stops the timer of a quick answer: no goroutine to stop.
func (h *h1conn) quiet() {
	w := &h.watch
	w.mu.Lock()
	w.armed = false
	w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// endWatch stops watching before the connection reads its next request.
func (h *h1conn) endWatch() {
	h.quiet()
	w := &h.watch
	w.mu.Lock()
	running, done := w.running, w.done
	w.mu.Unlock()
	if !running {
		return
	}
	w.stopping.Store(true)
	_ = h.c.SetReadDeadline(time.Unix(1, 0)) // ends the watching read
	<-done
	_ = h.c.SetReadDeadline(time.Time{})
	w.stopping.Store(false)
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
}

// recorder is the http.ResponseWriter the rules write their own answers to (pages, redirects, refusals); they
// are small, and written out whole.
type recorder struct {
	hd   http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) reset() {
	if r.hd == nil {
		r.hd = http.Header{}
	}
	clear(r.hd)
	r.code = 0
	r.body.Reset()
}

func (r *recorder) Header() http.Header { return r.hd }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// writeRecorded sends the recorder's answer to req.
func (h *h1conn) writeRecorded(req *http.Request) bool {
	r := &h.rec
	r.WriteHeader(http.StatusOK)
	r.hd.Del("Content-Length")
	extra := []string{"Date", time.Now().UTC().Format(http.TimeFormat),
		"Content-Length", strconv.Itoa(r.body.Len())}
	if req.Close {
		extra = append(extra, "Connection", "close")
	}
	h.writeHead(strconv.Itoa(r.code)+" "+http.StatusText(r.code), r.hd, extra)
	if req.Method != http.MethodHead {
		_, _ = h.bw.Write(r.body.Bytes())
	}
	return h.bw.Flush() == nil
}
