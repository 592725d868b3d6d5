package realtime_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// Disabling or deleting a user ends every live connection they hold, on the GeekApk socket and on the event
// stream (WebSocket and SSE), and nobody else's; a disabled user cannot connect again until enabled.
func TestDisablingOrDeletingAUserEndsTheirConnections(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		geek, bobGeek := dial(t, geekURL(s, alice, ""), nil), dial(t, geekURL(s, bob, ""), nil)
		stream := dial(t, streamURL(s, ""), cookies(alice))
		sse := openSSE(t, s, alice, "", "")
		bobStream := openStream(t, s, "sse", bob, "")
		eventually(t, "both are online", func() bool { return s.Geek.Online() == 2 })

		s.Want(http.StatusOK, tu.Admin, "PUT", fmt.Sprintf("/doge/user/%d", alice.UID), nil)
		geek.closed()
		if code := stream.closed(); code != websocket.StatusPolicyViolation {
			t.Errorf("event stream WebSocket closed with %d, want 1008", code)
		}
		sseEnded := false
		for deadline := time.After(time.Minute); !sseEnded; {
			select {
			case _, ok := <-sse.events:
				sseEnded = !ok
			case <-deadline:
				t.Fatal("alice's SSE stream did not end")
			}
		}
		eventually(t, "alice is offline", func() bool { return s.Geek.Online() == 1 })
		bobGeek.expect0("o", "1")
		if ev := bobStream.next(); ev.Type != "user.disabled" || string(ev.Payload) != fmt.Sprintf(`{"uid":%d}`, alice.UID) {
			t.Errorf("bob saw %s %s, want user.disabled of %d", ev.Type, ev.Payload, alice.UID)
		}
		if _, status := dialStatus(t, geekURL(s, alice, ""), nil); status != http.StatusForbidden {
			t.Errorf("a disabled user connects: %d, want 403", status)
		}
		if _, status := dialStatus(t, streamURL(s, ""), cookies(alice)); status != http.StatusForbidden {
			t.Errorf("a disabled user opens the event stream: %d, want 403", status)
		}
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/events", nil)
		req.Header = cookies(alice)
		res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req) // the stream never ends should it open
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a disabled user opens the SSE stream: %d, want 403", res.StatusCode)
		}

		// Enabled again, she connects; deleted, she is dropped again.
		s.Want(http.StatusOK, tu.Admin, "PUT", fmt.Sprintf("/doge/user/%d", alice.UID), nil)
		if ev := bobStream.next(); ev.Type != "user.enabled" {
			t.Errorf("bob saw %s, want user.enabled", ev.Type)
		}
		geek = dial(t, geekURL(s, alice, ""), nil)
		stream = dial(t, streamURL(s, ""), cookies(alice))
		eventually(t, "alice is back", func() bool { return s.Geek.Online() == 2 })
		s.Want(http.StatusGone, tu.Admin, "DELETE", fmt.Sprintf("/doge/user/%d", alice.UID), nil)
		geek.closed()
		if code := stream.closed(); code != websocket.StatusPolicyViolation {
			t.Errorf("event stream WebSocket closed with %d after delete, want 1008", code)
		}
		// Her side of the socket closes before the server counts her out, as after the disable above.
		eventually(t, "alice is offline after the delete", func() bool { return s.Geek.Online() == 1 })
		bobGeek.expect0("o", "1")
	})
}
