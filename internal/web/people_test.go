package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// pplResp is a page as a test reads it.
type pplResp struct {
	Status   int
	Location string
	Body     string
}

// pplDo sends a GET (form nil) or a form POST.
func pplDo(t *testing.T, c *http.Client, method, u string, form url.Values) pplResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pplResp{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(b)}
}

func pplGet(t *testing.T, c *http.Client, u string) pplResp {
	t.Helper()
	return pplDo(t, c, "GET", u, nil)
}

func pplPost(t *testing.T, c *http.Client, u string, form url.Values) pplResp {
	t.Helper()
	return pplDo(t, c, "POST", u, form)
}

// pplWant fails the test unless the answer has status want.
func pplWant(t *testing.T, r pplResp, want int, what string) pplResp {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d (location %q)\n%s", what, r.Status, want, r.Location, r.Body)
	}
	return r
}

var (
	pplTagRe   = regexp.MustCompile(`<[^>]*>`)
	pplSpaceRe = regexp.MustCompile(`\s+`)
)

// pplText is a page's visible text: tags dropped, entities decoded, white space collapsed.
func pplText(body string) string {
	return strings.TrimSpace(pplSpaceRe.ReplaceAllString(html.UnescapeString(pplTagRe.ReplaceAllString(body, " ")), " "))
}

// pplBetween is the part of s from the first from up to the next to (to the end when to is missing).
func pplBetween(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in page:\n%s", from, s)
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		s = s[:j]
	}
	return s
}

// pplApp publishes an app through the GeekApk API as user as and returns its id.
func pplApp(t *testing.T, s *testutil.Server, as testutil.As, name string) int64 {
	t.Helper()
	return s.Want(http.StatusOK, as, "POST", "/app", map[string]any{"name": name}).Int(t)
}

// pplComment comments on an app through the API (reply 0: a top-level comment) and returns the comment's id.
func pplComment(t *testing.T, s *testutil.Server, as testutil.As, aid, reply int64, content string) int64 {
	t.Helper()
	body := map[string]any{"content": content}
	if reply != 0 {
		body["reply"] = reply
	}
	return s.Want(http.StatusOK, as, "POST", fmt.Sprintf("/app/%d/comment", aid), body).Int(t)
}

func TestPeopleProfile(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		foo := pplApp(t, s, alice, "Foo")
		s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/app/%d/star", foo), nil)
		anon := browserClient(t)

		page := pplWant(t, pplGet(t, anon, fmt.Sprintf("%s/ui/users/%d", s.URL, alice.UID)), 200, "alice's profile").Body
		apps := pplBetween(t, page, `id="people-apps-h"`, `id="people-stars-h"`)
		if !strings.Contains(apps, fmt.Sprintf(`href="/ui/apps/%d">Foo</a>`, foo)) {
			t.Errorf("alice's apps lack Foo:\n%s", apps)
		}
		if tl := pplText(pplBetween(t, page, `id="people-timeline-h"`, "</section>")); !strings.Contains(tl, "alice published Foo") {
			t.Errorf("alice's timeline = %q, want it to say alice published Foo", tl)
		}
		if !strings.Contains(page, "@alice") || !strings.Contains(page, "0 followers") {
			t.Errorf("alice's profile lacks her simple name or follower count:\n%s", page)
		}
		if !strings.Contains(page, "Sign in to follow") {
			t.Error("an anonymous visitor is not offered to sign in to follow")
		}

		page = pplWant(t, pplGet(t, anon, fmt.Sprintf("%s/ui/users/%d", s.URL, bob.UID)), 200, "bob's profile").Body
		stars := pplBetween(t, page, `id="people-stars-h"`, `id="people-timeline-h"`)
		if !strings.Contains(stars, fmt.Sprintf(`href="/ui/apps/%d">Foo</a>`, foo)) {
			t.Errorf("bob's starred apps lack Foo:\n%s", stars)
		}
		if apps := pplBetween(t, page, `id="people-apps-h"`, `id="people-stars-h"`); strings.Contains(apps, "Foo") {
			t.Errorf("bob's own apps list alice's Foo:\n%s", apps)
		}
		if tl := pplText(pplBetween(t, page, `id="people-timeline-h"`, "</section>")); !strings.Contains(tl, "bob starred Foo") {
			t.Errorf("bob's timeline = %q, want bob starred Foo", tl)
		}

		pplWant(t, pplGet(t, anon, s.URL+"/ui/users/999999"), http.StatusNotFound, "unknown user")
		pplWant(t, pplGet(t, anon, s.URL+"/ui/users/abc"), http.StatusNotFound, "non-numeric user")
	})
}

func TestPeopleFollowAndMentionLinks(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		alice := s.NewUser("alice")
		s.NewUser("bob")
		bob := signIn(t, s, "bob")
		profile := fmt.Sprintf("%s/ui/users/%d", s.URL, alice.UID)
		follow := profile + "/follow"

		page := pplWant(t, pplGet(t, bob, profile), 200, "profile").Body
		if !strings.Contains(page, `action="/ui/users/`+strconv.FormatInt(alice.UID, 10)+`/follow"`) || !strings.Contains(page, ">Follow<") {
			t.Fatalf("bob is not offered a Follow button:\n%s", page)
		}
		r := pplWant(t, pplPost(t, bob, follow, url.Values{"back": {"/ui/apps/7#c3"}}), http.StatusSeeOther, "follow")
		if r.Location != "/ui/apps/7#c3" {
			t.Errorf("follow with back went to %q, want /ui/apps/7#c3", r.Location)
		}
		page = pplGet(t, bob, profile).Body
		if !strings.Contains(page, ">Unfollow<") || !strings.Contains(page, "1 follower<") {
			t.Errorf("after following, the profile shows no Unfollow button or 1 follower:\n%s", page)
		}

		// back may only name a path on this site; anything else returns to the profile.
		for i, back := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`} {
			r := pplWant(t, pplPost(t, bob, follow, url.Values{"back": {back}}), http.StatusSeeOther, "follow "+back)
			if want := fmt.Sprintf("/ui/users/%d", alice.UID); r.Location != want {
				t.Errorf("back %q redirected to %q, want %q", back, r.Location, want)
			}
			want := i%2 == 0 // the first post unfollows, the next follows again, ...
			if got := strings.Contains(pplGet(t, bob, profile).Body, ">Follow<"); got != want {
				t.Errorf("after toggle %d the Follow button shown = %v, want %v", i+1, got, want)
			}
		}

		// Following oneself is refused by the service.
		self := signIn(t, s, "alice")
		pplWant(t, pplPost(t, self, follow, url.Values{}), http.StatusBadRequest, "follow oneself")
		// Anonymous visitors cannot follow.
		pplWant(t, pplPost(t, browserClient(t), follow, url.Values{}), http.StatusUnauthorized, "anonymous follow")

		// @mention links: /ui/u/{name} leads to the profile.
		r = pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/u/alice"), http.StatusSeeOther, "mention link")
		if want := fmt.Sprintf("/ui/users/%d", alice.UID); r.Location != want {
			t.Errorf("/ui/u/alice redirected to %q, want %q", r.Location, want)
		}
		r = pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/u/nobody"), http.StatusNotFound, "unknown name")
		if !strings.Contains(r.Body, "no user is called nobody") {
			t.Errorf("the 404 page does not say who is missing:\n%s", r.Body)
		}
	})
}

func TestPeopleTimeline(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		alice, bob, carol, dave, erin := s.NewUser("alice"), s.NewUser("bob"), s.NewUser("carol"), s.NewUser("dave"),
			s.NewUser("erin")
		foo := pplApp(t, s, alice, "Foo <i>")
		cid := pplComment(t, s, bob, foo, 0, "nice")
		s.Want(http.StatusOK, carol, "PUT", fmt.Sprintf("/app/%d/star", foo), nil)
		s.Want(http.StatusOK, dave, "PUT", fmt.Sprintf("/user/%d/follow", erin.UID), nil)

		page := pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/timeline"), 200, "timeline").Body
		text := pplText(page)
		for _, want := range []string{"dave followed erin", "carol starred Foo <i>", "bob commented on Foo <i>",
			"alice published Foo <i>"} {
			if !strings.Contains(text, want) {
				t.Errorf("timeline lacks %q:\n%s", want, text)
			}
		}
		if strings.Index(text, "dave followed erin") > strings.Index(text, "alice published") {
			t.Error("the timeline is not newest first")
		}
		if !strings.Contains(page, fmt.Sprintf(`href="/ui/apps/%d#c%d"`, foo, cid)) {
			t.Error("the comment line does not link to the comment")
		}
		if strings.Contains(page, "Foo <i>") || !strings.Contains(page, "Foo &lt;i&gt;") {
			t.Error("the app's name is not escaped")
		}
		if strings.Contains(page, `rel="next"`) {
			t.Error("a short timeline offers an older page")
		}

		// Paging: 31 more entries push the oldest onto the second page.
		err := s.Store.Tx(context.Background(), func(q *store.Q) error {
			for i := range 31 {
				line := store.Timeline{UID: alice.UID, Type: store.LineStarApp, Data: foo, CreatedAt: 4e12 + int64(i)}
				if err := q.AddTimeline(context.Background(), line); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		page = pplGet(t, browserClient(t), s.URL+"/ui/timeline").Body
		if !strings.Contains(page, `href="?page=1" rel="next"`) || strings.Contains(pplText(page), "dave followed erin") {
			t.Errorf("page 1 of a long timeline has no Older link or shows old entries:\n%s", pplText(page))
		}
		page = pplGet(t, browserClient(t), s.URL+"/ui/timeline?page=1").Body
		if !strings.Contains(pplText(page), "alice published Foo") || !strings.Contains(page, `rel="prev"`) {
			t.Errorf("page 2 lacks the oldest entries or the Newer link:\n%s", pplText(page))
		}
	})
}

var pplNoteRe = regexp.MustCompile(`<li class="people-note( unread)?" id="n(\d+)"`)

func TestPeopleNotifications(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		foo := pplApp(t, s, bob, "Foo")
		parent := pplComment(t, s, alice, foo, 0, "question")
		reply := pplComment(t, s, bob, foo, parent, "answer")
		s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/user/%d/follow", alice.UID), nil)

		r := pplWant(t, pplGet(t, browserClient(t), s.URL+"/ui/notifications"), http.StatusSeeOther, "anonymous")
		if !strings.HasPrefix(r.Location, "/ui/signin?next=") {
			t.Errorf("anonymous visitor sent to %q, want the sign-in page", r.Location)
		}
		admin := pplWant(t, pplGet(t, signIn(t, s, "admin"), s.URL+"/ui/notifications"), 200, "admin").Body
		if !strings.Contains(admin, "the admin has no notifications") {
			t.Errorf("the admin's page does not say the admin has none:\n%s", admin)
		}

		c := signIn(t, s, "alice")
		page := pplWant(t, pplGet(t, c, s.URL+"/ui/notifications"), 200, "notifications").Body
		text := pplText(pplBetween(t, page, `id="people-notes"`, "</ol>"))
		if !strings.Contains(text, "bob replied to your comment on Foo") || !strings.Contains(text, "bob followed you") {
			t.Fatalf("notifications lack the reply or the follow:\n%s", text)
		}
		if strings.Index(text, "followed you") > strings.Index(text, "replied") {
			t.Error("notifications are not newest first")
		}
		if !strings.Contains(page, fmt.Sprintf(`href="/ui/apps/%d#c%d"`, foo, reply)) {
			t.Error("the reply notification does not link to the reply")
		}
		if !strings.Contains(page, `data-count="2"`) {
			t.Error("the unread badge does not count 2")
		}
		notes := pplNoteRe.FindAllStringSubmatch(page, -1)
		if len(notes) != 2 || notes[0][1] == "" || notes[1][1] == "" {
			t.Fatalf("want 2 unread notifications, got %q", notes)
		}

		// Toggle the newest read, then unread again.
		toggle := s.URL + "/ui/notifications/" + notes[0][2] + "/read"
		pplWant(t, pplPost(t, c, toggle, url.Values{}), http.StatusSeeOther, "mark read")
		notes = pplNoteRe.FindAllStringSubmatch(pplGet(t, c, s.URL+"/ui/notifications").Body, -1)
		if len(notes) != 2 || notes[0][1] != "" || notes[1][1] == "" {
			t.Fatalf("after marking the newest read: %q", notes)
		}
		pplWant(t, pplPost(t, c, toggle, url.Values{}), http.StatusSeeOther, "mark unread")
		if n := pplNoteRe.FindAllStringSubmatch(pplGet(t, c, s.URL+"/ui/notifications").Body, -1); n[0][1] == "" {
			t.Error("the second toggle did not mark it unread again")
		}
		// Somebody else's notification cannot be toggled: bob has none at that time.
		pplWant(t, pplPost(t, signIn(t, s, "bob"), toggle, url.Values{}), http.StatusNotFound, "bob toggles alice's")

		pplWant(t, pplPost(t, c, s.URL+"/ui/notifications/read-all", url.Values{}), http.StatusSeeOther, "read all")
		page = pplGet(t, c, s.URL+"/ui/notifications").Body
		notes = pplNoteRe.FindAllStringSubmatch(page, -1)
		if len(notes) != 2 || notes[0][1] != "" || notes[1][1] != "" || !strings.Contains(page, `data-count="0"`) {
			t.Errorf("after Mark all read: %q", notes)
		}
	})
}

// TestPeopleLiveNotification checks people.js: a notification that arrives while the page is open is prepended.
func TestPeopleLiveNotification(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		alice, bob := s.NewUser("alice"), s.NewUser("bob")
		foo := pplApp(t, s, alice, "Foo")
		s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/app/%d/star", foo), nil)
		parent := pplComment(t, s, alice, foo, 0, "first")
		pplComment(t, s, bob, foo, parent, "old reply")

		ctx := testutil.Browser(t, 375, 800)
		testutil.SignInUser(t, ctx, s.URL, "alice", "password of alice")
		testutil.Do(t, ctx, "open notifications",
			chromedp.Navigate(s.URL+"/ui/notifications"),
			chromedp.WaitVisible(chromedp.CSS(`#people-notes li.people-note`)),
			chromedp.WaitReady(chromedp.CSS(`body[data-live-ready="1"]`)),
		)
		s.Want(http.StatusOK, bob, "PUT", fmt.Sprintf("/user/%d/follow", alice.UID), nil)
		testutil.Do(t, ctx, "wait for the live notification",
			chromedp.WaitVisible(chromedp.CSS(`#people-notes li.people-fresh`)))
		first := testutil.Get(t, ctx, "first item", chromedp.Text(chromedp.CSS(`#people-notes li:first-child p`)))
		if !strings.Contains(first, "bob followed you") {
			t.Errorf("the first notification reads %q, want bob followed you", first)
		}
		n := testutil.Get(t, ctx, "count items", chromedp.Evaluate[int](`document.querySelectorAll('#people-notes li.people-note').length`))
		if n != 2 {
			t.Errorf("the list holds %d notifications, want 2 (the old reply and the new follow)", n)
		}
	})
}
