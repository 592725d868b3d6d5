// Package events is the in-process bus. Services publish after their transaction commits; subscribers (the
// WebSocket hub, the event stream, the webhook queue) fan events out. Publish never blocks on a subscriber:
// subscribers must hand events off quickly.
package events

import (
	"encoding/json"
	"sync"
	"time"
)

// Event types published by the hub.
const (
	UserCreated      = "user.created"
	UserDeleted      = "user.deleted"
	UserEnabled      = "user.enabled"  // the admin enabled a user again
	UserDisabled     = "user.disabled" // the admin disabled a user: their live connections end
	UserFollowed     = "user.followed"
	AppCreated       = "app.created"
	AppChanged       = "app.changed"
	AppDeleted       = "app.deleted"
	AppStarred       = "app.starred"
	UpdatePublished  = "update.published"
	CommentCreated   = "comment.created"
	CommentEdited    = "comment.edited"
	CommentDeleted   = "comment.deleted"
	CommentStarred   = "comment.starred"
	NotificationSent = "notification.created"

	InstallStage   = "install.stage"   // a job reached a stage or logged a line
	InstallStatus  = "install.status"  // an instance's status changed (job finished, started, stopped, removed)
	InstallUpgrade = "install.upgrade" // an upgrade or rollback ended: from, to, result, snapshot

	// Store sources (docs/stores.md §1); admin only, as install events.
	SourceSynced = "source.synced" // a sync ended: imported, or unchanged (304); the source with its counts
	SourceFailed = "source.failed" // a sync failed: the source with the reason; nothing was imported
	// Certificates of the edge (docs/edge.md §3), admin only.
	CertificateObtained = "certificate.obtained" // a name got its first certificate (ACME or the internal CA)
	CertificateRenewed  = "certificate.renewed"  // a name's certificate was renewed
	CertificateFailed   = "certificate.failed"   // obtaining or renewing failed; certmagic retries
)

// Accounts (docs/accounts.md): each audit record is published as "audit." + its action, to the admin only.
const (
	AuditPrefix = "audit."
)

// Event is something that happened, after it was committed.
type Event struct {
	// ID is the event's global id on PostgreSQL replicas (set by internal/cluster when it reads the shared log);
	// 0 for an event published in process.
	ID        int64     `json:"-"`
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	Actor     int64     `json:"actor"`      // the uid that acted; 0 for the admin or the system
	Audience  int64     `json:"audience"`   // a uid when only that user may see it; 0 when public
	AdminOnly bool      `json:"admin_only"` // host and audit events: only those holding Scope see them
	Scope     string    `json:"-"`          // with AdminOnly: the scope that sees it (auth's); "" is admin
	Payload   any       `json:"payload"`
	// Outboxed: the webhook deliveries this event triggers were written in its own transaction, so the webhook
	// queue must not queue them again.
	Outboxed bool `json:"-"`
}

// Decode reads the payload into v: the value itself in process, or its JSON when the event came from the shared log
// of PostgreSQL replicas (Payload is then json.RawMessage).
func Decode[T any](e Event) (T, bool) {
	if v, ok := e.Payload.(T); ok {
		return v, true
	}
	var v T
	raw, ok := e.Payload.(json.RawMessage)
	if !ok || json.Unmarshal(raw, &v) != nil {
		return v, false
	}
	return v, true
}

// Bus delivers events to subscribers in publish order.
type Bus struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Event)
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[int]func(Event){}} }

// Subscribe calls fn for every later event until cancel is called. fn runs on the publisher's goroutine and must
// not block.
func (b *Bus) Subscribe(fn func(Event)) (cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, id)
	}
}

// Publish hands events to every subscriber.
func (b *Bus) Publish(evs ...Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, e := range evs {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		for _, fn := range b.subs {
			fn(e)
		}
	}
}
