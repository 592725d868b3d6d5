package auth

import (
	"encoding/base32"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// RFC 6238, appendix B: the SHA-1 test vectors (8 digits, 30-second steps, the 20-byte ASCII secret).
func TestTOTPCodeRFC6238(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		got, err := TOTPCode(secret, time.Unix(v.unix, 0), otp.DigitsEight)
		if err != nil || got != v.code {
			t.Errorf("TOTP at %d = %q, %v; want %q", v.unix, got, err, v.code)
		}
	}
}

// A code is accepted for its own step and one step either side (clock drift), and names the step it matched.
func TestMatchStep(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	now := time.Unix(1111111111, 0)
	cur := now.Unix() / totpPeriod
	for delta, want := range map[int64]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		code, err := stepCode(secret, cur+delta, otp.DigitsSix)
		if err != nil {
			t.Fatal(err)
		}
		step, ok := matchStep(secret, code, now)
		if ok != want || (ok && step != cur+delta) {
			t.Errorf("code of step %+d: matched %v at %d; want %v at %d", delta, ok, step, want, cur+delta)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := matchStep(secret, bad, now); ok {
			t.Errorf("matchStep accepted %q", bad)
		}
	}
}
