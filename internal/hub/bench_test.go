package hub_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// benchHub seeds a small hub: 200 apps with 10 comments each.
func benchHub(b *testing.B, e testutil.Engine) (*hub.Service, []int64) {
	b.Helper()
	st := testutil.OpenStore(b, e)
	ctx := context.Background()
	var apps []int64
	err := st.Tx(ctx, func(q *store.Q) error {
		u := &store.User{SimpleName: "bench", Name: "Bench", CreatedAt: 1, OnlineAt: 1, Enabled: true}
		if err := q.CreateUser(ctx, u, "not-a-hash"); err != nil {
			return err
		}
		for i := range 200 {
			a := &store.App{Author: u.ID, Name: fmt.Sprintf("App %d", i), CreatedAt: 1, UpdatedAt: int64(i)}
			if err := q.CreateApp(ctx, a); err != nil {
				return err
			}
			apps = append(apps, a.ID)
			for j := range 10 {
				c := &store.Comment{Author: u.ID, App: a.ID, Content: "a comment", CreatedAt: int64(j)}
				if err := q.CreateComment(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	au := auth.NewService(st, testutil.AdminToken, testutil.HashParams, auth.NewLimiter(1000, time.Minute))
	return hub.New(st, au, events.NewBus(), testutil.Logger(b)), apps
}

// BenchmarkAppComments is the hub side of GET /app/<aid>/comments?max=20: the list and the app's existence.
func BenchmarkAppComments(b *testing.B) {
	for _, e := range testutil.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			h, apps := benchHub(b, e)
			ctx, cancel := context.WithCancel(context.Background()) // as an HTTP request's
			defer cancel()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 1))
				for pb.Next() {
					ids, err := h.AppComments(ctx, apps[r.IntN(len(apps))], hub.Sort{Key: "ctime"}, hub.Page{Limit: 20})
					if err != nil || len(ids) != 10 {
						b.Errorf("%v %v", ids, err)
						return
					}
				}
			})
		})
	}
}
