package webhook

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	got, err := Parse("replyToMessage:2333:https://bar.org/bot;commentApp:23:https://geekbot.com/webhook;" +
		"newUser:https://x.org/hook;newUser:HTTPS//legacy.org:8443/a:b;commentApp:1:HTTP//old.example/x;")
	if err != nil {
		t.Fatal(err)
	}
	want := []Hook{
		{ReplyToMessage, 2333, "https://bar.org/bot"},
		{CommentApp, 23, "https://geekbot.com/webhook"},
		{NewUser, 0, "https://x.org/hook"},
		{NewUser, 0, "https://legacy.org:8443/a:b"},
		{CommentApp, 1, "http://old.example/x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Hook{{ReplyToMessage, 2333, "https://bar.org"}}, Public(got[:1])); diff != "" {
		t.Errorf("Public (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"nope", "pushApp:1:https://x", "commentApp:https://x.org", "commentApp:-1:https://x",
		"newUser:ftp://x.org", "newUser:", "replyToMessage:1:not a url"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Parse(%q) = %v, want an error naming the entry", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("replyToMessage:2333:https://bar.org/bot;newUser:HTTPS//x.org/h;")
	f.Add("commentApp:23:http://h/x:y;;")
	f.Fuzz(func(t *testing.T, s string) {
		hooks, err := Parse(s)
		if err != nil {
			return
		}
		for _, h := range hooks {
			if h.Type != NewUser && h.Type != CommentApp && h.Type != ReplyToMessage {
				t.Fatalf("accepted type %q", h.Type)
			}
			if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
				t.Fatalf("accepted url %q", h.URL)
			}
		}
	})
}
