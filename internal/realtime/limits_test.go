package realtime_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stackhub/stackhub/internal/realtime"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// A client that stops reading is dropped once its queue is full; the sender and other clients carry on.
func TestGeekApkDropsSlowClient(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Realtime: realtime.Options{Rate: 1e6, Burst: 32,
			MaxMessage: 64 << 10}})
		alice, bob, carol := s.NewUser("alice"), s.NewUser("bob"), s.NewUser("carol")
		fast := dial(t, geekURL(s, alice, ""), nil)
		slow := dial(t, geekURL(s, bob, ""), nil) // never reads until the end
		sender := dial(t, geekURL(s, carol, ""), nil)
		eventually(t, "all three are online", func() bool { return s.Geek.Online() == 3 })

		big := strings.Repeat("x", 32<<10)
		query := fmt.Sprintf("o?%d", bob.UID)
		dropped := false
		for round := 0; round < 200 && !dropped; round++ {
			for range 20 {
				sender.send(fmt.Sprintf("%d:%s", bob.UID, big))
			}
			// The fast reader still gets its messages while bob's pile up.
			sender.send(fmt.Sprintf("%d:round %d", alice.UID, round))
			fast.expect(fmt.Sprintf("%d:round %d", carol.UID, round))
			sender.send(query)
			for { // skip the ERRORs of DMs sent after bob was dropped
				m := sender.recv()
				if m == "ERROR" {
					continue
				}
				dropped = m == "*0"
				break
			}
		}
		if !dropped {
			t.Fatal("bob never read, yet he was not dropped")
		}
		if got := slow.closed(); got != -1 && got != websocket.StatusPolicyViolation {
			t.Errorf("slow client closed with %v", got)
		}
		sender.expect0("o", "2")
	})
}

// Each connection has a rate limit and a message size limit; going over either closes it with the matching code.
func TestGeekApkLimits(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Realtime: realtime.Options{Rate: 0.01, Burst: 3, MaxMessage: 1024}})
		flood := dial(t, geekURL(s, tu.Anon, ""), nil)
		for range 10 { // the server may close before the last ones are written; 10 frames need 70 s at this rate
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = flood.conn.Write(ctx, websocket.MessageText, []byte("o"))
			cancel()
		}
		if got := flood.closed(); got != websocket.StatusPolicyViolation {
			t.Errorf("flooding client closed with %v, want %v", got, websocket.StatusPolicyViolation)
		}
		huge := dial(t, geekURL(s, tu.Anon, ""), nil)
		huge.send("1:" + strings.Repeat("y", 2000))
		// The server sends 1009 (message too big) and hangs up without reading the rest of the frame, so the
		// client may see the reset before the close frame: what is certain is that the connection ends.
		if got := huge.closed(); got == websocket.StatusNormalClosure {
			t.Errorf("oversized frame closed with %v", got)
		}
		ok := dial(t, geekURL(s, tu.Anon, ""), nil)
		ok.send("1:" + strings.Repeat("y", 1000))
		ok.expect("ERROR") // within the limit: answered (user 1 is offline)
	})
}

// Deleting a user ends their connections; shutting down says goodbye with 1001 and refuses new connections.
func TestGeekApkDeletedUserAndShutdown(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		a := dial(t, geekURL(s, alice, ""), nil)
		b := dial(t, geekURL(s, bob, ""), nil)
		eventually(t, "both are online", func() bool { return s.Geek.Online() == 2 })
		s.Want(http.StatusGone, tu.Admin, "DELETE", fmt.Sprintf("/doge/user/%d", alice.UID), nil)
		a.closed()
		eventually(t, "alice is offline", func() bool { return b.ask("o") == "1" })

		status := make(chan websocket.StatusCode, 1)
		go func() { // a client reads all the time, so it answers the server's close at once
			_, err := b.recvWithin(time.Minute)
			status <- websocket.CloseStatus(err)
		}()
		s.Geek.Close()
		if got := <-status; got != websocket.StatusGoingAway {
			t.Errorf("on shutdown the connection closed with %v, want %v", got, websocket.StatusGoingAway)
		}
		if _, status := dialStatus(t, geekURL(s, tu.Anon, ""), nil); status != http.StatusServiceUnavailable {
			t.Errorf("a connection during shutdown got %d, want 503", status)
		}
	})
}
