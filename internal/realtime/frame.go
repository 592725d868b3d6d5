// Package realtime serves StackHub's live connections: the GeekApk WebSocket protocol on its own listener (section
// 7 of the hub contract) and the JSON event stream under /api/v1/events (WebSocket or Server-Sent Events). Both are
// fed by the event bus; no service calls into this package.
package realtime

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// FrameKind says what a GeekApk client frame asks for.
type FrameKind int

// The frames a client may send; anything else is FrameInvalid and is answered with ERROR.
const (
	FrameInvalid FrameKind = iota
	FrameCount             // "o": how many users are online
	FrameQuery             // "o?1,2,3": which of these users are online
	FrameDM                // "<uid>:<message>": a direct message
)

// MaxQueryUIDs bounds an "o?" query, so one frame cannot make the server build an unbounded answer.
const MaxQueryUIDs = 1000

// Frame is a parsed client frame.
type Frame struct {
	Kind    FrameKind
	UIDs    []int64 // FrameQuery: the uids asked about, in order
	To      int64   // FrameDM: the recipient
	Message string  // FrameDM: the text, as sent
}

// ParseFrame reads one text frame. The "o" commands tolerate surrounding white space (a trailing newline from a
// terminal client); a direct message is taken as sent after the first colon, and must not be empty. A uid is a
// positive decimal number.
func ParseFrame(s string) Frame {
	if !utf8.ValidString(s) {
		return Frame{}
	}
	cmd := strings.TrimSpace(s)
	if cmd == "o" {
		return Frame{Kind: FrameCount}
	}
	if list, ok := strings.CutPrefix(cmd, "o?"); ok {
		return parseQuery(list)
	}
	to, msg, ok := strings.Cut(s, ":")
	if !ok || msg == "" {
		return Frame{}
	}
	uid, ok := parseUID(to)
	if !ok {
		return Frame{}
	}
	return Frame{Kind: FrameDM, To: uid, Message: msg}
}

func parseQuery(list string) Frame {
	if list == "" {
		return Frame{}
	}
	parts := strings.Split(list, ",")
	if len(parts) > MaxQueryUIDs {
		return Frame{}
	}
	uids := make([]int64, len(parts))
	for i, p := range parts {
		uid, ok := parseUID(strings.TrimSpace(p))
		if !ok {
			return Frame{}
		}
		uids[i] = uid
	}
	return Frame{Kind: FrameQuery, UIDs: uids}
}

// parseUID accepts digits only (no sign, no spaces) naming a uid above zero.
func parseUID(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
