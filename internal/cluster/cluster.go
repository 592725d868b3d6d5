// Package cluster makes several `stackhub serve` processes on one PostgreSQL database behave as one StackHub
// (architecture.md, "Replicas"). Each process writes the events published on its in-process bus once to a shared
// log (cluster_events) and NOTIFYs the id; every process LISTENs and republishes the log, in id order and once
// each, on its Shared bus, which the event stream and the GeekApk socket read. Webhooks keep reading the in-process
// bus, so only the process where an event happened queues its deliveries. The node also keeps this process's lease
// (cluster_processes), the GeekApk presence of its users, and carries direct messages between processes.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// Options tune a node. Zero values take the defaults in brackets.
type Options struct {
	ID     string        // this process's id in the cluster [host-pid-random]; tests running several nodes in one process set it
	Lease  time.Duration // a process that has not beaten for this long is dead [30 s]
	Beat   time.Duration // how often a process renews its lease [Lease/6]
	MaxAge time.Duration // events older than this leave the log [24 h]
	Keep   int           // and all but the newest Keep [100,000]
}

func (o *Options) defaults() {
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Beat <= 0 {
		o.Beat = o.Lease / 6
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Keep <= 0 {
		o.Keep = 100_000
	}
}

// notifyLimit is what a NOTIFY payload may carry (PostgreSQL's limit is 8,000 bytes), with room to spare.
const notifyLimit = 7900

// Node is this process in the cluster.
type Node struct {
	ID     string      // this process: host, pid and a random part
	Shared *events.Bus // every event of the cluster, with its global id, once each and in id order

	st    *store.Store
	log   *slog.Logger
	opt   Options
	unsub func()

	mu      sync.Mutex
	queue   []events.Event // published here, not yet written
	pending chan struct{}  // a doorbell for the writer
	wake    chan struct{}  // a doorbell for the reader
	last    int64          // the newest id republished on Shared (the reader's own)
	start   int64          // the newest id when the node started
	evCh    string         // the channels, for this schema
	msgCh   string

	users   func() []int64                  // the users with a GeekApk socket on this process
	deliver func(to int64, msg []byte) bool // a direct message to a user on this process

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	writer chan struct{}   // closed when the writer has flushed and stopped
	ready  chan struct{}   // closed once the listener listens on both channels
	heard  map[string]bool // the channels listened on so far
}

// New joins the cluster on st (PostgreSQL) and starts writing the events published on local to the shared log.
// Start begins reading it back.
func New(ctx context.Context, st *store.Store, local *events.Bus, log *slog.Logger, opt Options) (*Node, error) {
	if st.Dialect() != store.Postgres {
		return nil, errors.New("replicas need PostgreSQL")
	}
	opt.defaults()
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if opt.ID == "" {
		opt.ID = fmt.Sprintf("%s-%d-%s", strings.ReplaceAll(host, " ", "_"), os.Getpid(), hex.EncodeToString(b))
	}
	n := &Node{ID: opt.ID,
		Shared: events.NewBus(), st: st, log: log, opt: opt, pending: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		writer: make(chan struct{}), ready: make(chan struct{}), heard: map[string]bool{}}
	err := st.Q().Beat(ctx, n.ID, opt.Lease.Milliseconds())
	if err != nil {
		return nil, err
	}
	n.forgetDeadNeighbours(ctx, host)
	if n.evCh, n.msgCh, err = st.Q().Channels(ctx); err != nil {
		return nil, err
	}
	last, err := st.Q().LastEventID(ctx)
	if err != nil {
		return nil, err
	}
	n.last, n.start = last, last
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.unsub = local.Subscribe(n.enqueue)
	go n.write()
	return n, nil
}

// Follow writes the events of another local bus (the audit log's) to the shared log too, so every replica's
// stream carries them.
func (n *Node) Follow(bus *events.Bus) {
	unsub, next := n.unsub, bus.Subscribe(n.enqueue)
	n.unsub = func() { unsub(); next() }
}

// forgetDeadNeighbours drops the processes of this host that are gone (a server killed and started again), so their
// jobs are settled now, as a restart on SQLite does, rather than once their lease ends. A process of another host is
// left to its lease.
func (n *Node) forgetDeadNeighbours(ctx context.Context, host string) {
	ids, err := n.st.Q().Processes(ctx)
	if err != nil {
		n.log.Warn("cluster processes", "err", err)
		return
	}
	for _, id := range ids {
		if id != n.ID && deadHere(id, host) {
			if err := n.st.Q().LeaveCluster(ctx, id); err != nil {
				n.log.Warn("forget a dead process", "process", id, "err", err)
			}
		}
	}
}

// deadHere tells whether process id ("host-pid-random") ran on this host and is gone: its pid is this process's own
// (a container restarted: pid 1 again) or no longer exists.
func deadHere(id, host string) bool {
	rest, _, ok := cutLast(id)
	if !ok {
		return false
	}
	h, pidText, ok := cutLast(rest)
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || h != strings.ReplaceAll(host, " ", "_") {
		return false
	}
	return pid == os.Getpid() || errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// Recent returns the newest limit events of the log as of the start (oldest first) and the newest id then, to fill
// a feed's backlog so clients resume from events written before this process started.
func (n *Node) Recent(ctx context.Context, limit int) ([]events.Event, int64, error) {
	rows, err := n.st.Q().LatestEvents(ctx, n.start, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]events.Event, len(rows))
	for i, r := range rows {
		out[i] = toEvent(r)
	}
	return out, n.start, nil
}

// Attach connects the GeekApk socket: users lists the users connected here (for presence), deliver hands a direct
// message from another process to a user connected here. Call it before Start.
func (n *Node) Attach(users func() []int64, deliver func(to int64, msg []byte) bool) {
	n.users, n.deliver = users, deliver
}

// Start listens for the other processes and keeps the lease. It returns once the listener listens (or after ten
// seconds, with a warning), so no direct message sent to a user who connects here afterwards is lost.
func (n *Node) Start() {
	l := &pgxlisten.Listener{
		Connect:        n.st.ListenConn,
		LogError:       func(_ context.Context, err error) { n.log.Warn("cluster listen", "err", err) },
		ReconnectDelay: time.Second,
	}
	l.Handle(n.evCh, ring{n})
	l.Handle(n.msgCh, messages{n})
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		_ = l.Listen(n.ctx) // returns when ctx ends; reconnects meanwhile
	}()
	go n.read()
	go n.beat()
	select {
	case <-n.ready:
	case <-time.After(10 * time.Second):
		n.log.Warn("cluster: not listening yet after 10 s; still trying")
	}
}

// Close writes what is still queued, stops listening and leaves the cluster.
func (n *Node) Close() {
	n.unsub()
	n.mu.Lock()
	closed := n.pending == nil
	if !closed {
		close(n.pending)
		n.pending = nil
	}
	n.mu.Unlock()
	if closed {
		return
	}
	select {
	case <-n.writer:
	case <-time.After(10 * time.Second):
		n.log.Error("cluster: events still unwritten at shutdown")
	}
	n.cancel()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.st.Q().LeaveCluster(ctx, n.ID); err != nil {
		n.log.Warn("leave cluster", "err", err)
	}
}

// enqueue runs on the publisher's goroutine: it only queues.
func (n *Node) enqueue(e events.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending == nil {
		return
	}
	n.queue = append(n.queue, e)
	select {
	case n.pending <- struct{}{}:
	default:
	}
}

// write appends the queued events to the log, in batches, until Close.
func (n *Node) write() {
	defer close(n.writer)
	for {
		n.mu.Lock()
		batch, bell := n.queue, n.pending
		n.queue = nil
		n.mu.Unlock()
		if len(batch) == 0 {
			if bell == nil {
				return
			}
			<-bell
			continue
		}
		rows := make([]store.ClusterEvent, len(batch))
		for i, e := range batch {
			rows[i] = toRow(e)
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := n.st.Q().AppendEvents(ctx, n.evCh, rows)
			cancel()
			if err == nil {
				break
			}
			n.log.Error("cluster: write events", "events", len(rows), "attempt", attempt, "err", err)
			if attempt == 5 {
				break // the database is gone; the events reach this process's webhooks only
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
	}
}

func toRow(e events.Event) store.ClusterEvent {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		payload = []byte("null")
	}
	return store.ClusterEvent{Type: e.Type, At: e.Time.UnixMilli(), Actor: e.Actor, Audience: e.Audience,
		AdminOnly: e.AdminOnly, Scope: e.Scope, Payload: string(payload)}
}

func toEvent(r store.ClusterEvent) events.Event {
	return events.Event{ID: r.ID, Type: r.Type, Time: time.UnixMilli(r.At), Actor: r.Actor, Audience: r.Audience,
		AdminOnly: r.AdminOnly, Scope: r.Scope, Payload: json.RawMessage(r.Payload)}
}

// ring wakes the reader on a notification, and after every (re)connection, for what was missed meanwhile.
type ring struct{ n *Node }

func (r ring) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	r.n.ring()
	return nil
}

func (r ring) HandleBacklog(_ context.Context, channel string, _ *pgx.Conn) error {
	r.n.listening(channel)
	r.n.ring()
	return nil
}

// messages hands direct messages from other processes to onMessage.
type messages struct{ n *Node }

func (m messages) HandleNotification(ctx context.Context, nt *pgconn.Notification, c *pgx.Conn) error {
	return m.n.onMessage(ctx, nt, c)
}

func (m messages) HandleBacklog(_ context.Context, channel string, _ *pgx.Conn) error {
	m.n.listening(channel)
	return nil
}

// listening records that the listener listens on channel (pgxlisten calls a backlog handler right after each LISTEN,
// on every connection); ready closes once it listens on both.
func (n *Node) listening(channel string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.heard == nil {
		return // ready is closed
	}
	n.heard[channel] = true
	if len(n.heard) == 2 {
		close(n.ready)
		n.heard = nil
	}
}

func (n *Node) ring() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// read republishes the log on Shared, after the last id it republished, whenever it is woken (and every Beat, in
// case a notification was lost).
func (n *Node) read() {
	defer n.wg.Done()
	t := time.NewTicker(n.opt.Beat)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		case <-t.C:
		}
		for {
			rows, err := n.st.Q().EventsAfter(n.ctx, n.last, 500)
			if err != nil {
				if n.ctx.Err() == nil {
					n.log.Warn("cluster: read events", "err", err)
				}
				break
			}
			for _, r := range rows {
				n.Shared.Publish(toEvent(r))
				n.last = r.ID
			}
			if len(rows) < 500 {
				break
			}
		}
	}
}

// beat renews the lease, repairs this process's presence rows and prunes the log.
func (n *Node) beat() {
	defer n.wg.Done()
	t := time.NewTicker(n.opt.Beat)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.opt.Lease/2)
		if err := n.st.Q().Beat(ctx, n.ID, n.opt.Lease.Milliseconds()); err != nil {
			n.log.Warn("cluster heartbeat", "err", err)
		}
		if n.users != nil {
			if err := n.st.Q().SetPresence(ctx, n.ID, n.users()); err != nil {
				n.log.Warn("cluster presence", "err", err)
			}
		}
		if i%60 == 0 {
			if err := n.st.Q().PruneEvents(ctx, time.Now().Add(-n.opt.MaxAge).UnixMilli(), n.opt.Keep); err != nil {
				n.log.Warn("cluster prune", "err", err)
			}
		}
		cancel()
	}
}

// Join records that uid has a GeekApk socket on this process.
func (n *Node) Join(ctx context.Context, uid int64) error { return n.st.Q().Join(ctx, n.ID, uid) }

// Leave records that uid has none on this process any more.
func (n *Node) Leave(ctx context.Context, uid int64) error { return n.st.Q().Leave(ctx, n.ID, uid) }

// Count is the number of users with a GeekApk socket on any live process.
func (n *Node) Count(ctx context.Context) (int, error) {
	return n.st.Q().OnlineCount(ctx, n.opt.Lease.Milliseconds())
}

// Online tells which of uids have a GeekApk socket on any live process.
func (n *Node) Online(ctx context.Context, uids []int64) (map[int64]bool, error) {
	return n.st.Q().OnlineAmong(ctx, n.opt.Lease.Milliseconds(), uids, "")
}

// SendDM hands msg to uid's sockets on the other live processes; sent is false when uid has none there.
func (n *Node) SendDM(ctx context.Context, to int64, msg []byte) (sent bool, err error) {
	lease := n.opt.Lease.Milliseconds()
	payload := n.ID + " " + strconv.FormatInt(to, 10) + " " + string(msg)
	if len(payload) <= notifyLimit {
		return n.st.Q().NotifyIfOnline(ctx, lease, to, n.ID, n.msgCh, payload)
	}
	on, err := n.st.Q().OnlineAmong(ctx, lease, []int64{to}, n.ID)
	if err != nil || !on[to] {
		return false, err
	}
	id, err := n.st.Q().StoreMessage(ctx, payload, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	return true, n.st.Q().Notify(ctx, n.msgCh, "#"+strconv.FormatInt(id, 10))
}

// onMessage delivers a direct message from another process to its recipient here, if connected here.
func (n *Node) onMessage(ctx context.Context, nt *pgconn.Notification, _ *pgx.Conn) error {
	payload := nt.Payload
	if id, ok := strings.CutPrefix(payload, "#"); ok {
		i, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("message id %q: %w", id, err)
		}
		if payload, err = n.st.Q().Message(ctx, i); err != nil {
			return err
		}
	}
	origin, rest, _ := strings.Cut(payload, " ")
	to, msg, ok := strings.Cut(rest, " ")
	uid, err := strconv.ParseInt(to, 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("malformed direct message notification")
	}
	if origin != n.ID && n.deliver != nil {
		n.deliver(uid, []byte(msg))
	}
	return nil
}

// Lease is how long a process lives without beating.
func (n *Node) Lease() time.Duration { return n.opt.Lease }

// HoldJob records that this process runs job.
func (n *Node) HoldJob(ctx context.Context, job int64) error { return n.st.Q().HoldJob(ctx, job, n.ID) }

// ReleaseJob forgets job's lease.
func (n *Node) ReleaseJob(ctx context.Context, job int64) error { return n.st.Q().ReleaseJob(ctx, job) }

// ClaimJob takes over job if no live process runs it.
func (n *Node) ClaimJob(ctx context.Context, job int64) (bool, error) {
	return n.st.Q().ClaimJob(ctx, job, n.ID, n.opt.Lease.Milliseconds(), time.Now().UnixMilli())
}

// Locks for work that one process of the cluster runs at a time.
const (
	LockSourceSchedule int64 = 0x5354_4b48_0101 // the store sources' sync schedule
	LockStatusWatch    int64 = 0x5354_4b48_0102 // the status watch of a Swarm's nodes (host.WatchNodes)
)

// Lead calls start once this process holds the cluster-wide lock key (a PostgreSQL session advisory lock, which
// the database releases when the holder's connection ends, with its process), trying every Beat until ctx ends;
// it holds the lock until then.
func (n *Node) Lead(ctx context.Context, key int64, start func()) {
	t := time.NewTicker(n.opt.Beat)
	defer t.Stop()
	for {
		ok, release, err := n.st.TryLock(ctx, key)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("cluster lock", "key", key, "err", err)
		}
		if ok {
			if ctx.Err() == nil {
				start()
			}
			<-ctx.Done()
			release()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
