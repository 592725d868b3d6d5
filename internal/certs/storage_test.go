package certs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/certs"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

func TestStorage(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		s := certs.NewStorage(testutil.OpenStore(t, e))
		for _, kv := range [][2]string{
			{"certificates/ca/a.test/a.test.crt", "cert"},
			{"certificates/ca/a.test/a.test.key", "key"},
			{"certificates/ca/b.test/b.test.crt", "cert b"},
			{"acme/ca/users/me.json", "{}"},
			{"certificates/ca_x", "a sibling whose name starts like the directory"},
		} {
			if err := s.Store(ctx, kv[0], []byte(kv[1])); err != nil {
				t.Fatalf("store %s: %v", kv[0], err)
			}
		}
		if err := s.Store(ctx, "certificates/ca/a.test/a.test.key", []byte("key 2")); err != nil {
			t.Fatalf("overwrite: %v", err)
		}

		cases := []struct {
			name string
			run  func() error
		}{
			{"load", func() error { return wantBytes(s.Load(ctx, "certificates/ca/a.test/a.test.key"))("key 2") }},
			{"load missing", func() error { _, err := s.Load(ctx, "nope"); return wantNotExist(err) }},
			{"exists file", func() error { return wantTrue(s.Exists(ctx, "certificates/ca/a.test/a.test.crt")) }},
			{"exists directory", func() error { return wantTrue(s.Exists(ctx, "certificates/ca")) }},
			{"exists missing", func() error { return wantTrue(!s.Exists(ctx, "certificates/c")) }},
			{"list", func() error {
				return wantKeys(s.List(ctx, "certificates/ca", false))("certificates/ca/a.test", "certificates/ca/b.test")
			}},
			{"list recursive", func() error {
				return wantKeys(s.List(ctx, "certificates", true))("certificates/ca/a.test/a.test.crt",
					"certificates/ca/a.test/a.test.key", "certificates/ca/b.test/b.test.crt", "certificates/ca_x")
			}},
			{"list missing", func() error { _, err := s.List(ctx, "nope", true); return wantNotExist(err) }},
			{"stat file", func() error {
				ki, err := s.Stat(ctx, "certificates/ca/a.test/a.test.key")
				if err != nil || !ki.IsTerminal || ki.Size != 5 || time.Since(ki.Modified) > time.Minute {
					return fmt.Errorf("stat = %+v, %v", ki, err)
				}
				return nil
			}},
			{"stat directory", func() error {
				ki, err := s.Stat(ctx, "certificates/ca/a.test")
				if err != nil || ki.IsTerminal {
					return fmt.Errorf("stat dir = %+v, %v", ki, err)
				}
				return nil
			}},
			{"stat missing", func() error { _, err := s.Stat(ctx, "nope"); return wantNotExist(err) }},
			{"delete directory", func() error {
				if err := s.Delete(ctx, "certificates/ca/a.test"); err != nil {
					return err
				}
				return wantKeys(s.List(ctx, "certificates", true))("certificates/ca/b.test/b.test.crt", "certificates/ca_x")
			}},
			{"delete file", func() error {
				if err := s.Delete(ctx, "acme/ca/users/me.json"); err != nil {
					return err
				}
				return wantTrue(!s.Exists(ctx, "acme"))
			}},
			{"delete missing", func() error { return s.Delete(ctx, "nope") }},
		}
		for _, c := range cases {
			if err := c.run(); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	})
}

// Two storages (two StackHub processes) on one database: the second Lock waits until the first unlocks; only the
// holder may unlock; a crashed holder's lock is taken over once it expires.
func TestStorageLocks(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		st := testutil.OpenStore(t, e)
		a, b := certs.NewStorage(st), certs.NewStorage(st)
		a.LockPoll, b.LockPoll = 10*time.Millisecond, 10*time.Millisecond
		if err := a.Lock(ctx, "issue_cert_x"); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- b.Lock(ctx, "issue_cert_x") }()
		// b is still waiting while a holds it: b cannot take it, nor release a's.
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := b.Lock(short, "issue_cert_x")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a third Lock while held = %v, want the deadline", err)
		}
		if err := b.Unlock(ctx, "issue_cert_x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Unlock by a non-holder = %v, want refused", err)
		}
		select {
		case err := <-got:
			t.Fatalf("b got the lock while a held it: %v", err)
		default:
		}
		if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("b.Lock after a.Unlock = %v", err)
		}
		if err := b.Unlock(ctx, "issue_cert_x"); err != nil {
			t.Fatal(err)
		}

		// A holder that crashed: its lock row stays, with a lease that ran out.
		now := time.Now().UnixMilli()
		if err := st.Tx(ctx, func(q *store.Q) error {
			ok, err := q.TryCertLock(ctx, "issue_cert_y", "crashed", now-2000, now-1000)
			if !ok {
				return fmt.Errorf("could not plant the crashed lock: %v", err)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.Lock(ctx, "issue_cert_y"); err != nil {
			t.Fatalf("take over an expired lock: %v", err)
		}
		if err := a.Unlock(ctx, "issue_cert_y"); err != nil {
			t.Fatal(err)
		}
		// A live lease of another holder is not taken over.
		if err := st.Tx(ctx, func(q *store.Q) error {
			ok, err := q.TryCertLock(ctx, "issue_cert_z", "other", now, now+int64(time.Hour/time.Millisecond))
			if !ok {
				return fmt.Errorf("could not plant the live lock: %v", err)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		short, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := a.Lock(short, "issue_cert_z"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a live lease = %v, want the deadline", err)
		}
	})
}

func wantBytes(b []byte, err error) func(string) error {
	return func(want string) error {
		if err != nil || string(b) != want {
			return fmt.Errorf("got %q, %v; want %q", b, err, want)
		}
		return nil
	}
}

func wantKeys(keys []string, err error) func(...string) error {
	return func(want ...string) error {
		if err != nil || !slices.Equal(keys, want) {
			return fmt.Errorf("got %q, %v; want %q", keys, err, want)
		}
		return nil
	}
}

func wantNotExist(err error) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("err = %v, want fs.ErrNotExist", err)
	}
	return nil
}

func wantTrue(ok bool) error {
	if !ok {
		return fmt.Errorf("false")
	}
	return nil
}
