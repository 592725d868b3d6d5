package realtime

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Options tune the GeekApk WebSocket server. Zero values take the defaults in brackets.
type Options struct {
	// QueueLen is how many messages may wait for one connection before it counts as too slow and is dropped [64].
	// Keep it above Burst: a client that sends a burst of queries must find room for every answer.
	QueueLen     int
	MaxMessage   int64         // the largest frame a client may send, in bytes; larger closes the connection [8 KiB]
	Rate         float64       // frames per second a connection may send on average [20]
	Burst        int           // frames a connection may send at once [40]
	WriteTimeout time.Duration // one write to a client; a client that takes longer is dropped [10 s]
	PingEvery    time.Duration // how often an idle connection is pinged, so dead peers are noticed [30 s]
	OnlineEvery  time.Duration // how often a connected user's online_at is refreshed [1 min]
}

func (o *Options) defaults() {
	if o.QueueLen <= 0 {
		o.QueueLen = 64
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 8 << 10
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Burst <= 0 {
		o.Burst = 40
	}
	for d, v := range map[*time.Duration]time.Duration{&o.WriteTimeout: 10 * time.Second,
		&o.PingEvery: 30 * time.Second, &o.OnlineEvery: time.Minute} {
		if *d <= 0 {
			*d = v
		}
	}
}

// Why a connection was dropped, for the log.
var (
	errSlow     = errors.New("client too slow: send queue full")
	errShutdown = errors.New("server shutting down")
	errDeleted  = errors.New("user deleted or disabled")
)

// client is one open GeekApk connection. Messages for it go into a bounded queue; whoever finds the queue full
// drops the connection instead of waiting, so a slow reader never blocks anyone. One writer goroutine sends the
// queue in order. It runs while there is something to send and ends when the queue is empty, so an idle connection
// costs one goroutine (its reader), not two: with ten thousand connections that halves their stack memory. For the
// same reason a connection is ended by closing its socket, not through a context: a context per connection, with
// the callback the library registers on it for every read, costs most of a kilobyte each.
type client struct {
	uid    int64 // 0: anonymous
	push   bool  // ?push=1: the user's new notifications are sent as "!<JSON>"
	opt    *Options
	bucket bucket // used by the reader goroutine only

	mu      sync.Mutex
	conn    *websocket.Conn // set once after the handshake; the reader and writer start after that
	raw     net.Conn        // its socket: write deadlines, and closing it ends everything
	queue   [][]byte
	writing bool        // a writer goroutine is running
	pinger  *time.Timer // the next ping
	dead    bool
	cause   error // why it was dropped
}

func newClient(uid int64, push bool, opt *Options) *client {
	return &client{uid: uid, push: push, opt: opt}
}

// start attaches the upgraded connection: what was queued meanwhile goes out, and pings begin.
func (c *client) start(conn *websocket.Conn, raw net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn, c.raw = conn, raw
	if c.dead { // dropped during the handshake
		_ = raw.Close()
		return
	}
	c.pinger = time.AfterFunc(c.opt.PingEvery, c.ping)
	c.startWriter()
}

// kill drops the connection: closing the socket ends the reader's read and any write in progress. The first
// cause is kept. It never blocks.
func (c *client) kill(cause error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead, c.cause, c.queue = true, cause, nil
	if c.pinger != nil {
		c.pinger.Stop()
	}
	raw := c.raw
	c.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
}

// dropped tells why the connection was killed (nil while it is alive).
func (c *client) dropped() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// goAway closes the connection with 1001 (going away), or just drops it before its handshake is done.
func (c *client) goAway() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		c.kill(errShutdown)
		return
	}
	_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
}

// enqueue queues msg; a full queue drops the connection. It never blocks.
func (c *client) enqueue(msg []byte) bool {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.opt.QueueLen {
		c.mu.Unlock()
		c.kill(errSlow)
		return false
	}
	c.queue = append(c.queue, msg)
	c.startWriter()
	c.mu.Unlock()
	return true
}

// startWriter starts the writer goroutine unless it runs, or the connection is not attached yet. c.mu is held.
func (c *client) startWriter() {
	if !c.writing && c.conn != nil && len(c.queue) > 0 {
		c.writing = true
		go c.write()
	}
}

// write sends the queue until it is empty; a write that fails or takes longer than WriteTimeout drops the
// connection.
func (c *client) write() {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil // a burst's memory goes with it
		if len(batch) == 0 || c.dead {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, m := range batch {
			if err := writeWithin(c.conn, c.raw, c.opt.WriteTimeout, m); err != nil {
				c.kill(err)
				break
			}
		}
	}
}

// ping checks the peer every PingEvery: writes to a dead peer succeed into the kernel's buffer for minutes, an
// unanswered ping does not. It runs on a timer's goroutine; the pong arrives through the reader.
func (c *client) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.opt.WriteTimeout)
	defer cancel()
	if err := c.conn.Ping(ctx); err != nil {
		c.kill(err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dead {
		c.pinger.Reset(c.opt.PingEvery)
	}
}

// bucket is a token bucket: rate tokens a second, at most burst saved up. It is used by the reader goroutine only.
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token if there is one.
func (b *bucket) allow(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
