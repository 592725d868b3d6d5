package geekapk_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

// Events go out after the commit: a subscriber can already read what the event is about, and refused requests
// publish nothing.
func TestEventsArePublishedAfterCommit(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		var mu sync.Mutex
		var got []events.Event
		var visible []bool
		checked := 0
		cancel := s.Bus.Subscribe(func(ev events.Event) {
			seen := true
			if c, ok := ev.Payload.(store.Comment); ok {
				_, err := s.Hub.Comment(t.Context(), c.ID)
				seen = err == nil
				mu.Lock()
				checked++
				mu.Unlock()
			}
			mu.Lock()
			got, visible = append(got, ev), append(visible, seen)
			mu.Unlock()
		})
		defer cancel()
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		aid := s.Want(200, alice, "POST", "/app", map[string]any{"name": "A"}).Int(t)
		c1 := s.Want(200, alice, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "hi @bob"}).Int(t)
		s.Want(200, bob, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply": c1, "content": "re"})
		s.Want(400, bob, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply": 999, "content": "bad"})
		s.Want(200, bob, "PUT", fmt.Sprintf("/app/%d/star", aid), nil)

		mu.Lock()
		defer mu.Unlock()
		var types []string
		for i, ev := range got {
			types = append(types, fmt.Sprintf("%s@%d", ev.Type, ev.Audience))
			if !visible[i] {
				t.Errorf("event %s was published before its row was readable", ev.Type)
			}
		}
		want := []string{
			"user.created@0", "user.created@0", "app.created@0",
			"notification.created@2", "comment.created@0", // mention of bob
			"notification.created@1", "comment.created@0", // reply to alice
			"app.starred@0",
		}
		if checked != 2 {
			t.Errorf("checked %d comment events for visibility, want 2", checked)
		}
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Errorf("events = %v\nwant     %v", types, want)
		}
	})
}
