package realtime_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tu "github.com/stackhub/stackhub/internal/testutil"
)

// A client may send its first frame in the same packet as its handshake; net/http reads ahead, and those bytes
// must reach the WebSocket reader. Raw TCP, so the frame really travels with the request.
func TestFrameSentWithTheHandshake(t *testing.T) {
	tu.ForEachEngine(t, func(t *testing.T, e tu.Engine) {
		s := tu.StartServer(t, e, tu.Options{})
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.WSURL, "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
		mask := []byte{1, 2, 3, 4}
		frame := []byte{0x81, 0x80 | 1, mask[0], mask[1], mask[2], mask[3], 'o' ^ mask[0]} // text "o", masked
		req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", res, err)
		}
		got := make([]byte, 3)
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("no answer to the early frame: %v", err)
		}
		if string(got) != "\x81\x010" {
			t.Errorf("answer frame = %q, want a text frame \"0\"", got)
		}
	})
}
