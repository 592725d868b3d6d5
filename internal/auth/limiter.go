package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/store"
)

// Limiter counts failed credential checks per key (a client address, a uid) in a sliding window and refuses
// further checks for a key that failed too often, so a password cannot be guessed at network speed.
type Limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
}

// NewLimiter allows max failures per key within window.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, now: time.Now, fails: map[string][]time.Time{}}
}

// Blocked reports whether any key is over its limit, and how long until it may try again.
func (l *Limiter) Blocked(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		f := l.prune(k, now)
		if len(f) >= l.max {
			wait = max(wait, f[len(f)-l.max].Add(l.window).Sub(now))
		}
	}
	return wait > 0, wait
}

// Fail records a failed check for every key.
func (l *Limiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
	if len(l.fails) > 100_000 { // bound memory under a spray of distinct keys
		for k := range l.fails {
			if len(l.prune(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
	}
}

// Reset forgets the failures of a key, after a success.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *Limiter) prune(k string, now time.Time) []time.Time {
	f := l.fails[k]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, k)
		return nil
	}
	l.fails[k] = f
	return f
}

// RateLimiter counts failed credential checks: the Limiter in process, the SharedLimiter across replicas.
type RateLimiter interface {
	Blocked(keys ...string) (bool, time.Duration)
	Fail(keys ...string)
	Reset(key string)
}

// SharedLimiter is the Limiter's rule on PostgreSQL (table auth_failures), so that replicas count the failures of
// a key together: guesses spread over several processes trip the same limit.
type SharedLimiter struct {
	st     *store.Store
	max    int
	window time.Duration
	log    *slog.Logger
}

// NewSharedLimiter allows max failures per key within window, counted in st.
func NewSharedLimiter(st *store.Store, max int, window time.Duration, log *slog.Logger) *SharedLimiter {
	return &SharedLimiter{st: st, max: max, window: window, log: log}
}

// Blocked reports whether any key is over its limit, and how long until it may try again. When the database does
// not answer, the check itself will fail on it too; the limiter lets it through.
func (l *SharedLimiter) Blocked(keys ...string) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	var wait time.Duration
	for _, k := range keys {
		at, err := l.st.Q().AuthFailures(ctx, k, now.Add(-l.window).UnixMilli(), l.max)
		if err != nil {
			l.log.Warn("shared rate limit", "err", err)
			continue
		}
		if len(at) >= l.max { // the max-th newest failure leaves the window first
			wait = max(wait, time.UnixMilli(at[l.max-1]).Add(l.window).Sub(now))
		}
	}
	return wait > 0, wait
}

// Fail records a failed check for every key.
func (l *SharedLimiter) Fail(keys ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	for _, k := range keys {
		if err := l.st.Q().AddAuthFailure(ctx, k, now.UnixMilli(), now.Add(-l.window).UnixMilli()); err != nil {
			l.log.Warn("shared rate limit", "err", err)
		}
	}
}

// Reset forgets the failures of a key, after a success.
func (l *SharedLimiter) Reset(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.st.Q().ResetAuthFailures(ctx, key); err != nil {
		l.log.Warn("shared rate limit", "err", err)
	}
}
