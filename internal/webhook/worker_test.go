package webhook

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := &Service{opt: Options{Backoff: time.Second, MaxBackoff: time.Hour}}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {12, 2048 * time.Second},
		{13, time.Hour}, {14, time.Hour}, {100, time.Hour},
	} {
		if got := s.backoff(tc.failures); got != tc.want {
			t.Errorf("backoff after %d failures = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern, typ string
		match        bool
	}{
		{"*", "comment.created", true},
		{"comment.*", "comment.created", true},
		{"comment.*", "app.created", false},
		{"comment.created", "comment.created", true},
		{"comment.created", "comment.edited", false},
		{"install.*", "install.upgrade", true},
	} {
		if got := patternMatches(tc.pattern, tc.typ); got != tc.match {
			t.Errorf("patternMatches(%q, %q) = %v", tc.pattern, tc.typ, got)
		}
	}
	for p, ok := range map[string]bool{"*": true, "comment.*": true, "notification.created": true, "install.*": true,
		"comment.creatd": false, "nope.*": false, "comment": false, "comment.**": false, "": false, "*.created": false} {
		if err := checkPattern(p); (err == nil) != ok {
			t.Errorf("checkPattern(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

func TestSign(t *testing.T) {
	// The RFC 4231 test case 2 key and data, as a receiver would check them.
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
