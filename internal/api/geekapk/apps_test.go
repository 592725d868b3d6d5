package geekapk_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

type appJSON struct {
	ID          int64   `json:"id"`
	Author      int64   `json:"author"`
	Category    *int64  `json:"category"`
	Package     *string `json:"package"`
	Name        string  `json:"name"`
	Desc        string  `json:"desc"`
	Visual      *string `json:"visual"`
	Permissions *string `json:"permissions"`
	UpdatedAt   int64   `json:"updated_at"`
	StarsNum    int64   `json:"stars_num"`
	CommentsNum int64   `json:"comments_num"`
}

func getApp(t *testing.T, s *tu.Server, aid int64) appJSON {
	t.Helper()
	var a appJSON
	s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil).JSON(t, &a)
	return a
}

func TestCategories(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		apps := s.Want(200, tu.Admin, "POST", "/doge/category/0", "Apps").Int(t)
		tools := s.Want(200, tu.Admin, "POST", fmt.Sprintf("/doge/category/%d", apps), "Tools").Int(t)
		editors := s.Want(200, tu.Admin, "POST", fmt.Sprintf("/doge/category/%d", tools), "Editors").Int(t)
		s.Want(404, tu.Admin, "POST", "/doge/category/999", "Orphan")
		s.Want(400, tu.Admin, "POST", "/doge/category/0", "   ")

		var all []map[string]any
		s.Want(200, tu.Anon, "GET", "/category/all", nil).JSON(t, &all)
		want := []map[string]any{
			{"id": 1.0, "name": "Apps", "parent": nil},
			{"id": 2.0, "name": "Tools", "parent": 1.0},
			{"id": 3.0, "name": "Editors", "parent": 2.0},
		}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("categories (-want +got):\n%s", diff)
		}
		var c map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/category/%d/parent", editors), nil).JSON(t, &c)
		if c["id"] != float64(tools) {
			t.Errorf("parent of editors = %v", c)
		}
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/category/%d/parent", apps), nil)

		c = nil
		s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/doge/category/%d", editors), "Text editors").JSON(t, &c)
		if diff := cmp.Diff(map[string]any{"tid": float64(editors), "name": "Text editors", "parent": float64(tools)}, c); diff != "" {
			t.Errorf("rename (-want +got):\n%s", diff)
		}
		// Cycles are refused and change nothing; 0 moves to the top.
		s.Want(400, tu.Admin, "PUT", fmt.Sprintf("/doge/category/%d/parent", apps), fmt.Sprint(editors))
		s.Want(400, tu.Admin, "PUT", fmt.Sprintf("/doge/category/%d/parent", apps), fmt.Sprint(apps))
		s.Want(400, tu.Admin, "PUT", fmt.Sprintf("/doge/category/%d/parent", apps), "x")
		s.Want(200, tu.Admin, "PUT", fmt.Sprintf("/doge/category/%d/parent", editors), "0").JSON(t, &c)
		if c["parent"] != nil {
			t.Errorf("moved to top, parent = %v", c["parent"])
		}

		// Apps in categories; a used category cannot be deleted.
		u := s.NewUser("dev")
		a1 := s.Want(200, u, "POST", "/app", map[string]any{"name": "Zed", "category": tools, "size": 5}).Int(t)
		a2 := s.Want(200, u, "POST", "/app", map[string]any{"name": "Vim", "category": tools, "size": 9}).Int(t)
		s.Want(400, u, "POST", "/app", map[string]any{"name": "Ghost", "category": 999})
		var ids []int64
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/category/%d/apps?s=size&m=dsc", tools), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{a2, a1}, ids); diff != "" {
			t.Errorf("category apps by size dsc (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", fmt.Sprintf("/category/%d/search?s=name", tools), "zE").JSON(t, &ids)
		if diff := cmp.Diff([]int64{a1}, ids); diff != "" {
			t.Errorf("category search (-want +got):\n%s", diff)
		}
		s.Want(409, tu.Admin, "DELETE", fmt.Sprintf("/doge/category/%d", tools), nil)
		s.Want(409, tu.Admin, "DELETE", fmt.Sprintf("/doge/category/%d", apps), nil) // has a child
		s.Want(410, tu.Admin, "DELETE", fmt.Sprintf("/doge/category/%d", editors), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/category/%d", editors), nil)
	})
}

func TestAppsStarsAndUpdates(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		owner, other := s.NewUser("owner"), s.NewUser("other")
		// The author is the caller, whatever the body says; column and JSON names both work.
		aid := s.Want(200, owner, "POST", "/app", map[string]any{
			"author": 99, "app_name": "Pure Writer", "package_name": "com.drakeet.purewriter", "desc": "Write",
			"visualizer": "news", "permissions": "a\nb", "stars_num": 500,
		}).Int(t)
		a := getApp(t, s, aid)
		if a.Author != owner.UID || a.Name != "Pure Writer" || *a.Package != "com.drakeet.purewriter" ||
			*a.Visual != "news" || *a.Permissions != "a\nb" || a.StarsNum != 0 {
			t.Errorf("app = %+v", a)
		}
		var short map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d?short", aid), nil).JSON(t, &short)
		if diff := cmp.Diff(map[string]any{"id": float64(aid), "name": "Pure Writer", "package": "com.drakeet.purewriter",
			"icon_url": nil, "stars_num": 0.0}, short); diff != "" {
			t.Errorf("short app (-want +got):\n%s", diff)
		}
		s.Want(409, other, "POST", "/app", map[string]any{"name": "Copy", "package": "com.drakeet.purewriter"})
		a2 := s.Want(200, other, "POST", "/app", map[string]any{"name": "Second"}).Int(t)

		// Only the owner edits; counters and times in the body are ignored.
		s.Want(403, other, "PUT", fmt.Sprintf("/app/%d", aid), map[string]any{"name": "Hijack"})
		s.Want(200, owner, "PUT", fmt.Sprintf("/app/%d", aid), map[string]any{"alias": "PW", "stars_num": 7, "id": 3})
		if a := getApp(t, s, aid); a.Name != "Pure Writer" || a.StarsNum != 0 || a.ID != aid {
			t.Errorf("after edits app = %+v", a)
		}

		// Stars: both paths toggle; 404 on a missing app leaves nothing behind.
		s.Want(404, other, "PUT", "/app/999/star", nil)
		if got := s.Want(200, other, "PUT", fmt.Sprintf("/app/%d/star", aid), nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("star = %s", got)
		}
		s.Want(200, owner, "PUT", fmt.Sprintf("/app/%d/stars", aid), nil)
		if a := getApp(t, s, aid); a.StarsNum != 2 {
			t.Errorf("stars_num = %d, want 2", a.StarsNum)
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/stars", aid), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{owner.UID, other.UID}, ids); diff != "" {
			t.Errorf("stargazers (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/user/%d/stars", other.UID), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid}, ids); diff != "" {
			t.Errorf("user stars (-want +got):\n%s", diff)
		}
		if got := s.Want(200, other, "GET", fmt.Sprintf("/app/%d/star", aid), nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("star state = %s", got)
		}
		s.Want(200, other, "PUT", fmt.Sprintf("/app/%d/star", aid), nil)
		if a := getApp(t, s, aid); a.StarsNum != 1 {
			t.Errorf("stars_num after unstar = %d, want 1", a.StarsNum)
		}

		// Updates: 201, listed by reversion, counted, touch updated_at, editable and deletable by the owner only.
		before := getApp(t, s, aid).UpdatedAt
		s.Want(403, other, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "1.0"})
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "1.0", "rev": 10,
			"updates": "first", "install_url": "coolapk:x", "api_min": 17})
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"version_name": "1.1", "reversion": 11})
		s.Want(409, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "dup", "rev": 11})
		var ups []map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", aid), nil).JSON(t, &ups)
		if len(ups) != 2 || ups[0]["rev"] != 10.0 || ups[0]["ver"] != "1.0" || ups[0]["api_min"] != 17.0 ||
			ups[0]["api_target"] != nil || ups[1]["rev"] != 11.0 || ups[0]["install_url"] != "coolapk:x" {
			t.Errorf("updates = %v", ups)
		}
		if n := s.Want(200, tu.Anon, "GET", fmt.Sprintf("/updates/%d", aid), nil).Int(t); n != 2 {
			t.Errorf("reversions = %d, want 2", n)
		}
		if a := getApp(t, s, aid); a.UpdatedAt < before {
			t.Errorf("updated_at went back: %d < %d", a.UpdatedAt, before)
		}
		s.Want(200, tu.Anon, "GET", "/app/all", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid, a2}, ids); diff != "" {
			t.Errorf("apps by updated_at desc (-want +got):\n%s", diff)
		}
		s.Want(403, other, "PUT", fmt.Sprintf("/updates/%d/10", aid), map[string]any{"ver": "x"})
		var up map[string]any
		s.Want(200, owner, "PUT", fmt.Sprintf("/updates/%d/10", aid), map[string]any{"ver": "1.0.1", "rev": 99, "api_target": 24}).JSON(t, &up)
		if up["ver"] != "1.0.1" || up["rev"] != 10.0 || up["api_target"] != 24.0 || up["api_min"] != 17.0 {
			t.Errorf("edited update = %v", up)
		}
		s.Want(404, owner, "PUT", fmt.Sprintf("/updates/%d/77", aid), map[string]any{"ver": "x"})
		s.Want(410, owner, "DELETE", fmt.Sprintf("/updates/%d/11", aid), nil)
		if n := s.Want(200, tu.Anon, "GET", fmt.Sprintf("/updates/%d", aid), nil).Int(t); n != 1 {
			t.Errorf("reversions after delete = %d, want 1", n)
		}

		// Search by name, package and description.
		s.Want(200, tu.Anon, "POST", "/app/search", "writer").JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid}, ids); diff != "" {
			t.Errorf("search name (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/app/search?s=pkg", "DRAKEET").JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid}, ids); diff != "" {
			t.Errorf("search pkg (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/app/search?s=desc", "nothing like it").JSON(t, &ids)
		if len(ids) != 0 {
			t.Errorf("search with no match = %v", ids)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/user/%d/apps", owner.UID), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid}, ids); diff != "" {
			t.Errorf("user apps (-want +got):\n%s", diff)
		}

		// Timeline types 5 (app), 8 (star), 6 (update) for the owner, newest first.
		var lines []map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/timeline/%d", owner.UID), nil).JSON(t, &lines)
		var types []float64
		for _, l := range lines {
			types = append(types, l["t"].(float64))
		}
		if diff := cmp.Diff([]float64{6, 6, 8, 5}, types); diff != "" {
			t.Errorf("owner timeline types (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/timeline/%d,%d?max=2", owner.UID, other.UID), nil).JSON(t, &lines)
		if len(lines) != 2 {
			t.Errorf("timeline max=2 = %d entries", len(lines))
		}
		s.Want(400, tu.Anon, "GET", "/timeline/1,x", nil)
		s.Want(200, tu.Anon, "GET", "/timeline", nil).JSON(t, &lines)
		if len(lines) != 6 { // owner: app, star, 2 updates; other: app, star
			t.Errorf("site timeline = %d entries, want 6", len(lines))
		}
	})
}

func TestDeleteAppMovesCommentsToAppZero(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		owner, fan := s.NewUser("owner"), s.NewUser("fan")
		aid := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Doomed"}).Int(t)
		top := s.Want(200, fan, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "top"}).Int(t)
		reply := s.Want(200, owner, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply": top, "content": "re"}).Int(t)
		top2 := s.Want(200, fan, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "top2"}).Int(t)
		s.Want(201, owner, "POST", fmt.Sprintf("/app/%d/update", aid), map[string]any{"ver": "1"})
		s.Want(200, fan, "PUT", fmt.Sprintf("/app/%d/star", aid), nil)

		s.Want(403, fan, "DELETE", fmt.Sprintf("/app/%d", aid), nil)
		s.Want(410, owner, "DELETE", fmt.Sprintf("/app/%d", aid), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/app/%d", aid), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/app/%d/updates", aid), nil)

		zero := getApp(t, s, 0)
		if zero.CommentsNum != 4 {
			t.Errorf("app 0 comments_num = %d, want 4 (3 moved + the holder)", zero.CommentsNum)
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", "/app/0/comments", nil).JSON(t, &ids)
		if len(ids) != 4 {
			t.Fatalf("app 0 comments = %v", ids)
		}
		holder := ids[3]
		var h map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d", holder), nil).JSON(t, &h)
		if h["content"] != fmt.Sprintf("Comments Deleted from %d", aid) || h["author"] != float64(owner.UID) ||
			h["reply"] != nil || h["app"] != 0.0 || h["replies_num"] != 2.0 {
			t.Errorf("holder = %v", h)
		}
		for cid, wantReply := range map[int64]float64{top: float64(holder), top2: float64(holder), reply: float64(top)} {
			var c map[string]any
			s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d", cid), nil).JSON(t, &c)
			if c["app"] != 0.0 || c["reply"] != wantReply {
				t.Errorf("comment %d = %v, want app 0 reply %v", cid, c, wantReply)
			}
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/user/%d/stars", fan.UID), nil).JSON(t, &ids)
		if len(ids) != 0 {
			t.Errorf("stars of a deleted app remain: %v", ids)
		}
		var lines []map[string]any
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/timeline/%d?max=1", owner.UID), nil).JSON(t, &lines)
		if len(lines) != 1 || lines[0]["t"] != 7.0 || lines[0]["d"] != float64(aid) {
			t.Errorf("timeline after delete = %v", lines)
		}

		// Recursive (by the admin): comments go too. App 0 itself cannot be deleted.
		aid2 := s.Want(200, owner, "POST", "/app", map[string]any{"name": "Doomed too"}).Int(t)
		c := s.Want(200, fan, "POST", fmt.Sprintf("/app/%d/comment", aid2), map[string]any{"content": "bye"}).Int(t)
		s.Want(410, tu.Admin, "DELETE", fmt.Sprintf("/doge/app/%d?recursive", aid2), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/comment/%d", c), nil)
		if got := getApp(t, s, 0).CommentsNum; got != 4 {
			t.Errorf("app 0 comments_num after recursive delete = %d, want 4", got)
		}
		s.Want(403, tu.Admin, "DELETE", "/doge/app/0", nil)
		s.Want(401, owner, "DELETE", "/doge/app/1", nil, "Authorization", "Bearer wrong-token-wrong-token")
	})
}
