package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// event is one message of the event stream.
type event struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type"`
	Time    int64           `json:"time"`
	Payload json.RawMessage `json:"payload"`
}

// streamClient reads the event stream over WebSocket or SSE.
type streamClient interface {
	next() event
	close()
}

type wsStream struct{ c *wsClient }

func (s *wsStream) next() event {
	s.c.t.Helper()
	var e event
	m := s.c.recv()
	if err := json.Unmarshal([]byte(m), &e); err != nil || e.ID == 0 || e.Type == "" || e.Time == 0 {
		s.c.t.Fatalf("stream message %q: %v", m, err)
	}
	return e
}

func (s *wsStream) close() { _ = s.c.conn.CloseNow() }

type sseStream struct {
	t      *testing.T
	cancel context.CancelFunc
	events chan event
	proto  int // the HTTP major version it came over
}

// openSSE starts an SSE stream; lastID, when set, goes in the Last-Event-ID header as a browser sends it.
func openSSE(t *testing.T, s *tu.Server, as tu.As, query, lastID string) *sseStream {
	t.Helper()
	return openSSEAt(t, s.URL, http.DefaultClient, as, query, lastID)
}

// openSSEAt is openSSE on the server at base, through client.
func openSSEAt(t *testing.T, base string, client *http.Client, as tu.As, query, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	u := base + "/api/v1/events"
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	for k, v := range cookies(as) {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE: %s, %s", res.Status, res.Header.Get("Content-Type"))
	}
	st := &sseStream{t: t, cancel: cancel, events: make(chan event, 1000), proto: res.ProtoMajor}
	go func() {
		defer res.Body.Close()
		defer close(st.events)
		sc := bufio.NewScanner(res.Body)
		var id int64
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && data != "":
				var e event
				if json.Unmarshal([]byte(data), &e) != nil || e.ID != id {
					e = event{Type: "bad SSE message: id " + strconv.FormatInt(id, 10) + " data " + data}
				}
				st.events <- e
				id, data = 0, ""
			}
		}
	}()
	return st
}

func (s *sseStream) next() event {
	s.t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			s.t.Fatal("SSE stream ended")
		}
		if strings.HasPrefix(e.Type, "bad") {
			s.t.Fatal(e.Type)
		}
		return e
	case <-time.After(time.Minute):
		s.t.Fatal("no SSE event within a minute")
	}
	return event{}
}

func (s *sseStream) close() { s.cancel() }

// openStream opens the stream as as over transport ("ws" or "sse"), resuming after lastID when it is set.
func openStream(t *testing.T, s *tu.Server, transport string, as tu.As, lastID string) streamClient {
	t.Helper()
	if transport == "sse" {
		return openSSE(t, s, as, "", lastID)
	}
	q := ""
	if lastID != "" {
		q = "last_id=" + lastID
	}
	return &wsStream{dial(t, streamURL(s, q), cookies(as))}
}

// until reads events up to and including the first one for which stop holds.
func until(sc streamClient, stop func(event) bool) []event {
	var out []event
	for {
		e := sc.next()
		out = append(out, e)
		if stop(e) {
			return out
		}
	}
}

// appNamed matches the app.created event of the app called name.
func appNamed(name string) func(event) bool {
	return func(e event) bool {
		var p struct{ Name string }
		return e.Type == "app.created" && json.Unmarshal(e.Payload, &p) == nil && p.Name == name
	}
}
