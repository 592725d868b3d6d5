// Package webhook parses the GeekApk outgoing webhooks (WEBHOOKS) and delivers them, and the JSON hooks the admin
// adds, through a durable queue: deliveries are stored before the first attempt, retried with backoff and signed.
package webhook

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The original hook types.
const (
	ReplyToMessage = "replyToMessage"
	CommentApp     = "commentApp"
	NewUser        = "newUser"
)

// Hook is one configured webhook: fire for events of Type about Data (a cid or aid; 0 for newUser) to URL.
type Hook struct {
	Type string `json:"type"`
	Data int64  `json:"data"`
	URL  string `json:"url"`
}

// Parse reads the WEBHOOKS setting: ";"-separated "type:data:url" entries, split on their first two colons only so
// URLs keep theirs; newUser takes no data. The legacy spellings "HTTPS//host" and "HTTP//host" are accepted.
func Parse(s string) ([]Hook, error) {
	var hooks []Hook
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		h, err := parseEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOKS entry %q: %w", entry, err)
		}
		hooks = append(hooks, h)
	}
	return hooks, nil
}

func parseEntry(entry string) (Hook, error) {
	typ, rest, ok := strings.Cut(entry, ":")
	if !ok {
		return Hook{}, fmt.Errorf("want type:data:url")
	}
	h := Hook{Type: typ}
	switch typ {
	case NewUser:
		h.URL = rest
	case ReplyToMessage, CommentApp:
		data, u, ok := strings.Cut(rest, ":")
		if !ok {
			return Hook{}, fmt.Errorf("want %s:<id>:<url>", typ)
		}
		id, err := strconv.ParseInt(data, 10, 64)
		if err != nil || id < 0 {
			return Hook{}, fmt.Errorf("data %q is not an id", data)
		}
		h.Data, h.URL = id, u
	default:
		return Hook{}, fmt.Errorf("unknown type %q (want %s, %s or %s)", typ, ReplyToMessage, CommentApp, NewUser)
	}
	u, err := normalizeURL(h.URL)
	if err != nil {
		return Hook{}, err
	}
	h.URL = u
	return h, nil
}

func normalizeURL(raw string) (string, error) {
	for _, legacy := range []string{"HTTPS//", "HTTP//", "https//", "http//"} {
		if strings.HasPrefix(raw, legacy) {
			raw = strings.ToLower(strings.TrimSuffix(legacy, "//")) + "://" + raw[len(legacy):]
			break
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url %q is not an http(s) address", raw)
	}
	return u.String(), nil
}

// Public returns the hooks as an anonymous caller may see them: the URL's scheme and host only.
func Public(hooks []Hook) []Hook {
	out := make([]Hook, len(hooks))
	for i, h := range hooks {
		out[i] = h
		if u, err := url.Parse(h.URL); err == nil {
			out[i].URL = u.Scheme + "://" + u.Host
		}
	}
	return out
}
