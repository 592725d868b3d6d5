package realtime

import (
	"encoding/json"
	"log/slog"
	"sort"
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
//
// On PostgreSQL replicas the feed listens to the shared log (internal/cluster) instead, and keeps the ids the log
// gave: they are global, so a client resumes with its last id on any process. Those ids only grow; they may skip.
type Feed struct {
	opt   FeedOptions
	log   *slog.Logger
	unsub func()

	mu     sync.RWMutex
	ring   []Item        // circular once full: ring[head] is the oldest
	head   int           // the oldest item's slot once the ring is full
	floor  int64         // events up to this id are not kept (dropped from the ring, or before the feed began)
	last   int64         // the newest id
	global bool          // ids come with the events (replicas), rather than from last+1
	notify chan struct{} // closed (and replaced) by every publish
	closed bool
}

// NewFeed returns a feed subscribed to bus.
func NewFeed(bus *events.Bus, log *slog.Logger, opt FeedOptions) *Feed {
	f := newFeed(log, opt)
	f.unsub = bus.Subscribe(f.publish)
	return f
}

// NewGlobalFeed returns a feed of the shared log of PostgreSQL replicas: bus carries events that have their ID,
// recent are the newest events up to last (oldest first), which a client may resume from at once.
func NewGlobalFeed(bus *events.Bus, log *slog.Logger, opt FeedOptions, recent []events.Event, last int64) *Feed {
	f := newFeed(log, opt)
	f.global = true
	f.floor, f.last = last, last
	if len(recent) > 0 {
		f.floor, f.last = recent[0].ID-1, recent[0].ID-1
	}
	for _, e := range recent {
		f.publish(e)
	}
	f.last = max(f.last, last)
	f.unsub = bus.Subscribe(f.publish)
	return f
}

func newFeed(log *slog.Logger, opt FeedOptions) *Feed {
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
	return &Feed{opt: opt, log: log, floor: opt.FirstID - 1, last: opt.FirstID - 1, notify: make(chan struct{})}
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
	id := f.last + 1
	if f.global {
		if e.ID <= f.last {
			return // already kept
		}
		id = e.ID
	}
	f.last = id
	b := make([]byte, 0, len(payload)+len(typ)+64)
	b = strconv.AppendInt(append(b, `{"id":`...), id, 10)
	b = append(append(b, `,"type":`...), typ...)
	b = strconv.AppendInt(append(b, `,"time":`...), e.Time.UnixMilli(), 10)
	b = append(append(append(b, `,"payload":`...), payload...), '}')
	it := Item{ID: id, Type: e.Type, Audience: e.Audience, AdminOnly: e.AdminOnly, Scope: auth.Scope(e.Scope), Ends: endsUser(e), Data: b}
	if n := len(f.ring); n < f.opt.Backlog { // not wrapped yet
		if n == cap(f.ring) {
			f.ring = append(make([]Item, 0, min(max(2*n, 64), f.opt.Backlog)), f.ring...)
		}
		f.ring = append(f.ring, it)
	} else {
		f.floor = f.ring[f.head].ID
		f.ring[f.head] = it
		f.head = (f.head + 1) % n
	}
	close(f.notify)
	f.notify = make(chan struct{})
}

// at is the i-th oldest item kept.
func (f *Feed) at(i int) *Item { return &f.ring[(f.head+i)%len(f.ring)] }

// Last is the id of the newest event (FirstID-1 before the first).
func (f *Feed) Last() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.last
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
	w := window{items: buf[:0], oldest: f.floor + 1, wait: f.notify, closed: f.closed}
	// A replica's client may have seen a newer id on another process, which reaches this one in a moment: it waits.
	if after < f.floor || (!f.global && after > f.last) {
		w.gap = true
		after = f.floor
	}
	n := len(f.ring)
	i := sort.Search(n, func(i int) bool { return f.at(i).ID > after })
	for ; i < n && len(w.items) < limit; i++ {
		w.items = append(w.items, *f.at(i))
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
