package realtime

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stackhub/stackhub/internal/events"
)

// The ring holds only what was published, up to Backlog, and then keeps the last Backlog events as before.
func TestFeedRingGrowsToTheBacklogThenWraps(t *testing.T) {
	bus := events.NewBus()
	f := NewFeed(bus, slog.New(slog.NewTextHandler(io.Discard, nil)), FeedOptions{Backlog: 100, FirstID: 1})
	defer f.Close()
	if cap(f.ring) != 0 {
		t.Fatalf("a new feed holds room for %d events, want none", cap(f.ring))
	}
	check := func(published int) {
		t.Helper()
		w := f.since(0, 1000, nil)
		kept := min(published, 100)
		if len(w.items) != kept || w.oldest != int64(published-kept+1) || w.gap != (published > 100) {
			t.Fatalf("after %d events: %d items from %d (gap %v), want %d from %d", published, len(w.items),
				w.oldest, w.gap, kept, published-kept+1)
		}
		for i, it := range w.items {
			if it.ID != w.oldest+int64(i) {
				t.Fatalf("after %d events: item %d has id %d, want %d", published, i, it.ID, w.oldest+int64(i))
			}
		}
		if cap(f.ring) > 100 {
			t.Fatalf("the ring has room for %d events, more than the backlog", cap(f.ring))
		}
	}
	for n := 1; n <= 250; n++ {
		bus.Publish(events.Event{Type: events.AppCreated, Payload: n})
		check(n)
	}
}
