package store_test

import (
	"context"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// A removed hook never fires again, whatever it raced with: an attempt in flight as it was removed records no
// outcome that brings the delivery back to pending, and a delivery written just after the removal is not claimed.
func TestRemovedHookStaysRemoved(t *testing.T) {
	testutil.ForEachEngine(t, func(t *testing.T, e testutil.Engine) {
		ctx := context.Background()
		q := testutil.OpenStore(t, e).Q()
		h := store.Webhook{Event: "*", URL: "http://127.0.0.1:9/x", CreatedAt: 1}
		if err := q.AddWebhook(ctx, &h); err != nil {
			t.Fatal(err)
		}
		d := store.WebhookDelivery{Hook: "custom:1", HookID: &h.ID, Event: "user.created", URL: h.URL, Body: "{}",
			ContentType: "application/json", NextAttemptAt: 10, State: store.DeliveryPending, CreatedAt: 10}
		if err := q.AddWebhookDelivery(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.ClaimWebhookDelivery(ctx, d.ID, 10, 1000); err != nil || !ok {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		if err := q.DeleteWebhook(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
		recorded, err := q.RecordWebhookAttempt(ctx, d.ID, store.WebhookAttempt{State: store.DeliveryPending,
			Status: 503, Error: "HTTP 503", NextAttemptAt: 2000})
		if err != nil || recorded {
			t.Fatalf("record after removal = %v, %v; want not recorded", recorded, err)
		}
		ds, err := q.WebhookDeliveries(ctx, "", store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].State != store.DeliveryFailed || ds[0].LastError != "hook removed" || ds[0].Attempts != 0 {
			t.Errorf("deliveries = %+v", ds)
		}
		if _, ok, err := q.NextWebhookAttempt(ctx); err != nil || ok {
			t.Errorf("something is still pending: %v, %v", ok, err)
		}

		// A still-pending delivery records normally.
		d2 := d
		d2.HookID = nil
		d2.Hook = "newUser"
		if err := q.AddWebhookDelivery(ctx, &d2); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.RecordWebhookAttempt(ctx, d2.ID, store.WebhookAttempt{State: store.DeliveryDelivered,
			Status: 200, NextAttemptAt: 30, DeliveredAt: &d2.CreatedAt}); err != nil || !ok {
			t.Fatalf("record pending = %v, %v", ok, err)
		}

		// A delivery written after its hook went (it was queued in memory as the hook was removed) is never
		// claimed: the claim fails it.
		late := d
		late.State, late.Attempts, late.LastError = store.DeliveryPending, 0, ""
		if err := q.AddWebhookDelivery(ctx, &late); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.ClaimWebhookDelivery(ctx, late.ID, 10, 1000); err != nil || ok {
			t.Fatalf("claim of a removed hook's delivery = %v, %v; want refused", ok, err)
		}
		ds, err = q.WebhookDeliveries(ctx, store.DeliveryFailed, store.Page{Limit: 10})
		if err != nil || len(ds) != 2 || ds[0].ID != late.ID || ds[0].LastError != "hook removed" {
			t.Errorf("failed deliveries = %+v, %v", ds, err)
		}
	})
}
