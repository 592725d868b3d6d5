package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// Options tune delivery. Zero values take the defaults in brackets.
type Options struct {
	Secret     string        // when set, each body is signed with HMAC-SHA256 in X-StackHub-Signature [unsigned]
	Timeout    time.Duration // one attempt, connection to last byte [10 s]: a hanging target is cut off
	Attempts   int           // attempts before a delivery fails for good [15, about three hours with the backoff]
	Backoff    time.Duration // the wait after the first failure; it doubles after each one [1 s]
	MaxBackoff time.Duration // the longest wait between attempts [1 h]
	Workers    int           // attempts in flight at once, so one slow target does not hold up the others [4]
	Idle       time.Duration // how often an idle queue looks at the database anyway [30 s]
	Retention  time.Duration // how long finished deliveries stay listed [30 days]
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.Backoff, time.Second)
	def(&o.MaxBackoff, time.Hour)
	def(&o.Idle, 30*time.Second)
	def(&o.Retention, 30*24*time.Hour)
	if o.Attempts <= 0 {
		o.Attempts = 15
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

// Service is the durable webhook queue. It subscribes to the bus; matching events become deliveries, which are
// written to the database and then POSTed by Run, with retries, so a webhook never slows or fails the request that
// caused it.
type Service struct {
	store  *store.Store
	hooks  []Hook // from WEBHOOKS
	opt    Options
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	audit  *audit.Log // nil records nothing

	reloadMu sync.Mutex // serialises reloads of custom, so an older list never overwrites a newer one
	mu       sync.Mutex
	custom   []store.Webhook         // the admin's hooks, cached: Handle runs on the publisher's goroutine
	queue    []store.WebhookDelivery // matched but not yet written
	wake     chan struct{}           // 1-buffered: new work or a finished attempt
	busy     atomic.Int32            // attempts in flight
}

// New returns the queue over st with the configured hooks; it loads the admin's hooks from the database.
func New(ctx context.Context, st *store.Store, hooks []Hook, log *slog.Logger, opt Options) (*Service, error) {
	opt.defaults()
	custom, err := st.Q().Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("load webhooks: %w", err)
	}
	s := &Service{store: st, hooks: hooks, opt: opt, log: log, now: time.Now, custom: custom,
		wake: make(chan struct{}, 1)}
	s.client = &http.Client{
		Timeout: opt.Timeout,
		// A redirect is an answer, not an instruction: following it could send the signed body somewhere the
		// admin never configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
	}
	return s, nil
}

// Subscribe feeds the bus's events to the queue until the returned cancel is called.
func (s *Service) Subscribe(bus *events.Bus) (cancel func()) { return bus.Subscribe(s.Handle) }

// Handle turns an event into the deliveries it triggers and queues them in memory; Run writes them to the
// database before the first attempt. It never blocks on I/O: it runs on the publisher's goroutine. An outboxed
// event's deliveries are already written (Enqueue).
func (s *Service) Handle(e events.Event) {
	if e.Outboxed {
		return
	}
	ds := s.match(e)
	if len(ds) == 0 {
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, ds...)
	n := len(s.queue)
	s.mu.Unlock()
	if n > 10_000 && n%10_000 == 1 {
		s.log.Warn("webhook queue is backing up: the database does not keep up", "queued", n)
	}
	s.poke()
}

// Enqueue writes the deliveries evs trigger with q, inside the caller's transaction, so that they commit with the
// change that caused them (the hub's outbox); it tells how many it wrote. After the commit, call Wake and publish
// the events with Outboxed set.
func (s *Service) Enqueue(ctx context.Context, q *store.Q, evs []events.Event) (int, error) {
	n := 0
	for _, e := range evs {
		for _, d := range s.match(e) {
			if err := q.AddWebhookDelivery(ctx, &d); err != nil {
				return n, fmt.Errorf("queue the %s webhook of %s: %w", d.Hook, e.Type, err)
			}
			n++
		}
	}
	return n, nil
}

// Wake makes the queue look for due deliveries now: some were just committed.
func (s *Service) Wake() { s.poke() }

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// match lists the deliveries e triggers: the GeekApk hooks post the new object's id as text, custom hooks the
// event as JSON.
func (s *Service) match(e events.Event) []store.WebhookDelivery {
	var out []store.WebhookDelivery
	now := s.now().UnixMilli()
	add := func(hook string, hookID *int64, url, body, ct string) {
		out = append(out, store.WebhookDelivery{Hook: hook, HookID: hookID, Event: e.Type, URL: url, Body: body,
			ContentType: ct, NextAttemptAt: now, State: store.DeliveryPending, CreatedAt: now})
	}
	for _, h := range s.hooks {
		if id, ok := originalID(h, e); ok {
			name := h.Type
			if h.Type != NewUser {
				name += ":" + strconv.FormatInt(h.Data, 10)
			}
			add(name, nil, h.URL, strconv.FormatInt(id, 10), "text/plain; charset=utf-8")
		}
	}
	s.mu.Lock()
	custom := s.custom
	s.mu.Unlock()
	var body []byte
	for _, h := range custom {
		if !patternMatches(h.Event, e.Type) {
			continue
		}
		if body == nil {
			var err error
			if body, err = eventJSON(e); err != nil {
				s.log.Error("webhook body", "event", e.Type, "err", err)
				return out
			}
		}
		id := h.ID
		add("custom:"+strconv.FormatInt(id, 10), &id, h.URL, string(body), "application/json")
	}
	return out
}

// originalID tells whether a GeekApk hook fires for e, and the id it posts.
func originalID(h Hook, e events.Event) (int64, bool) {
	switch h.Type {
	case NewUser:
		if u, ok := payload[store.User](e); ok && e.Type == events.UserCreated {
			return u.ID, true
		}
	case CommentApp:
		if c, ok := payload[store.Comment](e); ok && e.Type == events.CommentCreated && c.App == h.Data {
			return c.ID, true
		}
	case ReplyToMessage:
		if c, ok := payload[store.Comment](e); ok && e.Type == events.CommentCreated && c.Reply != nil && *c.Reply == h.Data {
			return c.ID, true
		}
	}
	return 0, false
}

// payload reads an event's payload as a T, whether it was published as a value or a pointer.
func payload[T any](e events.Event) (T, bool) {
	switch p := e.Payload.(type) {
	case T:
		return p, true
	case *T:
		if p != nil {
			return *p, true
		}
	}
	var zero T
	return zero, false
}

// eventJSON is the body of a custom hook: the event's type, time (epoch ms) and payload.
func eventJSON(e events.Event) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type    string `json:"type"`
		Time    int64  `json:"time"`
		Payload any    `json:"payload"`
	}{e.Type, e.Time.UnixMilli(), e.Payload})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	return b, nil
}
