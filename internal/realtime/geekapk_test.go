package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// Two users with two connections each and an anonymous client: online counts and o? answers follow connections,
// DMs reach every connection of the recipient and nobody else, and the error cases answer ERROR.
func TestGeekApkPresenceAndMessages(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		aliceOnline, _ := s.Hub.OnlineAt(t.Context(), alice.UID)
		anon := dial(t, geekURL(s, tu.Anon, ""), nil)
		anon.expect0("o", "0")
		q := fmt.Sprintf("o?%d,%d,999", alice.UID, bob.UID)
		anon.expect0(q, "*000")

		a1, a2 := dial(t, geekURL(s, alice, ""), nil), dial(t, geekURL(s, alice, ""), nil)
		eventually(t, "alice is online", func() bool { return anon.ask("o") == "1" })
		b1, b2 := dial(t, geekURL(s, bob, ""), nil), dial(t, geekURL(s, bob, ""), nil)
		eventually(t, "bob is online too", func() bool { return anon.ask("o") == "2" })
		anon.expect0(q, "*110")
		if at, _ := s.Hub.OnlineAt(t.Context(), alice.UID); at < aliceOnline {
			t.Errorf("online_at went back from %d to %d on connect", aliceOnline, at)
		}

		// A DM reaches both of bob's connections; the sender and alice's other connection get nothing (their next
		// message is the answer to a probe).
		a1.send(fmt.Sprintf("%d:hello: bob", bob.UID))
		b1.expect(fmt.Sprintf("%d:hello: bob", alice.UID))
		b2.expect(fmt.Sprintf("%d:hello: bob", alice.UID))
		a1.expect0("o", "2")
		a2.expect0("o", "2")
		b2.send(fmt.Sprintf("%d:hi alice", alice.UID))
		a1.expect(fmt.Sprintf("%d:hi alice", bob.UID))
		a2.expect(fmt.Sprintf("%d:hi alice", bob.UID))
		b1.expect0("o", "2") // b1 did not get bob's own message

		// The error cases.
		anon.expect0(fmt.Sprintf("%d:hi", alice.UID), "ERROR") // anonymous sender
		a1.expect0("999:hi", "ERROR")                          // offline recipient
		for _, bad := range []string{"hello", "0:x", "-1:x", "abc:x", fmt.Sprintf("%d:", bob.UID), "o?", "o?1,,2", "O"} {
			a1.expect0(bad, "ERROR")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a1.conn.Write(ctx, websocket.MessageBinary, []byte("o")); err != nil {
			t.Fatal(err)
		}
		a1.expect("ERROR") // text frames only

		// Bob leaves one connection: still online, and the other still gets his DMs.
		_ = b1.conn.Close(websocket.StatusNormalClosure, "")
		anon.expect0(q, "*110")
		a1.send(fmt.Sprintf("%d:still there?", bob.UID))
		b2.expect(fmt.Sprintf("%d:still there?", alice.UID))
		// His last connection goes: he is offline at once, and DMs to him fail.
		before := time.Now().UnixMilli()
		_ = b2.conn.Close(websocket.StatusNormalClosure, "")
		eventually(t, "bob is offline", func() bool { return anon.ask("o") == "1" })
		anon.expect0(q, "*100")
		a2.expect0(fmt.Sprintf("%d:gone?", bob.UID), "ERROR")
		// online_at records when he left (written just after he went offline).
		eventually(t, "bob's online_at is when he left", func() bool {
			at, err := s.Hub.OnlineAt(t.Context(), bob.UID)
			return err == nil && at >= before
		})
	})
}

// expect0 sends a frame and expects the answer.
func (c *wsClient) expect0(frame, want string) {
	c.t.Helper()
	if got := c.ask(frame); got != want {
		c.t.Fatalf("%q answered %q, want %q", frame, got, want)
	}
}

func TestGeekApkRefusesBadCredentialsBeforeUpgrade(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Limiter: auth.NewLimiter(5, time.Minute)})
		alice, carol := s.NewUser("alice"), s.NewUser("carol")
		s.Want(http.StatusOK, tu.Admin, "PUT", fmt.Sprintf("/doge/user/%d", carol.UID), nil) // disable carol
		for _, tc := range []struct {
			path string
			want int
		}{
			{fmt.Sprintf("/%d/%s", alice.UID, tu.Passhash("wrong")), http.StatusUnauthorized},
			{fmt.Sprintf("/%d/%s", alice.UID, "not-a-hash"), http.StatusUnauthorized},
			{fmt.Sprintf("/999/%s", alice.Passhash), http.StatusUnauthorized},
			{"/abc/" + alice.Passhash, http.StatusUnauthorized},
			{fmt.Sprintf("/%d/%s/x", alice.UID, alice.Passhash), http.StatusNotFound},
			{fmt.Sprintf("/%d", alice.UID), http.StatusNotFound},
			{fmt.Sprintf("/%d/%s", carol.UID, carol.Passhash), http.StatusForbidden},
		} {
			if c, status := dialStatus(t, s.WSURL+tc.path, nil); c != nil || status != tc.want {
				t.Errorf("%s: status %d, want %d", tc.path, status, tc.want)
			}
		}
		if s.Geek.Online() != 0 {
			t.Errorf("refused logins count as online: %d", s.Geek.Online())
		}
		// Failed logins are rate-limited per address: after five, even the right passhash waits.
		for range 2 {
			dialStatus(t, fmt.Sprintf("%s/%d/%s", s.WSURL, alice.UID, tu.Passhash("wrong")), nil)
		}
		if _, status := dialStatus(t, geekURL(s, alice, ""), nil); status != http.StatusTooManyRequests {
			t.Errorf("after 5 failures: status %d, want 429", status)
		}
	})
}

// push=1 delivers a reply notification unasked; a connection without it gets nothing.
func TestGeekApkPushesNotifications(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		aid := s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "A"}).Int(t)
		cid := s.Want(http.StatusOK, alice, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "hi"}).Int(t)
		pushed := dial(t, geekURL(s, alice, "push=1"), nil)
		plain := dial(t, geekURL(s, alice, ""), nil)
		bobWS := dial(t, geekURL(s, bob, "push=1"), nil)
		eventually(t, "both are online", func() bool { return s.Geek.Online() == 2 })

		reply := s.Want(http.StatusOK, bob, "POST", fmt.Sprintf("/app/%d/comment", aid),
			map[string]any{"reply": cid, "content": "re"}).Int(t)
		msg := pushed.recv() // unasked: the client sends nothing
		if len(msg) < 2 || msg[0] != '!' {
			t.Fatalf("push %q does not start with !", msg)
		}
		var n store.Notification
		if err := json.Unmarshal([]byte(msg[1:]), &n); err != nil {
			t.Fatalf("push %q: %v", msg, err)
		}
		if n.User != alice.UID || n.Type != store.NoteReply || n.Data != reply || n.Read || n.CreatedAt == 0 {
			t.Errorf("push = %s, want an unread reply notification for %d about comment %d", msg, alice.UID, reply)
		}
		plain.expect0("o", "2") // nothing pushed to the connection without push=1
		bobWS.expect0("o", "2") // nor to bob, who acted
	})
}
