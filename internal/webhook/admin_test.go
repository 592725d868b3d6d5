package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/webhook"
)

// With a secret, every body carries an HMAC-SHA256 signature a receiver can check; an admin-added hook gets the
// event as JSON.
func TestSignedJSONHooks(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		const secret = "webhook-secret-for-tests"
		rc := newReceiver(t, nil)
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.NewUser, URL: rc.URL + "/user"}},
			Webhook: webhook.Options{Secret: secret}})
		var h store.Webhook
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/webhooks",
			map[string]any{"event": "comment.*", "url": rc.URL + "/json"}).JSON(t, &h)
		alice := s.NewUser("alice")
		aid := s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "A"}).Int(t)
		cid := s.Want(http.StatusOK, alice, "POST", fmt.Sprintf("/app/%d/comment", aid),
			map[string]any{"content": "hello"}).Int(t)
		waitFor(t, "both deliveries", func() bool { return len(rc.got()) == 2 && settled(t, s) })

		for _, got := range rc.got() {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(got.Body))
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got.Header.Get("X-StackHub-Signature") != want {
				t.Errorf("%s: signature %q, want %q", got.Path, got.Header.Get("X-StackHub-Signature"), want)
			}
			if got.Header.Get("X-StackHub-Delivery") == "" || got.Header.Get("X-StackHub-Event") == "" {
				t.Errorf("%s: no delivery or event header: %v", got.Path, got.Header)
			}
		}
		j := rc.got()[0]
		var body struct {
			Type    string
			Time    int64
			Payload struct {
				ID      int64
				App     int64
				Content string
			}
		}
		if err := json.Unmarshal([]byte(j.Body), &body); err != nil || j.Path != "/json" ||
			j.ContentType != "application/json" {
			t.Fatalf("JSON hook got %+v: %v", j, err)
		}
		if body.Type != "comment.created" || body.Time == 0 || body.Payload.ID != cid || body.Payload.App != aid ||
			body.Payload.Content != "hello" {
			t.Errorf("JSON body = %s", j.Body)
		}
		ds := deliveries(t, s, "?state=delivered")
		if len(ds) != 2 || ds[0].Hook != "custom:"+strconv.FormatInt(h.ID, 10) || ds[0].HookID == nil {
			t.Errorf("deliveries = %+v", ds)
		}
	})
}

// A redirect is an answer, not an instruction: the target is never called and the attempt counts as failed.
func TestRedirectsAreNotFollowed(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		rc := newReceiver(t, func(path string, _ int) int {
			if path == "/redirect" {
				return http.StatusFound
			}
			return http.StatusOK
		})
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.NewUser, URL: rc.URL + "/redirect"}},
			Webhook: webhook.Options{Attempts: 2}})
		s.NewUser("alice")
		waitFor(t, "the delivery fails", func() bool { return settled(t, s) })
		d := deliveries(t, s, "")[0]
		if d.State != store.DeliveryFailed || d.Attempts != 2 || d.LastStatus != http.StatusFound {
			t.Errorf("delivery = %+v", d)
		}
		if n := rc.hitsOn("/target"); n != 0 {
			t.Errorf("the redirect target was called %d times", n)
		}
	})
}

// Only the admin manages hooks and sees deliveries; bad input is refused naming the field; removing a hook
// cancels what it still had pending.
func TestWebhookAdminAPI(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		rc := newReceiver(t, func(string, int) int { return http.StatusServiceUnavailable })
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.CommentApp, Data: 7, URL: rc.URL}},
			Webhook: webhook.Options{Attempts: 1000}})
		alice := s.NewUser("alice")
		hook := map[string]any{"event": "user.created", "url": rc.URL + "/custom"}
		s.Want(http.StatusUnauthorized, tu.Anon, "POST", "/api/v1/webhooks", hook)
		s.Want(http.StatusForbidden, alice, "POST", "/api/v1/webhooks", hook)
		s.Want(http.StatusForbidden, alice, "GET", "/api/v1/webhooks/deliveries", nil)
		s.Want(http.StatusUnauthorized, tu.Anon, "GET", "/api/v1/webhooks", nil)
		for field, bad := range map[string]map[string]any{
			"event": {"event": "comment.creatd", "url": rc.URL},
			"url":   {"event": "*", "url": "ftp://example.org/x"},
		} {
			var p struct{ Error struct{ Field string } }
			s.Want(http.StatusBadRequest, tu.Admin, "POST", "/api/v1/webhooks", bad).JSON(t, &p)
			if p.Error.Field != field {
				t.Errorf("%v refused naming %q, want %q", bad, p.Error.Field, field)
			}
		}
		var h store.Webhook
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/webhooks", hook).JSON(t, &h)
		var list struct {
			Configured []webhook.Hook
			Custom     []store.Webhook
		}
		s.Want(http.StatusOK, tu.Admin, "GET", "/api/v1/webhooks", nil).JSON(t, &list)
		if len(list.Configured) != 1 || list.Configured[0].Data != 7 || len(list.Custom) != 1 ||
			list.Custom[0] != h || h.Event != "user.created" {
			t.Errorf("list = %+v, added %+v", list, h)
		}

		s.NewUser("bob") // queued for the custom hook; the receiver keeps failing, so it stays pending
		waitFor(t, "a failed attempt", func() bool {
			ds := deliveries(t, s, "?state=pending")
			return len(ds) == 1 && ds[0].Attempts >= 1 && ds[0].LastStatus == http.StatusServiceUnavailable
		})
		s.Want(http.StatusNoContent, tu.Admin, "DELETE", fmt.Sprintf("/api/v1/webhooks/%d", h.ID), nil)
		s.Want(http.StatusNotFound, tu.Admin, "DELETE", fmt.Sprintf("/api/v1/webhooks/%d", h.ID), nil)
		ds := deliveries(t, s, "?state=failed")
		if len(ds) != 1 || ds[0].LastError != "hook removed" || len(deliveries(t, s, "?state=pending")) != 0 {
			t.Errorf("after removing the hook: %+v", ds)
		}
		s.Want(http.StatusBadRequest, tu.Admin, "GET", "/api/v1/webhooks/deliveries?state=lost", nil)
		// The removed hook no longer fires: once another hook's delivery for the same event is queued, it
		// would be too (both are queued together).
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/webhooks",
			map[string]any{"event": "*", "url": rc.URL + "/other"})
		s.NewUser("carol")
		waitFor(t, "the other hook's delivery", func() bool { return len(deliveries(t, s, "")) >= 2 })
		for _, d := range deliveries(t, s, "") {
			if d.HookID != nil && *d.HookID == h.ID && d.State != store.DeliveryFailed {
				t.Errorf("the removed hook fired again: %+v", d)
			}
		}
	})
}
