package realtime

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// leanBuffer is the size of the read and write buffers of an upgraded connection. net/http hands over 4 KiB of
// each; with ten thousand idle sockets that is most of their memory. Frames here are small, and bufio passes
// larger reads and writes straight through, so a small buffer costs at most an extra system call on a big frame.
const leanBuffer = 512

// accept upgrades the request with small buffers, and returns the raw socket too, for writeWithin.
func accept(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) (*websocket.Conn, net.Conn, error) {
	lw := &leanWriter{ResponseWriter: w}
	conn, err := websocket.Accept(lw, r, opts)
	return conn, lw.raw, err
}

// writeWithin sends one text message and gives up after d. The deadline goes on the socket, which costs less than
// a context (a timer and a callback) per message when one event goes to ten thousand clients; it comes off again
// afterwards so that the library's own pings and close are not cut short by it.
func writeWithin(conn *websocket.Conn, raw net.Conn, d time.Duration, msg []byte) error {
	_ = raw.SetWriteDeadline(time.Now().Add(d))
	err := conn.Write(context.Background(), websocket.MessageText, msg)
	_ = raw.SetWriteDeadline(time.Time{})
	return err
}

// leanWriter gives the WebSocket library a hijacked connection with small buffers. It is found by the library's
// Hijacker lookup before the wrapped ResponseWriter's own.
type leanWriter struct {
	http.ResponseWriter
	raw net.Conn
}

// Hijack takes over the connection, keeping any bytes the client sent after its handshake.
func (w *leanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.raw = conn
	br := bufio.NewReaderSize(conn, leanBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after its handshake (net/http reads ahead) must be in the new reader's
		// buffer, not behind it: the library takes over what is buffered, then reads the connection itself.
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(leanBuffer, n))
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	// net/http has flushed the 101 response before handing over: its writer holds nothing.
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, leanBuffer)), nil
}
