package geekapk_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

type commentJSON struct {
	ID         int64  `json:"id"`
	Author     int64  `json:"author"`
	App        int64  `json:"app"`
	Reply      *int64 `json:"reply"`
	Content    string `json:"content"`
	StarsNum   int64  `json:"stars_num"`
	RepliesNum int64  `json:"replies_num"`
	UpdatedAt  *int64 `json:"updated_at"`
}

func getComment(t *testing.T, s *tu.Server, cid int64) commentJSON {
	t.Helper()
	var c commentJSON
	s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d", cid), nil).JSON(t, &c)
	return c
}

func notes(t *testing.T, s *tu.Server, u tu.As) []map[string]any {
	t.Helper()
	var ns []map[string]any
	s.Want(200, u, "GET", fmt.Sprintf("/user/%d/notifications?all", u.UID), nil).JSON(t, &ns)
	return ns
}

func TestCommentsRepliesMentionsAndStars(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob, carol := s.NewUser("alice"), s.NewUser("bob"), s.NewUser("carol")
		aid := s.Want(200, alice, "POST", "/app", map[string]any{"name": "App"}).Int(t)
		other := s.Want(200, alice, "POST", "/app", map[string]any{"name": "Other"}).Int(t)

		c1 := s.Want(200, alice, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{
			"content": "hi @bob and @bob again, mail me at x@carol.org, @alice is me, @nobody is nobody"}).Int(t)
		r1 := s.Want(200, bob, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply_comment": c1, "content": "thanks"}).Int(t)
		r2 := s.Want(200, alice, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply": r1, "content": "answer"}).Int(t)
		s.Want(400, bob, "POST", fmt.Sprintf("/app/%d/comment", other), map[string]any{"reply": c1, "content": "wrong app"})
		s.Want(400, bob, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"reply": 999, "content": "no parent"})
		s.Want(404, bob, "POST", "/app/999/comment", map[string]any{"content": "no app"})
		s.Want(403, bob, "POST", "/app/0/comment", map[string]any{"content": "app 0"})
		s.Want(400, bob, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": "  "})

		if c := getComment(t, s, c1); c.RepliesNum != 1 || c.App != aid || c.Reply != nil || c.UpdatedAt != nil {
			t.Errorf("c1 = %+v", c)
		}
		if a := getApp(t, s, aid); a.CommentsNum != 3 {
			t.Errorf("comments_num = %d, want 3", a.CommentsNum)
		}
		// bob: one mention (deduplicated) and alice's reply; alice: bob's reply only (never her own acts);
		// carol: nothing.
		bn := notes(t, s, bob)
		if len(bn) != 2 || bn[0]["type"] != 1.0 || bn[0]["data"] != float64(r2) || bn[1]["type"] != 2.0 || bn[1]["data"] != float64(c1) {
			t.Errorf("bob's notifications = %v", bn)
		}
		an := notes(t, s, alice)
		if len(an) != 1 || an[0]["type"] != 1.0 || an[0]["data"] != float64(r1) {
			t.Errorf("alice's notifications = %v", an)
		}
		if cn := notes(t, s, carol); len(cn) != 0 {
			t.Errorf("carol was notified of an e-mail address: %v", cn)
		}

		// Editing: owner only, stamps updated_at, mentions only the newly named.
		s.Want(403, bob, "PUT", fmt.Sprintf("/comment/%d", c1), "hijack")
		var edited commentJSON
		s.Want(200, alice, "PUT", fmt.Sprintf("/comment/%d", c1), "now @carol and @bob").JSON(t, &edited)
		if edited.Content != "now @carol and @bob" || edited.UpdatedAt == nil {
			t.Errorf("edited = %+v", edited)
		}
		if n := len(notes(t, s, bob)); n != 2 {
			t.Errorf("bob was mentioned twice for one comment: %d notifications", n)
		}
		if cn := notes(t, s, carol); len(cn) != 1 || cn[0]["type"] != 2.0 {
			t.Errorf("carol after edit = %v", cn)
		}

		// Explicit mention endpoint: only the comment's author, once.
		s.Want(403, bob, "POST", fmt.Sprintf("/notification/%d/%d", carol.UID, c1), nil)
		s.Want(409, alice, "POST", fmt.Sprintf("/notification/%d/%d", carol.UID, c1), nil)
		s.Want(404, alice, "POST", fmt.Sprintf("/notification/999/%d", c1), nil)
		s.Want(201, bob, "POST", fmt.Sprintf("/notification/%d/%d", carol.UID, r1), nil)

		// Comment stars notify the author, not oneself.
		if got := s.Want(200, bob, "PUT", fmt.Sprintf("/comment/%d/star", c1), nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("star comment = %s", got)
		}
		s.Want(200, alice, "PUT", fmt.Sprintf("/comment/%d/star", c1), nil)
		if c := getComment(t, s, c1); c.StarsNum != 2 {
			t.Errorf("comment stars_num = %d, want 2", c.StarsNum)
		}
		an = notes(t, s, alice)
		if an[0]["type"] != 4.0 || an[0]["data"] != float64(c1) || len(an) != 2 {
			t.Errorf("alice after stars = %v", an)
		}
		var ids []int64
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d/stars", c1), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{alice.UID, bob.UID}, ids); diff != "" {
			t.Errorf("comment stargazers (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/user/%d/cstars", bob.UID), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{c1}, ids); diff != "" {
			t.Errorf("cstars (-want +got):\n%s", diff)
		}
		if got := s.Want(200, bob, "GET", fmt.Sprintf("/comment/%d/star", c1), nil).Text(); strings.TrimSpace(got) != "true" {
			t.Errorf("comment star state = %s", got)
		}
		s.Want(404, bob, "PUT", "/comment/999/star", nil)

		// Lists.
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/comment/%d/replies", c1), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{r1}, ids); diff != "" {
			t.Errorf("replies (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/app/%d/comments?s=stars&m=dsc&max=1", aid), nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{c1}, ids); diff != "" {
			t.Errorf("comments by stars (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", fmt.Sprintf("/user/%d/comments", alice.UID), nil).JSON(t, &ids)
		if len(ids) != 2 || ids[0] < ids[1] {
			t.Errorf("user comments newest first = %v", ids)
		}
		s.Want(200, tu.Anon, "POST", "/comment/search", "THANKS").JSON(t, &ids)
		if diff := cmp.Diff([]int64{r1}, ids); diff != "" {
			t.Errorf("comment search (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "GET", "/comment/all?max=2", nil).JSON(t, &ids)
		if diff := cmp.Diff([]int64{c1, r1}, ids); diff != "" {
			t.Errorf("comment/all (-want +got):\n%s", diff)
		}
	})
}

func TestDeleteCommentSemantics(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		aid := s.Want(200, alice, "POST", "/app", map[string]any{"name": "App"}).Int(t)
		post := func(u tu.As, reply int64, text string) int64 {
			body := map[string]any{"content": text}
			if reply != 0 {
				body["reply"] = reply
			}
			return s.Want(200, u, "POST", fmt.Sprintf("/app/%d/comment", aid), body).Int(t)
		}
		// top ─ mid ─ leaf1, leaf2 ; mid2 under top too.
		top := post(alice, 0, "top")
		mid := post(bob, top, "mid")
		leaf1 := post(alice, mid, "leaf1")
		leaf2 := post(bob, leaf1, "leaf2")
		mid2 := post(alice, top, "mid2")
		lone := post(bob, 0, "lone")

		s.Want(403, alice, "DELETE", fmt.Sprintf("/comment/%d", mid), nil) // someone else's
		if c := getComment(t, s, mid); c.Content != "mid" {
			t.Fatalf("a refused delete changed the comment: %+v", c)
		}
		s.Want(410, bob, "DELETE", fmt.Sprintf("/comment/%d", lone), nil)
		s.Want(404, bob, "DELETE", fmt.Sprintf("/comment/%d", lone), nil)

		// mid has a subtree: it moves to app 0 under a holder by mid's author.
		s.Want(410, bob, "DELETE", fmt.Sprintf("/comment/%d", mid), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/comment/%d", mid), nil)
		var zero []int64
		s.Want(200, tu.Anon, "GET", "/app/0/comments", nil).JSON(t, &zero)
		if len(zero) != 3 {
			t.Fatalf("app 0 comments = %v, want holder + leaf1 + leaf2", zero)
		}
		holder := getComment(t, s, zero[2])
		want := commentJSON{ID: holder.ID, Author: bob.UID, App: 0, Content: fmt.Sprintf("Replies Deleted from %d (reply to %d)", aid, top),
			RepliesNum: 1}
		if diff := cmp.Diff(want, holder); diff != "" {
			t.Errorf("holder (-want +got):\n%s", diff)
		}
		if c := getComment(t, s, leaf1); c.App != 0 || c.Reply == nil || *c.Reply != holder.ID {
			t.Errorf("leaf1 = %+v, want app 0 under the holder", c)
		}
		if c := getComment(t, s, leaf2); c.App != 0 || c.Reply == nil || *c.Reply != leaf1 {
			t.Errorf("leaf2 = %+v, want app 0 still under leaf1", c)
		}
		if c := getComment(t, s, top); c.RepliesNum != 1 {
			t.Errorf("top replies_num = %d, want 1 (mid2)", c.RepliesNum)
		}
		if a := getApp(t, s, aid); a.CommentsNum != 2 {
			t.Errorf("app comments_num = %d, want 2 (top, mid2)", a.CommentsNum)
		}
		if a := getApp(t, s, 0); a.CommentsNum != 3 {
			t.Errorf("app 0 comments_num = %d, want 3", a.CommentsNum)
		}

		// A top-level comment with replies, recursively, by the admin: the subtree goes.
		s.Want(401, tu.Anon, "DELETE", fmt.Sprintf("/doge/comment/%d?recursive", top), nil)
		s.Want(403, bob, "DELETE", fmt.Sprintf("/doge/comment/%d?recursive", top), nil)
		s.Want(410, tu.Admin, "DELETE", fmt.Sprintf("/doge/comment/%d?recursive", top), nil)
		s.Want(404, tu.Anon, "GET", fmt.Sprintf("/comment/%d", mid2), nil)
		if a := getApp(t, s, aid); a.CommentsNum != 0 {
			t.Errorf("comments_num after recursive delete = %d, want 0", a.CommentsNum)
		}

		// A top-level comment with a reply, non-recursively: the holder names "null" for the missing parent.
		t2 := post(alice, 0, "t2")
		post(bob, t2, "r2")
		s.Want(410, alice, "DELETE", fmt.Sprintf("/comment/%d", t2), nil)
		s.Want(200, tu.Anon, "GET", "/app/0/comments?s=ctime&m=dsc&max=2", nil).JSON(t, &zero)
		h2 := getComment(t, s, zero[0])
		if h2.Content != fmt.Sprintf("Replies Deleted from %d (reply to null)", aid) || h2.Author != alice.UID {
			t.Errorf("holder of a top-level comment = %+v", h2)
		}
	})
}

func TestStoredTextIsVerbatim(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		u := s.NewUser("mallory")
		evil := `'; DROP TABLE apps; -- <script>alert("x")</script> %_\ "quoted" ` + "\u00e9\U0001F600"
		aid := s.Want(200, u, "POST", "/app", map[string]any{"name": "<b>bold</b>", "desc": evil}).Int(t)
		cid := s.Want(200, u, "POST", fmt.Sprintf("/app/%d/comment", aid), map[string]any{"content": evil}).Int(t)
		if a := getApp(t, s, aid); a.Desc != evil || a.Name != "<b>bold</b>" {
			t.Errorf("app text changed: %+v", a)
		}
		if c := getComment(t, s, cid); c.Content != evil {
			t.Errorf("comment text changed: %q", c.Content)
		}
		// LIKE metacharacters in a keyword match themselves only.
		var ids []int64
		s.Want(200, tu.Anon, "POST", "/comment/search", "%_\\").JSON(t, &ids)
		if diff := cmp.Diff([]int64{cid}, ids); diff != "" {
			t.Errorf("search for %%_\\ (-want +got):\n%s", diff)
		}
		s.Want(200, tu.Anon, "POST", "/app/search", "%").JSON(t, &ids)
		if len(ids) != 0 {
			t.Errorf("%% matched names without a %%: %v", ids)
		}
		s.Want(200, tu.Anon, "POST", "/app/search?s=desc", "DROP TABLE").JSON(t, &ids)
		if diff := cmp.Diff([]int64{aid}, ids); diff != "" {
			t.Errorf("search desc (-want +got):\n%s", diff)
		}
		// JSON responses escape HTML, so a browser never runs it from a JSON body.
		r := s.Want(http.StatusOK, tu.Anon, "GET", fmt.Sprintf("/comment/%d", cid), nil)
		if strings.Contains(r.Text(), "<script>") {
			t.Errorf("raw <script> in a JSON response: %s", r.Text())
		}
	})
}
