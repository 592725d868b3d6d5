package geekapk_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stackhub/stackhub/internal/auth"
	tu "github.com/stackhub/stackhub/internal/testutil"
)

func TestUserLifecycle(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		r := s.Want(http.StatusCreated, tu.Admin, "POST", "/doge/useradd", map[string]any{
			"simple_name": "rachel", "user_name": "Rachel", "github": "Rachel030219", "dev": "Code? Is that edible?",
		})
		uidText, metapass, _ := strings.Cut(r.Text(), ":")
		if uidText != "1" || len(metapass) != 20 {
			t.Fatalf("useradd = %q, want 1:<20 characters>", r.Text())
		}
		var u map[string]any
		s.Want(200, tu.Anon, "GET", "/user/1", nil).JSON(t, &u)
		if u["name"] != "Rachel" || u["github"] != "Rachel030219" || u["dev_bio"] != "Code? Is that edible?" ||
			u["enabled"] != true || u["alias"] != nil || u["bio"] != "" {
			t.Errorf("user = %v", u)
		}
		for _, k := range []string{"created_at", "online_at"} {
			if ms, _ := u[k].(float64); ms < float64(time.Now().Add(-time.Minute).UnixMilli()) {
				t.Errorf("%s = %v, want epoch milliseconds of now", k, u[k])
			}
		}
		var short map[string]any
		s.Want(200, tu.Anon, "GET", "/user/1?short", nil).JSON(t, &short)
		if diff := cmp.Diff(map[string]any{"id": 1.0, "simple_name": "rachel", "name": "Rachel", "avatar_url": nil}, short); diff != "" {
			t.Errorf("short user (-want +got):\n%s", diff)
		}

		// The metapass validates; the passhash does not exist yet.
		s.Want(200, tu.Anon, "POST", "/validate-metapass/1", metapass)
		s.Want(401, tu.Anon, "POST", "/validate-metapass/1", "wrong")
		ph := tu.Passhash("hunter2")
		s.Want(401, tu.Anon, "POST", "/validate/1", ph)
		s.Want(401, tu.Anon, "PUT", "/pass/1/"+ph, "wrong metapass")
		s.Want(404, tu.Anon, "PUT", "/pass/99/"+ph, metapass)
		s.Want(400, tu.Anon, "PUT", "/pass/1/not-a-sha256", metapass)
		s.Want(200, tu.Anon, "PUT", "/pass/1/"+ph, metapass)
		s.Want(200, tu.Anon, "POST", "/validate/1", ph)
		// The JSON form of the same flow resets the password.
		ph2 := tu.Passhash("correct horse")
		s.Want(200, tu.Anon, "PUT", "/pass/1", map[string]string{"metapass": metapass, "passhash": ph2})
		s.Want(401, tu.Anon, "POST", "/validate/1", ph)
		s.Want(200, tu.Anon, "POST", "/validate/1", ph2)
		me := tu.As{UID: 1, Passhash: ph2}

		// Self edits; id, created_at, followers_num and enabled are ignored.
		s.Want(200, me, "PUT", "/user/1", map[string]any{"bio": "Rachel 坏耶", "alias": "R", "enabled": false,
			"followers_num": 99, "id": 7})
		s.Want(200, tu.Anon, "GET", "/user/1", nil).JSON(t, &u)
		if u["bio"] != "Rachel 坏耶" || u["alias"] != "R" || u["enabled"] != true || u["followers_num"] != 0.0 || u["id"] != 1.0 {
			t.Errorf("after PUT, user = %v", u)
		}

		// The admin replaces the metapass; the old one stops working.
		var mp struct {
			UID      int64  `json:"uid"`
			Metapass string `json:"metapass"`
		}
		s.Want(200, tu.Admin, "PUT", "/doge/user/1/metapass", "new-distribution-pass").JSON(t, &mp)
		if mp.UID != 1 || mp.Metapass != "new-distribution-pass" {
			t.Errorf("metapass answer = %+v", mp)
		}
		s.Want(401, tu.Anon, "POST", "/validate-metapass/1", metapass)
		s.Want(200, tu.Anon, "POST", "/validate-metapass/1", "new-distribution-pass")

		// Neither credential is stored in the clear.
		sec, err := s.Store.Q().Security(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sec.Metapass, "$argon2id$") || sec.Passhash == nil || !strings.HasPrefix(*sec.Passhash, "$argon2id$") ||
			strings.Contains(sec.Metapass, "new-distribution-pass") || strings.Contains(*sec.Passhash, ph2) {
			t.Errorf("credentials are not argon2id hashes: %+v", sec)
		}

		// Online: self only.
		s.Want(403, tu.Admin, "PUT", "/user/1/online", nil)
		at := s.Want(200, me, "PUT", "/user/1/online", nil).Int(t)
		if got := s.Want(200, tu.Anon, "GET", "/user/1/online", nil).Int(t); got != at {
			t.Errorf("online_at = %d, want %d", got, at)
		}

		// Disable: writes get 403, reads still work; toggling again restores.
		var en map[string]any
		s.Want(200, tu.Admin, "PUT", "/doge/user/1", nil).JSON(t, &en)
		if en["uid"] != 1.0 || en["enabled"] != false {
			t.Errorf("toggle = %v", en)
		}
		s.Want(403, me, "POST", "/app", map[string]any{"name": "X"})
		s.Want(403, me, "PUT", "/user/1", map[string]any{"bio": "changed while disabled"})
		s.Want(200, tu.Anon, "GET", "/user/1", nil).JSON(t, &u)
		if u["bio"] != "Rachel 坏耶" || u["enabled"] != false {
			t.Errorf("a disabled user's write changed data: %v", u)
		}
		s.Want(200, tu.Admin, "PUT", "/doge/user/1", nil)
		s.Want(200, me, "POST", "/app", map[string]any{"name": "X"})
	})
}

func TestAdminTokenPlaces(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		body := map[string]any{"simple_name": "x1"}
		s.Want(201, tu.Anon, "POST", "/doge/useradd?token="+tu.AdminToken, body)
		body["simple_name"] = "x2"
		s.Want(201, tu.Anon, "POST", "/doge/useradd", body, "Cookie", "doge_token="+tu.AdminToken)
		body["simple_name"] = "x3"
		s.Want(201, tu.Admin, "POST", "/doge/useradd", body)

		body["simple_name"] = "nope"
		for name, as := range map[string]tu.As{
			"missing": tu.Anon,
			"wrong":   {Token: "not-the-token-at-all-000000"},
			"partial": {Token: tu.AdminToken[:10]},
			"longer":  {Token: tu.AdminToken + "x"},
		} {
			if r := s.Do(as, "POST", "/doge/useradd", body); r.Status != 401 {
				t.Errorf("%s token: status %d, want 401", name, r.Status)
			}
		}
		// A user is not the admin.
		u := s.NewUser("plain")
		s.Want(403, u, "POST", "/doge/useradd", body)
		s.Want(403, u, "POST", "/doge/category/0", "Tools")
		var ids []int64
		s.Want(200, tu.Anon, "GET", "/user/all", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{1, 2, 3, 4}, ids); diff != "" {
			t.Errorf("users after refused creations (-want +got):\n%s", diff)
		}
		// The admin is not a user.
		s.Want(403, tu.Admin, "POST", "/app", map[string]any{"name": "X"})
		s.Want(403, tu.Admin, "PUT", "/user/1/follow", nil)
	})
}

func TestUserListsSearchAndFollow(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		a, b, c := s.NewUser("alice"), s.NewUser("bob"), s.NewUser("Carol_99")
		s.Want(200, a, "PUT", "/user/1", map[string]any{"name": "Alice Ünïcode", "github": "alice-gh"})

		var ids []int64
		s.Want(200, tu.Anon, "GET", "/user/all?s=ctime&m=dsc", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{3, 2, 1}, ids); diff != "" {
			t.Errorf("users by ctime dsc (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", "/user/all?max=2&offset=1", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{2, 3}, ids); diff != "" {
			t.Errorf("users max=2 offset=1 (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/user/search", "ÜNÏ").JSON(t, &ids)
		if diff := cmp.Diff([]int64{1}, ids); diff != "" {
			t.Errorf("case-insensitive unicode search by name (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/user/search?mode=sname", "carol").JSON(t, &ids)
		if diff := cmp.Diff([]int64{3}, ids); diff != "" {
			t.Errorf("search sname (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/user/search?mode=github", "GH").JSON(t, &ids)
		if diff := cmp.Diff([]int64{1}, ids); diff != "" {
			t.Errorf("search github (-want +got):\n%s", diff)
		}
		s.Want(400, tu.Anon, "POST", "/user/search?mode=password", "x")
		s.Want(400, tu.Anon, "GET", "/user/all?s=shoe", nil)

		// Follow toggles; the followed user is notified and counted.
		s.Want(400, a, "PUT", "/user/1/follow", nil)
		s.Want(404, a, "PUT", "/user/404/follow", nil)
		if got := s.Want(200, a, "PUT", "/user/2/follow", nil).Text(); strings.TrimSpace(got) != "true" {
			t.Fatalf("follow = %s", got)
		}
		s.Want(200, c, "PUT", "/user/2/follow", nil)
		if got := s.Want(200, a, "GET", "/user/2/follow", nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("GET follow = %s", got)
		}
		s.Want(401, tu.Anon, "GET", "/user/2/follow", nil)
		s.Want(200, tu.Anon, "GET", "/user/2/followers", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{1, 3}, ids); diff != "" {
			t.Errorf("followers (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", "/user/1/following", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{2}, ids); diff != "" {
			t.Errorf("following (-want +got):\n%s", diff)
		}
		var u struct {
			FollowersNum int64 `json:"followers_num"`
		}
		s.Want(200, tu.Anon, "GET", "/user/2", nil).JSON(t, &u)
		if u.FollowersNum != 2 {
			t.Errorf("followers_num = %d, want 2", u.FollowersNum)
		}
		var notes []map[string]any
		s.Want(200, b, "GET", "/user/2/notifications", nil).JSON(t, &notes)
		if len(notes) != 2 || notes[0]["type"] != 3.0 || notes[0]["data"] != 3.0 || notes[1]["data"] != 1.0 || notes[0]["enabled"] != false {
			t.Errorf("follow notifications = %v", notes)
		}
		s.Want(403, a, "GET", "/user/2/notifications", nil)
		s.Want(401, tu.Anon, "GET", "/user/2/notifications", nil)
		// Unfollow: the counter drops, the timeline keeps the entry.
		if got := s.Want(200, a, "PUT", "/user/2/follow", nil).Text(); strings.TrimSpace(got) != "false" {
			t.Errorf("unfollow = %s", got)
		}
		s.Want(200, tu.Anon, "GET", "/user/2", nil).JSON(t, &u)
		if u.FollowersNum != 1 {
			t.Errorf("followers_num after unfollow = %d, want 1", u.FollowersNum)
		}
		var lines []map[string]any
		s.Want(200, tu.Anon, "GET", "/user/1/timeline", nil).JSON(t, &lines)
		if len(lines) != 1 || lines[0]["t"] != 1.0 || lines[0]["d"] != 2.0 || lines[0]["u"] != 1.0 {
			t.Errorf("timeline after unfollow = %v", lines)
		}

		// Notifications: toggle read, list all, delete.
		created := int64(notes[0]["created_at"].(float64))
		path := fmt.Sprintf("/notification/2/%d", created)
		if got := s.Want(200, b, "PUT", path, nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("mark read = %s", got)
		}
		s.Want(200, b, "GET", "/user/2/notifications", nil).JSON(t, &notes)
		if len(notes) != 1 {
			t.Errorf("unread after marking one read = %d, want 1", len(notes))
		}
		s.Want(200, b, "GET", "/user/2/notifications?all", nil).JSON(t, &notes)
		if len(notes) != 2 {
			t.Errorf("all notifications = %d, want 2", len(notes))
		}
		s.Want(403, a, "DELETE", path, nil)
		s.Want(410, b, "DELETE", path, nil)
		s.Want(404, b, "DELETE", path, nil)
	})
}

func TestDeleteUserKeepsContentAndFixesCounters(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		a, b := s.NewUser("author"), s.NewUser("fan")
		aid := s.Want(200, a, "POST", "/app", map[string]any{"name": "App"}).Int(t)
		cid := s.Want(200, a, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "hello"}).Int(t)
		s.Want(200, b, "PUT", fmt.Sprintf("/app/%d/star", aid), nil)
		s.Want(200, b, "PUT", fmt.Sprintf("/comment/%d/star", cid), nil)
		s.Want(200, b, "PUT", "/user/1/follow", nil)
		bcid := s.Want(200, b, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "fan mail"}).Int(t)

		s.Want(403, a, "DELETE", "/user/2", nil)
		s.Want(410, b, "DELETE", "/user/2", nil)
		s.Want(404, tu.Anon, "GET", "/user/2", nil)
		s.Want(401, b, "PUT", "/user/1/follow", nil) // the credentials went with the user

		var app struct {
			StarsNum    int64 `json:"stars_num"`
			CommentsNum int64 `json:"comments_num"`
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil).JSON(t, &app)
		if app.StarsNum != 0 || app.CommentsNum != 2 {
			t.Errorf("app counters after the fan left = %+v, want 0 stars, 2 comments", app)
		}
		var cm struct {
			StarsNum int64 `json:"stars_num"`
			Author   int64 `json:"author"`
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d", cid), nil).JSON(t, &cm)
		if cm.StarsNum != 0 {
			t.Errorf("comment stars_num = %d, want 0", cm.StarsNum)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d", bcid), nil).JSON(t, &cm)
		if cm.Author != 2 {
			t.Errorf("the deleted user's comment shows author %d, want 2", cm.Author)
		}
		var u struct {
			FollowersNum int64 `json:"followers_num"`
		}
		s.Want(200, tu.Anon, "GET", "/user/1", nil).JSON(t, &u)
		if u.FollowersNum != 0 {
			t.Errorf("followers_num = %d, want 0", u.FollowersNum)
		}
		// The admin can delete users too; the system user cannot be deleted.
		s.Want(410, tu.Admin, "DELETE", "/doge/user/1", nil)
		s.Want(403, tu.Admin, "DELETE", "/doge/user/0", nil)
		s.Want(404, tu.Admin, "DELETE", "/doge/user/1", nil)
	})
}

func TestFailedCredentialsAreRateLimited(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{Limiter: auth.NewLimiter(3, time.Minute)})
		u := s.NewUser("target")
		for i := range 3 {
			s.Want(401, tu.Anon, "POST", fmt.Sprintf("/validate/%d", u.UID), tu.Passhash(fmt.Sprint("guess", i)))
		}
		r := s.Want(429, tu.Anon, "POST", fmt.Sprintf("/validate/%d", u.UID), u.Passhash)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q, want seconds", ra)
		}
		// Guessing the admin token is limited too.
		for range 3 {
			s.Do(tu.As{Token: "guess-guess-guess-guess"}, "POST", "/doge/category/0", "x")
		}
		s.Want(429, tu.As{Token: "guess-guess-guess-guess"}, "POST", "/doge/category/0", "x")
	})
}
