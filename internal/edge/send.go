package edge

import (
	"crypto/tls"

	"github.com/stackhub/stackhub/internal/sendtimeout"
)

// clientWriter is the fast path's client connection as its buffered writer writes to it: each write pushes the
// write deadline on (sendtimeout), so a client that stops reading is given up on every path.
type clientWriter struct {
	c  *tls.Conn
	wd sendtimeout.Deadline
}

func (w *clientWriter) Write(p []byte) (int, error) {
	w.wd.Push()
	return w.c.Write(p)
}
