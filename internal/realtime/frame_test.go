package realtime

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFrame(t *testing.T) {
	long := "o?" + strings.TrimSuffix(strings.Repeat("1,", MaxQueryUIDs+1), ",")
	for _, tc := range []struct {
		in   string
		want Frame
	}{
		{"o", Frame{Kind: FrameCount}},
		{" o\n", Frame{Kind: FrameCount}},
		{"o?12,32,43", Frame{Kind: FrameQuery, UIDs: []int64{12, 32, 43}}},
		{"o?7", Frame{Kind: FrameQuery, UIDs: []int64{7}}},
		{"o?1, 2 ,3\r\n", Frame{Kind: FrameQuery, UIDs: []int64{1, 2, 3}}},
		{"42:hello", Frame{Kind: FrameDM, To: 42, Message: "hello"}},
		{"42:a:b: c ", Frame{Kind: FrameDM, To: 42, Message: "a:b: c "}},
		{"42: ", Frame{Kind: FrameDM, To: 42, Message: " "}},
		{"42:héllo\nworld", Frame{Kind: FrameDM, To: 42, Message: "héllo\nworld"}},
		{"007:x", Frame{Kind: FrameDM, To: 7, Message: "x"}},
		{"", Frame{}},
		{"oo", Frame{}},
		{"O", Frame{}},
		{"o?", Frame{}},
		{"o?1,,2", Frame{}},
		{"o?1,", Frame{}},
		{"o?0", Frame{}},
		{"o?-1", Frame{}},
		{"o?x", Frame{}},
		{long, Frame{}},
		{"hello", Frame{}},
		{"42:", Frame{}},
		{":hi", Frame{}},
		{"0:hi", Frame{}},
		{"-3:hi", Frame{}},
		{"+3:hi", Frame{}},
		{" 3:hi", Frame{}},
		{"3 :hi", Frame{}},
		{"abc:hi", Frame{}},
		{"99999999999999999999:hi", Frame{}},
		{"9223372036854775808:hi", Frame{}},
		{"3:\xff", Frame{}},
	} {
		if diff := cmp.Diff(tc.want, ParseFrame(tc.in)); diff != "" {
			t.Errorf("ParseFrame(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// FuzzParseFrame checks the parser's promises on any input: no panic, every accepted uid positive, a query
// bounded, and a direct message that, written back out, parses to itself.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{"o", "o?1,2,3", "12:hello", "12:a:b", "0:x", "o?", "o?1,,2", ":", "\xff:x", " o "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fr := ParseFrame(s)
		switch fr.Kind {
		case FrameInvalid:
			if fr.UIDs != nil || fr.To != 0 || fr.Message != "" {
				t.Fatalf("invalid frame %q carries data: %+v", s, fr)
			}
		case FrameCount:
			if strings.TrimSpace(s) != "o" {
				t.Fatalf("%q parsed as a count", s)
			}
		case FrameQuery:
			if len(fr.UIDs) == 0 || len(fr.UIDs) > MaxQueryUIDs {
				t.Fatalf("%q: %d uids", s, len(fr.UIDs))
			}
			for _, u := range fr.UIDs {
				if u <= 0 {
					t.Fatalf("%q: uid %d", s, u)
				}
			}
		case FrameDM:
			if fr.To <= 0 || fr.Message == "" {
				t.Fatalf("%q: bad DM %+v", s, fr)
			}
			again := ParseFrame(strconv.FormatInt(fr.To, 10) + ":" + fr.Message)
			if again.Kind != FrameDM || again.To != fr.To || again.Message != fr.Message {
				t.Fatalf("%q: round trip gave %+v", s, again)
			}
		default:
			t.Fatalf("%q: kind %d", s, fr.Kind)
		}
	})
}

func TestBucket(t *testing.T) {
	var b bucket
	start := testTime(0)
	allowed := 0
	for range 10 {
		if b.allow(start, 2, 3) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("a burst of 10 at once let %d through, want the burst size 3", allowed)
	}
	if !b.allow(testTime(500), 2, 3) || b.allow(testTime(500), 2, 3) {
		t.Error("after 0.5 s at 2/s exactly one more frame should pass")
	}
	if n := countAllowed(&b, testTime(60_000), 2, 3); n != 3 {
		t.Errorf("after a long pause %d passed, want the burst size 3 (tokens are capped)", n)
	}
}

func testTime(ms int64) time.Time { return time.UnixMilli(1_700_000_000_000 + ms) }

func countAllowed(b *bucket, now time.Time, rate float64, burst int) int {
	n := 0
	for range 10 {
		if b.allow(now, rate, burst) {
			n++
		}
	}
	return n
}
