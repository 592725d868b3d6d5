package hub

import (
	"github.com/stackhub/stackhub/internal/catalog"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/stackhub/stackhub/internal/apperr"
)

// Opt is a request field that may be absent; Set tells whether the client sent it.
type Opt[T any] struct {
	Set bool
	V   T
}

// Some returns a present field.
func Some[T any](v T) Opt[T] { return Opt[T]{Set: true, V: v} }

func (o Opt[T]) apply(dst *T) {
	if o.Set {
		*dst = o.V
	}
}

// UserInput is the editable part of a user. Absent fields are left as they are.
type UserInput struct {
	SimpleName Opt[string]
	Name       Opt[string]
	AvatarURL  Opt[*string]
	Alias      Opt[*string]
	Github     Opt[*string]
	Bio        Opt[string]
	DevBio     Opt[*string]
}

// AppInput is the editable part of an app.
type AppInput struct {
	Category    Opt[*int64]
	Package     Opt[*string]
	Name        Opt[string]
	Alias       Opt[*string]
	IconURL     Opt[*string]
	Desc        Opt[string]
	Visual      Opt[*string]
	Button      Opt[*string]
	Special     Opt[*string]
	Previews    Opt[*string]
	Permissions Opt[*string]
	Size        Opt[int64]
}

// UpdateInput is the editable part of an update (version).
type UpdateInput struct {
	Reversion  Opt[int64]
	Version    Opt[string]
	InstallURL Opt[string]
	Updates    Opt[string]
	APIMin     Opt[*int64]
	APITarget  Opt[*int64]
	Stack      Opt[*catalog.Stack] // null removes the stack; the version is then no longer installable
}

// CommentInput is a new comment.
type CommentInput struct {
	Reply   Opt[*int64]
	Content Opt[string]
}

// Text limits of the contract: every one means "fewer than N characters".
const (
	limSimpleName  = 20
	limAvatar      = 500
	limUserName    = 100
	limUserAlias   = 50
	limGithub      = 50
	limBio         = 500
	limPackage     = 60
	limAppName     = 60
	limAppAlias    = 60
	limIcon        = 500
	limDesc        = 10000
	limVisual      = 20
	limButton      = 60
	limSpecial     = 12
	limPreviews    = 4000
	limPermissions = 10000
	limVersion     = 40
	limInstallURL  = 500
	limChangelog   = 6000
	limComment     = 7000
	limCategory    = 100
	limMetapass    = 200
)

var simpleNameRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// checker gathers the first problem among a request's fields.
type checker struct{ err error }

func (c *checker) len(field, v string, limit int) {
	if c.err == nil && utf8.RuneCountInString(v) >= limit {
		c.err = apperr.Field(apperr.TooLarge, field, "Request content too large: %s must be fewer than %d characters",
			field, limit)
	}
}

func (c *checker) lenOpt(field string, v *string, limit int) {
	if v != nil {
		c.len(field, *v, limit)
	}
}

func (c *checker) require(field, v string) {
	if c.err == nil && strings.TrimSpace(v) == "" {
		c.err = apperr.Field(apperr.Invalid, field, "%s is required and may not be blank", field)
	}
}

func (c *checker) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func checkUser(u *User) error {
	var c checker
	c.require("simple_name", u.SimpleName)
	c.len("simple_name", u.SimpleName, limSimpleName)
	if c.err == nil && !simpleNameRe.MatchString(u.SimpleName) {
		c.fail(apperr.Field(apperr.Invalid, "simple_name", "simple_name may hold only letters, digits and _"))
	}
	c.lenOpt("avatar_url", u.AvatarURL, limAvatar)
	c.len("name", u.Name, limUserName)
	c.lenOpt("alias", u.Alias, limUserAlias)
	c.lenOpt("github", u.Github, limGithub)
	c.len("bio", u.Bio, limBio)
	c.lenOpt("dev_bio", u.DevBio, limBio)
	return c.err
}

func checkApp(a *App) error {
	var c checker
	c.require("name", a.Name)
	c.lenOpt("package", a.Package, limPackage)
	if c.err == nil && a.Package != nil && strings.TrimSpace(*a.Package) == "" {
		c.fail(apperr.Field(apperr.Invalid, "package", "package may not be blank; leave it out or null instead"))
	}
	c.len("name", a.Name, limAppName)
	c.lenOpt("alias", a.Alias, limAppAlias)
	c.lenOpt("icon_url", a.IconURL, limIcon)
	c.len("desc", a.Desc, limDesc)
	c.lenOpt("visual", a.Visual, limVisual)
	c.lenOpt("button", a.Button, limButton)
	c.lenOpt("special", a.Special, limSpecial)
	c.lenOpt("previews", a.Previews, limPreviews)
	c.lenOpt("permissions", a.Permissions, limPermissions)
	if c.err == nil && a.Size < 0 {
		c.fail(apperr.Field(apperr.Invalid, "size", "size may not be negative"))
	}
	return c.err
}

func checkUpdate(u *Update) error {
	var c checker
	c.len("ver", u.Version, limVersion)
	c.len("install_url", u.InstallURL, limInstallURL)
	c.len("updates", u.Updates, limChangelog)
	if c.err == nil && u.Reversion < 0 {
		c.fail(apperr.Field(apperr.Invalid, "rev", "rev must be a positive number"))
	}
	return c.err
}

func checkContent(content string) error {
	var c checker
	c.require("content", content)
	c.len("content", content, limComment)
	return c.err
}
