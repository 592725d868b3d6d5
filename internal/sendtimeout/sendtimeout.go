// Package sendtimeout gives up a client that stops reading an answer, as nginx's send_timeout does: such a
// client, by accident or on purpose, would otherwise hold the goroutine writing to it (and whatever that
// goroutine holds: an app connection, a database row) for ever, since net/http sets no write deadline unless
// told to, and a global one would cut long streams. Here each write that makes progress pushes the deadline on,
// so a stream read as it comes is never cut, and only a single write must finish within the timeout.
package sendtimeout

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// Timeout is how long a write may go without progress. A var for tests; it is read when a Writer or Deadline
// is made.
var Timeout = time.Minute

// Deadline sets a write deadline Timeout ahead before each write, at most once every sixtieth of Timeout (a
// second of the default minute): the deadline then falls between 59/60 of Timeout and Timeout after the last
// progress, for one timer change a second rather than one a write.
type Deadline struct {
	conn    interface{ SetWriteDeadline(time.Time) error }
	timeout time.Duration
	set     time.Time
}

// NewDeadline returns the Deadline of conn, or of a ResponseController.
func NewDeadline(conn interface{ SetWriteDeadline(time.Time) error }) Deadline {
	return Deadline{conn: conn, timeout: Timeout}
}

// Push moves the deadline Timeout ahead, unless it moved less than a sixtieth of Timeout ago.
func (d *Deadline) Push() {
	if now := time.Now(); now.Sub(d.set) >= d.timeout/60 {
		d.set = now
		_ = d.conn.SetWriteDeadline(now.Add(d.timeout))
	}
}

// Writer is a ResponseWriter whose writes each push the write deadline on. On HTTP/1.1 the deadline it leaves
// also bounds the server's last flush after the handler returns; the server then clears it, as it clears every
// deadline of a connection it hands over (a WebSocket's). An HTTP/2 stream's deadline is a timer that resets the
// stream when it fires, write or no write: there it is set for each write and cleared after it, so a stream
// quiet between events is not cut. A handler that sets deadlines of its own (through a ResponseController) keeps
// them: from then on the Writer leaves the deadline alone.
type Writer struct {
	http.ResponseWriter
	rc       http.ResponseController // a value: one allocation a request, not two
	h2       bool
	own      bool // the handler set a deadline itself
	hijacked bool // the connection is the handler's: its deadlines are too
	wd       Deadline
}

// NewWriter wraps w, the ResponseWriter of r.
func NewWriter(w http.ResponseWriter, r *http.Request) *Writer {
	s := &Writer{ResponseWriter: w, rc: *http.NewResponseController(w), h2: r.ProtoMajor == 2}
	s.wd = NewDeadline(&s.rc)
	return s
}

// Handler gives every answer of next a send timeout.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := NewWriter(w, r)
		next.ServeHTTP(sw, r)
		sw.Finish()
	})
}

func (w *Writer) before() {
	switch {
	case w.own, w.hijacked:
	case w.h2:
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.wd.timeout))
	default:
		w.wd.Push()
	}
}

func (w *Writer) after() {
	if w.h2 && !w.own && !w.hijacked {
		_ = w.rc.SetWriteDeadline(time.Time{})
	}
}

// Finish sets the deadline for what the server sends after the handler returns: the rest of its buffer (all of a
// small answer with a length). On HTTP/2 it is left set: the stream's end stops it.
func (w *Writer) Finish() { w.before() }

func (w *Writer) WriteHeader(code int) {
	w.before()
	w.ResponseWriter.WriteHeader(code)
	w.after()
}

func (w *Writer) Write(p []byte) (int, error) {
	w.before()
	defer w.after()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes through the ResponseController, which Flush and FlushError both reach.
func (w *Writer) FlushError() error {
	w.before()
	defer w.after()
	return w.rc.Flush()
}

// Flush is FlushError for code that asks for an http.Flusher.
func (w *Writer) Flush() { _ = w.FlushError() }

// SetWriteDeadline is the handler's own deadline (a ResponseController finds it here): it replaces the Writer's.
func (w *Writer) SetWriteDeadline(t time.Time) error {
	w.own = true
	return w.rc.SetWriteDeadline(t)
}

// Hijack hands the connection to the handler (a WebSocket) through the ResponseController, which finds it here:
// from then on the Writer sets no deadline, since net/http sets one on the connection even after a hijack.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.rc.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, brw, err
}

func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Innermost returns the ResponseWriter under every wrapper that has an Unwrap method, this package's among them.
// http.MaxBytesReader needs it: it tells net/http's own writer that a body was too large (so that the server
// closes the connection after the answer instead of reading the rest first) by its type, not through Unwrap.
func Innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
