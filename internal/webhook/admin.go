package webhook

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/audit"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// EventTypes lists the event types a custom hook may name.
var EventTypes = []string{
	events.UserCreated, events.UserDeleted, events.UserEnabled, events.UserDisabled, events.UserFollowed,
	events.AppCreated, events.AppChanged, events.AppDeleted, events.AppStarred,
	events.UpdatePublished,
	events.CommentCreated, events.CommentEdited, events.CommentDeleted, events.CommentStarred,
	events.NotificationSent,
	events.InstallStage, events.InstallStatus, events.InstallUpgrade,
	events.SourceSynced, events.SourceFailed,
	events.CertificateObtained, events.CertificateRenewed, events.CertificateFailed,
}

func init() {
	for _, a := range audit.Actions {
		EventTypes = append(EventTypes, events.AuditPrefix+a)
	}
}

var patternRe = regexp.MustCompile(`^(\*|[a-z]+(\.\*|\.[a-z_]+)?)$`)

// patternMatches reports whether a hook's event pattern ("comment.created", "comment.*" or "*") covers typ.
func patternMatches(pattern, typ string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}

// checkPattern accepts a pattern that matches at least one known event type, so a typo is refused instead of
// silently never firing.
func checkPattern(p string) error {
	if patternRe.MatchString(p) && slices.ContainsFunc(EventTypes, func(t string) bool { return patternMatches(p, t) }) {
		return nil
	}
	return apperr.Field(apperr.Invalid, "event", "event must be an event type (%s), a prefix such as comment.* or *",
		strings.Join(EventTypes, ", "))
}

func requireAdmin(a auth.Actor) error {
	err := auth.Can(a, auth.AdminAll)
	switch {
	case err == nil:
		return nil
	case a.TokenID != "":
		return err
	case a.User:
		return apperr.New(apperr.Forbidden, "Only the admin may manage webhooks: it needs the admin role")
	}
	return apperr.New(apperr.Unauthorized, "Unauthorized, the admin token is required")
}

// Configured returns the hooks from WEBHOOKS.
func (s *Service) Configured() []Hook { return slices.Clone(s.hooks) }

// Hooks lists the hooks from WEBHOOKS and those the admin added (admin only).
func (s *Service) Hooks(ctx context.Context, a auth.Actor) ([]Hook, []store.Webhook, error) {
	if err := requireAdmin(a); err != nil {
		return nil, nil, err
	}
	custom, err := s.store.Q().Webhooks(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.Configured(), custom, nil
}

// AddHook adds a JSON webhook for the events that match pattern (admin only).
func (s *Service) AddHook(ctx context.Context, a auth.Actor, pattern, rawURL string) (h *store.Webhook, err error) {
	defer func() { s.audit.Record(ctx, a, audit.WebhookAdd, hookTarget(h, pattern), err) }()
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	pattern = strings.TrimSpace(pattern)
	if err := checkPattern(pattern); err != nil {
		return nil, err
	}
	u, err := normalizeURL(strings.TrimSpace(rawURL))
	if err != nil || len(u) > 2000 {
		return nil, apperr.Field(apperr.Invalid, "url", "url must be an http or https address")
	}
	h = &store.Webhook{Event: pattern, URL: u, CreatedAt: s.now().UnixMilli()}
	if err := s.store.Tx(ctx, func(q *store.Q) error { return q.AddWebhook(ctx, h) }); err != nil {
		return nil, err
	}
	s.reload(ctx)
	return h, nil
}

// DeleteHook removes an added hook and cancels its pending deliveries (admin only).
func (s *Service) DeleteHook(ctx context.Context, a auth.Actor, id int64) (err error) {
	defer func() { s.audit.Record(ctx, a, audit.WebhookDel, "webhook "+strconv.FormatInt(id, 10), err) }()
	if err := requireAdmin(a); err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(q *store.Q) error { return q.DeleteWebhook(ctx, id) })
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Wrap(apperr.NotFound, err, "Resource was not found: webhook %d", id)
	}
	if err != nil {
		return err
	}
	s.reload(ctx)
	return nil
}

// reload refreshes the cache of added hooks after a change.
func (s *Service) reload(ctx context.Context) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	custom, err := s.store.Q().Webhooks(ctx)
	if err != nil {
		s.log.Error("reload webhooks", "err", err)
		return
	}
	s.mu.Lock()
	s.custom = custom
	s.mu.Unlock()
}

// Deliveries lists recent deliveries newest first, all or those in one state (admin only).
func (s *Service) Deliveries(ctx context.Context, a auth.Actor, state string, p store.Page) ([]store.WebhookDelivery, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	switch state {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
	default:
		return nil, apperr.Field(apperr.Invalid, "state", "state must be pending, delivered or failed")
	}
	return s.store.Q().WebhookDeliveries(ctx, state, p)
}

// hookTarget names a hook in the audit log by its id, pattern and host: never the whole URL, which may carry a
// secret.
func hookTarget(h *store.Webhook, pattern string) string {
	if h == nil {
		return "webhook for " + pattern
	}
	host := ""
	if u, err := url.Parse(h.URL); err == nil {
		host = u.Scheme + "://" + u.Host
	}
	return "webhook " + strconv.FormatInt(h.ID, 10) + " for " + h.Event + " to " + host
}

// SetAudit makes the service record added and removed hooks in l (docs/accounts.md).
func (s *Service) SetAudit(l *audit.Log) { s.audit = l }
