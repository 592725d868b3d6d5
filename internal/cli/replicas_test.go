package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// postgresEngine is the PostgreSQL engine of the test environment (replicas need it).
func postgresEngine(t testing.TB) tu.Engine {
	t.Helper()
	for _, e := range tu.Engines(t) {
		if e.Name == "postgres" {
			return e
		}
	}
	t.Skip("replicas need PostgreSQL: set STACKHUB_TEST_POSTGRES") // Engines fails instead under CI
	return tu.Engine{}
}

// hubUser is a GeekApk user created through one process.
type hubUser struct {
	uid      int64
	passhash string
}

// hubCall sends one request as user u (zero: the admin) and returns the status and body.
func hubCall(t testing.TB, base string, u hubUser, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if u.uid == 0 {
		req.Header.Set("Authorization", "Bearer "+cliToken)
	} else {
		req.AddCookie(&http.Cookie{Name: "geekapk_uid", Value: strconv.FormatInt(u.uid, 10)})
		req.AddCookie(&http.Cookie{Name: "geekapk_passhash", Value: u.passhash})
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

// newHubUser creates a user on the process at base and sets their password.
func newHubUser(t testing.TB, base, name string) hubUser {
	t.Helper()
	st, text := hubCall(t, base, hubUser{}, "POST", "/doge/useradd", fmt.Sprintf(`{"simple_name":%q}`, name))
	uidText, metapass, ok := strings.Cut(text, ":")
	if st != http.StatusCreated || !ok {
		t.Fatalf("useradd %s: %d %s", name, st, text)
	}
	uid, _ := strconv.ParseInt(uidText, 10, 64)
	u := hubUser{uid: uid, passhash: tu.Passhash("password of " + name)}
	if st, text := hubCall(t, base, hubUser{}, "PUT", fmt.Sprintf("/pass/%d/%s", uid, u.passhash), metapass); st != 200 {
		t.Fatalf("set password of %s: %d %s", name, st, text)
	}
	return u
}

// streamEvent is one event of /api/v1/events.
type streamEvent struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// openEvents reads the admin's event stream of the process at base (after lastID when it is not empty) in the
// background; the events arrive on the channel.
func openEvents(t testing.TB, base, lastID string) (<-chan streamEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	u := base + "/api/v1/events"
	if lastID != "" {
		u += "?last_id=" + lastID
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+cliToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("open the event stream: %v %v", err, res)
	}
	out := make(chan streamEvent, 1000)
	go func() {
		defer res.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e streamEvent
				if json.Unmarshal([]byte(data), &e) == nil {
					out <- e
				}
			}
		}
	}()
	return out, cancel
}

// nextOf waits for the next event of type typ, failing after a minute (against a hang only).
func nextOf(t testing.TB, evs <-chan streamEvent, typ string) streamEvent {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case e, ok := <-evs:
			if !ok {
				t.Fatalf("the stream ended before a %s event", typ)
			}
			if e.Type == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within a minute", typ)
		}
	}
}

// geekSocket is an open GeekApk connection.
type geekSocket struct {
	t testing.TB
	c *websocket.Conn
}

func dialGeek(t testing.TB, addr string, u hubUser, query string) *geekSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "ws://" + addr + "/"
	if u.uid != 0 {
		url += fmt.Sprintf("%d/%s", u.uid, u.passhash)
	}
	c, _, err := websocket.Dial(ctx, url+query, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return &geekSocket{t: t, c: c}
}

func (g *geekSocket) send(frame string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		g.t.Fatal(err)
	}
}

func (g *geekSocket) read() string {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, b, err := g.c.Read(ctx)
	if err != nil {
		g.t.Fatalf("read a GeekApk frame: %v", err)
	}
	return string(b)
}

func (g *geekSocket) ask(frame string) string {
	g.t.Helper()
	g.send(frame)
	return g.read()
}

// TestReplicasBehaveAsOne runs two real `stackhub serve` processes on one fresh PostgreSQL database: events,
// presence, direct messages, reads after writes and the rate limit of credential checks cross from one to the
// other, a stream resumes on the other process without a loss, and webhooks are queued once.
func TestReplicasBehaveAsOne(t *testing.T) {
	t.Parallel()
	e := postgresEngine(t)
	dsn := e.DSN(t)
	var mu sync.Mutex
	hooks := map[string]int{}
	rc := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks[string(b)]++
		mu.Unlock()
	})}
	rcAddr := freeAddr(t)
	go func() {
		ln, err := net.Listen("tcp", rcAddr)
		if err == nil {
			_ = rc.Serve(ln)
		}
	}()
	t.Cleanup(func() { _ = rc.Close() })
	env := []string{"DOGETOK=" + cliToken, "WEBHOOKS=newUser:http://" + rcAddr + "/hook"}
	a := startServe(t, env, "--data-dir", t.TempDir(), "--database", dsn)
	b := startServe(t, env, "--data-dir", t.TempDir(), "--database", dsn)

	alice := newHubUser(t, a.url, "alice")
	bob := newHubUser(t, b.url, "bob")
	evB, _ := openEvents(t, b.url, "")
	bobPush := dialGeek(t, b.ws, bob, "?push=1")
	aliceSock := dialGeek(t, a.ws, alice, "")

	t.Run("presence counts users on both", func(t *testing.T) {
		for _, addr := range []string{a.ws, b.ws} {
			anon := dialGeek(t, addr, hubUser{}, "")
			if got := anon.ask("o"); got != "2" {
				t.Errorf("o on %s answered %q, want 2", addr, got)
			}
			if got := anon.ask(fmt.Sprintf("o?%d,%d,%d", alice.uid, bob.uid, bob.uid+100)); got != "*110" {
				t.Errorf("o? on %s answered %q, want *110", addr, got)
			}
		}
	})

	var commentID int64
	var aid string
	t.Run("a comment on one reaches the stream and the push client on the other", func(t *testing.T) {
		_, aid = hubCall(t, a.url, alice, "POST", "/app", `{"name":"A"}`)
		st, cid := hubCall(t, a.url, alice, "POST", "/app/"+aid+"/comment", `{"content":"hello @bob"}`)
		if st != 200 {
			t.Fatalf("comment: %d %s", st, cid)
		}
		ev := nextOf(t, evB, "comment.created")
		if !strings.Contains(string(ev.Payload), `"hello @bob"`) {
			t.Errorf("comment.created on B: %s", ev.Payload)
		}
		commentID = ev.ID
		if push := bobPush.read(); !strings.HasPrefix(push, "!") || !strings.Contains(push, cid) {
			t.Errorf("bob's push socket on B got %q, want the mention of comment %s", push, cid)
		}
	})

	// Each process would answer these reads from its read cache were it alone on the database; with another
	// process there, neither may keep an answer the other's write changed.
	t.Run("a read on one process sees a write on the other at once", func(t *testing.T) {
		for i, name := range []string{"renamed on B", "renamed on A", "renamed on B again"} {
			writer, reader := b.url, a.url
			if i%2 == 1 {
				writer, reader = a.url, b.url
			}
			hubCall(t, reader, hubUser{}, "GET", "/app/"+aid, "")
			if st, body := hubCall(t, writer, alice, "PUT", "/app/"+aid, fmt.Sprintf(`{"name":%q}`, name)); st != 200 {
				t.Fatalf("rename: %d %s", st, body)
			}
			if _, body := hubCall(t, reader, hubUser{}, "GET", "/app/"+aid, ""); !strings.Contains(body, fmt.Sprintf(`"name":%q`, name)) {
				t.Errorf("after the rename to %q on the other process: %s", name, body)
			}
		}
	})

	t.Run("a direct message crosses processes", func(t *testing.T) {
		aliceSock.send(fmt.Sprintf("%d:hi bob", bob.uid))
		if got, want := bobPush.read(), fmt.Sprintf("%d:hi bob", alice.uid); got != want {
			t.Errorf("bob got %q, want %q", got, want)
		}
		long := strings.Repeat("x", 7990) // over a NOTIFY payload once addressed: it travels as a stored message
		aliceSock.send(fmt.Sprintf("%d:%s", bob.uid, long))
		if got := bobPush.read(); got != fmt.Sprintf("%d:%s", alice.uid, long) {
			t.Errorf("bob got %d bytes, want the long message", len(got))
		}
		if got := aliceSock.ask(fmt.Sprintf("%d:anyone?", bob.uid+100)); got != "ERROR" {
			t.Errorf("a message to a user offline everywhere answered %q, want ERROR", got)
		}
	})

	t.Run("a stream resumes on the other process with last_id and misses nothing", func(t *testing.T) {
		// The client saw commentID on B, loses B, and resumes on A while more happens on B.
		var want []string
		for i := range 3 {
			want = append(want, newHubUser(t, b.url, fmt.Sprintf("user%d", i)).String())
		}
		evA, _ := openEvents(t, a.url, strconv.FormatInt(commentID, 10))
		last := commentID
		for _, uid := range want {
			ev := nextOf(t, evA, "user.created")
			if ev.ID <= last {
				t.Errorf("event ids went back: %d after %d", ev.ID, last)
			}
			last = ev.ID
			if !strings.Contains(string(ev.Payload), `"id":`+uid) && !strings.Contains(string(ev.Payload), uid) {
				t.Errorf("user.created %s, want uid %s", ev.Payload, uid)
			}
		}
	})

	t.Run("webhooks are queued once", func(t *testing.T) {
		users := 5 // alice, bob, user0..2
		waitUntil(t, "every newUser webhook", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(hooks) == users
		})
		var ds []json.RawMessage
		_, text := hubCall(t, a.url, hubUser{}, "GET", "/api/v1/webhooks/deliveries", "")
		if err := json.Unmarshal([]byte(text), &ds); err != nil || len(ds) != users {
			t.Errorf("%d deliveries queued for %d users (%v): %s", len(ds), users, err, text)
		}
	})

	t.Run("the admin resets a user's second factors with the CLI", func(t *testing.T) {
		newHubUser(t, a.url, "dave")
		if out := mustCLI(t, b.url, "user", "reset-2fa", "dave"); !strings.Contains(out, "dave has no second factor now") {
			t.Errorf("reset-2fa said %q", out)
		}
		if _, stderr, code := runCLI(t, b.url, "user", "reset-2fa", "nobody"); code == 0 || !strings.Contains(stderr, `no user named "nobody"`) {
			t.Errorf("reset-2fa of nobody: exit %d, %q", code, stderr)
		}
		var recs []struct{ Target, Outcome string }
		getJSON(t, a.url+"/api/v1/audit?action=second_factors_reset", &recs)
		if len(recs) != 2 || recs[1].Target != "user dave" {
			t.Errorf("audit on the other process: %+v, want both resets, dave's first", recs)
		}
	})

	t.Run("ten wrong passwords spread over both trip the shared limit", func(t *testing.T) {
		// carol never logged in: no process has her password verified in its cache.
		carol := newHubUser(t, a.url, "carol")
		wrong := hubUser{uid: carol.uid, passhash: tu.Passhash("wrong")}
		for i := range 10 {
			base := []string{a.url, b.url}[i%2]
			if st, text := hubCall(t, base, wrong, "GET", "/app/"+aid+"/star", ""); st != 401 && st != 403 {
				t.Fatalf("wrong password %d: %d %s", i, st, text)
			}
		}
		for _, base := range []string{a.url, b.url} {
			if st, text := hubCall(t, base, carol, "GET", "/app/"+aid+"/star", ""); st != 429 {
				t.Errorf("the right password after ten wrong ones on %s: %d %s, want 429", base, st, text)
			}
		}
	})

}

func (u hubUser) String() string { return strconv.FormatInt(u.uid, 10) }

// TestSecondProcessOnSQLiteRefuses: SQLite serves one process; a second on the same file stops with an error that
// names the lock file and points to PostgreSQL.
func TestSecondProcessOnSQLiteRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"DOGETOK=" + cliToken}
	startServe(t, env, "--data-dir", dir)
	cmd := exec.Command(os.Args[0], "serve", "--listen", freeAddr(t), "--ws-listen", freeAddr(t), "--data-dir", dir)
	cmd.Env = append(append(os.Environ(), "STACKHUB_RUN_AS_MAIN=1"), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second serve on one SQLite file started:\n%s", out)
	}
	for _, want := range []string{dir + "/stackhub.db.lock", "SQLite serves one process", "PostgreSQL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
}
