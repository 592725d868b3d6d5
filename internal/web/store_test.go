package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/hub"
	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// communityAdmin is the admin as the services see it, for seeding data without HTTP.
var communityAdmin = auth.System

// communityUser makes a user who can sign in with "password of <name>", and returns them as the services see them.
func communityUser(t *testing.T, s *testutil.Server, name string) auth.Actor {
	t.Helper()
	as := s.NewUser(name)
	return auth.Actor{UID: as.UID, User: true, Enabled: true}
}

// communityApp publishes an app by author and returns its id.
func communityApp(t *testing.T, s *testutil.Server, author auth.Actor, name, pkg, desc string, cat int64) int64 {
	t.Helper()
	in := hub.AppInput{Name: hub.Some(name), Desc: hub.Some(desc)}
	if pkg != "" {
		in.Package = hub.Some(&pkg)
	}
	if cat != 0 {
		in.Category = hub.Some(&cat)
	}
	id, err := s.Hub.CreateApp(context.Background(), author, in)
	if err != nil {
		t.Fatalf("create app %s: %v", name, err)
	}
	return id
}

// storeNames lists the app names of a store page's cards, in order.
func storeNames(body string) []string {
	var out []string
	for _, part := range strings.Split(body, `<h2><a href="/ui/apps/`)[1:] {
		_, rest, _ := strings.Cut(part, `">`)
		name, _, _ := strings.Cut(rest, "</a>")
		out = append(out, name)
	}
	return out
}

func storeWant(t *testing.T, c *http.Client, u string, status int) string {
	t.Helper()
	res, body := get(t, c, u)
	if res.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d\n%s", u, res.StatusCode, status, body)
	}
	return body
}

func TestStoreListing(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ctx := context.Background()
		ann := communityUser(t, s, "ann")
		bob := communityUser(t, s, "bob")
		parent, err := s.Hub.CreateCategory(ctx, communityAdmin, 0, "Tools")
		if err != nil {
			t.Fatal(err)
		}
		child, _ := s.Hub.CreateCategory(ctx, communityAdmin, parent, "Editors")
		other, _ := s.Hub.CreateCategory(ctx, communityAdmin, 0, "Games")
		alpha := communityApp(t, s, ann, "Alpha", "", "A text tool.", parent)
		communityApp(t, s, ann, "Beta", "", "An editor.", child)
		gamma := communityApp(t, s, ann, "Gamma", "", "A game.", other)
		communityApp(t, s, ann, "Delta", "", "Finds the NEEDLE in a haystack.", 0)
		communityApp(t, s, ann, "Epsilon", "org.needle.app", "Nothing to see.", 0)
		anon := browserClient(t)

		body := storeWant(t, anon, s.URL+"/", http.StatusOK)
		if got := storeNames(body); len(got) != 5 {
			t.Fatalf("store lists %v, want 5 apps", got)
		}
		// The tree nests Editors inside Tools' item.
		if !strings.Contains(body, fmt.Sprintf(`href="/?category=%d">Tools</a><ul class="cat-tree">`, parent)) ||
			!strings.Contains(body, fmt.Sprintf(`href="/?category=%d">Editors</a>`, child)) {
			t.Fatalf("category tree is missing or flat:\n%s", body)
		}

		// A parent category includes its subtree.
		got := storeNames(storeWant(t, anon, fmt.Sprintf("%s/?category=%d", s.URL, parent), http.StatusOK))
		if strings.Join(got, ",") != "Beta,Alpha" {
			t.Fatalf("category Tools lists %v, want Beta and Alpha", got)
		}
		got = storeNames(storeWant(t, anon, fmt.Sprintf("%s/?category=%d", s.URL, child), http.StatusOK))
		if strings.Join(got, ",") != "Beta" {
			t.Fatalf("category Editors lists %v", got)
		}

		// Search covers name, package and description, case-insensitively.
		got = storeNames(storeWant(t, anon, s.URL+"/?q=needle", http.StatusOK))
		if strings.Join(got, ",") != "Epsilon,Delta" {
			t.Fatalf("q=needle finds %v, want Epsilon (package) and Delta (description)", got)
		}
		got = storeNames(storeWant(t, anon, s.URL+"/?q=ALPH", http.StatusOK))
		if strings.Join(got, ",") != "Alpha" {
			t.Fatalf("q=ALPH finds %v", got)
		}
		got = storeNames(storeWant(t, anon, fmt.Sprintf("%s/?q=a+game&category=%d", s.URL, parent), http.StatusOK))
		if len(got) != 0 {
			t.Fatalf("a search within Tools finds %v outside it", got)
		}

		// Each sort.
		for _, who := range []auth.Actor{ann, bob} {
			if _, err := s.Hub.ToggleStar(ctx, who, gamma); err != nil {
				t.Fatal(err)
			}
		}
		s.Hub.ToggleStar(ctx, ann, alpha)
		for range 3 {
			if _, err := s.Hub.CreateComment(ctx, bob, alpha, hub.CommentInput{Content: hub.Some("nice")}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * time.Millisecond) // updated_at is in ms: make the touch strictly the newest
		if _, err := s.Hub.UpdateApp(ctx, ann, gamma, hub.AppInput{Desc: hub.Some("A better game.")}); err != nil {
			t.Fatal(err)
		}
		for sort, want := range map[string]string{"stars": "Gamma,Alpha", "comments": "Alpha", "new": "Epsilon,Delta",
			"updated": "Gamma,"} {
			got := strings.Join(storeNames(storeWant(t, anon, s.URL+"/?sort="+sort, http.StatusOK)), ",")
			if !strings.HasPrefix(got, want) {
				t.Errorf("sort=%s lists %s, want it to start with %s", sort, got, want)
			}
		}
		body = storeWant(t, anon, s.URL+"/?sort=stars", http.StatusOK)
		if !strings.Contains(body, `<option value="stars" selected>`) || !strings.Contains(body, "★ 2 stars") {
			t.Errorf("sort=stars page lacks the selected option or the star count")
		}

		// Paging: 24 a page.
		for i := range 25 {
			communityApp(t, s, bob, fmt.Sprintf("Filler %02d", i), "", "", 0)
		}
		body = storeWant(t, anon, s.URL+"/?sort=new", http.StatusOK)
		if n := len(storeNames(body)); n != 24 || !strings.Contains(body, `href="/?page=2&amp;sort=new"`) {
			t.Fatalf("page 1 shows %d apps, or lacks the next link", n)
		}
		body = storeWant(t, anon, s.URL+"/?sort=new&page=2", http.StatusOK)
		names := storeNames(body)
		if len(names) != 6 || names[5] != "Alpha" || strings.Contains(body, `rel="next"`) ||
			!strings.Contains(body, `rel="prev" href="/?sort=new"`) {
			t.Fatalf("page 2 shows %v; want the 6 oldest, a link back and none forward", names)
		}
	})
}

func TestStoreBadQueries(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		anon := browserClient(t)
		for _, c := range []struct {
			query  string
			status int
			says   string
		}{
			{"sort=bogus", http.StatusBadRequest, "sort must be one of"},
			{"category=999", http.StatusNotFound, "category 999 does not exist"},
			{"category=abc", http.StatusBadRequest, "category must be a category id"},
			{"page=0", http.StatusBadRequest, "page must be a number"},
			{"q=" + strings.Repeat("x", 101), http.StatusBadRequest, "longer than 100 characters"},
		} {
			body := storeWant(t, anon, s.URL+"/?"+c.query, c.status)
			if !strings.Contains(body, `id="store-problem"`) || !strings.Contains(body, c.says) ||
				!strings.Contains(body, `id="store-q"`) {
				t.Errorf("?%s: the page lacks the message %q beside the search form", c.query, c.says)
			}
		}
	})
}

// storeInstance records an instance row as an install would; the test removes it before the server's cleanup
// (which would otherwise try to uninstall it through Docker).
func storeInstance(t *testing.T, s *testutil.Server, name string, app, rev int64) {
	t.Helper()
	ctx := context.Background()
	err := s.Store.Tx(ctx, func(q *store.Q) error {
		return q.CreateInstance(ctx, &store.Instance{Name: name, Project: s.Prefix + "-" + name, App: app,
			AppKey: name, Reversion: rev, Version: fmt.Sprint("v", rev), State: store.StateInstalled,
			Settings: "{}", Secrets: "{}", CreatedAt: 1, UpdatedAt: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Store.Tx(ctx, func(q *store.Q) error { return q.DeleteInstance(ctx, name) })
	})
}

// storeVersion publishes a version with a stack straight into the store (the page only reads it).
func storeVersion(t *testing.T, s *testutil.Server, app, rev int64, stack string) {
	t.Helper()
	ctx := context.Background()
	u := &store.Update{App: app, Reversion: rev, Version: fmt.Sprint("v", rev), Updates: fmt.Sprint("Changes of v", rev),
		CreatedAt: time.Now().UnixMilli()}
	if stack != "" {
		u.Stack = &stack
	}
	if err := s.Store.Tx(ctx, func(q *store.Q) error { return q.CreateUpdate(ctx, u) }); err != nil {
		t.Fatal(err)
	}
}

func TestStoreMarks(t *testing.T) {
	t.Parallel()
	testutil.ForEachEngineParallel(t, func(t *testing.T, e testutil.Engine) {
		s := testutil.StartServer(t, e, testutil.Options{})
		ann := communityUser(t, s, "ann")
		behind := communityApp(t, s, ann, "Behind", "", "", 0)
		current := communityApp(t, s, ann, "Current", "", "", 0)
		communityApp(t, s, ann, "Absent", "", "", 0)
		const stack = `{"compose":"services: {}","env":""}`
		storeVersion(t, s, behind, 1, stack)
		storeVersion(t, s, behind, 2, stack)
		storeVersion(t, s, current, 1, stack)
		storeInstance(t, s, "behind", behind, 1)
		storeInstance(t, s, "current", current, 1)

		body := storeWant(t, signIn(t, s, "admin"), s.URL+"/", http.StatusOK)
		card := func(id int64) string {
			_, rest, _ := strings.Cut(body, fmt.Sprintf(`id="app-%d"`, id))
			c, _, _ := strings.Cut(rest, "</li>")
			return c
		}
		if c := card(behind); !strings.Contains(c, "mark-installed") || !strings.Contains(c, "update available") {
			t.Errorf("the admin does not see Behind as installed with an update:\n%s", c)
		}
		if c := card(current); !strings.Contains(c, "mark-installed") || strings.Contains(c, "mark-update") {
			t.Errorf("the admin sees Current wrongly:\n%s", c)
		}
		if strings.Count(body, `class="tag ok mark-installed"`) != 2 {
			t.Errorf("the admin sees %d installed marks, want 2", strings.Count(body, "mark-installed"))
		}
		for who, c := range map[string]*http.Client{"anonymous": browserClient(t), "a user": signIn(t, s, "ann")} {
			body := storeWant(t, c, s.URL+"/", http.StatusOK)
			if len(storeNames(body)) != 3 || strings.Contains(body, "mark-installed") || strings.Contains(body, "update available") {
				t.Errorf("%s sees instance marks (or not every app)", who)
			}
		}
	})
}

// A page is parsed when it is first shown, never at the start: a server nobody browses holds no parsed page.
func TestPagesParsedWhenFirstShown(t *testing.T) {
	t.Parallel()
	s := testutil.StartServer(t, testutil.Engines(t)[0], testutil.Options{}) // SQLite: the database plays no part
	if got := s.UI.Parsed(); len(got) != 0 {
		t.Fatalf("parsed at the start: %v", got)
	}
	anon := browserClient(t)
	storeWant(t, anon, s.URL+"/", http.StatusOK)
	storeWant(t, anon, s.URL+"/", http.StatusOK)
	if got := strings.Join(s.UI.Parsed(), ","); got != "store" {
		t.Fatalf("parsed after two visits to the store: %s, want store alone", got)
	}
	storeWant(t, anon, s.URL+"/ui/apps/999999", http.StatusNotFound)
	if got := strings.Join(s.UI.Parsed(), ","); got != "error,store" {
		t.Fatalf("parsed after a missing app: %s, want error,store", got)
	}
}
