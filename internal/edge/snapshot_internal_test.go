package edge

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// TestLookup pins the route choice: an exact name before a wildcard, then the longest path prefix on whole
// segments; a wildcard covers one label only.
func TestLookup(t *testing.T) {
	s := &snapshot{exact: map[string][]*entry{}, wild: map[string][]*entry{}}
	add := func(m map[string][]*entry, name, path, inst string) {
		m[name] = append(m[name], &entry{route: store.Route{Domain: name, Path: path, Instance: inst}})
	}
	add(s.exact, "example.com", "/app", "app") // longest first, as build sorts them
	add(s.exact, "example.com", "/", "root")
	add(s.wild, "example.com", "/", "wild")
	cases := map[string]string{
		"example.com /":         "root",
		"example.com /app":      "app",
		"example.com /app/x":    "app",
		"example.com /apple":    "root",
		"a.example.com /app":    "wild",
		"a.b.example.com /":     "",
		"other.com /":           "",
		"www.example.com /deep": "wild",
	}
	for in, want := range cases {
		var host, path string
		for i := range in {
			if in[i] == ' ' {
				host, path = in[:i], in[i+1:]
			}
		}
		got := ""
		if en := s.lookup(host, path); en != nil {
			got = en.route.Instance
		}
		if got != want {
			t.Errorf("lookup %s = %q, want %q", in, got, want)
		}
	}
}

// TestClientOf pins whose X-Forwarded-* is believed: a trusted peer's, and in its chain the nearest address that
// is not itself a trusted proxy.
func TestClientOf(t *testing.T) {
	e := &Edge{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	cases := []struct {
		peer, xff, proto, want string
		trusted                bool
	}{
		{"192.0.2.1:5000", "203.0.113.9", "http", "192.0.2.1", false},
		{"10.0.0.2:5000", "203.0.113.9", "https", "203.0.113.9", true},
		{"10.0.0.2:5000", "198.51.100.1, 203.0.113.9, 10.0.0.3", "https", "203.0.113.9", true},
		{"10.0.0.2:5000", "", "https", "10.0.0.2", true},
		{"10.0.0.2:5000", "garbage", "https", "10.0.0.2", true},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "http://x.test/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		r.Header.Set("X-Forwarded-Proto", "https")
		got := e.clientOf(r, false)
		if got.addr.String() != c.want || got.trusted != c.trusted || got.proto != c.proto {
			t.Errorf("peer %s, XFF %q: client %s trusted %v proto %s; want %s %v %s", c.peer, c.xff, got.addr, got.trusted, got.proto, c.want, c.trusted, c.proto)
		}
	}
}

// TestBasicLimit: ten wrong basic logins from one address within a minute, and the eleventh attempt, even with
// the right password, gets 429 without any hashing; another address is not held back.
func TestBasicLimit(t *testing.T) {
	e := &Edge{limiter: auth.NewLimiter(10, time.Minute), basic: basicCache{m: map[string]time.Time{}}}
	hash, err := auth.Params{Time: 1, Memory: 64, Threads: 1}.Hash("right")
	if err != nil {
		t.Fatal(err)
	}
	en := &entry{route: store.Route{ID: 7, Access: "basic"}, users: []basicUser{{User: "ann", Hash: hash}}}
	try := func(addr, pass string) int {
		r := httptest.NewRequest("GET", "http://b.test/", nil)
		r.SetBasicAuth("ann", pass)
		w := httptest.NewRecorder()
		e.admit(w, r, en, client{addr: netip.MustParseAddr(addr), host: "b.test"}, false)
		return w.Code
	}
	for i := range 10 {
		if code := try("192.0.2.1", "wrong"); code != 401 {
			t.Fatalf("wrong attempt %d: %d", i+1, code)
		}
	}
	if code := try("192.0.2.1", "right"); code != 429 {
		t.Errorf("after ten wrong attempts: %d, want 429", code)
	}
	if code := try("192.0.2.2", "right"); code != 200 {
		t.Errorf("another address: %d, want 200 (admitted)", code)
	}
}

// TestHeaderEnd finds the end of a request's header with CRLF and with bare LF lines, and waits for more.
func TestHeaderEnd(t *testing.T) {
	for in, want := range map[string]int{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET":   len("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
		"GET / HTTP/1.1\nHost: a\n\nrest":        len("GET / HTTP/1.1\nHost: a\n\n"),
		"GET / HTTP/1.1\r\nHost: a\n\r\n":        len("GET / HTTP/1.1\r\nHost: a\n\r\n"),
		"GET / HTTP/1.1\r\nHost: a\r\n":          0,
		"GET / HTTP/1.1\r\nHost: a\r\n\r":        0,
		"GET / HTTP/1.1\r\nX: a\r\nY: b\r\n\r\n": len("GET / HTTP/1.1\r\nX: a\r\nY: b\r\n\r\n"),
	} {
		if got := headerEnd([]byte(in)); got != want {
			t.Errorf("headerEnd(%q) = %d, want %d", in, got, want)
		}
	}
}
