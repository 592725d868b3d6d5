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
	conn    interface{ SetWriteDeadline(time.Time) error }
	timeout time.Duration // sendTimeout when the connection or request began
	set     time.Time
}

func newWriteDeadline(conn interface{ SetWriteDeadline(time.Time) error }) writeDeadline {
	return writeDeadline{conn: conn, timeout: sendTimeout}
}

func (d *writeDeadline) push() {
	if now := time.Now(); now.Sub(d.set) >= time.Second {
		d.set = now
		_ = d.conn.SetWriteDeadline(now.Add(d.timeout))
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

// sendWriter is the ResponseWriter ReverseProxy writes the answer to on net/http's path. On HTTP/1.1 the deadline
// it leaves also bounds the server's last flush after the handler returns; the server then clears it, as it clears
// every deadline of a connection it hands over (a WebSocket's, which ReverseProxy copies with no deadline of its
// own). An HTTP/2 stream's deadline is a timer that resets the stream when it fires, write or no write: there it
// is set for each write and cleared after it, so a stream quiet between events is not cut.
type sendWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	h2 bool
	wd writeDeadline
}

func newSendWriter(w http.ResponseWriter, r *http.Request) *sendWriter {
	s := &sendWriter{ResponseWriter: w, rc: http.NewResponseController(w), h2: r.ProtoMajor == 2}
	s.wd = newWriteDeadline(s.rc)
	return s
}

func (w *sendWriter) before() {
	if w.h2 {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.wd.timeout))
		return
	}
	w.wd.push()
}

func (w *sendWriter) after() {
	if w.h2 {
		_ = w.rc.SetWriteDeadline(time.Time{})
	}
}

// finish sets the deadline for what the server sends after the handler returns: the rest of its buffer (all of a
// small answer with a length, which ReverseProxy does not flush). On HTTP/2 it is left set: the stream's end
// stops it.
func (w *sendWriter) finish() {
	if w.h2 {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.wd.timeout))
		return
	}
	w.wd.push()
}

func (w *sendWriter) WriteHeader(code int) {
	w.before()
	w.ResponseWriter.WriteHeader(code)
	w.after()
}

func (w *sendWriter) Write(p []byte) (int, error) {
	w.before()
	defer w.after()
	return w.ResponseWriter.Write(p)
}

func (w *sendWriter) FlushError() error {
	w.before()
	defer w.after()
	return w.rc.Flush()
}

func (w *sendWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
