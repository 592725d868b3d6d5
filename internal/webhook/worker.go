package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/store"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" when a secret is configured.
const SignatureHeader = "X-StackHub-Signature"

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Start runs the delivery loop until stop is called: it writes queued deliveries to the database, attempts the
// due ones, and schedules retries. Deliveries left pending by an earlier run are attempted first. stop waits for
// attempts in flight (they are cut short; an attempt cut short does not count) and writes what is still queued;
// calling it again does nothing.
func (s *Service) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

func (s *Service) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		// What was matched but not written yet goes to the database, so the next start sends it.
		s.persist(context.WithoutCancel(ctx))
	}()
	var lastPrune time.Time
	for {
		if !s.persist(ctx) {
			s.sleep(ctx, time.Second) // the database refused: keep the queue in memory and try again shortly
		}
		s.dispatch(ctx, &wg)
		if time.Since(lastPrune) > time.Hour {
			s.prune(ctx)
			lastPrune = time.Now()
		}
		if !s.sleep(ctx, s.untilNext(ctx)) {
			return
		}
	}
}

// sleep waits d, or less when woken; false means ctx ended.
func (s *Service) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.wake:
	case <-t.C:
	}
	return true
}

// persist writes the queued deliveries in one transaction; false means it failed and they stay queued.
func (s *Service) persist(ctx context.Context) bool {
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	err := s.store.Tx(ctx, func(q *store.Q) error {
		for i := range batch {
			if err := q.AddWebhookDelivery(ctx, &batch[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("queue webhook deliveries", "count", len(batch), "err", err)
		s.mu.Lock()
		s.queue = append(batch, s.queue...)
		s.mu.Unlock()
		return false
	}
	return true
}

// dispatch claims due deliveries and starts an attempt of each while workers are free.
func (s *Service) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	free := s.opt.Workers - int(s.busy.Load())
	if free <= 0 {
		return
	}
	now := s.now().UnixMilli()
	due, err := s.store.Q().DueWebhookDeliveries(ctx, now, free)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("due webhook deliveries", "err", err)
		}
		return
	}
	// The lease outlasts an attempt, so only a crash (or another server's attempt) leaves it to expire.
	lease := now + (s.opt.Timeout + 5*time.Second).Milliseconds()
	for _, d := range due {
		var claimed bool
		err := s.store.Tx(ctx, func(q *store.Q) (err error) {
			claimed, err = q.ClaimWebhookDelivery(ctx, d.ID, d.NextAttemptAt, lease)
			return err
		})
		if err != nil || !claimed {
			continue
		}
		s.busy.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.attempt(ctx, d)
			s.busy.Add(-1)
			s.poke()
		}()
	}
}

// untilNext is how long the loop may sleep: until the earliest pending attempt, at most Idle.
func (s *Service) untilNext(ctx context.Context) time.Duration {
	next, ok, err := s.store.Q().NextWebhookAttempt(ctx)
	if err != nil || !ok {
		return s.opt.Idle
	}
	d := time.Duration(next-s.now().UnixMilli()) * time.Millisecond
	if d <= 0 {
		// Due but not started: every worker is busy. A finished attempt wakes the loop; the timer only bounds the
		// wait should a wake-up be missed.
		return time.Second
	}
	return min(d, s.opt.Idle)
}

// attempt POSTs one claimed delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, d store.WebhookDelivery) {
	status, err := s.post(ctx, d)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now().UnixMilli()
	if ctx.Err() != nil {
		// Shutting down: the attempt did not really happen. Hand it back so the next start makes it at once.
		if err := s.store.Tx(rctx, func(q *store.Q) error { return q.ReleaseWebhookDelivery(rctx, d.ID, now) }); err != nil {
			s.log.Error("release webhook delivery", "delivery", d.ID, "err", err)
		}
		return
	}
	a := store.WebhookAttempt{State: store.DeliveryPending, Status: status}
	switch {
	case err == nil:
		a.State, a.DeliveredAt, a.NextAttemptAt = store.DeliveryDelivered, &now, now
	case d.Attempts+1 >= s.opt.Attempts:
		a.State, a.Error, a.NextAttemptAt = store.DeliveryFailed, err.Error(), now
	default:
		a.Error, a.NextAttemptAt = err.Error(), now+s.backoff(d.Attempts+1).Milliseconds()
	}
	if err != nil {
		s.log.Warn("webhook delivery failed", "delivery", d.ID, "hook", d.Hook, "attempt", d.Attempts+1,
			"state", a.State, "err", err)
	}
	var recorded bool
	err = s.store.Tx(rctx, func(q *store.Q) (err error) {
		recorded, err = q.RecordWebhookAttempt(rctx, d.ID, a)
		return err
	})
	switch {
	case err != nil:
		s.log.Error("record webhook attempt", "delivery", d.ID, "err", err)
	case !recorded:
		s.log.Info("webhook delivery cancelled during its attempt", "delivery", d.ID, "hook", d.Hook)
	}
}

// backoff is the wait after the n-th failed attempt: Backoff, doubling, at most MaxBackoff.
func (s *Service) backoff(n int) time.Duration {
	d := s.opt.Backoff
	for i := 1; i < n && d < s.opt.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.opt.MaxBackoff)
}

// post sends the delivery; a 2xx answer is success, anything else (a redirect included) an error.
func (s *Service) post(ctx context.Context, d store.WebhookDelivery) (int, error) {
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("bad request: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return 0, errors.New("only http and https targets are allowed")
	}
	req.Header.Set("Content-Type", d.ContentType)
	req.Header.Set("User-Agent", "StackHub-Webhook/1")
	req.Header.Set("X-StackHub-Event", d.Event)
	req.Header.Set("X-StackHub-Delivery", strconv.FormatInt(d.ID, 10))
	if s.opt.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(s.opt.Secret, body))
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("HTTP %s", res.Status)
	}
	return res.StatusCode, nil
}

// prune drops finished deliveries older than Retention.
func (s *Service) prune(ctx context.Context) {
	before := s.now().Add(-s.opt.Retention).UnixMilli()
	var n int64
	err := s.store.Tx(ctx, func(q *store.Q) (err error) {
		n, err = q.PruneWebhookDeliveries(ctx, before)
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("prune webhook deliveries", "err", err)
	} else if n > 0 {
		s.log.Info("pruned webhook deliveries", "count", n)
	}
}
