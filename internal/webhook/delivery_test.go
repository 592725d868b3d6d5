package webhook_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/webhook"
)

// The three GeekApk hooks POST the new object's id as text/plain, each exactly once, even with two servers (and
// so two delivery workers) on the same database.
func TestOriginalHooks(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		first := tu.StartServer(t, e, tu.Options{})
		alice, bob := first.NewUser("alice"), first.NewUser("bob")
		aid := first.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "A"}).Int(t)
		other := first.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "B"}).Int(t)
		cid := first.Want(http.StatusOK, alice, "POST", fmt.Sprintf("/app/%d/comment", aid),
			map[string]any{"content": "watched"}).Int(t)

		rc := newReceiver(t, nil)
		hooks, err := webhook.Parse(fmt.Sprintf("replyToMessage:%d:%s/reply;commentApp:%d:%s/app;newUser:%s/user",
			cid, rc.URL, aid, rc.URL, strings.Replace(rc.URL, "http://", "HTTP//", 1))) // the legacy spelling too
		if err != nil {
			t.Fatal(err)
		}
		s := tu.StartServer(t, e, tu.Options{DSN: first.DSN, Hooks: hooks})
		comment := func(as tu.As, app int64, body map[string]any) int64 {
			return s.Want(http.StatusOK, as, "POST", fmt.Sprintf("/app/%d/comment", app), body).Int(t)
		}
		carol := s.NewUser("carol")
		reply := comment(bob, aid, map[string]any{"reply": cid, "content": "a reply"})
		top := comment(alice, aid, map[string]any{"content": "top level"})
		comment(alice, other, map[string]any{"content": "elsewhere"})
		reply2 := comment(bob, aid, map[string]any{"reply": top, "content": "not to the watched one"})

		id := func(n int64) string { return strconv.FormatInt(n, 10) }
		text := "text/plain; charset=utf-8"
		want := []hit{
			{"/app", id(reply), text, nil}, {"/app", id(reply2), text, nil}, {"/app", id(top), text, nil},
			{"/reply", id(reply), text, nil}, {"/user", id(carol.UID), text, nil},
		}
		waitFor(t, "five deliveries", func() bool { return len(rc.got()) >= len(want) && settled(t, s) })
		got := rc.got()
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(hit{}, "Header"),
			cmpopts.SortSlices(func(a, b hit) bool { return a.Path+a.Body < b.Path+b.Body })); diff != "" {
			t.Errorf("deliveries (-want +got):\n%s", diff)
		}
		for _, h := range got {
			if h.Header.Get(webhook.SignatureHeader) != "" {
				t.Errorf("signed without a secret: %v", h.Header)
			}
		}
		if ds := deliveries(t, s, "?state=delivered"); len(ds) != len(want) {
			t.Errorf("%d deliveries recorded as delivered, want %d", len(ds), len(want))
		}
	})
}

// A receiver that fails twice and then succeeds gets the delivery three times, and it is recorded once, delivered.
func TestRetriedUntilDelivered(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		rc := newReceiver(t, func(_ string, n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.NewUser, URL: rc.URL + "/u"}}})
		alice := s.NewUser("alice")
		waitFor(t, "the delivery settles", func() bool { return rc.hitsOn("/u") >= 3 && settled(t, s) })
		ds := deliveries(t, s, "")
		if len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1: %+v", len(ds), ds)
		}
		d := ds[0]
		if d.State != store.DeliveryDelivered || d.Attempts != 3 || d.LastStatus != 200 || d.DeliveredAt == nil ||
			d.Body != strconv.FormatInt(alice.UID, 10) || d.Hook != webhook.NewUser || d.Event != "user.created" {
			t.Errorf("delivery = %+v", d)
		}
		if n := rc.hitsOn("/u"); n != 3 {
			t.Errorf("receiver was called %d times, want 3", n)
		}
	})
}

// The API call that triggers a hook does not wait for it: useradd returns while the receiver is still holding the
// delivery, which is released only then and recorded as delivered. (A call that waited would still be blocked
// here until the minute-long timeout, and the delivery would fail.)
func TestHookDoesNotDelayTheCall(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		release := make(chan struct{})
		rc := newReceiver(t, func(string, int) int {
			<-release
			return http.StatusOK
		})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before the receiver's Close, which waits for its handlers
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.NewUser, URL: rc.URL + "/hold"}},
			Webhook: webhook.Options{Timeout: time.Minute, Attempts: 1}})
		s.Want(http.StatusCreated, tu.Admin, "POST", "/doge/useradd", map[string]any{"simple_name": "alice"})
		unblock()
		waitFor(t, "the delivery settles", func() bool { return settled(t, s) })
		d := deliveries(t, s, "")[0]
		if d.State != store.DeliveryDelivered || d.Attempts != 1 || rc.hitsOn("/hold") != 1 {
			t.Errorf("delivery = %+v, want delivered at the first attempt", d)
		}
	})
}

// A receiver that never answers is cut off by the timeout: the delivery fails while the receiver still holds it.
func TestHangingReceiverIsCutOff(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		release := make(chan struct{})
		entered := make(chan struct{}, 10)
		rc := newReceiver(t, func(string, int) int {
			entered <- struct{}{}
			<-release
			return http.StatusOK
		})
		t.Cleanup(func() { close(release) }) // before the receiver's Close, which waits for its handlers
		s := tu.StartServer(t, e, tu.Options{Hooks: []webhook.Hook{{Type: webhook.NewUser, URL: rc.URL + "/hang"}},
			Webhook: webhook.Options{Timeout: time.Second, Attempts: 1}})
		s.Want(http.StatusCreated, tu.Admin, "POST", "/doge/useradd", map[string]any{"simple_name": "alice"})
		<-entered // the hook did fire
		waitFor(t, "the delivery fails", func() bool { return settled(t, s) })
		d := deliveries(t, s, "")[0]
		if d.State != store.DeliveryFailed || d.Attempts != 1 || !strings.Contains(d.LastError, "Timeout") {
			t.Errorf("delivery = %+v, want failed after one timed-out attempt", d)
		}
	})
}
