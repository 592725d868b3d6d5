package testutil

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromeEnv names the Chromium binary the browser tests drive; make test sets it.
const ChromeEnv = "STACKHUB_TEST_CHROME"

// browser is the process's one headless Chromium: starting one costs about a second and a good deal of memory,
// so every test of a package opens its tabs in it. Each tab lives in a browser context of its own (cookies and
// storage apart), so to the server it looks like a fresh browser.
var browser struct {
	mu     sync.Mutex
	ctx    context.Context // the browser's first tab, from which every other opens
	cancel func()
}

// Browser opens a tab of width × height in the shared headless Chromium, in a browser context of its own, and
// returns it; the tab closes when the test ends. The browser starts on the first call and stops in StopBrowser,
// which the package's TestMain calls after its tests. JavaScript dialogs (confirm) are accepted, as a user
// clicking OK would. Without Chromium the test is skipped, except in CI, where it fails: the UI must be tested
// there.
func Browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	bin := os.Getenv(ChromeEnv)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the browser tests (make test installs chromium)", ChromeEnv)
		}
		t.Skipf("%s is not set (make testenv installs chromium)", ChromeEnv)
	}
	root, err := sharedBrowser(bin)
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	// Headless windows have a minimum width (about 500 px); emulating the viewport gives a phone's 375.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	acceptDialogs(ctx)
	t.Cleanup(cancel)
	return ctx
}

// sharedBrowser returns the running browser's first tab, starting the browser when there is none or it died.
func sharedBrowser(bin string) (context.Context, error) {
	browser.mu.Lock()
	defer browser.mu.Unlock()
	if browser.ctx != nil && browser.ctx.Err() == nil {
		return browser.ctx, nil
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	// Without a user data dir, chromedp makes a temporary one and removes it when the browser stops.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		return nil, err
	}
	browser.ctx, browser.cancel = ctx, func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it, so its data dir is gone
		cancel()
		cancelAlloc()
	}
	return ctx, nil
}

// StopBrowser stops the shared Chromium, if one runs, and removes its data. A package whose tests call Browser
// calls it from TestMain after m.Run.
func StopBrowser() {
	browser.mu.Lock()
	defer browser.mu.Unlock()
	if browser.cancel != nil {
		browser.cancel()
		browser.ctx, browser.cancel = nil, nil
	}
}

// Do runs browser steps with a deadline and fails the test with what was being done and where. Steps that
// failed because Chromium saw the machine's network change are run again, a few times: see networkChanged.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for try := 1; ; try++ {
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := chromedp.Do(c, steps...)
		cancel()
		if err == nil {
			return
		}
		if networkChanged(err) && try < 3 {
			t.Logf("%s: %v; again", what, err)
			continue
		}
		url, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, url, err)
	}
}

// networkChanged tells whether a navigation failed because Chromium saw an address appear or go on the machine
// and dropped the requests it had under way. Docker does that whenever a test in any package makes a network or
// starts a container, so it says nothing of the page; a browser's own error page reloads on it too.
func networkChanged(err error) bool {
	return strings.Contains(err.Error(), "net::ERR_NETWORK_CHANGED")
}

// Get runs one browser action that returns a value, with a deadline, and fails the test on error.
func Get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, url, err)
	}
	return v
}

// ArtifactDir is test-artifacts/<test name>/ at the module root, made fresh for this test. Screenshots go there.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	out := filepath.Join(dir, "test-artifacts", name)
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Screenshot saves the whole page as <dir>/<name>.png (quality 100 makes Chromium send PNG).
func Screenshot(t testing.TB, ctx context.Context, dir, name string) string {
	t.Helper()
	buf := Get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(dir, strings.TrimSuffix(name, ".png")+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// SignInAdmin signs the browser in as the admin through the sign-in page.
func SignInAdmin(t testing.TB, ctx context.Context, base string) {
	t.Helper()
	Do(t, ctx, "sign in as admin",
		chromedp.Navigate(base+"/ui/signin"),
		chromedp.SendKeys(chromedp.ID("token"), AdminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/signout"]`)),
	)
}

// SignInUser signs the browser in as a user (name or id) with a password, through the sign-in page.
func SignInUser(t testing.TB, ctx context.Context, base, login, password string) {
	t.Helper()
	Do(t, ctx, "sign in as "+login,
		chromedp.Navigate(base+"/ui/signin"),
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/signout"]`)),
	)
}

// Tab opens another tab in the browser of ctx with its own cookies (a separate browser context), as if a second
// person used the same machine; it closes when the test ends.
func Tab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	acceptDialogs(tab)
	t.Cleanup(cancel)
	return tab
}

// acceptDialogs clicks OK on every JavaScript dialog (confirm, alert) the tab opens.
func acceptDialogs(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
}

// Load runs a step that navigates (a click on a link or a submit button) and waits until the new page has loaded.
func Load(t testing.TB, ctx context.Context, what string, trigger chromedp.Action[chromedp.Void]) {
	t.Helper()
	Get(t, ctx, what, chromedp.WaitEvent(page.LoadEventFired, nil, trigger))
}
