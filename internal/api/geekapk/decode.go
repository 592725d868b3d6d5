package geekapk

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/hub"
)

// fields is a decoded JSON object, looked up by any of a field's names.
type fields map[string]json.RawMessage

// parseObject decodes a JSON object body.
func parseObject(b []byte) (fields, error) {
	var m fields
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, apperr.New(apperr.Invalid, "I can't recognize your request: the body must be a JSON object")
	}
	if dec.More() {
		return nil, apperr.New(apperr.Invalid, "I can't recognize your request: one JSON object expected")
	}
	return m, nil
}

// decoder reads typed fields and keeps the first error.
type decoder struct {
	m   fields
	err error
}

// get reads the first present name among names (the JSON name first, then the column name). The field's name in
// errors is the first one.
func get[T any](d *decoder, names ...string) hub.Opt[T] {
	var o hub.Opt[T]
	for _, n := range names {
		raw, ok := d.m[n]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, &o.V); err != nil && d.err == nil {
			d.err = apperr.Field(apperr.Invalid, names[0], "%s has the wrong type: want %s", names[0], typeName[T]())
		}
		o.Set = true
		return o
	}
	return o
}

func typeName[T any]() string {
	var v T
	switch any(v).(type) {
	case string, *string:
		return "a string"
	case int64, *int64:
		return "a number"
	case *catalog.Stack:
		return `an object {"compose": "...", "env": "...", "files": {...}, "requirements": {...}}`
	}
	return fmt.Sprintf("%T", v)
}

func decodeUser(m fields) (hub.UserInput, error) {
	d := &decoder{m: m}
	in := hub.UserInput{
		SimpleName: get[string](d, "simple_name"),
		Name:       get[string](d, "name", "user_name"),
		AvatarURL:  get[*string](d, "avatar_url"),
		Alias:      get[*string](d, "alias"),
		Github:     get[*string](d, "github"),
		Bio:        get[string](d, "bio"),
		DevBio:     get[*string](d, "dev_bio", "dev"),
	}
	return in, d.err
}

func decodeApp(m fields) (hub.AppInput, error) {
	d := &decoder{m: m}
	in := hub.AppInput{
		Category:    get[*int64](d, "category"),
		Package:     get[*string](d, "package", "package_name"),
		Name:        get[string](d, "name", "app_name"),
		Alias:       get[*string](d, "alias"),
		IconURL:     get[*string](d, "icon_url"),
		Desc:        get[string](d, "desc", "app_description"),
		Visual:      get[*string](d, "visual", "visualizer"),
		Button:      get[*string](d, "button", "button_text"),
		Special:     get[*string](d, "special"),
		Previews:    get[*string](d, "previews"),
		Permissions: get[*string](d, "permissions", "app_permissions"),
		Size:        get[int64](d, "size"),
	}
	return in, d.err
}

func decodeUpdate(m fields) (hub.UpdateInput, error) {
	d := &decoder{m: m}
	in := hub.UpdateInput{
		Reversion:  get[int64](d, "rev", "reversion"),
		Version:    get[string](d, "ver", "version_name"),
		InstallURL: get[string](d, "install_url"),
		Updates:    get[string](d, "updates"),
		APIMin:     get[*int64](d, "api_min"),
		APITarget:  get[*int64](d, "api_target"),
		Stack:      get[*catalog.Stack](d, "stack"),
	}
	return in, d.err
}

func decodeComment(m fields) (hub.CommentInput, error) {
	d := &decoder{m: m}
	in := hub.CommentInput{
		Reply:   get[*int64](d, "reply", "reply_comment"),
		Content: get[string](d, "content"),
	}
	return in, d.err
}
