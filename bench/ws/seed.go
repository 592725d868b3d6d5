package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// benchUser is a seeded user and the credential its client presents.
type benchUser struct {
	UID      int64
	Passhash string
}

// cheapParams hash the seeded credentials. Each hash string carries its own argon2id costs, so the server verifies
// these at this cost: with the production costs (19 MiB, 2 passes), 10,000 logins would measure argon2, not
// WebSockets. Every other part of the login path (rate limiter, verification cache, user lookup) is the real one.
var cheapParams = auth.Params{Time: 1, Memory: 64, Threads: 1}

// seed creates n users (all with the same password, hashed once) and one app owned by the first, directly through
// the store, in transactions of 1,000 rows.
func seed(ctx context.Context, dsn string, n int) ([]benchUser, int64, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	sum := sha256.Sum256([]byte("bench password"))
	passhash := hex.EncodeToString(sum[:])
	metaHash, err := cheapParams.Hash("bench-metapass-not-secret")
	if err != nil {
		return nil, 0, err
	}
	passHash, err := cheapParams.Hash(passhash)
	if err != nil {
		return nil, 0, err
	}
	users := make([]benchUser, n)
	for from := 0; from < n; from += 1000 {
		err := st.Tx(ctx, func(q *store.Q) error {
			for i := from; i < min(from+1000, n); i++ {
				u := &store.User{SimpleName: fmt.Sprintf("ws%05d", i+1), Name: fmt.Sprintf("WS user %d", i+1),
					CreatedAt: 1_700_000_000_000, OnlineAt: 1_700_000_000_000, Enabled: true}
				if err := q.CreateUser(ctx, u, metaHash); err != nil {
					return err
				}
				if err := q.SetPasshash(ctx, u.ID, passHash); err != nil {
					return err
				}
				users[i] = benchUser{UID: u.ID, Passhash: passhash}
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("seed users: %w", err)
		}
	}
	app := &store.App{Author: users[0].UID, Name: "Fan-out target", CreatedAt: 1_700_000_000_000,
		UpdatedAt: 1_700_000_000_000}
	if err := st.Tx(ctx, func(q *store.Q) error { return q.CreateApp(ctx, app) }); err != nil {
		return nil, 0, fmt.Errorf("seed app: %w", err)
	}
	return users, app.ID, nil
}
