package hub

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/store"
)

// AppStore is one store that offers an app.
type AppStore = store.AppStore

// iconMediaTypes are the pictures a data: icon may hold.
var iconMediaTypes = []string{"image/svg+xml", "image/png", "image/jpeg", "image/webp", "image/gif"}

// maxIconBytes bounds an icon the server keeps and serves itself.
const maxIconBytes = 256 << 10

// IconPath is where the server serves an app's own icon (one a store shipped as a file).
func IconPath(aid int64) string { return "/ui/apps/" + strconv.FormatInt(aid, 10) + "/icon" }

// importMeta records that t's store offers app and applies the store's metadata: the store that brought the app
// first (its meta store) sets it, the others fill what is empty. Categories are linked from every store.
func (s *Service) importMeta(ctx context.Context, tx *txn, app *App, t catalog.Template, image string, res *ImportResult) error {
	stores, err := tx.AppStores(ctx, app.ID)
	if err != nil {
		return err
	}
	mine := AppStore{App: app.ID, Store: t.Store, Image: image, Hidden: t.Hidden}
	if i := slices.IndexFunc(stores, func(st AppStore) bool { return st.Store == t.Store }); i >= 0 {
		if stores[i] != mine {
			stores[i] = mine
			if err := tx.SaveAppStore(ctx, mine); err != nil {
				return err
			}
		}
	} else {
		stores = append(stores, mine)
		if err := tx.SaveAppStore(ctx, mine); err != nil {
			return err
		}
	}
	before := *app
	owner := app.MetaStore == "" || app.MetaStore == t.Store
	set := func(field *string, v string) {
		if v != "" && (owner || *field == "") {
			*field = v
		}
	}
	if owner {
		app.MetaStore = t.Store
	}
	set(&app.Tagline, oneLine(t.Tagline, limAppAlias*4))
	set(&app.Homepage, httpURL(t.Homepage, limIcon))
	set(&app.Architectures, strings.Join(t.Architectures, ","))
	app.Hidden = !slices.ContainsFunc(stores, func(st AppStore) bool { return !st.Hidden })
	if shots := previewsOf(t.Screenshots); shots != "" && (owner || app.Previews == nil) {
		app.Previews = &shots
	}
	if t.Icon != "" && (owner || app.IconURL == nil) {
		icon, err := s.importIcon(ctx, tx, app.ID, t.Icon)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
		} else {
			app.IconURL = &icon
		}
	}
	cats, err := s.linkCategories(ctx, tx, app.ID, t.Categories)
	if err != nil {
		return err
	}
	if app.Category == nil && len(cats) > 0 {
		app.Category = &cats[0]
	}
	if sameMeta(before, *app) {
		return nil
	}
	return tx.SetAppMeta(ctx, app)
}

// sameMeta reports whether SetAppMeta would change nothing.
func sameMeta(a, b App) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqID := func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.IconURL, b.IconURL) && eq(a.Previews, b.Previews) && eqID(a.Category, b.Category) &&
		a.Tagline == b.Tagline && a.Homepage == b.Homepage && a.Architectures == b.Architectures &&
		a.Hidden == b.Hidden && a.MetaStore == b.MetaStore
}

// importIcon keeps an icon: an http(s) URL as it is, a data: URL as the app's own icon, served at IconPath.
func (s *Service) importIcon(ctx context.Context, tx *txn, aid int64, icon string) (string, error) {
	if u := httpURL(icon, limIcon); u != "" {
		return u, nil
	}
	rest, ok := strings.CutPrefix(icon, "data:")
	if !ok {
		return "", fmt.Errorf("icon %.60q is not an http(s) URL under %d characters nor a data: URL; it was not kept", icon, limIcon)
	}
	meta, data, _ := strings.Cut(rest, ",")
	media, isBase64 := strings.CutSuffix(meta, ";base64")
	if !isBase64 || !slices.Contains(iconMediaTypes, media) {
		return "", fmt.Errorf("icon data: URL of type %q is not a base64 %s picture; it was not kept", meta, strings.Join(iconMediaTypes, ", "))
	}
	body, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(body) == 0 || len(body) > maxIconBytes {
		return "", fmt.Errorf("icon data: URL does not decode to a picture of at most %d KiB; it was not kept", maxIconBytes>>10)
	}
	have, err := tx.AppIcon(ctx, aid)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if have == nil || have.MediaType != media || string(have.Body) != string(body) {
		if err := tx.SaveAppIcon(ctx, aid, store.AppIcon{MediaType: media, Body: body}); err != nil {
			return "", err
		}
	}
	return IconPath(aid), nil
}

// AppIcon loads the icon the server serves for an app (404 when it keeps none).
func (s *Service) AppIcon(ctx context.Context, aid int64) (*store.AppIcon, error) {
	ic, err := s.store.Q().AppIcon(ctx, aid)
	if err != nil {
		return nil, notFound(err, "icon of app", aid)
	}
	return ic, nil
}

// linkCategories puts an app in the categories a store names, merged into the hub's tree by name (CategoryKey):
// a name matching a category anywhere in the tree is that category, any other a new top-level one. It returns
// the categories in the store's order.
func (s *Service) linkCategories(ctx context.Context, tx *txn, aid int64, names []string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	all, err := tx.Categories(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]int64{}
	for _, c := range all {
		if k := CategoryKey(c.Name); k != "" {
			if _, ok := byKey[k]; !ok || c.Parent == nil { // a top-level one wins over a nested namesake
				byKey[k] = c.ID
			}
		}
	}
	var out []int64
	for _, name := range names {
		name = strings.Join(strings.Fields(name), " ")
		k := CategoryKey(name)
		if k == "" || len(name) >= limCategory {
			continue
		}
		id, ok := byKey[k]
		if !ok {
			if id, err = tx.CreateCategory(ctx, name, nil); err != nil {
				return nil, err
			}
			byKey[k] = id
		}
		if slices.Contains(out, id) {
			continue
		}
		out = append(out, id)
		if err := tx.LinkAppCategory(ctx, aid, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CategoryKey is what two category names must share to be one category: lowercase, "&" read as "and", words
// split at anything but letters and digits, and each word singular by the English plural endings ("Utilities"
// = "utility", "Tools" = "tool", but "News" and "Access" stay). "" for a name with no word.
func CategoryKey(name string) string {
	words := strings.FieldsFunc(strings.ReplaceAll(strings.ToLower(name), "&", " and "), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	})
	for i, w := range words {
		words[i] = singular(w)
	}
	return strings.Join(words, " ")
}

// singular undoes the regular English plural of a word of more than three letters.
func singular(w string) string {
	switch {
	case len(w) <= 3:
		return w
	case strings.HasSuffix(w, "ies"):
		return strings.TrimSuffix(w, "ies") + "y"
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") &&
		!strings.HasSuffix(w, "is") && !strings.HasSuffix(w, "ws"):
		return strings.TrimSuffix(w, "s")
	}
	return w
}

// previewsOf joins a store's screenshot URLs into the previews field (";"-separated), the http(s) ones that fit.
func previewsOf(urls []string) string {
	var out []string
	n := 0
	for _, u := range urls {
		u = httpURL(u, limIcon)
		if u == "" || strings.Contains(u, ";") || n+len(u)+1 >= limPreviews {
			continue
		}
		out = append(out, u)
		n += len(u) + 1
	}
	return strings.Join(out, ";")
}

// httpURL is u trimmed when it is an http(s) URL shorter than limit characters, else "".
func httpURL(u string, limit int) string {
	u = strings.TrimSpace(u)
	l := strings.ToLower(u)
	if (!strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://")) || len(u) >= limit ||
		strings.ContainsAny(u, " \n\t\"'<>") {
		return ""
	}
	return u
}

// oneLine is s on one line, cut to fewer than limit runes.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) >= limit {
		s = strings.TrimSpace(string(r[:limit-2])) + "…"
	}
	return s
}

// StoreVersion is one version of an app as the API v1 and the web UI show it: marked with its store.
type StoreVersion struct {
	Rev         int64  `json:"rev"`
	Version     string `json:"version"`
	Store       string `json:"store"` // "" for a version a user published
	Installable bool   `json:"installable"`
	Changelog   string `json:"changelog,omitempty"`
	CreatedAt   int64  `json:"created_at"`
}

// AppDetails is an app with what the stores say of it.
type AppDetails struct {
	ID            int64          `json:"id"`
	Key           string         `json:"key"`
	Name          string         `json:"name"`
	Tagline       string         `json:"tagline"`
	Description   string         `json:"description"` // Markdown
	IconURL       string         `json:"icon_url"`
	Screenshots   []string       `json:"screenshots"`
	Homepage      string         `json:"homepage"`
	Architectures []string       `json:"architectures"`
	Hidden        bool           `json:"hidden"`
	Categories    []Category     `json:"categories"`
	Stores        []AppStore     `json:"stores"`
	Versions      []StoreVersion `json:"versions"` // newest first
}

// AppDetails loads an app, by package key or id, with its categories, stores and versions (newest first).
func (s *Service) AppDetails(ctx context.Context, app string) (*AppDetails, error) {
	q := s.store.Q()
	var a *App
	var err error
	if id, perr := strconv.ParseInt(app, 10, 64); perr == nil {
		a, err = q.App(ctx, id)
	} else {
		a, err = q.AppByPackage(ctx, app)
	}
	if err != nil {
		return nil, notFound(err, "app", app)
	}
	d := &AppDetails{ID: a.ID, Name: a.Name, Tagline: a.Tagline, Description: a.Desc, Homepage: a.Homepage,
		Hidden: a.Hidden, Screenshots: []string{}, Architectures: []string{}}
	if a.Package != nil {
		d.Key = *a.Package
	}
	if a.IconURL != nil {
		d.IconURL = *a.IconURL
	}
	if a.Previews != nil && *a.Previews != "" {
		d.Screenshots = strings.Split(*a.Previews, ";")
	}
	if a.Architectures != "" {
		d.Architectures = strings.Split(a.Architectures, ",")
	}
	if d.Categories, err = q.AppCategories(ctx, a.ID); err != nil {
		return nil, err
	}
	if d.Stores, err = q.AppStores(ctx, a.ID); err != nil {
		return nil, err
	}
	ups, err := q.Updates(ctx, a.ID, true, Page{Limit: MaxMax * 100})
	if err != nil {
		return nil, err
	}
	d.Versions = make([]StoreVersion, len(ups))
	for i, u := range ups {
		d.Versions[i] = StoreVersion{Rev: u.Reversion, Version: u.Version, Store: u.Store, Installable: u.Stack != nil,
			Changelog: u.Updates, CreatedAt: u.CreatedAt}
	}
	return d, nil
}

// AppCategories lists the categories of the apps aids, for a page of store cards: every category each is in.
func (s *Service) AppCategories(ctx context.Context, aids []int64) (map[int64][]int64, error) {
	m, err := s.store.Q().AppCategoryLinks(ctx, aids)
	return m, wrap(err, "app categories")
}

// checkStoreName refuses a store name that is not a format name.
func checkStoreName(field, name string) error {
	if !storeName.MatchString(name) {
		return apperr.Field(apperr.Invalid, field, "store %q must be a store format name such as casaos (lowercase letters, digits and -)", name)
	}
	return nil
}

// AppOrigins lists the categories an app is in and the stores that offer it, for its page.
func (s *Service) AppOrigins(ctx context.Context, aid int64) ([]Category, []AppStore, error) {
	q := s.store.Q()
	cats, err := q.AppCategories(ctx, aid)
	if err != nil {
		return nil, nil, err
	}
	stores, err := q.AppStores(ctx, aid)
	return cats, stores, err
}
