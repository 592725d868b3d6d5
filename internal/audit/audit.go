// Package audit is the audit log (docs/accounts.md): who changed the server or another person's account, what,
// when, from where, and the outcome. Services call Record; records are only ever inserted, never a secret.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// Actions recorded by the services. Others (domains, certificates, sources) add theirs by calling Record.
const (
	Install      = "install"
	Upgrade      = "upgrade"
	Rollback     = "rollback"
	Uninstall    = "uninstall"
	UninstallAll = "uninstall_all"
	Start        = "start"
	Stop         = "stop"
	Restart      = "restart"
	RoleSet      = "role_set"
	FactorsReset = "second_factors_reset"
	TokenCreate  = "token_create"
	TokenRevoke  = "token_revoke"
	UserCreate   = "user_create"
	UserDisable  = "user_disable"
	UserEnable   = "user_enable"
	WebhookAdd   = "webhook_add"
	WebhookDel   = "webhook_delete"
)

// Actions lists every action above, for the webhook patterns and the admin page's filter.
var Actions = []string{Install, Upgrade, Rollback, Uninstall, UninstallAll, Start, Stop, Restart, RoleSet, FactorsReset,
	TokenCreate, TokenRevoke, UserCreate, UserDisable, UserEnable, WebhookAdd, WebhookDel}

// Log writes audit records and publishes each as an admin-only audit.<action> event.
type Log struct {
	store *store.Store
	bus   *events.Bus
	log   *slog.Logger
	now   func() time.Time
}

// New returns the audit log.
func New(st *store.Store, bus *events.Bus, log *slog.Logger) *Log {
	return &Log{store: st, bus: bus, log: log, now: time.Now}
}

// Record appends one record: a acted (action on target) with the outcome of opErr (nil is ok, else its error
// kind). target must hold no secret. A nil Log records nothing, so services built without one still work. A
// failure to write is logged, not returned: the operation itself already happened.
func (l *Log) Record(ctx context.Context, a auth.Actor, action, target string, opErr error) {
	if l == nil {
		return
	}
	r := &store.AuditRecord{At: l.now().UnixMilli(), ActorUID: a.UID, ActorToken: a.TokenID, Action: action,
		Target: target, Address: a.Addr, Outcome: Outcome(opErr)}
	switch {
	case a.TokenID != "":
		r.ActorKind = "token"
	case a.Admin:
		r.ActorKind = "admin"
	case a.User:
		r.ActorKind = "user"
	default:
		r.ActorKind = "anonymous"
	}
	if err := l.store.Q().AddAudit(context.WithoutCancel(ctx), r); err != nil {
		l.log.ErrorContext(ctx, "audit record", "action", action, "target", target, "err", err)
		return
	}
	l.bus.Publish(events.Event{Type: events.AuditPrefix + action, Actor: a.UID, AdminOnly: true,
		Scope: string(auth.AdminAll), Payload: *r})
}

// Outcome is "ok" for nil, else the error's kind (forbidden, not_found, conflict...).
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return kindNames[apperr.As(err).Kind]
}

var kindNames = map[apperr.Kind]string{
	apperr.Internal: "internal", apperr.Invalid: "invalid", apperr.Unauthorized: "unauthorized",
	apperr.Forbidden: "forbidden", apperr.NotFound: "not_found", apperr.Conflict: "conflict",
	apperr.TooLarge: "too_large", apperr.Unsupported: "unsupported",
	apperr.RateLimited: "rate_limited", apperr.Unavailable: "unavailable",
}

// Query lists records for the admin, newest first: actor is a kind, uid or token id; action an action or a
// prefix ending in *; since a time (zero: all). At most 500.
func (l *Log) Query(ctx context.Context, a auth.Actor, actor, action string, since time.Time) ([]store.AuditRecord, error) {
	if err := auth.Can(a, auth.AdminAll); err != nil {
		return nil, err
	}
	var ms int64
	if !since.IsZero() {
		ms = since.UnixMilli()
	}
	rs, err := l.store.Q().Audit(ctx, store.AuditFilter{Actor: actor, Action: action, Since: ms, Limit: 500})
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	return rs, nil
}
