package dsn

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://bench:s3cret@127.0.0.1:5432/db?sslmode=disable": "postgres://bench:xxx@127.0.0.1:5432/db?sslmode=disable",
		"postgres://bench@127.0.0.1/db":                             "postgres://bench@127.0.0.1/db",
		"/tmp/b.db":                                                 "/tmp/b.db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
