package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/stackhub/stackhub/internal/api/reqauth"
	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// OnlineMarker records that a user is online now; the hub's MarkOnline is one.
type OnlineMarker interface {
	MarkOnline(ctx context.Context, a auth.Actor, uid int64) (int64, error)
}

// Cluster makes the socket cluster-wide on PostgreSQL replicas (internal/cluster's Node is one): presence counts
// users connected to any process, and a direct message reaches its recipient on another process.
type Cluster interface {
	Join(ctx context.Context, uid int64) error  // uid's first socket on this process opened
	Leave(ctx context.Context, uid int64) error // uid's last socket on this process closed
	Count(ctx context.Context) (int, error)
	Online(ctx context.Context, uids []int64) (map[int64]bool, error)
	SendDM(ctx context.Context, to int64, msg []byte) (sent bool, err error) // false: not on another process
	Attach(users func() []int64, deliver func(to int64, msg []byte) bool)
}

// GeekApk is the GeekApk WebSocket server: ws://host:2333/<uid>/<passhash> for a user, ws://host:2333/ for an
// anonymous client; ?push=1 also delivers the user's new notifications.
type GeekApk struct {
	auth   *auth.Service
	marker OnlineMarker
	log    *slog.Logger
	opt    Options
	pres   *presence
	ctx    context.Context // the refresher's life
	stop   context.CancelFunc
	done   chan struct{} // the refresher has stopped
	unsub  func()
	clu    Cluster // nil: this process is the whole StackHub

	mu     sync.Mutex // orders Close against new connections joining conns
	closed bool
	conns  sync.WaitGroup
}

// NewGeekApk returns the server and subscribes it to the bus (notifications to push, deleted users to drop).
func NewGeekApk(au *auth.Service, marker OnlineMarker, bus *events.Bus, log *slog.Logger, opt Options) *GeekApk {
	opt.defaults()
	ctx, stop := context.WithCancel(context.Background())
	g := &GeekApk{auth: au, marker: marker, log: log, opt: opt, pres: newPresence(), ctx: ctx, stop: stop,
		done: make(chan struct{})}
	g.unsub = bus.Subscribe(g.onEvent)
	go g.refreshOnline()
	return g
}

// SetCluster makes the socket cluster-wide; call it before serving.
func (g *GeekApk) SetCluster(c Cluster) {
	g.clu = c
	c.Attach(g.pres.uids, func(to int64, msg []byte) bool { return g.pres.deliver(to, msg, false) })
}

// Online is the number of users online.
func (g *GeekApk) Online() int { return g.pres.count() }

// Close refuses new connections, says goodbye to every open one (1001, going away), waits up to five seconds for
// them, then cuts the rest. Calling it again does nothing more.
func (g *GeekApk) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.unsub()
	for _, c := range g.pres.clients() {
		go c.goAway()
	}
	done := make(chan struct{})
	go func() {
		g.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, c := range g.pres.clients() {
			c.kill(errShutdown)
		}
		<-done
	}
	g.stop()
	<-g.done
}

// onEvent runs on the publisher's goroutine: it only queues.
func (g *GeekApk) onEvent(e events.Event) {
	if uid := endsUser(e); uid != 0 {
		g.pres.drop(uid, errDeleted)
		return
	}
	if e.Type != events.NotificationSent || e.Audience == 0 || !g.pres.wantsPush(e.Audience) {
		return // most recipients have no ?push=1 connection: encode only for those who do
	}
	n, ok := events.Decode[store.Notification](e)
	if !ok {
		return
	}
	b, err := json.Marshal(n)
	if err != nil {
		return
	}
	g.pres.deliver(e.Audience, append([]byte{'!'}, b...), true)
}

// endsUser is the uid whose live connections e ends (the user was deleted or disabled), or 0.
func endsUser(e events.Event) int64 {
	if e.Type != events.UserDeleted && e.Type != events.UserDisabled {
		return 0
	}
	p, _ := events.Decode[map[string]int64](e)
	return p["uid"]
}

// ServeHTTP checks the credentials in the path before the upgrade (401 when they are wrong), then serves frames.
func (g *GeekApk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	uid, err := g.authenticate(r)
	if err != nil {
		e := apperr.As(err)
		status := apperr.HTTPStatus(e.Kind)
		if e.Kind == apperr.Internal {
			g.log.Error("websocket login", "err", err)
			e.Message = "Internal server error"
		}
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+1)))
		}
		writeError(w, status, e.Message)
		return
	}
	// Counted and registered before the handshake completes: a client whose dial has returned can be sent to at once
	// (messages wait in the queue until the writer starts).
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	g.conns.Add(1)
	g.mu.Unlock()
	c := newClient(uid, r.URL.Query().Get("push") == "1", &g.opt)
	first := g.pres.add(c, time.Now())
	if first && g.clu != nil {
		// Before the handshake, so that once the client's dial returns every process counts it.
		if err := g.clu.Join(r.Context(), uid); err != nil {
			g.log.Warn("cluster presence", "uid", uid, "err", err)
		}
	}
	// The credentials travel in the URL, not in cookies, so a page on another origin gains nothing by opening this
	// socket: the browser's origin check would only get in the way of GeekApk web clients.
	conn, raw, err := accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		c.kill(err)
		g.pres.remove(c)
		g.conns.Done()
		return // Accept has answered
	}
	conn.SetReadLimit(g.opt.MaxMessage)
	c.start(conn, raw)
	if first {
		g.markOnline(uid)
	}
	// The reader gets a goroutine of its own and this one ends: its stack grew deep in the login (the database),
	// and it would keep that, with the request, for as long as the connection stays open.
	go g.serve(c)
}

// authenticate reads /<uid>/<passhash> (a user) or / (anonymous) and checks the credentials; uid 0 is anonymous.
func (g *GeekApk) authenticate(r *http.Request) (int64, error) {
	path := strings.Trim(r.URL.Path, "/")
	if path == "" {
		return 0, nil
	}
	uidText, passhash, ok := strings.Cut(path, "/")
	if !ok || uidText == "" || passhash == "" || strings.Contains(passhash, "/") {
		return 0, apperr.New(apperr.NotFound, "Resource was not found: use /<uid>/<passhash> or /")
	}
	a, err := g.auth.Authenticate(r.Context(), auth.Credentials{UID: uidText, Passhash: passhash, Client: reqauth.ClientAddr(r)})
	if err != nil {
		return 0, err
	}
	if !a.Enabled {
		return 0, apperr.New(apperr.Forbidden, "User %d is disabled", a.UID)
	}
	return a.UID, nil
}

// serve reads one connection until it ends, then cleans up.
func (g *GeekApk) serve(c *client) {
	defer g.conns.Done()
	c.kill(g.readLoop(c))
	if g.pres.remove(c) {
		if g.clu != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := g.clu.Leave(ctx, c.uid); err != nil {
				g.log.Warn("cluster presence", "uid", c.uid, "err", err)
			}
			cancel()
		}
		g.markOnline(c.uid) // online_at becomes the moment the user left
	}
	_ = c.conn.CloseNow()
	if cause := c.dropped(); cause == errSlow || cause == errDeleted {
		g.log.Debug("websocket dropped", "uid", c.uid, "cause", cause)
	}
}

// readLoop answers frames until the connection ends.
func (g *GeekApk) readLoop(c *client) error {
	for {
		typ, data, err := c.conn.Read(context.Background()) // kill closes the socket, which ends the read
		if err != nil {
			return err
		}
		if !c.bucket.allow(time.Now(), g.opt.Rate, g.opt.Burst) {
			_ = c.conn.Close(websocket.StatusPolicyViolation, "rate limit exceeded")
			return errors.New("rate limit exceeded")
		}
		if typ != websocket.MessageText {
			c.enqueue(errorFrame)
			continue
		}
		g.handle(c, ParseFrame(string(data)))
	}
}

var errorFrame = []byte("ERROR")

// handle answers one parsed frame.
func (g *GeekApk) handle(c *client, f Frame) {
	switch f.Kind {
	case FrameCount:
		c.enqueue(strconv.AppendInt(nil, int64(g.count()), 10))
	case FrameQuery:
		c.enqueue(g.online(f.UIDs))
	case FrameDM:
		if c.uid == 0 {
			c.enqueue(errorFrame)
			return
		}
		msg := strconv.AppendInt(make([]byte, 0, 20+1+len(f.Message)), c.uid, 10)
		msg = append(append(msg, ':'), f.Message...)
		here := g.pres.deliver(f.To, msg, false)
		elsewhere := false
		if g.clu != nil {
			var err error
			if elsewhere, err = g.clu.SendDM(g.ctx, f.To, msg); err != nil {
				g.log.Warn("cluster direct message", "to", f.To, "err", err)
			}
		}
		if !here && !elsewhere {
			c.enqueue(errorFrame)
		}
	default:
		c.enqueue(errorFrame)
	}
}

// count is the number of users online, on every process of a cluster.
func (g *GeekApk) count() int {
	if g.clu == nil {
		return g.pres.count()
	}
	n, err := g.clu.Count(g.ctx)
	if err != nil { // the database is away: this process's own count is the best answer left
		g.log.Warn("cluster presence", "err", err)
		return g.pres.count()
	}
	return n
}

// online answers an "o?" query, on every process of a cluster.
func (g *GeekApk) online(uids []int64) []byte {
	if g.clu == nil {
		return g.pres.online(uids)
	}
	on, err := g.clu.Online(g.ctx, uids)
	if err != nil {
		g.log.Warn("cluster presence", "err", err)
		return g.pres.online(uids)
	}
	out := append(make([]byte, 0, len(uids)+1), '*')
	for _, uid := range uids {
		if on[uid] {
			out = append(out, '1')
		} else {
			out = append(out, '0')
		}
	}
	return out
}

// markOnline writes online_at; failures (a user deleted meanwhile) are not the client's problem.
func (g *GeekApk) markOnline(uid int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), 10*time.Second)
	defer cancel()
	if _, err := g.marker.MarkOnline(ctx, auth.Actor{UID: uid, User: true, Enabled: true}, uid); err != nil {
		g.log.Debug("mark online", "uid", uid, "err", err)
	}
}

// refreshOnline keeps online_at current for users who stay connected, spread over time rather than all at once.
func (g *GeekApk) refreshOnline() {
	defer close(g.done)
	t := time.NewTicker(max(g.opt.OnlineEvery/6, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case now := <-t.C:
			for _, uid := range g.pres.due(now.Add(-g.opt.OnlineEvery), now) {
				g.markOnline(uid)
			}
		}
	}
}

// writeError answers a refused upgrade in the GeekApk error shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "message": msg})
}
