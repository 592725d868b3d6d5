package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/hub"
)

// storePageSize is how many apps one store page shows.
const storePageSize = 24

// storeSorts are the sort choices in the order the page offers them.
var storeSorts = []struct{ Key, Label string }{
	{"updated", "Recently updated"}, {"stars", "Most stars"}, {"comments", "Most comments"}, {"new", "Newest"},
}

func (u *UI) registerStore(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", u.page(u.storePage))
}

// storeCard is one app on the store page.
type storeCard struct {
	hub.App
	Short      string         // the tagline, else the description cut to fit a card
	Mark       *host.Mark     // nil: not on this server, or the visitor is not the admin
	Categories []hub.Category // the categories it is in, by name
}

// storeCat is one node of the category tree beside the apps.
type storeCat struct {
	hub.Category
	Children []*storeCat
	Current  bool   // the category being browsed
	Href     string // the store with this category, keeping the search and the sort
}

// storeData is the store page's data.
type storeData struct {
	Cards    []storeCard
	Cats     []*storeCat
	Category int64
	Q        string
	Sort     string
	Sorts    any
	Page     int
	Problem  string // why the query was refused; the page still shows the form to fix it
	// AllHref, PrevHref and NextHref are the links to every category, the previous and the next page.
	AllHref, PrevHref, NextHref string
}

// storePage lists apps: a category subtree, a search, a sort and a page.
func (u *UI) storePage(w http.ResponseWriter, r *http.Request, me Me) {
	ctx, query := r.Context(), r.URL.Query()
	d := storeData{Q: strings.TrimSpace(query.Get("q")), Sort: query.Get("sort"), Sorts: storeSorts, Page: 1}
	if d.Sort == "" {
		d.Sort = "updated"
	}
	cats, err := u.d.Hub.Categories(ctx)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	q, err := storeQuery(query, &d)
	var apps []hub.App
	if err == nil {
		q.Categories = cats // loaded for the tree already
		apps, err = u.d.Hub.Browse(ctx, q)
	}
	d.Cats = storeTree(cats, d.Category, query)
	d.AllHref = "/" + withParam(query, "category", "", "page", "")
	status := http.StatusOK
	if err != nil {
		e := apperr.As(err)
		if e.Kind == apperr.Internal {
			u.fail(w, r, me, err)
			return
		}
		// A bad query is the visitor's to fix: the page says why, beside the form, with a 400 or 404.
		status, d.Problem = http.StatusBadRequest, e.Message
		if e.Kind == apperr.NotFound {
			status = http.StatusNotFound
		}
	}
	if len(apps) > storePageSize {
		apps = apps[:storePageSize]
		d.NextHref = "/" + withParam(query, "page", d.Page+1)
	}
	if d.Page == 2 {
		d.PrevHref = "/" + withParam(query, "page", "")
	} else if d.Page > 2 {
		d.PrevHref = "/" + withParam(query, "page", d.Page-1)
	}
	// Instances are admin data: only the admin sees which apps this server runs and which have updates.
	var marks map[int64]host.Mark
	if me.CanHost() && len(apps) > 0 {
		if marks, err = u.d.Host.Marks(ctx, me.Actor); err != nil {
			u.fail(w, r, me, err)
			return
		}
	}
	ids := make([]int64, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	links, err := u.d.Hub.AppCategories(ctx, ids)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	byID := make(map[int64]hub.Category, len(cats))
	for _, c := range cats {
		byID[c.ID] = c
	}
	for _, a := range apps {
		c := storeCard{App: a, Short: a.Tagline}
		if c.Short == "" {
			c.Short = storeShort(a.Desc, 140)
		}
		if m, ok := marks[a.ID]; ok {
			c.Mark = &m
		}
		for _, id := range links[a.ID] {
			if cat, ok := byID[id]; ok {
				c.Categories = append(c.Categories, cat)
			}
		}
		slices.SortFunc(c.Categories, func(a, b hub.Category) int { return strings.Compare(a.Name, b.Name) })
		d.Cards = append(d.Cards, c)
	}
	title := "Store"
	if d.Q != "" {
		title = "Search: " + d.Q
	}
	u.render(w, r, status, "store", View{Title: title, Me: me, Data: d})
}

// storeQuery decodes the store's query parameters into a Browse query, filling what the page shows back.
func storeQuery(v url.Values, d *storeData) (hub.BrowseQuery, error) {
	if s := v.Get("category"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 0 {
			return hub.BrowseQuery{}, apperr.Field(apperr.Invalid, "category", "category must be a category id")
		}
		d.Category = id
	}
	if s := v.Get("page"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 100000 {
			return hub.BrowseQuery{}, apperr.Field(apperr.Invalid, "page", "page must be a number from 1")
		}
		d.Page = p
	}
	// One more than a page tells whether a next page exists.
	return hub.BrowseQuery{Category: d.Category, Keyword: d.Q, Sort: d.Sort,
		Page: hub.Page{Limit: storePageSize + 1, Offset: (d.Page - 1) * storePageSize}}, nil
}

// storeTree nests the categories under their parents, in the outline's order (by name) that the admin's
// outline and the category selects use; a category whose parent is missing is shown at the top.
func storeTree(cats []hub.Category, current int64, query url.Values) []*storeCat {
	// The outline drops a category that is its own parent, as a cycle; the store shows it at the top instead,
	// so its apps stay reachable.
	cats = slices.Clone(cats)
	for i, c := range cats {
		if c.Parent != nil && *c.Parent == c.ID {
			cats[i].Parent = nil
		}
	}
	var roots, open []*storeCat // open: the last node at each depth, the parent of the next one deeper
	for _, n := range hub.CategoryOutline(cats) {
		c := &storeCat{Category: n.Category, Current: n.ID == current,
			Href: "/" + withParam(query, "category", n.ID, "page", "")}
		if n.Depth == 0 {
			roots = append(roots, c)
		} else {
			p := open[n.Depth-1]
			p.Children = append(p.Children, c)
		}
		open = append(open[:n.Depth], c)
	}
	return roots
}

// storeShort cuts s to at most n runes at a word boundary, with an ellipsis when it cut.
func storeShort(s string, n int) string {
	// Catalog descriptions are Markdown: a card shows their prose, without headings or code marks.
	var prose []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			prose = append(prose, strings.ReplaceAll(line, "`", ""))
		}
	}
	s = strings.Join(strings.Fields(strings.Join(prose, " ")), " ")
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	cut := string(rs[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " .,;:") + "…"
}
