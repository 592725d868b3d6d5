package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Webhook delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliveryDelivered = "delivered" // a 2xx answer was received
	DeliveryFailed    = "failed"    // out of attempts, or its hook was removed
)

// hookRemoved is the last error of a delivery cancelled because its hook was removed.
const hookRemoved = "hook removed"

// Webhook is a hook the admin added through /api/v1: every event whose type matches Event is POSTed to URL as JSON.
type Webhook struct {
	ID        int64  `json:"id"`
	Event     string `json:"event"`
	URL       string `json:"url"`
	CreatedAt int64  `json:"created_at"`
}

// WebhookDelivery is one queued POST, written before its first attempt so that it survives a restart.
type WebhookDelivery struct {
	ID            int64  `json:"id"`
	Hook          string `json:"hook"`              // "newUser", "commentApp:23", "custom:7"
	HookID        *int64 `json:"hook_id,omitempty"` // the custom hook, if any
	Event         string `json:"event"`
	URL           string `json:"url"`
	Body          string `json:"body"`
	ContentType   string `json:"content_type"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt int64  `json:"next_attempt_at"`
	State         string `json:"state"`
	LastStatus    int    `json:"last_status"` // the HTTP status of the last attempt; 0 when none came back
	LastError     string `json:"last_error"`
	CreatedAt     int64  `json:"created_at"`
	DeliveredAt   *int64 `json:"delivered_at"`
}

// WebhookAttempt is the outcome of one delivery attempt.
type WebhookAttempt struct {
	State         string
	Status        int
	Error         string
	NextAttemptAt int64
	DeliveredAt   *int64
}

// AddWebhook inserts h (its ID is set).
func (q *Q) AddWebhook(ctx context.Context, h *Webhook) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO webhooks (event, url, created_at) VALUES ($1, $2, $3) RETURNING id`,
		h.Event, h.URL, h.CreatedAt).Scan(&h.ID)
	if err != nil {
		return fmt.Errorf("insert webhook: %w", mapErr(err))
	}
	return nil
}

// Webhooks lists the custom hooks, oldest first.
func (q *Q) Webhooks(ctx context.Context) ([]Webhook, error) {
	hs, err := queryRows(ctx, q.db, scanWebhook, `SELECT id, event, url, created_at FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return hs, nil
}

func scanWebhook(row rowScanner) (*Webhook, error) {
	var h Webhook
	if err := row.Scan(&h.ID, &h.Event, &h.URL, &h.CreatedAt); err != nil {
		return nil, err
	}
	return &h, nil
}

// DeleteWebhook removes a custom hook and fails its pending deliveries: removing a hook means "stop sending".
func (q *Q) DeleteWebhook(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, `UPDATE webhook_deliveries SET state = $2, last_error = $3
		WHERE hook_id = $1 AND state = $4`, id, DeliveryFailed, hookRemoved, DeliveryPending); err != nil {
		return fmt.Errorf("cancel deliveries of webhook %d: %w", id, err)
	}
	if err := q.execOne(ctx, `DELETE FROM webhooks WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	return nil
}

// AddWebhookDelivery queues d (its ID is set).
func (q *Q) AddWebhookDelivery(ctx context.Context, d *WebhookDelivery) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (hook, hook_id, event, url, body, content_type,
		attempts, next_attempt_at, state, last_status, last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
		$9, $10, $11, $12) RETURNING id`, d.Hook, d.HookID, d.Event, d.URL, d.Body, d.ContentType, d.Attempts,
		d.NextAttemptAt, d.State, d.LastStatus, d.LastError, d.CreatedAt).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("insert webhook delivery: %w", mapErr(err))
	}
	return nil
}

const deliveryCols = `id, hook, hook_id, event, url, body, content_type, attempts, next_attempt_at, state, last_status,
	last_error, created_at, delivered_at`

// DueWebhookDeliveries lists at most limit pending deliveries whose next attempt is due at ms, the most overdue
// first.
func (q *Q) DueWebhookDeliveries(ctx context.Context, ms int64, limit int) ([]WebhookDelivery, error) {
	query, args := paged(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE state = $1 AND next_attempt_at <= $2
		ORDER BY next_attempt_at, id`, Page{Limit: limit}, DeliveryPending, ms)
	return q.deliveries(ctx, query, args...)
}

// NextWebhookAttempt tells when the earliest pending delivery is due; ok is false when none is pending.
func (q *Q) NextWebhookAttempt(ctx context.Context) (ms int64, ok bool, err error) {
	var n sql.NullInt64
	err = q.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = $1`,
		DeliveryPending).Scan(&n)
	if err != nil {
		return 0, false, fmt.Errorf("next webhook attempt: %w", mapErr(err))
	}
	return n.Int64, n.Valid, nil
}

// ClaimWebhookDelivery takes a due delivery for one attempt by moving its next attempt to leaseUntil, provided it
// is still pending and due at dueAt; false means another worker (another server on the same database) took it.
// Should the attempt never report back (a crash), the delivery is due again when the lease ends.
//
// A delivery of a custom hook that is gone is failed instead: it was queued while the hook was being removed, too
// late for DeleteWebhook to cancel it.
func (q *Q) ClaimWebhookDelivery(ctx context.Context, id, dueAt, leaseUntil int64) (bool, error) {
	n, err := q.exec(ctx, `UPDATE webhook_deliveries SET state = $2, last_error = $3
		WHERE id = $1 AND state = $4 AND hook_id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = webhook_deliveries.hook_id)`,
		id, DeliveryFailed, hookRemoved, DeliveryPending)
	if err != nil || n == 1 {
		return false, wrapErr(err, "cancel webhook delivery %d of a removed hook", id)
	}
	n, err = q.exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $3
		WHERE id = $1 AND state = $4 AND next_attempt_at = $2`, id, dueAt, leaseUntil, DeliveryPending)
	if err != nil {
		return false, fmt.Errorf("claim webhook delivery %d: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseWebhookDelivery makes a claimed delivery due at ms again without counting an attempt (the attempt was
// cut short by a shutdown).
func (q *Q) ReleaseWebhookDelivery(ctx context.Context, id, ms int64) error {
	_, err := q.exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1 AND state = $3`, id, ms,
		DeliveryPending)
	if err != nil {
		return fmt.Errorf("release webhook delivery %d: %w", id, err)
	}
	return nil
}

// RecordWebhookAttempt counts one attempt of delivery id and stores its outcome, provided the delivery is still
// pending. A delivery cancelled while its attempt was in flight (its hook was removed) stays cancelled, so
// recorded is false then.
func (q *Q) RecordWebhookAttempt(ctx context.Context, id int64, a WebhookAttempt) (recorded bool, err error) {
	n, err := q.exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, state = $2, last_status = $3,
		last_error = $4, next_attempt_at = $5, delivered_at = $6 WHERE id = $1 AND state = $7`, id, a.State, a.Status,
		a.Error, a.NextAttemptAt, a.DeliveredAt, DeliveryPending)
	if err != nil {
		return false, fmt.Errorf("record attempt of webhook delivery %d: %w", id, err)
	}
	return n == 1, nil
}

// WebhookDeliveries lists deliveries newest first, all of them or (state set) those in one state.
func (q *Q) WebhookDeliveries(ctx context.Context, state string, p Page) ([]WebhookDelivery, error) {
	query, args := paged(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE ($1 = '' OR state = $1)
		ORDER BY id DESC`, p, state)
	return q.deliveries(ctx, query, args...)
}

// PruneWebhookDeliveries deletes finished deliveries created before ms and tells how many went.
func (q *Q) PruneWebhookDeliveries(ctx context.Context, ms int64) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM webhook_deliveries WHERE state <> $1 AND created_at < $2`, DeliveryPending, ms)
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	return n, nil
}

func (q *Q) deliveries(ctx context.Context, query string, args ...any) ([]WebhookDelivery, error) {
	ds, err := queryRows(ctx, q.db, scanDelivery, query, args...)
	if err != nil {
		return nil, fmt.Errorf("webhook deliveries: %w", err)
	}
	return ds, nil
}

func scanDelivery(row rowScanner) (*WebhookDelivery, error) {
	var d WebhookDelivery
	if err := row.Scan(&d.ID, &d.Hook, &d.HookID, &d.Event, &d.URL, &d.Body, &d.ContentType, &d.Attempts,
		&d.NextAttemptAt, &d.State, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.DeliveredAt); err != nil {
		return nil, err
	}
	return &d, nil
}
