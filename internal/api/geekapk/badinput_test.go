package geekapk_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

type errJSON struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// wantErr checks a contract error: the status in the code and the body, and a message naming what it should.
func wantErr(t *testing.T, r *tu.Resp, status int, mentions string) {
	t.Helper()
	var e errJSON
	r.JSON(t, &e)
	if r.Status != status || e.Status != status || !strings.Contains(e.Message, mentions) {
		t.Errorf("got %d %+v, want %d with a message naming %q", r.Status, e, status, mentions)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		u := s.NewUser("valid_1")
		aid := s.Want(200, u, "POST", "/app", map[string]any{"name": "Keep", "package": "keep"}).Int(t)
		snapshot := func() string {
			return s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil).Text() +
				s.Want(200, tu.Anon, "GET", "/app/all", nil).Text() +
				s.Want(200, tu.Anon, "GET", "/user/all", nil).Text() +
				s.Want(200, tu.Anon, "GET", "/comment/all", nil).Text() +
				s.Want(200, tu.Anon, "GET", "/timeline", nil).Text()
		}
		before := snapshot()
		json := "application/json"

		cases := []struct {
			name, method, path string
			as                 tu.As
			body               any
			header             []string
			status             int
			mentions           string
		}{
			{"malformed JSON", "POST", "/app", u, []byte(`{"name": "x"`), []string{"Content-Type", json}, 400, "recognize"},
			{"JSON array", "POST", "/app", u, []byte(`[1,2]`), []string{"Content-Type", json}, 400, "recognize"},
			{"two objects", "POST", "/app", u, []byte(`{"name":"a"}{"name":"b"}`), nil, 400, "recognize"},
			{"wrong type", "POST", "/app", u, []byte(`{"name": 5}`), []string{"Content-Type", json}, 400, "name"},
			{"wrong content type", "POST", "/app", u, []byte(`{"name":"x"}`), []string{"Content-Type", "text/xml"}, 415, "application/json"},
			{"form content type", "POST", "/doge/useradd", tu.Admin, []byte(`simple_name=x`), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
			{"JSON where text is due", "POST", "/app/search", tu.Anon, []byte(`"x"`), []string{"Content-Type", json}, 415, "text/plain"},
			{"missing name", "POST", "/app", u, map[string]any{"desc": "x"}, nil, 400, "name"},
			{"oversize name", "POST", "/app", u, map[string]any{"name": strings.Repeat("n", 60)}, nil, 413, "name"},
			{"oversize multibyte desc", "POST", "/app", u, map[string]any{"name": "x", "desc": strings.Repeat("é", 10000)}, nil, 413, "desc"},
			{"oversize special", "POST", "/app", u, map[string]any{"name": "x", "special": strings.Repeat("永", 12)}, nil, 413, "special"},
			{"oversize comment", "POST", fmt.Sprintf("/app/%d/comment", aid), u, map[string]any{"content": strings.Repeat("😀", 7000)}, nil, 413, "content"},
			{"oversize body", "POST", "/app", u, map[string]any{"name": "x", "desc": strings.Repeat("a", 5<<20)}, nil, 413, "body"},
			{"duplicate package", "POST", "/app", u, map[string]any{"name": "x", "package": "keep"}, nil, 409, "keep"},
			{"blank package", "POST", "/app", u, map[string]any{"name": "x", "package": " "}, nil, 400, "package"},
			{"negative size", "POST", "/app", u, map[string]any{"name": "x", "size": -1}, nil, 400, "size"},
			{"duplicate simple_name", "POST", "/doge/useradd", tu.Admin, map[string]any{"simple_name": "valid_1"}, nil, 409, "valid_1"},
			{"bad simple_name", "POST", "/doge/useradd", tu.Admin, map[string]any{"simple_name": "no spaces"}, nil, 400, "simple_name"},
			{"long simple_name", "POST", "/doge/useradd", tu.Admin, map[string]any{"simple_name": strings.Repeat("a", 20)}, nil, 413, "simple_name"},
			{"no simple_name", "POST", "/doge/useradd", tu.Admin, map[string]any{"name": "x"}, nil, 400, "simple_name"},
			{"id not a number", "GET", "/app/abc", tu.Anon, nil, nil, 400, "aid"},
			{"uid not a number", "GET", "/user/1e3", tu.Anon, nil, nil, 400, "uid"},
			{"unknown app", "GET", "/app/424242", tu.Anon, nil, nil, 404, "not found"},
			{"unknown user", "GET", "/user/424242", tu.Anon, nil, nil, 404, "not found"},
			{"system user hidden", "GET", "/user/0", tu.Anon, nil, nil, 404, "not found"},
			{"unknown comment", "GET", "/comment/424242", tu.Anon, nil, nil, 404, "not found"},
			{"negative max", "GET", "/app/all?max=-1", tu.Anon, nil, nil, 400, "max"},
			{"max not a number", "GET", "/app/all?max=ten", tu.Anon, nil, nil, 400, "max"},
			{"negative offset", "GET", "/user/all?offset=-5", tu.Anon, nil, nil, 400, "offset"},
			{"bad sort mode", "GET", "/user/all?m=sideways", tu.Anon, nil, nil, 400, "m"},
			{"star a missing app", "PUT", "/app/424242/star", u, nil, nil, 404, "not found"},
			{"anonymous write", "POST", "/app", tu.Anon, map[string]any{"name": "x"}, nil, 401, "geekapk_uid"},
			{"wrong passhash", "POST", "/app", tu.As{UID: u.UID, Passhash: tu.Passhash("nope")}, map[string]any{"name": "x"}, nil, 401, "geekapk_uid"},
			{"uid cookie only", "POST", "/app", tu.As{UID: u.UID}, map[string]any{"name": "x"}, nil, 401, "geekapk_uid"},
			{"unknown path", "GET", "/nothing/here", tu.Anon, nil, nil, 404, "not found"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantErr(t, s.Do(c.as, c.method, c.path, c.body, c.header...), c.status, c.mentions)
			})
		}
		if after := snapshot(); after != before {
			t.Errorf("refused requests changed data:\nbefore %s\nafter  %s", before, after)
		}

		// At the limit (one character under, multi-byte) is accepted.
		s.Want(200, u, "POST", "/app", map[string]any{"name": strings.Repeat("名", 59), "desc": strings.Repeat("é", 9999)})
		s.Want(200, u, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": strings.Repeat("😀", 6999)})
		s.Want(201, tu.Admin, "POST", "/doge/useradd", map[string]any{"simple_name": strings.Repeat("a", 19)})
		// max is capped at 1000 rather than refused.
		s.Want(200, tu.Anon, "GET", "/app/all?max=100000", nil)
	})
}

func TestConcurrentStarTogglesKeepCountersExact(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		const n = 50
		users := make([]tu.As, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { users[i] = s.NewUser(fmt.Sprintf("fan%02d", i)) })
		}
		wg.Wait()
		aid := s.Want(200, users[0], "POST", "/app", map[string]any{"name": "Popular"}).Int(t)
		cid := s.Want(200, users[0], "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "star me"}).Int(t)

		toggleAll := func(rounds []int) {
			var wg sync.WaitGroup
			for i, u := range users {
				wg.Go(func() {
					for range rounds[i] {
						if r := s.Do(u, "PUT", fmt.Sprintf("/app/%d/star", aid), nil); r.Status != http.StatusOK {
							t.Errorf("star: %d %s", r.Status, r.Body)
						}
						if r := s.Do(u, "PUT", fmt.Sprintf("/comment/%d/star", cid), nil); r.Status != http.StatusOK {
							t.Errorf("comment star: %d %s", r.Status, r.Body)
						}
					}
				})
			}
			wg.Wait()
		}
		check := func(label string) {
			var gazers []int64
			s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/stars", aid), nil).JSON(t, &gazers)
			if got := getApp(t, s, aid).StarsNum; got != int64(len(gazers)) {
				t.Errorf("%s: stars_num = %d, real stars = %d", label, got, len(gazers))
			}
			s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d/stars", cid), nil).JSON(t, &gazers)
			if got := getComment(t, s, cid).StarsNum; got != int64(len(gazers)) {
				t.Errorf("%s: comment stars_num = %d, real stars = %d", label, got, len(gazers))
			}
		}
		once := make([]int, n)
		mixed := make([]int, n)
		for i := range n {
			once[i], mixed[i] = 1, 1+i%3
		}
		toggleAll(once)
		check("after one toggle each")
		if got := getApp(t, s, aid).StarsNum; got != n {
			t.Errorf("stars_num = %d, want %d", got, n)
		}
		toggleAll(mixed)
		check("after mixed toggles")
		want := 0
		for _, m := range mixed {
			if (1+m)%2 == 1 {
				want++
			}
		}
		var gazers []int64
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/stars", aid), nil).JSON(t, &gazers)
		if diff := cmp.Diff(want, len(gazers)); diff != "" {
			t.Errorf("stars after mixed toggles (-want +got):\n%s", diff)
		}
	})
}
