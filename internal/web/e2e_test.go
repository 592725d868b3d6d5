package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/catalog/builtin"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/dockertest"
)

// TestE2E is a person's first hour with StackHub, in a real Chromium on a fresh server with the built-in
// catalog: the admin signs in and creates a user; the user (on a phone-sized screen) sets a password, signs
// in, stars an app, comments and sees a reply's notification arrive live; the admin installs the test web app
// through the dialog, watches it reach running, opens it, stops, starts and uninstalls it. Screenshots of the
// store, an app page, the install progress, My apps and the server page go to test-artifacts/TestE2E_<engine>/.
func TestE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		dockertest.Image(t, "stackhub-test/web:v1")
		s := testutil.StartServer(t, e, testutil.Options{Metrics: true})
		ctx := context.Background()
		tpls, err := builtin.Templates()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.Hub.SeedCatalog(ctx, tpls); err != nil || n != len(tpls) {
			t.Fatalf("seed the built-in catalog: %d of %d, %v", n, len(tpls), err)
		}
		lib := testutil.NewLibrary(t)
		lib.Add(t, "web", testutil.WebCompose, "READY_AFTER=1\n")
		lib.Import(t, s.URL)
		wordpress, web := appID(t, s, "wordpress"), appID(t, s, "web")
		dir := testutil.ArtifactDir(t)

		// 1. The admin signs in with the token and creates a user; the metapass is shown once.
		admin := testutil.Browser(t, 1280, 900)
		testutil.SignInAdmin(t, admin, s.URL)
		testutil.Do(t, admin, "create alice",
			chromedp.Navigate(s.URL+"/ui/admin/users"),
			chromedp.SendKeys(chromedp.ID("simple_name"), "alice"),
		)
		testutil.Load(t, admin, "submit the new user", chromedp.Submit(chromedp.ID("simple_name")))
		metapass := testutil.Get(t, admin, "the metapass", chromedp.Text(chromedp.ID("people-metapass")))
		if len(metapass) < 8 {
			t.Fatalf("metapass %q", metapass)
		}
		testutil.Do(t, admin, "open the store", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("main")))
		if body := testutil.Get(t, admin, "the store", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "WordPress") {
			t.Fatalf("the store does not list the built-in WordPress:\n%s", body)
		}
		testutil.Screenshot(t, admin, dir, "store")

		// A visitor without a mouse finds and opens WordPress with the keyboard alone.
		keyboardOnly(t, testutil.Tab(t, admin), s.URL, wordpress)

		// 2. Alice, on a phone, sets her password with the metapass and signs in.
		alice := testutil.Tab(t, admin)
		testutil.Do(t, alice, "set alice's password",
			chromedp.EmulateViewport(375, 812),
			chromedp.Navigate(s.URL+"/ui/password"),
			chromedp.SendKeys(chromedp.ID("login"), "alice"),
			chromedp.SendKeys(chromedp.ID("metapass"), metapass),
			chromedp.SendKeys(chromedp.ID("password"), "alice's long password"),
			chromedp.SendKeys(chromedp.ID("password2"), "alice's long password"),
		)
		testutil.Load(t, alice, "submit the new password", chromedp.Submit(chromedp.ID("password2")))
		if loc := testutil.Get(t, alice, "where the password form led", chromedp.Location()); !strings.Contains(loc, "/ui/signin") {
			t.Fatalf("after setting the password the browser is at %s", loc)
		}
		testutil.SignInUser(t, alice, s.URL, "alice", "alice's long password")
		testutil.Do(t, alice, "open the store on a phone", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := testutil.Get(t, alice, "the page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 375 {
			t.Errorf("the store scrolls sideways on a 375 px phone: %d px wide", w)
		}
		testutil.Screenshot(t, alice, dir, "store-phone")

		// She stars WordPress and comments on it.
		testutil.Do(t, alice, "open WordPress", chromedp.Navigate(fmt.Sprintf("%s/ui/apps/%d", s.URL, wordpress)))
		testutil.Load(t, alice, "star WordPress", chromedp.Click(chromedp.ID("star-app")))
		if b := testutil.Get(t, alice, "the star button", chromedp.Text(chromedp.ID("star-app"))); strings.TrimSpace(b) != "Unstar" {
			t.Errorf("after starring the button reads %q", b)
		}
		if ok, err := s.Hub.Starred(ctx, aliceActor(t, s), wordpress); err != nil || !ok {
			t.Fatalf("the star was not stored: %v, %v", ok, err)
		}
		testutil.Do(t, alice, "write a comment", chromedp.SendKeys(chromedp.ID("comment-content"), "Runs great on my Raspberry Pi."))
		testutil.Load(t, alice, "post the comment", chromedp.Submit(chromedp.ID("comment-content")))
		testutil.Do(t, alice, "see the comment",
			chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('[id^="c"]')).some(e => e.textContent.includes('Raspberry Pi'))`),
			chromedp.Poll[chromedp.Void](`document.body.dataset.liveReady === '1'`),
		)
		cid := testutil.Get(t, alice, "the comment's id", chromedp.Evaluate[string](
			`Array.from(document.querySelectorAll('article[id^="c"], li[id^="c"], div[id^="c"]')).find(e => e.textContent.includes('Raspberry Pi')).id.slice(1)`))
		testutil.Screenshot(t, alice, dir, "app-page-phone")

		// Bob replies from a GeekApk client; Alice's badge, hidden while she has nothing unread, counts it without a
		// reload.
		if shown := testutil.Get(t, alice, "the badge before the reply", chromedp.Evaluate[bool](
			`getComputedStyle(document.getElementById('unread')).display !== 'none'`)); shown {
			t.Error("the unread badge shows while nothing is unread")
		}
		bob := s.NewUser("bob")
		s.Want(http.StatusOK, bob, "POST", fmt.Sprintf("/app/%d/comment", wordpress),
			map[string]any{"reply": mustInt(t, cid), "content": "Same here, on a Pi 5."})
		testutil.Do(t, alice, "the reply's notification arrives live",
			chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
			chromedp.Poll[chromedp.Void](`document.getElementById('unread').textContent === '1' && getComputedStyle(document.getElementById('unread')).display !== 'none' && window.notReloaded === true`,
				chromedp.WithPollingTimeout(20*time.Second)),
			chromedp.WaitVisible(chromedp.CSS(".toast")),
		)
		testutil.Load(t, alice, "open the notifications", chromedp.Click(chromedp.ID("nav-notifications")))
		if text := testutil.Get(t, alice, "the notifications", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "replied to your comment") {
			t.Errorf("the notifications page does not show the reply:\n%s", text)
		}

		// The admin's app page, desktop-sized, with the comment thread.
		testutil.Do(t, admin, "open WordPress as admin", chromedp.Navigate(fmt.Sprintf("%s/ui/apps/%d", s.URL, wordpress)),
			chromedp.WaitVisible(chromedp.ID("install-app")))
		testutil.Screenshot(t, admin, dir, "app-page")

		// 3 and 4. The admin installs the test web app through the dialog, opens it, stops, starts and uninstalls it.
		installAndManage(t, admin, s, web, dir)

		// Every page fits a 375 px phone: nothing scrolls sideways.
		fitsPhone(t, alice, s.URL, "/ui/notifications", "/ui/timeline", "/ui/users/"+strconv.FormatInt(aliceActor(t, s).UID, 10),
			"/ui/publish", "/ui/password", fmt.Sprintf("/ui/apps/%d", wordpress))
		testutil.Do(t, admin, "turn the admin's screen into a phone", chromedp.EmulateViewport(375, 812))
		fitsPhone(t, admin, s.URL, "/", fmt.Sprintf("/ui/apps/%d/install", web), "/ui/my-apps", "/ui/server", "/ui/admin",
			"/ui/admin/users", "/ui/admin/categories", "/ui/admin/webhooks")
	})
}

// fitsPhone opens each page and fails for those wider than the 375 px viewport, or that break the audit.
func fitsPhone(t *testing.T, ctx context.Context, base string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		testutil.Do(t, ctx, "open "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := testutil.Get(t, ctx, "the width of "+p, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 375 {
			t.Errorf("%s is %d px wide on a 375 px phone", p, w)
		}
		if bad := testutil.Get(t, ctx, "audit "+p, chromedp.Evaluate[[]string](auditJS)); len(bad) > 0 {
			t.Errorf("%s: %s", p, strings.Join(bad, "; "))
		}
	}
}

// keyboardOnly uses the store as a visitor with only a keyboard: the first Tab reaches the skip link, more reach
// the search field, typing and Enter search, Tab reaches the app's link and Enter opens it. Every stop on the
// way shows where focus is, and the signed-out pages pass the audit.
func keyboardOnly(t *testing.T, ctx context.Context, base string, app int64) {
	t.Helper()
	testutil.Do(t, ctx, "open the store signed out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("store-q")))
	var unmarked []string
	tabTo := func(what, cond string) {
		t.Helper()
		for range 60 {
			testutil.Do(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
			stop := testutil.Get(t, ctx, "where focus is", chromedp.Evaluate[[]string](`(() => {
				const el = document.activeElement, st = getComputedStyle(el);
				return [String(`+cond+`), st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0 ? '' :
					el.tagName + ' ' + (el.id || el.getAttribute('href') || el.textContent.trim())];
			})()`))
			if stop[1] != "" {
				unmarked = append(unmarked, stop[1])
			}
			if stop[0] == "true" {
				return
			}
		}
		t.Fatalf("60 presses of Tab never reached %s", what)
	}
	tabTo("the skip link", `el.classList.contains('skip') && el.getBoundingClientRect().left >= 0`)
	tabTo("the search field", `el.id === 'store-q'`)
	testutil.Load(t, ctx, "type a search and press Enter", chromedp.KeyEvent("wordp\r"))
	href := fmt.Sprintf("/ui/apps/%d", app)
	tabTo("WordPress's link", `el.getAttribute('href') === '`+href+`'`)
	testutil.Load(t, ctx, "press Enter on it", chromedp.KeyEvent("\r"))
	if loc := testutil.Get(t, ctx, "where Enter went", chromedp.Location()); loc != base+href {
		t.Errorf("Enter on the app's link went to %s, want %s", loc, base+href)
	}
	if len(unmarked) > 0 {
		t.Errorf("focus is not visible on: %s", strings.Join(unmarked, "; "))
	}
	testutil.Do(t, ctx, "turn the visitor's screen into a phone", chromedp.EmulateViewport(375, 812))
	fitsPhone(t, ctx, base, "/", "/?q=wordp", href, "/ui/signin", "/ui/password", "/ui/timeline")
}

// auditJS lists what keeps a page from working with a keyboard or a screen reader: a form field without a label,
// a link or button without a name, a positive tabindex, something only a mouse can click, a duplicate id, no
// h1, no title or language.
const auditJS = `(() => {
  const bad = [];
  const named = el => {
    const by = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || '').join(' ');
    const labels = el.labels ? Array.from(el.labels).map(l => l.textContent).join(' ') : '';
    const img = el.querySelector && el.querySelector('img[alt]');
    return [el.getAttribute('aria-label'), by, labels, el.getAttribute('title'), img && img.alt]
      .some(v => v && v.trim());
  };
  document.querySelectorAll('input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')
    .forEach(el => { if (!named(el)) bad.push('unlabelled ' + el.tagName.toLowerCase() + ' ' + (el.id || el.name)); });
  document.querySelectorAll('a[href], button, summary').forEach(el => {
    if (!el.textContent.trim() && !named(el)) bad.push('nameless ' + el.tagName.toLowerCase() + ' ' + (el.id || el.getAttribute('href') || el.className));
  });
  document.querySelectorAll('[tabindex]').forEach(el => { if (+el.getAttribute('tabindex') > 0) bad.push('positive tabindex on ' + el.tagName); });
  document.querySelectorAll('[onclick], div[role=button], span[role=button]').forEach(el => bad.push('mouse-only ' + el.tagName));
  const ids = new Set();
  document.querySelectorAll('[id]').forEach(el => { if (ids.has(el.id)) bad.push('duplicate id ' + el.id); ids.add(el.id); });
  if (document.querySelectorAll('h1').length !== 1) bad.push(document.querySelectorAll('h1').length + ' h1');
  if (!document.title.trim() || !document.documentElement.lang) bad.push('no title or lang');
  return bad;
})()`

// appID finds a catalog app by its package name.
func appID(t *testing.T, s *testutil.Server, pkg string) int64 {
	t.Helper()
	apps, err := s.Hub.Browse(context.Background(), hub.BrowseQuery{Keyword: pkg, Page: hub.Page{Limit: 50}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Package != nil && *a.Package == pkg {
			return a.ID
		}
	}
	t.Fatalf("no app with package %q in the catalog", pkg)
	return 0
}

func aliceActor(t *testing.T, s *testutil.Server) auth.Actor {
	t.Helper()
	uid, err := s.Hub.UserIDByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return auth.Actor{UID: uid, User: true, Enabled: true}
}
