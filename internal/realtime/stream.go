package realtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
)

// GapType is the type of the notice a resuming client gets when some of what it missed is no longer kept: it
// should reload its state. Its id is the one before the oldest event kept, so resuming from it loses nothing more.
const GapType = "stream.gap"

// batch bounds how many events one read of the ring copies.
const batch = 256

// sink is one transport of the stream.
type sink interface {
	send(it *Item) error
	flush() error
	heartbeat(ctx context.Context) error
}

// Serve streams the events a may see to one client: over WebSocket when the request is an upgrade, as Server-Sent
// Events otherwise. A client resumes with ?last_id=<id> or the Last-Event-ID header and first gets every event
// after that id that is still kept. The error, if any, comes before anything was written.
func (f *Feed) Serve(w http.ResponseWriter, r *http.Request, a auth.Actor) error {
	if a.User && !a.Enabled {
		// As on the GeekApk socket: disabling a user ends their streams, and they may not open new ones.
		return apperr.New(apperr.Forbidden, "User %d is disabled", a.UID)
	}
	after, resume, err := resumePoint(r)
	if err != nil {
		return err
	}
	f.mu.RLock()
	closed := f.closed
	f.mu.RUnlock()
	if closed {
		return apperr.New(apperr.Unavailable, "The server is shutting down")
	}
	if !resume {
		after = f.Last()
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		f.serveWebSocket(w, r, a, after)
		return nil
	}
	f.serveSSE(w, r, a, after)
	return nil
}

// resumePoint reads the id a client resumes after; resume is false for a client that wants live events only.
func resumePoint(r *http.Request) (after int64, resume bool, err error) {
	v := r.URL.Query().Get("last_id")
	if v == "" {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, false, nil
	}
	after, err = strconv.ParseInt(v, 10, 64)
	if err != nil || after < 0 {
		return 0, false, apperr.Field(apperr.Invalid, "last_id", "last_id must be the id of an event")
	}
	return after, true, nil
}

// pump sends a's events after cursor until the client goes, falls behind the ring, or the feed closes.
func (f *Feed) pump(ctx context.Context, a auth.Actor, cursor int64, s sink) error {
	hb := time.NewTicker(f.opt.Heartbeat)
	defer hb.Stop()
	var buf []Item
	for first := true; ; first = false {
		w := f.since(cursor, batch, buf)
		buf = w.items
		if w.closed {
			return errShutdown
		}
		if w.gap {
			if !first {
				return errSlow // it fell so far behind that the ring moved past it
			}
			if err := s.send(gapNotice(cursor, w.oldest)); err != nil {
				return err
			}
		}
		for i := range w.items {
			it := &w.items[i]
			cursor = it.ID
			if Visible(a, it) {
				if err := s.send(it); err != nil {
					return err
				}
			}
			if a.User && it.Ends == a.UID {
				_ = s.flush()
				return errDeleted
			}
		}
		if len(w.items) == batch {
			continue
		}
		if err := s.flush(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wait:
		case <-hb.C:
			if err := s.heartbeat(ctx); err != nil {
				return err
			}
		}
	}
}

func gapNotice(lastID, oldest int64) *Item {
	data := fmt.Sprintf(`{"id":%d,"type":%q,"time":%d,"payload":{"last_id":%d,"oldest_id":%d}}`, oldest-1, GapType,
		time.Now().UnixMilli(), lastID, oldest)
	return &Item{ID: oldest - 1, Type: GapType, Data: []byte(data)}
}

// serveWebSocket streams over a WebSocket; the browser's same-origin check applies, since cookies authenticate it.
func (f *Feed) serveWebSocket(w http.ResponseWriter, r *http.Request, a auth.Actor, after int64) {
	conn, raw, err := accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(1 << 10)
	// The client has nothing to say; CloseRead answers pings and ends ctx when the client closes.
	ctx := conn.CloseRead(context.Background())
	// The stream gets a goroutine of its own and this one ends: its stack grew deep in the login (the database),
	// and it would keep that, with the request, for as long as the stream stays open.
	go func() {
		defer conn.CloseNow()
		err := f.pump(ctx, a, after, &wsSink{conn: conn, raw: raw, timeout: f.opt.WriteTimeout})
		switch {
		case errors.Is(err, errShutdown):
			_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		case errors.Is(err, errSlow):
			_ = conn.Close(websocket.StatusPolicyViolation, "too slow: resume with last_id")
		case errors.Is(err, errDeleted):
			_ = conn.Close(websocket.StatusPolicyViolation, "user deleted or disabled")
		}
	}()
}

type wsSink struct {
	conn    *websocket.Conn
	raw     net.Conn
	timeout time.Duration
}

func (s *wsSink) send(it *Item) error { return writeWithin(s.conn, s.raw, s.timeout, it.Data) }

func (s *wsSink) flush() error { return nil }

func (s *wsSink) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.conn.Ping(ctx)
}

// serveSSE streams Server-Sent Events: "id: <id>" and "data: <JSON>" per event, without an event name, so that
// EventSource.onmessage sees them all. The browser resumes by itself with Last-Event-ID.
func (f *Feed) serveSSE(w http.ResponseWriter, r *http.Request, a auth.Actor, after int64) {
	rc := http.NewResponseController(w)
	// The last deadline also bounds the server's closing chunk after the stream ends.
	defer func() { _ = rc.SetWriteDeadline(time.Now().Add(f.opt.WriteTimeout)) }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sseSink{w: w, rc: rc, timeout: f.opt.WriteTimeout}
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil || s.flush() != nil {
		return
	}
	_ = f.pump(r.Context(), a, after, s)
}

type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *sseSink) send(it *Item) error {
	// A client that does not read fills the socket; the deadline turns that into an error instead of a hang.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := fmt.Fprintf(s.w, "id: %d\ndata: %s\n\n", it.ID, it.Data)
	return err
}

// flush sends what send buffered, then clears the deadline: on HTTP/2 a stream's deadline is a timer that resets
// the stream when it fires, write or no write, and a stream is quiet between events for longer than the timeout.
// Every send is followed by a flush before the stream waits.
func (s *sseSink) flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	err := s.rc.Flush()
	_ = s.rc.SetWriteDeadline(time.Time{})
	return err
}

func (s *sseSink) heartbeat(context.Context) error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.flush()
}
