package realtime

import (
	"sync"
	"time"
)

// presence knows who is online: a user is online while at least one of their authenticated connections is open.
// It counts users, not connections.
type presence struct {
	mu    sync.RWMutex
	users map[int64]*member
	all   map[*client]struct{} // every open connection, anonymous ones too, for shutdown
}

// member is one online user.
type member struct {
	conns  []*client
	marked time.Time // when online_at was last written
}

func newPresence() *presence {
	return &presence{users: map[int64]*member{}, all: map[*client]struct{}{}}
}

// add registers c; first tells whether its user just came online.
func (p *presence) add(c *client, now time.Time) (first bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all[c] = struct{}{}
	if c.uid == 0 {
		return false
	}
	m := p.users[c.uid]
	if m == nil {
		m = &member{marked: now}
		p.users[c.uid] = m
		first = true
	}
	m.conns = append(m.conns, c)
	return first
}

// remove unregisters c; last tells whether its user just went offline.
func (p *presence) remove(c *client) (last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.all, c)
	m := p.users[c.uid]
	if m == nil {
		return false
	}
	for i, x := range m.conns {
		if x == c {
			m.conns = append(m.conns[:i], m.conns[i+1:]...)
			break
		}
	}
	if len(m.conns) > 0 {
		return false
	}
	delete(p.users, c.uid)
	return true
}

// count is the number of users online.
func (p *presence) count() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.users)
}

// uids lists the users online.
func (p *presence) uids() []int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]int64, 0, len(p.users))
	for uid := range p.users {
		out = append(out, uid)
	}
	return out
}

// online answers an "o?" query: one '1' or '0' per uid, after a '*'.
func (p *presence) online(uids []int64) []byte {
	out := make([]byte, 1, len(uids)+1)
	out[0] = '*'
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, uid := range uids {
		if p.users[uid] != nil {
			out = append(out, '1')
		} else {
			out = append(out, '0')
		}
	}
	return out
}

// deliver queues msg on every connection of uid (only the ?push=1 ones when pushOnly) and tells whether uid had
// any connection to send to.
func (p *presence) deliver(uid int64, msg []byte, pushOnly bool) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m := p.users[uid]
	if m == nil {
		return false
	}
	for _, c := range m.conns {
		if !pushOnly || c.push {
			c.enqueue(msg) // never blocks: a full queue drops that connection
		}
	}
	return true
}

// wantsPush tells whether uid has a ?push=1 connection.
func (p *presence) wantsPush(uid int64) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if m := p.users[uid]; m != nil {
		for _, c := range m.conns {
			if c.push {
				return true
			}
		}
	}
	return false
}

// drop ends every connection of uid.
func (p *presence) drop(uid int64, cause error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if m := p.users[uid]; m != nil {
		for _, c := range m.conns {
			c.kill(cause)
		}
	}
}

// due lists the online users whose online_at was written before cutoff, and counts them as written at now.
func (p *presence) due(cutoff, now time.Time) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var uids []int64
	for uid, m := range p.users {
		if m.marked.Before(cutoff) {
			m.marked = now
			uids = append(uids, uid)
		}
	}
	return uids
}

// clients lists every open connection.
func (p *presence) clients() []*client {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*client, 0, len(p.all))
	for c := range p.all {
		out = append(out, c)
	}
	return out
}
