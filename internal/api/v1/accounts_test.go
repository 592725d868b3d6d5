package v1_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/cli"
	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// syncBuf collects the server's log for the secret checks.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// caller is one row of the role matrix: who, and the least role a refusal names (or that it is anonymous).
type caller struct {
	name string
	as   tu.As
	role int // 0 anonymous, 1 member, 2 operator, 3 admin user, 4 the admin token
}

// accounts makes a member, an operator and an admin user, and returns the five callers.
func accounts(t *testing.T, s *tu.Server) []caller {
	t.Helper()
	member, op, adm := s.NewUser("mem"), s.NewUser("oper"), s.NewUser("boss")
	s.Want(200, tu.Admin, "PUT", "/api/v1/users/oper/role", map[string]string{"role": "operator"})
	s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/api/v1/users/%d/role", adm.UID), map[string]string{"role": "admin"})
	return []caller{{"anonymous", tu.Anon, 0}, {"member", member, 1}, {"operator", op, 2}, {"admin user", adm, 3},
		{"DOGETOK", tu.Admin, 4}}
}

// op is one operation of one face, with the least role it needs (2 operator, 3 admin).
type op struct {
	face, method, path string
	body               any
	needs              int
}

func matrixOps() []op {
	var ops []op
	for _, o := range []struct {
		m, p  string
		body  any
		needs int
	}{
		{"GET", "/installs", nil, 2}, {"GET", "/installs/nope", nil, 2}, {"GET", "/server", nil, 2},
		{"GET", "/jobs/987654", nil, 2}, {"GET", "/installs/nope/backups", nil, 2},
		{"GET", "/installs/nope/upgrades", nil, 2}, {"GET", "/installs/nope/logs", nil, 2},
		{"POST", "/installs", map[string]string{"app": "no-such-app"}, 2},
		{"POST", "/installs/nope/start", nil, 2}, {"POST", "/installs/nope/stop", nil, 2},
		{"POST", "/installs/nope/upgrade", map[string]string{"version": "1"}, 2}, {"POST", "/installs/nope/rollback", nil, 2},
		{"DELETE", "/installs/nope", nil, 2}, {"GET", "/installs/nope/credentials", nil, 2},
		{"GET", "/audit", nil, 3}, {"PUT", "/users/987654/role", map[string]string{"role": "operator"}, 3},
		{"GET", "/webhooks", nil, 3}, {"GET", "/webhooks/deliveries", nil, 3}, {"DELETE", "/webhooks/987654", nil, 3},
	} {
		ops = append(ops, op{"api/v1", o.m, "/api/v1" + o.p, o.body, o.needs})
	}
	for _, o := range []struct {
		p     string
		body  any
		needs int
	}{
		{"/installApp", map[string]string{"appName": "no-such-app"}, 2},
		{"/uninstallApp", map[string]string{"appName": "nope"}, 2},
		{"/getAppInfo", map[string]string{"appName": "nope"}, 2}, {"/getAllAppInfo", nil, 2},
		{"/uninstallAllApp", nil, 2}, {"/searchServer", nil, 2},
	} {
		ops = append(ops, op{"stackhub", "POST", o.p, o.body, o.needs})
	}
	for _, o := range []struct {
		m, p  string
		needs int
	}{
		{"GET", "/ui/server", 2}, {"GET", "/ui/my-apps", 2}, {"GET", "/ui/my-apps/nope", 2},
		{"POST", "/ui/my-apps/nope/stop", 2}, {"POST", "/ui/my-apps/nope/uninstall", 2},
		{"GET", "/ui/admin/users", 3}, {"GET", "/ui/admin/webhooks", 3}, {"GET", "/ui/admin/audit", 3},
		{"POST", "/ui/admin/users/987654/toggle", 3},
	} {
		ops = append(ops, op{"web", o.m, o.p, nil, o.needs})
	}
	ops = append(ops, op{"geekapk", "POST", "/doge/useradd", nil, 3})
	return ops
}

var roleNames = map[int]string{2: "operator role", 3: "admin role"}

// TestRoleMatrix runs every host and admin operation as each kind of caller on each face: the allowed get past
// the permission check (a 404 for a missing instance shows the check came first), the refused get 401 or a 403
// that names the role they lack.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		callers := accounts(t, s)
		combos := 0
		for _, o := range matrixOps() {
			for _, c := range callers {
				if o.face == "web" && c.role == 0 {
					continue // the web sends an anonymous visitor to the sign-in page (tested in internal/web)
				}
				body := o.body
				if o.face == "geekapk" {
					body = map[string]string{"simple_name": fmt.Sprintf("new%d%d", combos, c.role)}
				}
				r := s.Do(c.as, o.method, o.path, body)
				combos++
				allowed := c.role >= o.needs
				label := fmt.Sprintf("%s %s %s as %s", o.face, o.method, o.path, c.name)
				switch {
				case allowed && (r.Status == 401 || r.Status == 403):
					t.Errorf("%s: refused %d %s", label, r.Status, r.Body)
				case allowed && o.face == "stackhub" && r.Status != 200:
					t.Errorf("%s: %d %s", label, r.Status, r.Body)
				case !allowed && c.role == 0 && r.Status != 401:
					t.Errorf("%s: %d %s, want 401", label, r.Status, r.Body)
				case !allowed && c.role > 0 && (r.Status != 403 || !strings.Contains(r.Text(), roleNames[o.needs])):
					t.Errorf("%s: %d %s, want 403 naming the %s", label, r.Status, r.Body, roleNames[o.needs])
				}
			}
		}
		// The CLI, a real command line over /api/v1, with each user's API token and the admin token.
		for _, c := range callers[1:] {
			tok := tu.AdminToken
			if c.role < 4 {
				scopes := []string{"hub:read"}
				if c.role >= 2 {
					scopes = append(scopes, "host:read", "host:write")
				}
				if c.role >= 3 {
					scopes = append(scopes, "admin")
				}
				tok = createToken(t, s, c.as, "cli", scopes, "").Token
			}
			for _, args := range []struct {
				args  []string
				needs int
			}{{[]string{"app", "list"}, 2}, {[]string{"server", "status"}, 2},
				{[]string{"app", "uninstall", "nope"}, 2}, {[]string{"user", "role", "987654", "member"}, 3}} {
				out, err := runCLI(s.URL, tok, args.args...)
				combos++
				allowed := c.role >= args.needs
				if allowed && err != nil && (strings.Contains(err.Error(), "role") || strings.Contains(err.Error(), "scope")) {
					t.Errorf("cli %v as %s: refused: %v", args.args, c.name, err)
				}
				if !allowed && (err == nil || !strings.Contains(err.Error(), roleNames[args.needs])) {
					t.Errorf("cli %v as %s: %q, %v; want a refusal naming the %s", args.args, c.name, out, err, roleNames[args.needs])
				}
			}
		}
		t.Logf("role matrix: %d operation × role × face combinations", combos)
	})
}

// runCLI runs the CLI in-process against url with token.
func runCLI(url, token string, args ...string) (string, error) {
	root := cli.Root()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--url", url, "--token", token))
	err := root.Execute()
	return out.String(), err
}

type newToken struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
	Token     string   `json:"token"`
}

func createToken(t *testing.T, s *tu.Server, as tu.As, name string, scopes []string, expires string) newToken {
	t.Helper()
	r := s.Want(201, as, "POST", "/api/v1/tokens", map[string]any{"name": name, "scopes": scopes, "expires_in": expires})
	var nt newToken
	r.JSON(t, &nt)
	if !strings.HasPrefix(nt.Token, "shk_") || len(nt.Token) < 4+32 {
		t.Fatalf("token %q: want shk_ and at least 32 characters", nt.Token)
	}
	return nt
}

// TestTokens: each scope allows what it names and nothing more; expired, revoked and demoted-owner tokens are
// refused at once; the token never shows again, in answers, the log or the audit log.
func TestTokens(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		logs := &syncBuf{}
		s := tu.StartServer(t, e, tu.Options{LogTo: logs})
		callers := accounts(t, s)
		op, boss := callers[2].as, callers[3].as
		probes := map[string]struct{ method, path string }{
			"hub:read":   {"GET", "/api/v1/sessions"},
			"hub:write":  {"POST", "/app"}, // the GeekApk path, as the token's owner
			"host:read":  {"GET", "/api/v1/installs"},
			"host:write": {"DELETE", "/api/v1/installs/nope"},
			"admin":      {"GET", "/api/v1/audit"},
		}
		var secrets []string
		for scope := range probes {
			nt := createToken(t, s, boss, "only "+scope, []string{scope}, "720h")
			secrets = append(secrets, nt.Token)
			for other, p := range probes {
				var body any
				if p.path == "/app" {
					body = map[string]any{"name": "by token"}
				}
				r := s.Do(tu.As{Token: nt.Token}, p.method, p.path, body)
				if other == scope && (r.Status == 401 || r.Status == 403) {
					t.Errorf("token with %s on %s %s: %d %s", scope, p.method, p.path, r.Status, r.Body)
				}
				if other != scope && (r.Status != 403 || !strings.Contains(r.Text(), "lacks scope "+other)) {
					t.Errorf("token with %s on %s %s: %d %s, want 403 naming %s", scope, p.method, p.path, r.Status, r.Body, other)
				}
			}
		}
		// The StackHub endpoints take a token as token= too.
		hostTok := createToken(t, s, op, "installer", []string{"host:read", "host:write"}, "30d")
		secrets = append(secrets, hostTok.Token)
		if r := s.Do(tu.Anon, "GET", "/getAllAppInfo?token="+hostTok.Token, nil); r.Status != 200 || !strings.Contains(r.Text(), `"code":"1"`) {
			t.Errorf("getAllAppInfo with token=: %d %s", r.Status, r.Body)
		}
		// A member cannot mint a host token; nobody gets more than their role.
		if r := s.Do(callers[1].as, "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"host:read"}}); r.Status != 403 || !strings.Contains(r.Text(), "operator role") {
			t.Errorf("member asks for host:read: %d %s", r.Status, r.Body)
		}
		// Demoted: the operator's token shrinks at once.
		s.Want(200, tu.Admin, "PUT", "/api/v1/users/oper/role", map[string]string{"role": "member"})
		if r := s.Do(tu.As{Token: hostTok.Token}, "GET", "/api/v1/installs", nil); r.Status != 403 || !strings.Contains(r.Text(), "operator role") {
			t.Errorf("demoted owner's token: %d %s", r.Status, r.Body)
		}
		s.Want(200, tu.Admin, "PUT", "/api/v1/users/oper/role", map[string]string{"role": "operator"})
		s.Want(200, tu.As{Token: hostTok.Token}, "GET", "/api/v1/installs", nil)
		// Revoked: refused at once, though its check is cached.
		s.Want(204, op, "DELETE", "/api/v1/tokens/"+hostTok.ID, nil)
		if r := s.Do(tu.As{Token: hostTok.Token}, "GET", "/api/v1/installs", nil); r.Status != 401 {
			t.Errorf("revoked token: %d %s", r.Status, r.Body)
		}
		// Expired: a token whose time has come is refused.
		short := createToken(t, s, boss, "short", []string{"admin"}, "1m")
		secrets = append(secrets, short.Token)
		s.Want(200, tu.As{Token: short.Token}, "GET", "/api/v1/audit", nil)
		s.Auth.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
		if r := s.Do(tu.As{Token: short.Token}, "GET", "/api/v1/audit", nil); r.Status != 401 || !strings.Contains(r.Text(), "expired") {
			t.Errorf("expired token: %d %s", r.Status, r.Body)
		}
		s.Auth.SetClock(time.Now)
		// The DOGETOK holder's tokens belong to the admin (owner 0).
		adminTok := createToken(t, s, tu.Admin, "ci", []string{"host:read"}, "")
		secrets = append(secrets, adminTok.Token)
		if adminTok.ExpiresAt != nil {
			t.Errorf("no expires_in: expires_at %v, want null", *adminTok.ExpiresAt)
		}
		s.Want(200, tu.As{Token: adminTok.Token}, "GET", "/api/v1/server", nil)
		// Lists never hold the token; the audit log and the server log never either.
		lists := s.Want(200, boss, "GET", "/api/v1/tokens", nil).Text() + s.Want(200, tu.Admin, "GET", "/api/v1/tokens", nil).Text() +
			s.Want(200, tu.Admin, "GET", "/api/v1/audit", nil).Text()
		var listed []map[string]any
		s.Want(200, boss, "GET", "/api/v1/tokens", nil).JSON(t, &listed)
		if len(listed) != 6 || listed[0]["last_used"] == nil {
			t.Errorf("boss's tokens: %v, want 6 with last_used set", listed)
		}
		for _, sec := range secrets {
			secret := sec[len("shk_")+12:]
			for where, text := range map[string]string{"answers": lists, "server log": logs.String()} {
				if strings.Contains(text, secret) {
					t.Errorf("a token's secret appears in the %s", where)
				}
			}
		}
		if !strings.Contains(logs.String(), "request") {
			t.Errorf("the captured log is empty: the check above proves nothing")
		}
	})
}

type auditRec struct {
	ActorKind  string `json:"actor_kind"`
	ActorUID   int64  `json:"actor_uid"`
	ActorToken string `json:"actor_token"`
	Action     string `json:"action"`
	Target     string `json:"target"`
	Address    string `json:"address"`
	Outcome    string `json:"outcome"`
}

func auditOf(t *testing.T, s *tu.Server, action string) []auditRec {
	t.Helper()
	var rs []auditRec
	s.Want(200, tu.Admin, "GET", "/api/v1/audit?action="+action, nil).JSON(t, &rs)
	return rs
}

// TestAuditAndSessions: a role change and a token creation each leave one record with actor, target, address
// and outcome and no secret; refusals are recorded with their kind; sessions are listed, ended one by one or all
// but the current, and a password or role change ends them.
func TestAuditAndSessions(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		callers := accounts(t, s)
		member, op := callers[1].as, callers[2].as
		if rs := auditOf(t, s, "role_set"); len(rs) != 2 || rs[1].ActorKind != "admin" || rs[1].Target != fmt.Sprintf("user %d to operator", op.UID) ||
			rs[1].Address != "127.0.0.1" || rs[1].Outcome != "ok" {
			t.Errorf("role_set records: %+v", rs)
		}
		nt := createToken(t, s, op, "deploy", []string{"host:write"}, "")
		rs := auditOf(t, s, "token_create")
		if len(rs) != 1 || rs[0].ActorKind != "user" || rs[0].ActorUID != op.UID || !strings.Contains(rs[0].Target, nt.ID) ||
			strings.Contains(rs[0].Target, nt.Token[16:]) || rs[0].Outcome != "ok" {
			t.Errorf("token_create records: %+v", rs)
		}
		s.Want(403, member, "PUT", fmt.Sprintf("/api/v1/users/%d/role", member.UID), map[string]string{"role": "admin"})
		if rs := auditOf(t, s, "role_set"); len(rs) != 3 || rs[0].Outcome != "forbidden" || rs[0].ActorUID != member.UID {
			t.Errorf("a refused role change: %+v", rs)
		}
		// The token acts: its id is the actor.
		s.Want(404, tu.As{Token: nt.Token}, "DELETE", "/api/v1/installs/nope", nil)
		if rs := auditOf(t, s, "uninstall"); len(rs) != 1 || rs[0].ActorKind != "token" || rs[0].ActorToken != nt.ID || rs[0].Outcome != "not_found" {
			t.Errorf("uninstall by token: %+v", rs)
		}
		if rs := auditOf(t, s, "role_*"); len(rs) != 3 {
			t.Errorf("action prefix: %d records, want 3", len(rs))
		}
		var all []auditRec
		s.Want(200, tu.Admin, "GET", fmt.Sprintf("/api/v1/audit?actor=%d", op.UID), nil).JSON(t, &all)
		if len(all) != 2 || all[0].Action != "uninstall" || all[1].Action != "token_create" { // the token's acts count for its owner
			t.Errorf("actor filter: %+v", all)
		}
		s.Want(200, tu.Admin, "GET", "/api/v1/audit?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil)

		// Sessions: two browsers of the member.
		a, b := signIn(t, s, "mem"), signIn(t, s, "mem")
		var ss []map[string]any
		getJSONCookie(t, s, a, "/api/v1/sessions", &ss)
		if len(ss) != 2 || ss[0]["address"] != "127.0.0.1" || ss[0]["user_agent"] != "accounts-test" {
			t.Fatalf("sessions: %v", ss)
		}
		current := 0
		for _, x := range ss {
			if x["current"] == true {
				current++
			}
		}
		if current != 1 {
			t.Errorf("sessions: %d marked current, want 1", current)
		}
		c := signIn(t, s, "mem")
		// Delete one (b's), then sign out everywhere from a: c ends too, a stays.
		getJSONCookie(t, s, b, "/api/v1/sessions", &ss)
		var bID string
		for _, x := range ss {
			if x["current"] == true {
				bID = x["id"].(string)
			}
		}
		if st := doCookie(t, s, a, "DELETE", "/api/v1/sessions/"+bID); st != 204 {
			t.Errorf("delete one session: %d", st)
		}
		if st := doCookie(t, s, b, "GET", "/api/v1/sessions"); st != 401 {
			t.Errorf("ended session still works: %d", st)
		}
		if st := doCookie(t, s, a, "DELETE", "/api/v1/sessions"); st != 204 {
			t.Errorf("sign out everywhere: %d", st)
		}
		if doCookie(t, s, c, "GET", "/api/v1/sessions") != 401 || doCookie(t, s, a, "GET", "/api/v1/sessions") != 200 {
			t.Errorf("after sign out everywhere: the other must end, the current stay")
		}
		// A role change ends the user's sessions; so does a password change.
		s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/api/v1/users/%d/role", member.UID), map[string]string{"role": "member"})
		if st := doCookie(t, s, a, "GET", "/api/v1/sessions"); st != 401 {
			t.Errorf("session after a role change: %d", st)
		}
		d := signIn(t, s, "mem")
		r := s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/doge/user/%d/metapass", member.UID), nil)
		var mp struct{ Metapass string }
		r.JSON(t, &mp)
		s.Want(200, tu.Anon, "PUT", fmt.Sprintf("/pass/%d/%s", member.UID, tu.Passhash("password of mem")), mp.Metapass)
		if st := doCookie(t, s, d, "GET", "/api/v1/sessions"); st != 401 {
			t.Errorf("session after a password change: %d", st)
		}
	})
}

// signIn signs "name" in through the web UI and returns the session cookie.
func signIn(t *testing.T, s *tu.Server, name string) *http.Cookie {
	t.Helper()
	form := "kind=user&login=" + name + "&password=password+of+" + name
	req, _ := http.NewRequest("POST", s.URL+"/ui/signin", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "accounts-test")
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "stackhub_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign in %s: %d, no session cookie", name, res.StatusCode)
	return nil
}

func doCookie(t *testing.T, s *tu.Server, c *http.Cookie, method, path string) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	req.AddCookie(c)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func getJSONCookie(t *testing.T, s *tu.Server, c *http.Cookie, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.AddCookie(c)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestAuditEvents: each audit record goes out as audit.<action> on the event stream, to the admin only, and to a
// webhook for audit.*.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		member := s.NewUser("mem")
		s.Want(201, tu.Admin, "POST", "/api/v1/webhooks", map[string]string{"event": "audit.*", "url": "http://127.0.0.1:9/hook"})
		adminStream := bufio.NewReader(get(t, s, "/api/v1/events").Body)
		memberTok := createToken(t, s, member, "stream", []string{"hub:read"}, "")
		memberStream := bufio.NewReader(getAs(t, s, memberTok.Token, "/api/v1/events").Body)
		s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/api/v1/users/%d/role", member.UID), map[string]string{"role": "operator"})
		text := readUntil(t, adminStream, "audit.role_set")
		if !strings.Contains(text, `"outcome":"ok"`) || !strings.Contains(text, fmt.Sprintf(`user %d to operator`, member.UID)) {
			t.Errorf("audit event: %s", text)
		}
		// A public event after it: the member's stream reaches it without the audit event before it (one ordered feed).
		s.Want(200, member, "POST", "/app", map[string]any{"name": "A"})
		if text := readUntil(t, memberStream, "app.created"); strings.Contains(text, "audit.") {
			t.Errorf("a member saw an audit event:\n%s", text)
		}
		// The queue writes its deliveries on its own goroutine: wait for this one, a minute against a hang.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			var ds []map[string]any
			s.Want(200, tu.Admin, "GET", "/api/v1/webhooks/deliveries", nil).JSON(t, &ds)
			found := false
			for _, d := range ds {
				found = found || d["event"] == "audit.role_set"
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no webhook delivery of audit.role_set: %v", ds)
			}
		}
	})
}

// getAs opens a streaming GET with a Bearer token.
func getAs(t *testing.T, s *tu.Server, token, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// TestOperatorRunsApps: an operator installs (StackHub endpoint, token=), stops and starts (/api/v1, their
// password) and uninstalls (the CLI, STACKHUB_TOKEN's API token) a real app in Docker; the install and the
// uninstall each leave exactly one audit record naming the operator's token, the target, the address and "ok".
func TestOperatorRunsApps(t *testing.T) {
	t.Parallel()
	tu.ForEachEngineParallel(t, func(t *testing.T, e tu.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		s := tu.StartServer(t, e, tu.Options{})
		lib := tu.NewLibrary(t)
		lib.Add(t, "web", tu.WebCompose, "READY_AFTER=0\n")
		lib.Import(t, s.URL)
		op := s.NewUser("oper")
		s.Want(200, tu.Admin, "PUT", "/api/v1/users/oper/role", map[string]string{"role": "operator"})
		tok := createToken(t, s, op, "deploy", []string{"host:read", "host:write"}, "1d")

		r := s.Want(200, tu.Anon, "GET", "/installApp?appName=web&appId=site&token="+tok.Token, nil)
		if !strings.Contains(r.Text(), `"code":"1"`) {
			t.Fatalf("installApp by an operator's token: %s", r.Body)
		}
		waitInstance(t, s, op, "site", "1")
		waitJob(t, s, op, s.Want(202, op, "POST", "/api/v1/installs/site/stop", nil))
		waitInstance(t, s, op, "site", "0")
		waitJob(t, s, op, s.Want(202, op, "POST", "/api/v1/installs/site/start", nil))
		waitInstance(t, s, op, "site", "1")
		if out, err := runCLI(s.URL, tok.Token, "app", "uninstall", "site", "--purge"); err != nil {
			t.Fatalf("stackhub app uninstall with an operator's token: %v\n%s", err, out)
		}
		s.Want(404, op, "GET", "/api/v1/installs/site", nil)

		for action, want := range map[string]auditRec{
			"install":   {ActorKind: "token", ActorUID: op.UID, ActorToken: tok.ID, Action: "install", Target: "web as site", Address: "127.0.0.1", Outcome: "ok"},
			"uninstall": {ActorKind: "token", ActorUID: op.UID, ActorToken: tok.ID, Action: "uninstall", Target: "site", Address: "127.0.0.1", Outcome: "ok"},
			"stop":      {ActorKind: "user", ActorUID: op.UID, Action: "stop", Target: "site", Address: "127.0.0.1", Outcome: "ok"},
			"start":     {ActorKind: "user", ActorUID: op.UID, Action: "start", Target: "site", Address: "127.0.0.1", Outcome: "ok"},
		} {
			if rs := auditOf(t, s, action); len(rs) != 1 || rs[0] != want {
				t.Errorf("audit of %s: %+v, want exactly %+v", action, rs, want)
			}
		}
		if text := s.Want(200, tu.Admin, "GET", "/api/v1/audit", nil).Text(); strings.Contains(text, tok.Token[16:]) {
			t.Errorf("the audit log holds the token's secret")
		}
	})
}

// waitInstance polls the instance as who until its status is want; a minute guards against a hang.
func waitInstance(t *testing.T, s *tu.Server, who tu.As, name, want string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var in struct{ Status, State, Info string }
		s.Want(200, who, "GET", "/api/v1/installs/"+name, nil).JSON(t, &in)
		if in.Status == want {
			return
		}
		if in.Status == "2" || time.Now().After(deadline) {
			t.Fatalf("%s: status %q (%s, %s), want %q", name, in.Status, in.State, in.Info, want)
		}
	}
}

// waitJob polls the job an answer started, as who, until it succeeds; a minute guards against a hang.
func waitJob(t *testing.T, s *tu.Server, who tu.As, started *tu.Resp) {
	t.Helper()
	var j struct{ ID int64 }
	started.JSON(t, &j)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var rep struct {
			Job struct{ State, Error string }
		}
		s.Want(200, who, "GET", fmt.Sprintf("/api/v1/jobs/%d", j.ID), nil).JSON(t, &rep)
		switch {
		case rep.Job.State == "succeeded":
			return
		case rep.Job.State == "failed" || time.Now().After(deadline):
			t.Fatalf("job %d: %s %s", j.ID, rep.Job.State, rep.Job.Error)
		}
	}
}
