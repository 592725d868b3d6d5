package edge_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	tu "github.com/stackhub/stackhub/internal/testutil"
	"github.com/stackhub/stackhub/internal/testutil/acmetest"
)

// browserTab starts a Chromium of this test's own that maps every *.test name to 127.0.0.1 and trusts rootPEM and
// nothing added besides: its HOME holds an NSS database (made with certutil) where rootPEM is a trusted CA, which
// is where Chromium on Linux reads the user's roots. No certificate error is ignored.
func browserTab(t *testing.T, rootPEM []byte) context.Context {
	t.Helper()
	bin := os.Getenv(tu.ChromeEnv)
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the browser tests", tu.ChromeEnv)
		}
		t.Skipf("%s is not set (make testenv installs chromium)", tu.ChromeEnv)
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Fatalf("certutil (libnss3-tools; make testenv installs it) makes Chromium trust the test root: %v", err)
	}
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	root := filepath.Join(home, "root.pem")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "stackhub test root", "-t", "C,,", "-i", root},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", args[0], err, out)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Env("HOME="+home),
		chromedp.UserDataDir(filepath.Join(home, "profile")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { _ = chromedp.Cancel(tab); cancel(); cancelAlloc() })
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}

// TestUsersFlowInBrowser visits an app behind `users` access in Chromium: sent to StackHub's sign-in at its own
// domain through the edge, signed in, back on the app, which sees X-StackHub-User.
func TestUsersFlowInBrowser(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		// Both names get their certificates from Pebble through the real certs.Manager; Chromium trusts Pebble's
		// issuer root alone.
		pb := acmetest.Shared(t)
		hub, team := acmetest.Name("hub"), acmetest.Name("team")
		s, _ := setup(t, e, tu.Options{Edge: &tu.EdgeOptions{Domain: hub, Pebble: pb}})
		var inst struct {
			Job struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusAccepted, tu.Admin, "POST", "/api/v1/installs", map[string]any{"app": "web"}).JSON(t, &inst)
		waitJob(t, s, inst.Job.ID)
		var ch struct {
			Job *struct{ ID int64 } `json:"job"`
		}
		s.Want(http.StatusCreated, tu.Admin, "POST", "/api/v1/installs/web/domains", map[string]any{"domain": team, "access": "users"}).JSON(t, &ch)
		if ch.Job != nil {
			waitJob(t, s, ch.Job.ID)
		}
		s.NewUser("alice")
		_, port, _ := net.SplitHostPort(s.EdgeHTTPS)
		tab := browserTab(t, pb.IssuerRootPEM())
		// Visit the app: the redirects end on StackHub's sign-in at its own domain.
		_, _ = chromedp.Run(tab, chromedp.Navigate("https://"+team+":"+port+"/headers"))
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			url := tu.Get(t, tab, "location", chromedp.Location())
			if strings.HasPrefix(url, "https://"+hub+":"+port+"/ui/signin?next=") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the visitor is at %s, want StackHub's sign-in at %s", url, hub)
			}
			if strings.HasPrefix(url, "chrome-error://") { // see below: a network change; visit again
				_, _ = chromedp.Run(tab, chromedp.Navigate("https://"+team+":"+port+"/headers"))
			}
		}
		tu.Do(t, tab, "the sign-in form", chromedp.WaitVisible(chromedp.ID("password")))
		tu.Do(t, tab, "sign in",
			chromedp.SendKeys(chromedp.ID("login"), "alice"),
			chromedp.SendKeys(chromedp.ID("password"), "password of alice"),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.WaitReady(chromedp.CSS("body")),
		)
		// The redirects end on the app's page: wait for it, a minute at most.
		var body string
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			url := tu.Get(t, tab, "location", chromedp.Location())
			if strings.HasPrefix(url, "chrome-error://") {
				// Docker's interface changes (other tests on this engine) make Chromium drop a navigation with
				// ERR_NETWORK_CHANGED; load it again.
				tu.Do(t, tab, "reload after a network change", chromedp.Reload())
				continue
			}
			if strings.HasPrefix(url, "https://"+team+":"+port+"/headers") {
				// The document may be replaced while it is read (the last redirect landing): read it again.
				got, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
				if body = got; err == nil && strings.Contains(body, "X-Stackhub-User") {
					break
				}
			}
		}
		if !strings.Contains(body, `"X-Stackhub-User":["alice"]`) {
			url := tu.Get(t, tab, "location", chromedp.Location())
			page := tu.Get(t, tab, "the page", chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("at %s the app answered %q (page %q), want X-Stackhub-User alice", url, body, page)
		}
	})
}
