package edge

import (
	"crypto/tls"
	"net/http"
	"time"
)

// sendTimeout is how long a write to a client may go without progress before the edge gives the client up, as
// nginx's send_timeout: a client that stops reading, by accident or on purpose, would otherwise hold a goroutine
// and its app connection (a PHP worker, say) for ever. Each write pushes the deadline on, so a long stream read
// as it comes is never cut; a single write must finish within it (32 KiB at most: a client reading under about
// 0.5 KB/s is dropped). A var for tests.
var sendTimeout = time.Minute

// writeDeadline sets a write deadline sendTimeout ahead before each write, at most once a second: the deadline
// then falls between sendTimeout less a second and sendTimeout after the last progress, for one timer change a
// second rather than one a write.
type writeDeadline struct {
	conn interface{ SetWriteDeadline(time.Time) error }
	set  time.Time
}

func (d *writeDeadline) push() {
	if now := time.Now(); now.Sub(d.set) >= time.Second {
		d.set = now
		_ = d.conn.SetWriteDeadline(now.Add(sendTimeout))
	}
}

// clientWriter is the fast path's client connection as its buffered writer writes to it.
type clientWriter struct {
	c  *tls.Conn
	wd writeDeadline
}

func (w *clientWriter) Write(p []byte) (int, error) {
	w.wd.push()
	return w.c.Write(p)
}

// sendWriter is the ResponseWriter ReverseProxy writes the answer to on net/http's path. The deadline it leaves
// also bounds the server's last flush after the handler returns; the server then clears it, as it clears every
// deadline of a connection it hands over (a WebSocket's, which ReverseProxy copies with no deadline of its own).
type sendWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	wd writeDeadline
}

func (w *sendWriter) deadline() {
	if w.wd.conn == nil {
		w.wd.conn = w.rc
	}
	w.wd.push()
}

func (w *sendWriter) WriteHeader(code int) {
	w.deadline()
	w.ResponseWriter.WriteHeader(code)
}

func (w *sendWriter) Write(p []byte) (int, error) {
	w.deadline()
	return w.ResponseWriter.Write(p)
}

func (w *sendWriter) FlushError() error {
	w.deadline()
	return w.rc.Flush()
}

func (w *sendWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
