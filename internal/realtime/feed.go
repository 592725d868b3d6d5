package realtime

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
)

// FeedOptions tune the event stream. Zero values take the defaults in brackets.
type FeedOptions struct {
	Backlog      int           // events kept for clients that resume [10,000]
	FirstID      int64         // the first event's id [the start time in microseconds, so ids grow across restarts]
	WriteTimeout time.Duration // one write to a client; a client that takes longer is dropped [10 s]
	Heartbeat    time.Duration // a ping (WebSocket) or comment (SSE) on a quiet stream, to notice dead peers [25 s]
}

// Item is one event as the stream sends it, encoded once for every client.
type Item struct {
	ID        int64
	Type      string
	Audience  int64 // a uid when only that user may see it; 0 when public
	AdminOnly bool
	Scope     auth.Scope // with AdminOnly, the scope that may see it; "" is admin
	Ends      int64      // a uid whose streams end after this event (the user was deleted or disabled)
	Data      []byte     // {"id","type","time","payload"}
}

// Visible tells whether a may see it: the admin token sees everything; host and audit events need their scope;
// a user sees public events and their own;
// an anonymous client sees public events only.
func Visible(a auth.Actor, it *Item) bool {
	switch {
	case a.Admin:
		return true
	case it.AdminOnly:
		sc := it.Scope
		if sc == "" {
			sc = auth.AdminAll
		}
		return auth.Can(a, sc) == nil
	}
	return it.Audience == 0 || (a.User && it.Audience == a.UID)
}

// Feed numbers the bus's events and keeps the last Backlog of them in a ring. Each stream reads the ring from its
// own cursor, so publishing costs the same for one client or ten thousand, and a client that resumes with the last
// id it saw gets exactly what it missed, as long as that is still in the ring.
type Feed struct {
	opt   FeedOptions
	log   *slog.Logger
	unsub func()

	mu     sync.RWMutex
	ring   []Item
	first  int64         // the first id this feed hands out
	next   int64         // the id of the next event
	notify chan struct{} // closed (and replaced) by every publish
	closed bool
}

// NewFeed returns a feed subscribed to bus.
func NewFeed(bus *events.Bus, log *slog.Logger, opt FeedOptions) *Feed {
	if opt.Backlog <= 0 {
		opt.Backlog = 10_000
	}
	if opt.FirstID <= 0 {
		opt.FirstID = time.Now().UnixMicro()
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 25 * time.Second
	}
	// The ring grows with the events, up to Backlog: a full one costs ~0.7 MB, which a quiet server never needs.
	f := &Feed{opt: opt, log: log, first: opt.FirstID, next: opt.FirstID, notify: make(chan struct{})}
	f.unsub = bus.Subscribe(f.publish)
	return f
}

// publish numbers and stores one event and wakes every stream. It runs on the publisher's goroutine.
func (f *Feed) publish(e events.Event) {
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		f.log.Error("encode event", "type", e.Type, "err", err)
		payload = []byte("null")
	}
	typ, _ := json.Marshal(e.Type)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	id := f.next
	f.next++
	b := make([]byte, 0, len(payload)+len(typ)+64)
	b = strconv.AppendInt(append(b, `{"id":`...), id, 10)
	b = append(append(b, `,"type":`...), typ...)
	b = strconv.AppendInt(append(b, `,"time":`...), e.Time.UnixMilli(), 10)
	b = append(append(append(b, `,"payload":`...), payload...), '}')
	it := Item{ID: id, Type: e.Type, Audience: e.Audience, AdminOnly: e.AdminOnly, Scope: auth.Scope(e.Scope), Ends: endsUser(e), Data: b}
	if n := len(f.ring); n < f.opt.Backlog { // not wrapped yet: slot(id) is n
		if n == cap(f.ring) {
			f.ring = append(make([]Item, 0, min(max(2*n, 64), f.opt.Backlog)), f.ring...)
		}
		f.ring = append(f.ring, it)
	} else {
		f.ring[f.slot(id)] = it
	}
	close(f.notify)
	f.notify = make(chan struct{})
}

func (f *Feed) slot(id int64) int { return int((id - f.first) % int64(f.opt.Backlog)) }

// Last is the id of the newest event (FirstID-1 before the first).
func (f *Feed) Last() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.next - 1
}

// window is what since saw.
type window struct {
	items  []Item
	gap    bool            // after was not in the ring: events were lost; items start at the oldest kept
	oldest int64           // the oldest id in the ring
	wait   <-chan struct{} // closed by the next publish
	closed bool
}

// since returns up to limit events after id after, appended to buf[:0] (a stream reuses one buffer).
func (f *Feed) since(after int64, limit int, buf []Item) window {
	f.mu.RLock()
	defer f.mu.RUnlock()
	w := window{items: buf[:0], oldest: max(f.next-int64(f.opt.Backlog), f.first), wait: f.notify, closed: f.closed}
	if after+1 < w.oldest || after >= f.next {
		w.gap = true
		after = w.oldest - 1
	}
	for id := after + 1; id < f.next && len(w.items) < limit; id++ {
		w.items = append(w.items, f.ring[f.slot(id)])
	}
	return w
}

// Follow adds another bus to the feed (the audit log's); Close stops listening to it too.
func (f *Feed) Follow(bus *events.Bus) {
	unsub, next := f.unsub, bus.Subscribe(f.publish)
	f.unsub = func() { unsub(); next() }
}

// Close ends every stream and stops listening to the bus.
func (f *Feed) Close() {
	f.unsub()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.notify)
	}
}
