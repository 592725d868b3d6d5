package edge

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// heldConn is an app connection whose request is held back, then sent from inside the wait for the answer.
// A plain read right after the write finds nothing yet and parks on Go's poller: a system call for nothing, one
// of the five or six the fast path makes a request. Waiting on the poller without that try is safe only when the
// wait starts before the peer can have sent anything (readiness that came before is lost, and the request
// stalls), so sendAwait starts the wait and sends from inside it. An app speaks only when asked, but for a close:
// a full close is answered by a reset once the request reaches the closed socket, which ends the wait too; a half
// close is not, hence heldFresh and heldWait. A client may pipeline, so the client's side keeps its plain reads.
// Only the goroutine proxying for its client writes to an app connection (others only close it), so none of this
// is locked.
type heldConn struct {
	net.Conn
	rc   syscall.RawConn
	hold bool
	out  []byte
}

// heldFresh is how recently an app connection must have answered for its next request to be sent this way. An app
// closes a connection it found idle after its keep-alive timeout (2 s in gunicorn, 5 s in Apache httpd and
// Node.js), and behind Docker's userland proxy (docker-proxy) that close reaches the edge as a half close, which
// the wait cannot see: an older connection is written and read plainly, and a close is found at once. Under load,
// where the system call counts, connections are reused well within it.
const heldFresh = 100 * time.Millisecond

// heldWait bounds sendAwait's wait; the caller's plain read takes over after it. A half close can still come
// within heldFresh of an answer (an app that ends a connection without saying so, behind docker-proxy or with a
// lingering close): that costs this long, then the plain read finds the end and a GET goes again on a new
// connection, rather than a hang (TestFastPathAppHalfCloses).
const heldWait = time.Second

// newHeldConn wraps c, or returns nil when c has no file descriptor to wait on.
func newHeldConn(c net.Conn) *heldConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &heldConn{Conn: c, rc: rc}
}

// SyscallConn lets alive peek at the socket.
func (c *heldConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// holdWrites holds what is written from now on, until sendAwait.
func (c *heldConn) holdWrites() { c.hold = true }

func (c *heldConn) Write(p []byte) (int, error) {
	if c.hold {
		if c.out == nil {
			c.out = (*heldBuffers.Get().(*[]byte))[:0]
		}
		c.out = append(c.out, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

var heldBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// sendAwait writes what is held and waits, for at most heldWait, until the peer sends or the connection ends; the
// caller then reads as it would have. A write error is returned; the wait's end is not.
func (c *heldConn) sendAwait() error {
	out := c.out
	c.hold, c.out = false, nil
	if out == nil {
		return nil
	}
	defer func() {
		if cap(out) <= 64<<10 {
			out = out[:0]
			heldBuffers.Put(&out)
		}
	}()
	_ = c.Conn.SetReadDeadline(time.Now().Add(heldWait))
	defer c.Conn.SetReadDeadline(time.Time{})
	sent, waited := 0, false
	var werr error
	_ = c.rc.Read(func(fd uintptr) bool {
		if waited {
			return true // readable, or at least woken: the caller's read tells
		}
		for sent < len(out) {
			n, err := syscall.Write(int(fd), out[sent:])
			if n > 0 {
				sent += n
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				if !errors.Is(err, syscall.EAGAIN) {
					werr = err
				}
				return true // the rest goes through the poller below, and the read is a plain one
			}
		}
		waited = true
		return false
	})
	if werr != nil {
		return os.NewSyscallError("write", werr)
	}
	if sent < len(out) { // the socket's buffer was full, or the wait could not start
		if _, err := c.Conn.Write(out[sent:]); err != nil {
			return err
		}
	}
	return nil
}
