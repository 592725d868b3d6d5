package auth

import (
	"testing"
	"time"
)

func TestLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for range 3 {
		if blocked, _ := l.Blocked("a"); blocked {
			t.Fatal("blocked before the limit")
		}
		l.Fail("a")
		now = now.Add(time.Second)
	}
	blocked, wait := l.Blocked("a", "b")
	if !blocked || wait != 57*time.Second {
		t.Errorf("after 3 failures: blocked %v wait %v, want true 57s", blocked, wait)
	}
	if blocked, _ := l.Blocked("b"); blocked {
		t.Error("an unrelated key is blocked")
	}
	now = now.Add(58 * time.Second)
	if blocked, _ := l.Blocked("a"); blocked {
		t.Error("still blocked once the oldest failure left the window")
	}
	l.Fail("a")
	l.Reset("a")
	if blocked, _ := l.Blocked("a"); blocked {
		t.Error("blocked after Reset")
	}
}
