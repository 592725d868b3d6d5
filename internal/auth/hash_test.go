package auth

import (
	"strings"
	"testing"
)

func TestDefaultParams(t *testing.T) {
	h, err := DefaultParams().Hash("secret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("production hash %q does not use argon2id with 19 MiB and 2 passes", h)
	}
	h2, _ := DefaultParams().Hash("secret")
	if h == h2 {
		t.Error("two hashes of one secret are equal: no salt")
	}
	for secret, want := range map[string]bool{"secret": true, "Secret": false, "": false, "secret ": false} {
		if ok, err := Verify(secret, h); err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", secret, ok, err, want)
		}
	}
	// Hashes made with other costs still verify.
	light, _ := Params{Time: 1, Memory: 64, Threads: 1}.Hash("x")
	if ok, _ := Verify("x", light); !ok {
		t.Error("a light hash does not verify")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=1,p=1$$", "$bcrypt$x$y$z$w", "$argon2id$v=18$m=64,t=1,p=1$AAAA$AAAA"} {
		if _, err := Verify("x", bad); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestRandomString(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := RandomString(20, Alphanumeric)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 20 || strings.Trim(s, Alphanumeric) != "" || seen[s] {
			t.Fatalf("RandomString = %q (repeat %v)", s, seen[s])
		}
		seen[s] = true
	}
}
