package webhook_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/webhook"
)

// The hub writes its webhook deliveries in the transaction of the change that triggers them: when CreateUser
// returns, the delivery is already in the database, though no queue worker runs (a crash at that moment would
// lose nothing), and the bus does not queue it a second time.
func TestHubWritesDeliveriesInItsTransaction(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		ctx := context.Background()
		st := tu.OpenStore(t, e)
		au := auth.NewService(st, tu.AdminToken, tu.HashParams, auth.NewLimiter(1000, time.Minute))
		bus := events.NewBus()
		h := hub.New(st, au, bus, tu.Logger(t))
		hooks, err := webhook.Parse("newUser:http://127.0.0.1:9/user")
		if err != nil {
			t.Fatal(err)
		}
		wh, err := webhook.New(ctx, st, hooks, tu.Logger(t), webhook.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h.SetOutbox(wh)
		defer wh.Subscribe(bus)() // subscribed but never started: nothing is written by the worker

		admin := auth.System
		uid, _, err := h.CreateUser(ctx, admin, hub.UserInput{SimpleName: hub.Some("alice")})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := st.Q().WebhookDeliveries(ctx, "", store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Hook != webhook.NewUser || ds[0].Body != strconv.FormatInt(uid, 10) || ds[0].State != store.DeliveryPending {
			t.Fatalf("deliveries right after CreateUser = %+v", ds)
		}

		// Once the worker runs, it attempts that delivery, and there is no second one from the bus.
		stop := wh.Start(ctx)
		waitFor(t, "an attempt", func() bool {
			ds, err := st.Q().WebhookDeliveries(ctx, "", store.Page{Limit: 10})
			return err == nil && len(ds) > 0 && ds[0].Attempts > 0
		})
		stop()
		if ds, err := st.Q().WebhookDeliveries(ctx, "", store.Page{Limit: 10}); err != nil || len(ds) != 1 {
			t.Errorf("deliveries after the worker ran = %+v, %v; want the one", ds, err)
		}

		// A transaction whose deliveries cannot be written commits nothing: the user is not created either.
		h.SetOutbox(failingOutbox{})
		if _, _, err := h.CreateUser(ctx, admin, hub.UserInput{SimpleName: hub.Some("bob")}); err == nil {
			t.Fatal("CreateUser succeeded though its webhook delivery could not be written")
		}
		if _, err := h.UserIDByName(ctx, "bob"); err == nil {
			t.Error("bob exists though his transaction failed")
		}
	})
}

type failingOutbox struct{}

func (failingOutbox) Enqueue(context.Context, *store.Q, []events.Event) (int, error) {
	return 0, errors.New("the outbox is broken")
}

func (failingOutbox) Wake() {}
