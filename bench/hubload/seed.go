package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// seedConfig sizes the data set. Everything is drawn from one fixed-seed generator, so two runs insert the same
// rows (PostgreSQL seeded by several workers may hand out the ids in another order; the content is the same).
type seedConfig struct {
	Users, Apps, Comments int
	Batch                 int // rows per transaction
	Workers               int // concurrent transactions (1 on SQLite: it has one writer anyway)
	Seed                  uint64
}

// seedReport says how long each phase took.
type seedReport struct {
	Users, Apps, Comments, Vacuum, Total time.Duration
}

// Fixed epoch so that the timestamps, and with them every ORDER BY, are the same in each run (2023-11-14).
const epochMS = int64(1_700_000_000_000)

var words = strings.Fields(`app android launcher widget fast light dark theme battery privacy open source free
	simple clean material design music player video camera photo gallery notes todo calendar clock weather
	keyboard browser reader offline sync backup cloud secure lock manager file tool utility network wifi
	bluetooth chat message social game puzzle retro emulator map travel fitness health timer converter scanner
	qr code pdf editor markdown terminal shell root module xposed magisk update release beta stable`)

// sentence returns about n characters of words, capitalised and ended with a period.
func sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return title(b.String()) + "."
}

// title upper-cases the first letter of an ASCII word.
func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func ptr[T any](v T) *T { return &v }

// commentPlan is one comment to insert; Parent indexes an earlier plan entry of the same app (-1: top level).
type commentPlan struct {
	App, Author int
	Parent      int
	Content     string
	CreatedAt   int64
}

// seed fills an empty store. Each row goes through the store's own Create methods, in transactions of cfg.Batch
// rows, so the counters (apps.comments_num, comments.replies_num) are maintained exactly as in production.
func seed(ctx context.Context, st *store.Store, cfg seedConfig, logf func(string, ...any)) (seedReport, error) {
	var rep seedReport
	start := time.Now()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))

	// One argon2id hash for every user: hashing 10,000 times would take minutes and measure argon2, not the hub.
	metapass, err := auth.DefaultParams().Hash("bench-metapass-not-secret")
	if err != nil {
		return rep, err
	}

	var cats []int64
	if err := st.Tx(ctx, func(q *store.Q) error {
		for i := range 8 {
			id, err := q.CreateCategory(ctx, fmt.Sprintf("Category %d", i+1), nil)
			if err != nil {
				return err
			}
			cats = append(cats, id)
			for j := range 2 {
				sub, err := q.CreateCategory(ctx, fmt.Sprintf("Category %d.%d", i+1, j+1), &id)
				if err != nil {
					return err
				}
				cats = append(cats, sub)
			}
		}
		return nil
	}); err != nil {
		return rep, fmt.Errorf("categories: %w", err)
	}

	// Users.
	users := make([]store.User, cfg.Users)
	for i := range users {
		created := epochMS + int64(i)*60_000
		u := store.User{
			SimpleName: fmt.Sprintf("user%05d", i+1),
			Name:       fmt.Sprintf("Bench User %d", i+1),
			Bio:        sentence(r, 60),
			CreatedAt:  created,
			OnlineAt:   created + r.Int64N(90*86_400_000),
			Enabled:    true,
		}
		if r.IntN(4) == 0 {
			u.AvatarURL = ptr(fmt.Sprintf("https://cdn.example.com/avatars/%05d.png", i+1))
		}
		if r.IntN(5) == 0 {
			u.Github = ptr(fmt.Sprintf("benchuser%d", i+1))
		}
		users[i] = u
	}
	// Users and apps go in one at a time, so their ids are the same in every run (and app N is always the same
	// app); only comments, which take most of the time, are spread over cfg.Workers.
	serial := cfg
	serial.Workers = 1
	t := time.Now()
	err = inBatches(ctx, st, serial, len(users), func(i int) int { return i }, func(q *store.Q, i int) error {
		return q.CreateUser(ctx, &users[i], metapass)
	})
	if err != nil {
		return rep, fmt.Errorf("users: %w", err)
	}
	rep.Users = time.Since(t)
	logf("seed: %d users in %s", len(users), rep.Users.Round(time.Millisecond))

	// Apps, with realistic field sizes: the description is about 300 characters.
	apps := make([]store.App, cfg.Apps)
	for i := range apps {
		created := epochMS + 30*86_400_000 + int64(i)*300_000
		a := store.App{
			Author:      users[r.IntN(len(users))].ID,
			Package:     ptr(fmt.Sprintf("com.example.bench.app%05d", i+1)),
			Name:        fmt.Sprintf("%s %s %d", title(words[r.IntN(len(words))]), title(words[r.IntN(len(words))]), i+1),
			IconURL:     ptr(fmt.Sprintf("https://cdn.example.com/icons/%05d.png", i+1)),
			Desc:        sentence(r, 290+r.IntN(20)),
			Previews:    ptr(fmt.Sprintf("https://cdn.example.com/previews/%05d-1.png https://cdn.example.com/previews/%05d-2.png", i+1, i+1)),
			Permissions: ptr("android.permission.INTERNET android.permission.ACCESS_NETWORK_STATE"),
			Size:        100_000 + r.Int64N(50_000_000),
			CreatedAt:   created,
			UpdatedAt:   created + r.Int64N(60*86_400_000),
		}
		if r.IntN(10) != 0 {
			a.Category = ptr(cats[r.IntN(len(cats))])
		}
		if r.IntN(3) == 0 {
			a.Alias = ptr(sentence(r, 12))
		}
		apps[i] = a
	}
	t = time.Now()
	err = inBatches(ctx, st, serial, len(apps), func(i int) int { return i }, func(q *store.Q, i int) error {
		return q.CreateApp(ctx, &apps[i])
	})
	if err != nil {
		return rep, fmt.Errorf("apps: %w", err)
	}
	rep.Apps = time.Since(t)
	logf("seed: %d apps in %s", len(apps), rep.Apps.Round(time.Millisecond))

	// Comments: half spread evenly over the apps, half Zipf-distributed over a shuffled app order, so a few apps
	// collect around a thousand comments and most have a handful. One in five replies to an earlier comment of the
	// same app.
	perm := r.Perm(len(apps))
	zipf := rand.NewZipf(r, 1.1, 10, uint64(len(apps)-1))
	plan := make([]commentPlan, cfg.Comments)
	byApp := make([][]int, len(apps))
	for i := range plan {
		ai := r.IntN(len(apps))
		if r.IntN(2) == 0 {
			ai = perm[zipf.Uint64()]
		}
		c := commentPlan{
			App:       ai,
			Author:    r.IntN(len(users)),
			Parent:    -1,
			Content:   sentence(r, 90+r.IntN(20)),
			CreatedAt: epochMS + 120*86_400_000 + int64(i)*10_000,
		}
		if prev := byApp[ai]; len(prev) > 0 && r.IntN(5) == 0 {
			c.Parent = prev[r.IntN(len(prev))]
		}
		byApp[ai] = append(byApp[ai], i)
		plan[i] = c
	}
	ids := make([]int64, len(plan))
	t = time.Now()
	// A worker owns whole apps, so concurrent transactions never update the same apps or comments rows (no lock
	// waits, no deadlocks) and a reply's parent is always inserted earlier by the same worker.
	err = inBatches(ctx, st, cfg, len(plan), func(i int) int { return plan[i].App }, func(q *store.Q, i int) error {
		p := plan[i]
		c := store.Comment{Author: users[p.Author].ID, App: apps[p.App].ID, Content: p.Content, CreatedAt: p.CreatedAt}
		if p.Parent >= 0 {
			c.Reply = ptr(ids[p.Parent])
		}
		if err := q.CreateComment(ctx, &c); err != nil {
			return err
		}
		ids[i] = c.ID
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("comments: %w", err)
	}
	rep.Comments = time.Since(t)
	logf("seed: %d comments in %s", len(plan), rep.Comments.Round(time.Millisecond))
	rep.Total = time.Since(start)
	return rep, nil
}

// inBatches calls fn for every index in [0, n), cfg.Batch calls per transaction, on cfg.Workers goroutines.
// Index i belongs to worker owner(i) % Workers and each worker walks its indexes in ascending order.
func inBatches(ctx context.Context, st *store.Store, cfg seedConfig, n int, owner func(int) int,
	fn func(q *store.Q, i int) error) error {
	workers := max(1, cfg.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := range workers {
		wg.Go(func() {
			var mine []int
			for i := range n {
				if owner(i)%workers == w {
					mine = append(mine, i)
				}
			}
			for len(mine) > 0 {
				chunk := mine[:min(cfg.Batch, len(mine))]
				mine = mine[len(chunk):]
				err := st.Tx(ctx, func(q *store.Q) error {
					for _, i := range chunk {
						if err := fn(q, i); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// isEmpty reports whether the store holds no apps besides app 0.
func isEmpty(ctx context.Context, st *store.Store) (bool, error) {
	ids, err := st.Q().AppIDs(ctx, nil, store.Sort{Key: "id"}, store.Page{Limit: 1})
	return len(ids) == 0, err
}

// seededApps returns every app id (app 0 excluded) and the app with the most comments.
func seededApps(ctx context.Context, st *store.Store) (ids []int64, hot *store.App, err error) {
	ids, err = st.Q().AppIDs(ctx, nil, store.Sort{Key: "id"}, store.Page{Limit: 1 << 30})
	if err != nil {
		return nil, nil, err
	}
	top, err := st.Q().AppIDs(ctx, nil, store.Sort{Key: "replies", Desc: true}, store.Page{Limit: 1})
	if err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 || len(top) == 0 {
		return nil, nil, errors.New("the database holds no apps")
	}
	hot, err = st.Q().App(ctx, top[0])
	return ids, hot, err
}

// checkCounters compares apps.comments_num with a COUNT(*) for the hottest app and a sample of others.
func checkCounters(ctx context.Context, st *store.Store, ids []int64, hot int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0xc0de))
	sample := []int64{hot}
	for range 50 {
		sample = append(sample, ids[r.IntN(len(ids))])
	}
	for _, aid := range sample {
		a, err := st.Q().App(ctx, aid)
		if err != nil {
			return err
		}
		all, _, err := st.Q().CountAppComments(ctx, aid)
		if err != nil {
			return err
		}
		if all != a.CommentsNum {
			return fmt.Errorf("app %d: comments_num %d but %d comments", aid, a.CommentsNum, all)
		}
	}
	return nil
}

// vacuumPostgres brings PostgreSQL to its steady state after the bulk load: planner statistics, and no dead
// rows (each comment's counter update left a dead apps row version behind: some 30,000 for 10,000 apps).
// Autovacuum would do the same within a minute or so, in the middle of the measurements; doing it here keeps the
// plans and the timings the same from the first request of every run.
func vacuumPostgres(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `VACUUM (ANALYZE) users, security, categories, apps, comments`)
	return err
}
