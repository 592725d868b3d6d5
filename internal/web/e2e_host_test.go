package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stackhub/stackhub/internal/testutil"
)

// installAndManage drives the host pages in Chromium as the signed-in admin: the install dialog's live progress
// to "running" without a reload, the app's own answer behind the Open link, credentials on click, followed logs,
// stop, start and uninstall from My apps, and the server page's live chart. The web test template must be in
// the catalog. Screenshots go to dir.
func installAndManage(t *testing.T, ctx context.Context, s *testutil.Server, aid int64, dir string) {
	t.Helper()
	poll := func(what, expr string) {
		t.Helper()
		testutil.Do(t, ctx, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(50*time.Second)))
	}

	// The app page's Install button opens the dialog as a modal, pre-filled.
	testutil.Do(t, ctx, "open the install dialog from the app page",
		chromedp.Navigate(fmt.Sprintf("%s/ui/apps/%d", s.URL, aid)),
		chromedp.Click(chromedp.ID("install-app")),
		chromedp.WaitVisible(chromedp.ID("install-form")),
	)
	poll("the dialog is modal", `document.getElementById('install-dialog').matches(':modal') && document.activeElement.id === 'install-name'`)
	if v := testutil.Get(t, ctx, "the suggested name", chromedp.Value(chromedp.ID("install-name"))); v != "web" {
		t.Errorf("suggested name %q", v)
	}
	port := testutil.Get(t, ctx, "the suggested port", chromedp.Value(chromedp.ID("set-W9_HTTP_PORT_SET")))
	if port == "" {
		t.Fatal("no port suggested")
	}

	// A refused name comes back as an error next to the field, in the dialog.
	testutil.Do(t, ctx, "submit a bad name",
		chromedp.Evaluate[chromedp.Void](`window.stillHere = true`),
		chromedp.SetValue(chromedp.ID("install-name"), "Bad_Name"),
		chromedp.Click(chromedp.ID("install-submit")),
		chromedp.WaitVisible(chromedp.CSS("#install-dialog #name-error")),
	)
	poll("the bad name has focus", `document.activeElement.id === 'install-name' && document.activeElement.getAttribute('aria-invalid') === 'true'`)

	// Meanwhile another tab shows My apps, still empty: the new app's card must appear there by itself.
	other := testutil.Tab(t, ctx)
	testutil.SignInAdmin(t, other, s.URL)
	testutil.Do(t, other, "open My apps in another tab",
		chromedp.Navigate(s.URL+"/ui/my-apps"),
		chromedp.WaitVisible(chromedp.ID("my-apps-empty")),
		chromedp.Poll[chromedp.Void](`document.body.dataset.liveReady === '1'`, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
	)

	// Submit: the progress streams into the dialog and reaches running on the same page.
	testutil.Do(t, ctx, "submit the install",
		chromedp.SetValue(chromedp.ID("install-name"), "web"),
		chromedp.Click(chromedp.ID("install-submit")),
		chromedp.WaitVisible(chromedp.CSS("#install-progress #job-progress")),
	)
	poll("the install reaches running", `!!document.querySelector('#install-progress [data-final="running"]') && window.stillHere === true`)
	stages := testutil.Get(t, ctx, "the stages", chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll('#install-progress [data-job-stages] li')).map(li => li.className).join(',')`))
	if stages != "done,done,done,done,done,done" {
		t.Errorf("stages after success: %s", stages)
	}
	lines := testutil.Get(t, ctx, "the log", chromedp.Evaluate[int](`document.querySelectorAll('#install-progress [data-job-log] li').length`))
	if lines < 3 {
		t.Errorf("the progress shows %d log lines", lines)
	}
	testutil.Screenshot(t, ctx, dir, "install-progress")
	testutil.Do(t, other, "the other tab lists web, running, without a reload",
		chromedp.Poll[chromedp.Void](`window.notReloaded === true && !document.getElementById('my-apps-empty') && `+
			`document.querySelectorAll('#my-apps .host-app').length === 1 && `+
			`document.querySelector('#app-web [data-status]').textContent === 'running' && `+
			`!!document.querySelector('#app-web button[data-action="stop"]')`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	open := testutil.Get(t, ctx, "the Open link", chromedp.Evaluate[string](`document.querySelector('#install-progress a.host-open').href`))
	if !strings.HasSuffix(open, ":"+port+"/") && !strings.HasSuffix(open, ":"+port) {
		t.Errorf("Open link %q does not go to port %s", open, port)
	}
	testutil.Do(t, ctx, "follow the Open link", chromedp.Navigate(open))
	if body := testutil.Get(t, ctx, "the app's answer", chromedp.Text(chromedp.CSS("body"))); !strings.Contains(body, "web v1") {
		t.Errorf("the app answers %q", body)
	}

	// The app's page: credentials only on request, and followed logs.
	testutil.Do(t, ctx, "open web's page",
		chromedp.Navigate(s.URL+"/ui/my-apps/web"),
		chromedp.WaitVisible(chromedp.ID("creds-show")),
	)
	poll("the logs follow", `document.getElementById('logs-state').textContent === 'following'`)
	if n := testutil.Get(t, ctx, "credentials before the click", chromedp.Evaluate[int](`document.querySelectorAll('#creds dd').length`)); n != 0 {
		t.Errorf("%d credentials shown before the click", n)
	}
	testutil.Do(t, ctx, "reveal credentials", chromedp.Click(chromedp.ID("creds-show")))
	poll("credentials shown", `Array.from(document.querySelectorAll('#creds dt')).some(dt => dt.textContent === 'W9_POWER_PASSWORD')`)
	testutil.Do(t, ctx, "hide credentials", chromedp.Click(chromedp.ID("creds-hide")))
	poll("credentials hidden", `document.querySelectorAll('#creds dd').length === 0 && document.getElementById('creds').hidden`)

	// My apps: running, then stop and start with the forms; the status follows live.
	testutil.Do(t, ctx, "open My apps",
		chromedp.Navigate(s.URL+"/ui/my-apps"),
		chromedp.WaitVisible(chromedp.ID("app-web")),
	)
	poll("web is listed running", `document.querySelector('#app-web [data-status]').textContent === 'running' && document.body.dataset.liveReady === '1'`)
	testutil.Screenshot(t, ctx, dir, "my-apps")
	// act clicks an action and waits for My apps to come back following the job that action started.
	act := func(action string) {
		t.Helper()
		prev := testutil.Get(t, ctx, "the followed job", chromedp.Evaluate[string](`document.getElementById('my-apps').dataset.followJob || ''`))
		testutil.Do(t, ctx, action+" web",
			chromedp.Click(chromedp.CSS(`#app-web button[data-action="`+action+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#my-apps[data-follow-job]:not([data-follow-job="`+prev+`"])`)),
		)
	}
	act("stop")
	poll("web shows not started", `document.getElementById('app-web').dataset.jobDone === 'succeeded' && document.querySelector('#app-web [data-status]').textContent === 'not started'`)
	act("start")
	poll("web shows running", `document.getElementById('app-web').dataset.jobDone === 'succeeded' && document.querySelector('#app-web [data-status]').textContent === 'running'`)
	testutil.Do(t, ctx, "uninstall web",
		chromedp.Click(chromedp.CSS(`#app-web button[data-action="uninstall"]`)),
		chromedp.WaitVisible(chromedp.ID("my-apps-empty")),
	)
	if flash := testutil.Get(t, ctx, "the flash", chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(flash, "data volumes are kept") {
		t.Errorf("after uninstall the page says %q", flash)
	}
	if r := s.Do(testutil.Admin, "GET", "/api/v1/installs/web", nil); r.Status != 404 {
		t.Errorf("web is still installed: %d", r.Status)
	}

	// The server page: its chart takes at least one live sample.
	testutil.Do(t, ctx, "open the server page",
		chromedp.Navigate(s.URL+"/ui/server"),
		chromedp.WaitVisible(chromedp.ID("server-chart")),
	)
	poll("the chart updates live", `+document.getElementById('server-chart').dataset.updates >= 2 && document.querySelector('[data-line="cpu"]').getAttribute('points').length > 0`)
	testutil.Screenshot(t, ctx, dir, "server")
}
