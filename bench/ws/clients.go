package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// pool is a set of open client connections, each with a reader goroutine that hands every message to onMsg.
type pool struct {
	conns  []*websocket.Conn
	wg     sync.WaitGroup
	fails  atomic.Int64 // connections that ended before close was asked for
	closed atomic.Bool
}

// dialAll opens len(urls) connections, at most parallel at a time, and starts their readers.
func dialAll(ctx context.Context, urls []string, headers func(i int) http.Header, parallel int,
	onMsg func(i int, msg []byte)) (*pool, error) {
	p := &pool{conns: make([]*websocket.Conn, len(urls))}
	sem := make(chan struct{}, parallel)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for i, u := range urls {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var h http.Header
			if headers != nil {
				h = headers(i)
			}
			c, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: h})
			if err != nil {
				select {
				case errs <- fmt.Errorf("dial %d: %w", i, err):
				default:
				}
				return
			}
			c.SetReadLimit(1 << 20)
			p.conns[i] = c
			p.wg.Add(1)
			go p.read(i, c, onMsg)
		}()
		select {
		case err := <-errs:
			wg.Wait()
			p.close()
			return nil, err
		default:
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		p.close()
		return nil, err
	default:
	}
	return p, nil
}

func (p *pool) read(i int, c *websocket.Conn, onMsg func(int, []byte)) {
	defer p.wg.Done()
	for {
		_, b, err := c.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == -1 {
				p.fails.Add(1)
			}
			return
		}
		onMsg(i, b)
	}
}

// close closes every connection and waits for the readers; calling it again does nothing.
func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	var wg sync.WaitGroup
	for _, c := range p.conns {
		if c != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Close(websocket.StatusNormalClosure, "")
			}()
		}
	}
	wg.Wait()
	p.wg.Wait()
}

// dmRun is the DM latency measurement: messages "<to>:<seq> <sent ns>" at a fixed rate, open loop.
type dmRun struct {
	base     time.Time
	lat      []atomic.Int64 // by seq; 0 until received
	received atomic.Int64
}

// onMsg records a DM's latency; anything else (a pushed notification) is ignored.
func (d *dmRun) onMsg(_ int, msg []byte) {
	now := time.Since(d.base).Nanoseconds()
	_, rest, ok := cut(msg, ':')
	if !ok || len(msg) == 0 || msg[0] == '!' {
		return
	}
	seqText, sentText, ok := cut(rest, ' ')
	seq, err1 := strconv.Atoi(string(seqText))
	sent, err2 := strconv.ParseInt(string(sentText), 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 || seq >= len(d.lat) {
		return
	}
	d.lat[seq].Store(max(now-sent, 1))
	d.received.Add(1)
}

func cut(b []byte, sep byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// send runs the DMs: message k goes at base+k/rate from connection k*7919 mod n to the user a third of the way
// round, so every pair is different and no connection sends twice in a row. It returns the achieved rate.
func (d *dmRun) send(ctx context.Context, conns []*websocket.Conn, uids []int64, rate int) (float64, error) {
	n := len(conns)
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for k := range d.lat {
		if wait := time.Until(start.Add(time.Duration(k) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(wait):
			}
		}
		from := (k * 7919) % n
		to := (from + n/3) % n
		msg := strconv.FormatInt(uids[to], 10) + ":" + strconv.Itoa(k) + " " +
			strconv.FormatInt(time.Since(d.base).Nanoseconds(), 10)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conns[from].Write(wctx, websocket.MessageText, []byte(msg))
		cancel()
		if err != nil {
			return 0, fmt.Errorf("send DM %d: %w", k, err)
		}
	}
	return float64(len(d.lat)) / time.Since(start).Seconds(), nil
}

// fanout records when each stream connection received the comment.created event of round r.
type fanout struct {
	base time.Time
	at   [][]atomic.Int64 // [round][conn] ns since base; 0 until received
}

// onMsg looks for `"content":"fanout <r>"` in a comment.created event: cheaper than decoding 10,000 copies.
func (f *fanout) onMsg(i int, msg []byte) {
	now := time.Since(f.base).Nanoseconds()
	const marker = `"content":"fanout `
	for j := 0; j+len(marker) < len(msg); j++ {
		if msg[j] == '"' && string(msg[j:j+len(marker)]) == marker {
			end := j + len(marker)
			r := 0
			for end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
				r = r*10 + int(msg[end]-'0')
				end++
			}
			if r < len(f.at) {
				f.at[r][i].Store(now)
			}
			return
		}
	}
}
