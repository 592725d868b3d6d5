package geekapk

import (
	"encoding/json"
	"testing"

	"github.com/stackhub/stackhub/internal/apperr"
)

// FuzzDecoders feeds arbitrary bodies to every request decoder: each must either decode or answer a client error,
// never panic, and a decoded name must round-trip what the JSON said.
func FuzzDecoders(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"name":"x","package":"p","category":3,"size":1}`, `{"app_name":"x","package_name":null}`,
		`{"simple_name":"a","user_name":"b","dev":"c"}`, `{"reply":1,"content":"hi"}`, `{"rev":1,"ver":"1.0","api_min":null}`,
		`{"name":5}`, `{"size":"big"}`, `[]`, `null`, `"x"`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"name":"\u0000\ud800"}`,
		`{"category":1e400}`, `{"size":-9223372036854775809}`, `{"name":"a"}{"name":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseObject(body)
		if err != nil {
			if apperr.As(err).Kind != apperr.Invalid {
				t.Fatalf("parseObject error kind %v, want Invalid: %v", apperr.As(err).Kind, err)
			}
			return
		}
		check := func(err error) {
			if err != nil && apperr.As(err).Kind != apperr.Invalid {
				t.Fatalf("decoder error kind %v, want Invalid: %v", apperr.As(err).Kind, err)
			}
		}
		app, err := decodeApp(m)
		check(err)
		if err == nil && app.Name.Set {
			var want string
			raw := m["name"]
			if raw == nil {
				raw = m["app_name"]
			}
			if json.Unmarshal(raw, &want) == nil && want != app.Name.V {
				t.Fatalf("name decoded as %q, JSON says %q", app.Name.V, want)
			}
		}
		_, err = decodeUser(m)
		check(err)
		_, err = decodeUpdate(m)
		check(err)
		_, err = decodeComment(m)
		check(err)
	})
}
