// Package hub holds the community rules of the GeekApk contract: who may do what, what each action changes, and
// what follows from it (timeline entries, notifications, counters), each in the same transaction as the action.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// The entity types are the store's; the hub re-exports them so front doors need not import the store.
type (
	User         = store.User
	App          = store.App
	Update       = store.Update
	Comment      = store.Comment
	Category     = store.Category
	Timeline     = store.Timeline
	Notification = store.Notification
	Page         = store.Page
	Sort         = store.Sort
)

// Service is the hub.
type Service struct {
	store  *store.Store
	auth   *auth.Service
	audit  *audit.Log // nil records nothing
	bus    *events.Bus
	log    *slog.Logger
	now    func() time.Time
	outbox Outbox

	maxStack int // bytes a user's published stack may hold (SetMaxStackSize); 0: catalog.DefaultMaxSize
}

// Outbox writes what a transaction's events trigger (webhook deliveries) in that same transaction, so that it
// commits with the change or not at all: a crash just after the commit loses nothing.
type Outbox interface {
	// Enqueue writes the deliveries evs trigger with q and tells how many it wrote.
	Enqueue(ctx context.Context, q *store.Q, evs []events.Event) (int, error)
	// Wake tells the outbox that deliveries were committed.
	Wake()
}

// SetOutbox makes every later transaction write its events' deliveries through o. Call it before serving.
func (s *Service) SetOutbox(o Outbox) { s.outbox = o }

// New returns the hub service.
func New(st *store.Store, au *auth.Service, bus *events.Bus, log *slog.Logger) *Service {
	return &Service{store: st, auth: au, bus: bus, log: log, now: time.Now}
}

// SetAudit makes the service record user creation, disabling and roles in l (docs/accounts.md).
func (s *Service) SetAudit(l *audit.Log) { s.audit = l }

// SetMaxStackSize sets how large a stack an ordinary user may publish (stackhub serve --max-stack-size); the
// administrator's imports and publishes may hold up to catalog.MaxImportSize.
func (s *Service) SetMaxStackSize(n int) { s.maxStack = n }

// StackBodyLimit is the largest request body that may carry a stack from a: twice the stack limit, room for JSON
// escapes and binary files in base64. A front door reads no more than this before the catalog checks the stack.
func (s *Service) StackBodyLimit(a auth.Actor) int64 {
	return 2 * int64(s.validateOptions(a).Limit())
}

// validateOptions are the catalog rules for a stack a publishes: host access and the import size for the admin,
// the configured limit for everyone else.
func (s *Service) validateOptions(a auth.Actor) catalog.ValidateOptions {
	if auth.IsAdmin(a) {
		return catalog.ValidateOptions{AllowHostAccess: true, MaxSize: catalog.MaxImportSize}
	}
	return catalog.ValidateOptions{MaxSize: s.maxStack,
		LimitHint: " (the limit for what users publish, which the administrator sets with stackhub serve --max-stack-size)"}
}

func (s *Service) ms() int64 { return s.now().UnixMilli() }

// txn collects the events of one transaction, to publish once it commits.
type txn struct {
	*store.Q
	events []events.Event
}

func (t *txn) emit(typ string, actor, audience int64, payload any) {
	t.events = append(t.events, events.Event{Type: typ, Actor: actor, Audience: audience, Payload: payload})
}

// tx runs fn in one transaction, writes the outbox's share of its events in it, and publishes the events after
// the commit.
func (s *Service) tx(ctx context.Context, fn func(t *txn) error) error {
	t := &txn{}
	queued := 0
	err := s.store.Tx(ctx, func(q *store.Q) error {
		t.Q = q
		t.events = t.events[:0]
		if err := fn(t); err != nil || s.outbox == nil || len(t.events) == 0 {
			return err
		}
		now := s.now()
		for i := range t.events {
			t.events[i].Time, t.events[i].Outboxed = now, true
		}
		var err error
		queued, err = s.outbox.Enqueue(ctx, q, t.events)
		return err
	})
	if err != nil {
		return err
	}
	if queued > 0 {
		s.outbox.Wake()
	}
	s.bus.Publish(t.events...)
	return nil
}

// notify adds a notification inside the transaction and queues its event for the recipient.
func (t *txn) notify(ctx context.Context, uid int64, typ int, data, now int64) error {
	n := &store.Notification{User: uid, CreatedAt: now, Type: typ, Data: data}
	if err := t.AddNotification(ctx, n); err != nil {
		return err
	}
	t.emit(events.NotificationSent, 0, uid, *n)
	return nil
}

// requireUser lets through an enabled, signed-in user.
func requireUser(a auth.Actor) error {
	switch {
	case a.Admin:
		return apperr.New(apperr.Forbidden, "The admin is not a user: sign in as a user to do this")
	case !a.User && a.TokenID != "":
		return apperr.New(apperr.Forbidden, "A token of the admin is not a user: use a user's token to do this")
	case !a.User:
		return apperr.New(apperr.Unauthorized, "Unauthorized, check geekapk_uid/geekapk_passhash")
	case !a.Enabled:
		return apperr.New(apperr.Forbidden, "User %d is disabled", a.UID)
	case a.TokenID != "":
		return auth.Can(a, auth.HubWrite)
	}
	return nil
}

// requireAdmin lets through the admin only: the admin token, or a user with the admin role (docs/accounts.md).
func requireAdmin(a auth.Actor) error {
	err := auth.Can(a, auth.AdminAll)
	switch {
	case err == nil:
		return nil
	case a.TokenID != "":
		return err
	case a.User:
		return apperr.New(apperr.Forbidden, "Only the admin may do this: it needs the admin role")
	}
	return apperr.New(apperr.Unauthorized, "Unauthorized, the admin token is required")
}

// requireOwner lets through the admin, or the enabled user who owns the thing.
func requireOwner(a auth.Actor, owner int64, what string) error {
	if auth.IsAdmin(a) {
		return nil
	}
	if err := requireUser(a); err != nil {
		return err
	}
	if a.UID != owner {
		return apperr.New(apperr.Forbidden, "Only the owner may change this %s", what)
	}
	return nil
}

// requireSelf lets through the enabled user uid.
func requireSelf(a auth.Actor, uid int64) error {
	if err := requireUser(a); err != nil {
		return err
	}
	if a.UID != uid {
		return apperr.New(apperr.Forbidden, "Only user %d may do this", uid)
	}
	return nil
}

// notFound turns store.ErrNotFound into the contract's 404 and wraps anything else.
func notFound(err error, what string, id any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Wrap(apperr.NotFound, err, "Resource was not found: %s %v", what, id)
	}
	return fmt.Errorf("%s %v: %w", what, id, err)
}

// parentCheck completes a list of the children of one parent (an app's comments, a user's followers...) with the
// parent's existence: a missing parent is a 404, an existing one with no children an empty list. The list runs
// first, because a non-empty list proves the parent exists (each child row holds a foreign key to it, or, for
// replies, is moved or deleted with its parent), so the common case costs one query; only an empty list, or an
// error, pays for the existence check. n is the list's length, listErr its error; exists is the store's cheap
// existence query. A missing parent wins over listErr, as when the parent was checked first.
func parentCheck(ctx context.Context, n int, listErr error, exists func(context.Context, int64) (bool, error),
	what string, id int64) error {
	if n > 0 && listErr == nil {
		return nil
	}
	ok, err := exists(ctx, id)
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, id, err)
	}
	if !ok {
		return notFound(fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound), what, id)
	}
	return listErr
}

// conflict turns store.ErrConflict into the contract's 409 naming the field.
func conflict(err error, field, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return apperr.Wrap(apperr.Conflict, err, format, args...).WithField(field)
	}
	return err
}

// Paging defaults (Decision in the contract): 100 rows unless asked, never more than 1000.
const (
	DefaultMax = 100
	MaxMax     = 1000
)

// PageOf checks max and offset as the client sent them (nil when absent).
func PageOf(max, offset *int) (Page, error) {
	p := Page{Limit: DefaultMax}
	if max != nil {
		if *max < 0 {
			return p, apperr.Field(apperr.Invalid, "max", "max must be 0 or more (at most %d)", MaxMax)
		}
		p.Limit = min(*max, MaxMax)
	}
	if offset != nil {
		if *offset < 0 {
			return p, apperr.Field(apperr.Invalid, "offset", "offset must be 0 or more")
		}
		p.Offset = *offset
	}
	return p, nil
}

// SortOf checks a sort key against the allowed ones; the contract's default order is ascending.
func SortOf(key, mode, def string, allowed ...string) (Sort, error) {
	s := Sort{Key: def}
	if key != "" {
		s.Key = key
		ok := false
		for _, a := range allowed {
			ok = ok || a == key
		}
		if !ok {
			return s, apperr.Field(apperr.Invalid, "s", "s must be one of %v", allowed)
		}
	}
	switch mode {
	case "", "asc":
	case "dsc", "desc":
		s.Desc = true
	default:
		return s, apperr.Field(apperr.Invalid, "m", "m must be asc or dsc")
	}
	return s, nil
}

// inUse turns store.ErrInUse into the contract's 409.
func inUse(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrInUse) {
		return apperr.Wrap(apperr.Conflict, err, format, args...)
	}
	return err
}

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "The database does not answer")
	}
	return nil
}

// Engine names the database engine, for health reports.
func (s *Service) Engine() string { return string(s.store.Dialect()) }
