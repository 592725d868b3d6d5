package certs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/stackhub/stackhub/internal/store"
)

// Lease defaults: a holder refreshes its lock every LockTTL/3, so a lock outlives its holder by at most LockTTL.
const (
	defaultLockTTL  = time.Minute
	defaultLockPoll = 500 * time.Millisecond
)

// Storage is certmagic's storage on StackHub's database, so that every StackHub process on one database shares the
// certificates, the ACME account and the locks that make one of them obtain or renew a certificate at a time.
type Storage struct {
	st    *store.Store
	owner string // this instance's lock owner id
	// LockTTL is how long a lock outlives a holder that stopped refreshing it (crashed); LockPoll how often a
	// waiting Lock tries again.
	LockTTL, LockPoll time.Duration

	mu   sync.Mutex
	held map[string]context.CancelFunc // the refreshers of the locks this instance holds
}

var _ certmagic.Storage = (*Storage)(nil)

// NewStorage returns a Storage on st with a fresh random owner id.
func NewStorage(st *store.Store) *Storage {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &Storage{st: st, owner: hex.EncodeToString(b), LockTTL: defaultLockTTL, LockPoll: defaultLockPoll,
		held: map[string]context.CancelFunc{}}
}

func nowMS() int64 { return time.Now().UnixMilli() }

// Store puts value at key.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	return s.st.Tx(ctx, func(q *store.Q) error { return q.PutCertKey(ctx, key, value, nowMS()) })
}

// Load returns the value at key, or fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	k, err := s.st.Q().CertKey(ctx, key)
	if err != nil {
		return nil, notExist(err)
	}
	return k.Value, nil
}

// Delete removes key and everything under it; a missing key is no error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	return s.st.Tx(ctx, func(q *store.Q) error { return q.DeleteCertKey(ctx, key) })
}

// Exists tells whether key is a value or a directory (a prefix of other keys).
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys directly under path, or every key below it when recursive.
func (s *Storage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	dir := dirPrefix(path)
	keys, err := s.st.Q().CertKeysUnder(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fs.ErrNotExist
	}
	if recursive {
		return keys, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		child, _, _ := strings.Cut(strings.TrimPrefix(k, dir), "/")
		if !seen[child] {
			seen[child] = true
			out = append(out, dir+child)
		}
	}
	return out, nil
}

// Stat describes key: a value, or a directory when only keys under it exist.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	k, err := s.st.Q().CertKey(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(k.ModifiedAt), Size: k.Size, IsTerminal: true}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return certmagic.KeyInfo{}, err
	}
	keys, err := s.st.Q().CertKeysUnder(ctx, dirPrefix(key))
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(keys) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key}, nil
}

// Lock takes the lock name, polling until it is free (or its holder's lease ran out) or ctx is done. While held,
// a goroutine keeps the lease fresh.
func (s *Storage) Lock(ctx context.Context, name string) error {
	for {
		now := nowMS()
		var ok bool
		err := s.st.Tx(ctx, func(q *store.Q) error {
			var err error
			ok, err = q.TryCertLock(ctx, name, s.owner, now, now+s.LockTTL.Milliseconds())
			return err
		})
		if err != nil {
			if ctx.Err() != nil { // the deadline ended the attempt: say so, not how the transaction broke
				return fmt.Errorf("lock %s: %w", name, ctx.Err())
			}
			return err
		}
		if ok {
			s.keepFresh(name)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock %s: %w", name, ctx.Err())
		case <-time.After(s.LockPoll):
		}
	}
}

// keepFresh refreshes the lease on name until Unlock; a lease lost (taken over after a stall) stops it.
func (s *Storage) keepFresh(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	if old := s.held[name]; old != nil {
		old() // a lease this instance lost and took again
	}
	s.held[name] = cancel
	s.mu.Unlock()
	go func() {
		t := time.NewTicker(s.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				var ok bool
				err := s.st.Tx(ctx, func(q *store.Q) error {
					var err error
					ok, err = q.RefreshCertLock(ctx, name, s.owner, nowMS()+s.LockTTL.Milliseconds())
					return err
				})
				if err == nil && !ok {
					return
				}
			}
		}
	}()
}

// Unlock releases name; only the instance that holds it may.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	if cancel := s.held[name]; cancel != nil {
		cancel()
		delete(s.held, name)
	}
	s.mu.Unlock()
	return s.st.Tx(ctx, func(q *store.Q) error { return q.UnlockCert(ctx, name, s.owner) })
}

func dirPrefix(path string) string {
	path = strings.Trim(path, "/")
	if path == "" {
		return ""
	}
	return path + "/"
}

func notExist(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}
