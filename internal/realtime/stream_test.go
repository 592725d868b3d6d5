package realtime_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/realtime"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// A client that disconnects and resumes with the last id it saw gets exactly what it missed: the same sequence a
// client that never left received, nothing lost, nothing twice.
func TestEventStreamResume(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		for _, transport := range []string{"ws", "sse"} {
			t.Run(transport, func(t *testing.T) {
				s := tu.StartServer(t, e, tu.Options{})
				alice, bob := s.NewUser("alice"), s.NewUser("bob")
				ref := openStream(t, s, transport, alice, "")
				c := openStream(t, s, transport, alice, "")

				aid := s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "A"}).Int(t)
				cid := s.Want(http.StatusOK, alice, "POST", fmt.Sprintf("/app/%d/comment", aid),
					map[string]any{"content": "first"}).Int(t)
				s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "pause"})
				seen := until(c, appNamed("pause"))
				c.close()

				// While c is away: a reply (a notification for alice), a star, a follow, a new version.
				s.Want(http.StatusOK, bob, "POST", fmt.Sprintf("/app/%d/comment", aid),
					map[string]any{"reply": cid, "content": "re"})
				s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/app/%d/star", aid), nil)
				s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/user/%d/follow", alice.UID), nil)
				s.Want(http.StatusCreated, alice, "POST", fmt.Sprintf("/app/%d/update", aid),
					map[string]any{"ver": "1.0", "rev": 1})
				s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "end"})

				last := seen[len(seen)-1].ID
				c = openStream(t, s, transport, alice, strconv.FormatInt(last, 10))
				got := append(seen, until(c, appNamed("end"))...)
				want := until(ref, appNamed("end"))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("resumed stream differs from the uninterrupted one (-want +got):\n%s", diff)
				}
				types := map[string]int{}
				for i, ev := range got {
					types[ev.Type]++
					if i > 0 && ev.ID <= got[i-1].ID {
						t.Errorf("ids not increasing: %d after %d", ev.ID, got[i-1].ID)
					}
				}
				for _, typ := range []string{"app.created", "comment.created", "notification.created", "app.starred",
					"user.followed", "update.published"} {
					if types[typ] == 0 {
						t.Errorf("no %s event in %v", typ, types)
					}
				}
			})
		}
	})
}

// A client resuming from further back than the backlog first learns that it lost events, then gets what is kept.
func TestEventStreamGap(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Feed: realtime.FeedOptions{Backlog: 3}})
		alice := s.NewUser("alice")
		c := openStream(t, s, "ws", tu.Admin, "")
		s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "first"})
		first := c.next()
		c.close()
		for i := range 5 {
			s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": fmt.Sprint("app", i)})
		}
		c = openStream(t, s, "ws", tu.Admin, strconv.FormatInt(first.ID, 10))
		gap := c.next()
		var p struct {
			LastID   int64 `json:"last_id"`
			OldestID int64 `json:"oldest_id"`
		}
		if err := json.Unmarshal(gap.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if gap.Type != realtime.GapType || p.LastID != first.ID || p.OldestID != first.ID+3 || gap.ID != p.OldestID-1 {
			t.Errorf("gap notice = %+v (payload %s), want last_id %d, oldest_id %d", gap, gap.Payload, first.ID,
				first.ID+3)
		}
		for i, want := range []string{"app2", "app3", "app4"} {
			if ev := c.next(); ev.ID != p.OldestID+int64(i) || !appNamed(want)(ev) {
				t.Errorf("kept event %d = %d %s %s, want %s", i, ev.ID, ev.Type, ev.Payload, want)
			}
		}
	})
}

// Authorisation is per event: a user sees public events and their own notifications; install events and other
// users' notifications reach the admin only; an anonymous client sees public events.
func TestEventStreamAuthorisation(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		streams := map[string]streamClient{
			"admin": &wsStream{dial(t, streamURL(s, "token="+tu.AdminToken), nil)}, // as a browser must send it
			"alice": openStream(t, s, "ws", alice, ""),
			"bob":   openSSE(t, s, bob, "", ""),
			"anon":  openStream(t, s, "sse", tu.Anon, ""),
		}
		s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/user/%d/follow", alice.UID), nil)
		s.Want(http.StatusOK, alice, "PUT", fmt.Sprintf("/user/%d/follow", bob.UID), nil)
		s.Bus.Publish(events.Event{Type: events.InstallStage, AdminOnly: true, Payload: host.StageEvent{Instance: "wp"}},
			events.Event{Type: events.InstallStatus, AdminOnly: true, Payload: host.StatusEvent{Instance: "wp",
				State: "installed", Status: "running"}})
		s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "end"})

		want := map[string]string{
			"admin": fmt.Sprintf("user.followed notification.created:%d user.followed notification.created:%d "+
				"install.stage install.status app.created", alice.UID, bob.UID),
			"alice": fmt.Sprintf("user.followed notification.created:%d user.followed app.created", alice.UID),
			"bob":   fmt.Sprintf("user.followed user.followed notification.created:%d app.created", bob.UID),
			"anon":  "user.followed user.followed app.created",
		}
		for who, sc := range streams {
			var got []string
			for _, ev := range until(sc, appNamed("end")) {
				if ev.Type == events.NotificationSent {
					var n struct{ User int64 }
					_ = json.Unmarshal(ev.Payload, &n)
					got = append(got, fmt.Sprintf("%s:%d", ev.Type, n.User))
				} else {
					got = append(got, ev.Type)
				}
			}
			if fmt.Sprint(got) != "["+want[who]+"]" {
				t.Errorf("%s saw %v\nwant    [%s]", who, got, want[who])
			}
		}
	})
}

func TestEventStreamRefusals(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice := s.NewUser("alice")
		for _, tc := range []struct {
			name   string
			as     tu.As
			query  string
			status int
		}{
			{"wrong token", tu.As{Token: "nope"}, "", http.StatusUnauthorized},
			{"wrong passhash", tu.As{UID: alice.UID, Passhash: tu.Passhash("x")}, "", http.StatusUnauthorized},
			{"bad last_id", alice, "?last_id=abc", http.StatusBadRequest},
		} {
			r := s.Do(tc.as, "GET", "/api/v1/events"+tc.query, nil)
			var p struct {
				Error struct{ Code, Message string }
			}
			if r.Status != tc.status || json.Unmarshal(r.Body, &p) != nil || p.Error.Message == "" {
				t.Errorf("%s: %d %s, want %d with a problem body", tc.name, r.Status, r.Body, tc.status)
			}
		}
		if _, status := dialStatus(t, streamURL(s, "token=nope"), nil); status != http.StatusUnauthorized {
			t.Errorf("WebSocket with a wrong token: %d, want 401", status)
		}
	})
}

// A stream client that falls further behind than the backlog is dropped with 1008; resuming, it learns of the gap.
func TestEventStreamDropsSlowClient(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Feed: realtime.FeedOptions{Backlog: 8}})
		slow := &wsStream{dial(t, streamURL(s, ""), cookies(tu.Admin))}
		slow.c.conn.SetReadLimit(1 << 20)
		// One event read first: the stream is live and the client holds an id to resume from, whatever the flood's
		// overflow then drops before the server writes any of it.
		s.Bus.Publish(events.Event{Type: events.InstallStage, AdminOnly: true, Payload: map[string]any{"n": -1}})
		last := slow.next().ID
		big := strings.Repeat("x", 64<<10)
		for i := range 300 { // far more than the socket buffers hold: the server's write blocks meanwhile
			s.Bus.Publish(events.Event{Type: events.InstallStage, AdminOnly: true, Payload: map[string]any{"n": i, "log": big}})
		}
		for {
			_, b, err := slow.c.conn.Read(t.Context())
			if err != nil {
				if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
					t.Fatalf("slow client closed with %v (%v), want %v", got, err, websocket.StatusPolicyViolation)
				}
				break
			}
			var ev event
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			last = ev.ID
		}
		again := openStream(t, s, "ws", tu.Admin, strconv.FormatInt(last, 10))
		if ev := again.next(); ev.Type != realtime.GapType {
			t.Errorf("resuming after the drop: first message %s, want %s", ev.Type, realtime.GapType)
		}
	})
}

// An event stream quiet for longer than its write timeout lives on over HTTP/2 too, where a stream's write
// deadline is a timer that resets the stream when it fires, write or no write: StackHub's own name is served
// over HTTP/2 by the edge.
func TestEventStreamQuietOverHTTP2(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		const writeTimeout = 300 * time.Millisecond
		s := tu.StartServer(t, e, tu.Options{Feed: realtime.FeedOptions{WriteTimeout: writeTimeout, Heartbeat: time.Hour}})
		ts := httptest.NewUnstartedServer(s.Handler)
		ts.EnableHTTP2 = true
		ts.StartTLS()
		t.Cleanup(ts.Close)
		alice := s.NewUser("alice")
		c := openSSEAt(t, ts.URL, ts.Client(), alice, "", "")
		if c.proto != 2 {
			t.Fatalf("the stream came over HTTP/%d, want 2", c.proto)
		}
		time.Sleep(3 * writeTimeout) // quiet: no event, no heartbeat
		s.Want(http.StatusOK, alice, "POST", "/app", map[string]any{"name": "after the quiet"})
		until(c, appNamed("after the quiet")) // fails if the stream ended
	})
}
