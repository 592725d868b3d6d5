package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/testutil"
)

// appPost sends a form and wants a status; for a 303 it returns the Location.
func appPost(t *testing.T, c *http.Client, u string, form url.Values, status int) (string, string) {
	t.Helper()
	res, body := post(t, c, u, form)
	if res.StatusCode != status {
		t.Fatalf("POST %s %v: status %d, want %d\n%s", u, form, res.StatusCode, status, body)
	}
	return res.Header.Get("Location"), body
}

var appAnchorRe = regexp.MustCompile(`#c(\d+)$`)

// appAnchorID is the comment id a redirect's #c<id> points at.
func appAnchorID(t *testing.T, loc string) int64 {
	t.Helper()
	m := appAnchorRe.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("redirect %q points at no comment", loc)
	}
	return mustInt(t, m[1])
}

func TestAppPage(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := communityUser(t, s, "ann")
		communityUser(t, s, "bob")
		aid := communityApp(t, s, ann, "Notes", "org.notes", "Take notes.\n\nAsk @bob for help.", 0)
		prev := "https://img.example/a.png;javascript:alert(1); http://img.example/b.png"
		if _, err := s.Hub.UpdateApp(context.Background(), ann, aid, hub.AppInput{Previews: hub.Some(&prev)}); err != nil {
			t.Fatal(err)
		}
		storeVersion(t, s, aid, 1, `{"compose":"services: {}","env":"","requirements":{"cpu":2,"memory":4,"disk":10},`+
			`"host_access":["mounts /var/run/docker.sock"],"fixed_ports":["service dns publishes host port 53/udp"],`+
			`"warnings":[".env line 3: A is defined twice"]}`)
		storeVersion(t, s, aid, 2, "")
		page := fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)
		install := fmt.Sprintf("/ui/apps/%d/install", aid)

		body := storeWant(t, browserClient(t), page, http.StatusOK)
		for _, want := range []string{
			"<h1>Notes</h1>", `<a class="mention" href="/ui/u/bob">@bob</a>`, "<p>Take notes.</p>",
			`<img src="https://img.example/a.png"`, `<img src="http://img.example/b.png"`,
			"2 cores", "4 GB", "10 GB", `id="host-access"`, "mounts /var/run/docker.sock", "For version v1",
			`id="fixed-ports"`, "service dns publishes host port 53/udp",
			"Changes of v2", "Changes of v1", `id="signin-to-comment"`, "Sign in to star",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the anonymous app page lacks %q", want)
			}
		}
		if strings.Contains(body, "javascript:") || strings.Contains(body, install) || strings.Contains(body, "A is defined twice") ||
			strings.Contains(body, `action="/ui/apps/`) || strings.Index(body, "Changes of v2") > strings.Index(body, "Changes of v1") {
			t.Errorf("the anonymous app page shows a javascript: preview, an install link, a form, or versions oldest first")
		}

		bob := signIn(t, s, "bob")
		body = storeWant(t, bob, page, http.StatusOK)
		follow := fmt.Sprintf(`<form method="post" action="/ui/users/%d/follow">`, ann.UID)
		if strings.Contains(body, install) || !strings.Contains(body, follow) ||
			!strings.Contains(body, fmt.Sprintf(`name="back" value="/ui/apps/%d"`, aid)) ||
			!strings.Contains(body, `id="star-app"`) || !strings.Contains(body, `id="comment-form"`) {
			t.Errorf("a user's app page: install link shown, or follow, star or comment form missing:\n%s", body)
		}
		if strings.Contains(storeWant(t, signIn(t, s, "ann"), page, http.StatusOK), follow) {
			t.Error("the author is offered to follow themselves")
		}
		admin := storeWant(t, signIn(t, s, "admin"), page, http.StatusOK)
		if !strings.Contains(admin, `href="`+install+`"`) || strings.Contains(admin, `id="comment-form"`) {
			t.Error("the admin's app page lacks the install link, or offers a comment form the admin cannot use")
		}
		if !strings.Contains(admin, `id="stack-warnings"`) || !strings.Contains(admin, ".env line 3: A is defined twice") {
			t.Error("the admin's app page does not show the template's warnings")
		}
		if strings.Contains(body, "A is defined twice") {
			t.Error("a user's app page shows the template's warnings, which are the admin's")
		}

		// The star toggles and the page shows the state.
		loc, _ := appPost(t, bob, page+"/star", nil, http.StatusSeeOther)
		if loc != fmt.Sprintf("/ui/apps/%d", aid) {
			t.Fatalf("star redirects to %q", loc)
		}
		body = storeWant(t, bob, page, http.StatusOK)
		if !strings.Contains(body, `>Unstar</button>`) || !strings.Contains(body, "★ 1 star<") || !strings.Contains(body, "Starred.") {
			t.Fatalf("after starring, the page lacks Unstar, the count or the flash")
		}
		appPost(t, bob, page+"/star", nil, http.StatusSeeOther)
		if body = storeWant(t, bob, page, http.StatusOK); !strings.Contains(body, `id="star-app" class="">Star</button>`) ||
			!strings.Contains(body, "★ 0 stars") {
			t.Fatal("after unstarring, the page still shows the star")
		}

		storeWant(t, bob, s.URL+"/ui/apps/99999", http.StatusNotFound)
		storeWant(t, bob, s.URL+"/ui/apps/x", http.StatusNotFound)
		storeWant(t, bob, page+"?cpage=0", http.StatusBadRequest)
	})
}

func TestAppComments(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := communityUser(t, s, "ann")
		bobUser := communityUser(t, s, "bob")
		aid := communityApp(t, s, ann, "Notes", "", "", 0)
		page := fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)
		annC, bob := signIn(t, s, "ann"), signIn(t, s, "bob")

		// Anonymous visitors are sent to sign in.
		loc, _ := appPost(t, browserClient(t), page+"/comments", url.Values{"content": {"hi"}}, http.StatusSeeOther)
		if loc != fmt.Sprintf("/ui/signin?next=%%2Fui%%2Fapps%%2F%d%%23comments", aid) {
			t.Fatalf("an anonymous comment redirects to %q", loc)
		}

		loc, _ = appPost(t, annC, page+"/comments", url.Values{"content": {"First! Hello @bob"}}, http.StatusSeeOther)
		cid := appAnchorID(t, loc)
		if loc != fmt.Sprintf("/ui/apps/%d#c%d", aid, cid) {
			t.Fatalf("a comment redirects to %q", loc)
		}
		body := storeWant(t, annC, page, http.StatusOK)
		if !strings.Contains(body, "Comment posted.") || !strings.Contains(body, fmt.Sprintf(`id="c%d"`, cid)) ||
			!strings.Contains(body, fmt.Sprintf(`href="/ui/users/%d">ann</a>`, ann.UID)) ||
			!strings.Contains(body, fmt.Sprintf(`action="/ui/comments/%d/edit"`, cid)) {
			t.Fatalf("the page lacks the flash, the comment, its author link or its edit form:\n%s", body)
		}

		// Bob replies; the reply nests under the comment.
		loc, _ = appPost(t, bob, page+"/comments", url.Values{"content": {"A reply"}, "reply": {fmt.Sprint(cid)}},
			http.StatusSeeOther)
		rid := appAnchorID(t, loc)
		if !strings.Contains(loc, fmt.Sprintf("?thread=%d#", cid)) {
			t.Fatalf("a reply redirects to %q", loc)
		}
		body = storeWant(t, bob, page, http.StatusOK)
		top := strings.Index(body, fmt.Sprintf(`id="c%d"`, cid))
		nested := strings.Index(body, `<ol class="replies"`)
		reply := strings.Index(body, fmt.Sprintf(`id="c%d"`, rid))
		if top < 0 || nested < top || reply < nested {
			t.Fatal("the reply is not nested under the comment")
		}
		// Bob sees no edit or delete form on Ann's comment, and none of his own forms on hers.
		if strings.Contains(body, fmt.Sprintf(`action="/ui/comments/%d/edit"`, cid)) ||
			!strings.Contains(body, fmt.Sprintf(`action="/ui/comments/%d/edit"`, rid)) {
			t.Fatal("edit forms are offered on the wrong comments")
		}

		// Server validation errors show next to the field that failed.
		_, body = appPost(t, annC, page+"/comments", url.Values{"content": {"  "}}, http.StatusBadRequest)
		if !strings.Contains(body, `id="comment-content-error"`) || !strings.Contains(body, `aria-describedby="comment-content-error"`) {
			t.Fatalf("an empty comment shows no field error:\n%s", body)
		}
		_, body = appPost(t, bob, page+"/comments", url.Values{"content": {""}, "reply": {fmt.Sprint(cid)}}, http.StatusBadRequest)
		if !strings.Contains(body, fmt.Sprintf(`id="reply-%d-error"`, cid)) {
			t.Fatalf("an empty reply shows no error by its form:\n%s", body)
		}
		_, body = appPost(t, annC, fmt.Sprintf("%s/ui/comments/%d/edit", s.URL, cid),
			url.Values{"content": {strings.Repeat("x", 7000)}}, http.StatusRequestEntityTooLarge)
		if !strings.Contains(body, fmt.Sprintf(`id="edit-%d-error"`, cid)) || !strings.Contains(body, "fewer than 7000") {
			t.Fatalf("a too long edit shows no error by its form:\n%s", body)
		}

		// Nobody edits or deletes another's comment.
		appPost(t, bob, fmt.Sprintf("%s/ui/comments/%d/edit", s.URL, cid), url.Values{"content": {"mine now"}}, http.StatusForbidden)
		appPost(t, bob, fmt.Sprintf("%s/ui/comments/%d/delete", s.URL, cid), nil, http.StatusForbidden)

		// Ann edits hers, back to where the form was.
		loc, _ = appPost(t, annC, fmt.Sprintf("%s/ui/comments/%d/edit", s.URL, cid),
			url.Values{"content": {"Edited <b>text</b>"}, "back": {fmt.Sprintf("/ui/apps/%d?cpage=1", aid)}}, http.StatusSeeOther)
		if loc != fmt.Sprintf("/ui/apps/%d?cpage=1#c%d", aid, cid) {
			t.Fatalf("an edit redirects to %q", loc)
		}
		body = storeWant(t, annC, page, http.StatusOK)
		if !strings.Contains(body, "Edited &lt;b&gt;text&lt;/b&gt;") || !strings.Contains(body, "(edited)") {
			t.Fatal("the edit does not show")
		}

		// Bob stars Ann's comment, and unstars it.
		starURL := fmt.Sprintf("%s/ui/comments/%d/star", s.URL, cid)
		loc, _ = appPost(t, bob, starURL, url.Values{"back": {"https://evil.example/"}}, http.StatusSeeOther)
		if loc != fmt.Sprintf("/ui/apps/%d#c%d", aid, cid) {
			t.Fatalf("a comment star redirects to %q", loc)
		}
		body = storeWant(t, bob, page, http.StatusOK)
		_, mine, _ := strings.Cut(body, fmt.Sprintf(`id="c%d"`, cid))
		if !strings.Contains(mine, "★ 1 star<") || !strings.Contains(mine, "Unstar<span") {
			t.Fatal("the starred comment shows no star")
		}
		appPost(t, bob, starURL, nil, http.StatusSeeOther)
		body = storeWant(t, bob, page, http.StatusOK)
		if _, mine, _ = strings.Cut(body, fmt.Sprintf(`id="c%d"`, cid)); !strings.Contains(mine, "★ 0 stars") {
			t.Fatal("the unstarred comment still shows a star")
		}
		if _, err := s.Hub.ToggleCommentStar(context.Background(), bobUser, rid); err != nil {
			t.Fatal(err)
		}

		// Ann deletes hers; Bob's reply moves to the archive of deleted comments (app 0).
		body = storeWant(t, annC, page, http.StatusOK)
		if !strings.Contains(body, fmt.Sprintf(`action="/ui/comments/%d/delete" data-confirm=`, cid)) {
			t.Fatal("the delete form asks no confirmation")
		}
		loc, _ = appPost(t, annC, fmt.Sprintf("%s/ui/comments/%d/delete", s.URL, cid), nil, http.StatusSeeOther)
		if loc != fmt.Sprintf("/ui/apps/%d#comments", aid) {
			t.Fatalf("a delete redirects to %q", loc)
		}
		body = storeWant(t, annC, page, http.StatusOK)
		if strings.Contains(body, fmt.Sprintf(`id="c%d"`, cid)) || strings.Contains(body, fmt.Sprintf(`id="c%d"`, rid)) ||
			!strings.Contains(body, "Comment deleted.") {
			t.Fatal("the deleted comment or its reply is still on the page")
		}
		if c, err := s.Hub.Comment(context.Background(), rid); err != nil || c.App != hub.DeletedCommentsApp {
			t.Fatalf("the reply did not move to app 0: %+v, %v", c, err)
		}
	})
}

// TestAppThreadBounds checks the thread's depth and breadth bounds and the link to see the rest.
func TestAppThreadBounds(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ctx := context.Background()
		ann := communityUser(t, s, "ann")
		aid := communityApp(t, s, ann, "Notes", "", "", 0)
		comment := func(content string, reply int64) int64 {
			in := hub.CommentInput{Content: hub.Some(content)}
			if reply != 0 {
				in.Reply = hub.Some(&reply)
			}
			id, err := s.Hub.CreateComment(ctx, ann, aid, in)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		// A chain five deep: the page shows four levels.
		chain := []int64{comment("level 1", 0)}
		for i := 2; i <= 5; i++ {
			chain = append(chain, comment(fmt.Sprintf("level %d", i), chain[len(chain)-1]))
		}
		// Seven replies to one comment: the page shows five.
		busy := comment("busy", 0)
		for i := range 7 {
			comment(fmt.Sprintf("answer %d", i), busy)
		}
		page := fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)
		body := storeWant(t, browserClient(t), page, http.StatusOK)
		if !strings.Contains(body, "level 4") || strings.Contains(body, "level 5") ||
			!strings.Contains(body, fmt.Sprintf(`href="/ui/apps/%d?thread=%d#c%d">See all 1 reply</a>`, aid, chain[3], chain[3])) {
			t.Error("the chain is not cut after four levels with a link to the rest")
		}
		if !strings.Contains(body, "answer 4") || strings.Contains(body, "answer 5") ||
			!strings.Contains(body, fmt.Sprintf(`?thread=%d#c%d">See all 7 replies</a>`, busy, busy)) {
			t.Error("the busy comment does not show five replies and a link to all seven")
		}
		body = storeWant(t, browserClient(t), fmt.Sprintf("%s?thread=%d", page, busy), http.StatusOK)
		if !strings.Contains(body, "answer 6") || strings.Contains(body, "level 1") {
			t.Error("the busy comment's thread does not show all its replies, or shows other comments")
		}
		body = storeWant(t, browserClient(t), fmt.Sprintf("%s?thread=%d", page, chain[3]), http.StatusOK)
		if !strings.Contains(body, "level 5") || !strings.Contains(body, fmt.Sprintf(`?thread=%d#c%d">Up to`, chain[2], chain[2])) {
			t.Error("the deep thread does not show the fifth level or a link up")
		}
		other := communityApp(t, s, ann, "Other", "", "", 0)
		storeWant(t, browserClient(t), fmt.Sprintf("%s/ui/apps/%d?thread=%d", s.URL, other, busy), http.StatusNotFound)

		// Top-level comments page by twenty, newest first.
		for i := range 20 {
			comment(fmt.Sprintf("filler %d", i), 0)
		}
		body = storeWant(t, browserClient(t), page, http.StatusOK)
		if strings.Contains(body, "busy") || !strings.Contains(body, fmt.Sprintf(`href="/ui/apps/%d?cpage=2#comments"`, aid)) {
			t.Error("page 1 of the comments shows too many, or no link to page 2")
		}
		body = storeWant(t, browserClient(t), page+"?cpage=2", http.StatusOK)
		if !strings.Contains(body, "busy") || !strings.Contains(body, "level 1") || strings.Contains(body, "filler") {
			t.Error("page 2 of the comments is wrong")
		}
	})
}

const appXSSName = `<script>alert(1)</script>`
const appXSSDesc = `<img src=x onerror=alert(1)>`

func TestAppEscapesUserText(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := communityUser(t, s, "ann")
		aid := communityApp(t, s, ann, appXSSName, "", appXSSDesc+" "+appXSSName, 0)
		if _, err := s.Hub.CreateComment(context.Background(), ann, aid,
			hub.CommentInput{Content: hub.Some(appXSSName + appXSSDesc)}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{s.URL + "/", fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)} {
			body := storeWant(t, browserClient(t), u, http.StatusOK)
			if strings.Contains(body, appXSSName) || strings.Contains(body, appXSSDesc) || strings.Contains(body, "<img src=x") {
				t.Errorf("%s carries user text unescaped", u)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
				t.Errorf("%s does not show the user text escaped", u)
			}
		}
	})
}

// TestAppBrowserComment posts a hostile comment through the page's form in a real browser: it shows as text and
// no script runs.
func TestAppBrowserComment(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := communityUser(t, s, "ann")
		aid := communityApp(t, s, ann, appXSSName, "", appXSSDesc, 0)
		ctx := testutil.Browser(t, 375, 800)
		var dialogs atomic.Int32
		if err := chromedp.Listen(ctx, func(ev any) {
			if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
				dialogs.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		testutil.SignInUser(t, ctx, s.URL, "ann", "password of ann")
		hostile := appXSSName + " " + appXSSDesc
		testutil.Do(t, ctx, "post a comment through the form",
			chromedp.EmulateViewport(375, 800), // a headless window is at least 500 px wide
			chromedp.Navigate(fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)),
			chromedp.WaitVisible(chromedp.ID("comment-content")),
			chromedp.SendKeys(chromedp.ID("comment-content"), hostile),
			chromedp.Click(chromedp.CSS(`#comment-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(".comment-text")),
		)
		text := testutil.Get(t, ctx, "read the comment", chromedp.Text(chromedp.CSS(".comment-text")))
		title := testutil.Get(t, ctx, "read the title", chromedp.Text(chromedp.CSS("h1")))
		flag := testutil.Get(t, ctx, "look for injected elements",
			chromedp.Evaluate[int](`document.querySelectorAll('main script, main img[src="x"]').length`))
		if strings.TrimSpace(text) != hostile || title != appXSSName || flag != 0 {
			t.Fatalf("the comment shows as %q and the title as %q (%d injected elements)", text, title, flag)
		}
		// Narrow screens: the first comment form (edit) opens from its summary, its textarea has a label, and
		// nothing scrolls sideways.
		testutil.Do(t, ctx, "open the edit form", chromedp.Click(chromedp.CSS(".comment-form summary")))
		label := testutil.Get(t, ctx, "read the edit label", chromedp.Evaluate[string](
			`(function(){const t=document.querySelector('.comment-form[open] textarea');`+
				`return t && t.labels.length ? t.labels[0].textContent : ''})()`))
		wide := testutil.Get(t, ctx, "measure the page", chromedp.Evaluate[bool](
			`window.innerWidth !== 375 || document.documentElement.scrollWidth > window.innerWidth`))
		if label == "" || wide {
			t.Errorf("the edit form has no labelled textarea (%q), or the page scrolls sideways at 375 px (%v)", label, wide)
		}
		if n := dialogs.Load(); n != 0 {
			t.Fatalf("%d JavaScript dialogs opened", n)
		}
	})
}
