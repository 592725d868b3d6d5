package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicas on PostgreSQL (architecture.md, "Replicas"). These statements run on PostgreSQL only: on SQLite a single
// process is the whole StackHub and none of this is needed.

// Channels the processes NOTIFY and LISTEN on, suffixed with the schema (see Channels).
const (
	EventsChannel   = "stackhub_events"   // payload: the id of the newest event written
	MessagesChannel = "stackhub_messages" // payload: a GeekApk direct message, or "#<id>" of a cluster_messages row
)

// Channels returns the names of the events and messages channels for this store's schema: notifications are
// database-wide, and two StackHubs in two schemas of one database must not hear each other.
func (q *Q) Channels(ctx context.Context) (events, messages string, err error) {
	var schema string
	if err := q.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", "", fmt.Errorf("current schema: %w", mapErr(err))
	}
	return EventsChannel + "." + schema, MessagesChannel + "." + schema, nil
}

// eventsLock is the advisory lock that orders event writers: ids commit in id order, so a reader that has seen id n
// has seen everything before it.
const eventsLock = 0x5354_4b48_0001

// migrateLock is held by the one process that runs the migrations at a time.
const migrateLock = 0x5354_4b48_0003

// ClusterEvent is one row of the shared event log.
type ClusterEvent struct {
	ID        int64
	Type      string
	At        int64 // Unix milliseconds
	Actor     int64
	Audience  int64
	AdminOnly bool
	Scope     string // with AdminOnly: the scope that sees it; "" is the admin
	Payload   string // JSON
}

// AppendEvents writes evs (their IDs are set) and notifies channel with the last id, in one statement: one round
// trip, its own transaction. The advisory lock is taken before the first id is drawn (every inserted row joins
// its one row), so ids commit in id order across processes.
func (q *Q) AppendEvents(ctx context.Context, channel string, evs []ClusterEvent) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	types, scopes, payloads := make([]string, n), make([]string, n), make([]string, n)
	at, actors, audiences := make([]int64, n), make([]int64, n), make([]int64, n)
	admin := make([]bool, n)
	for i, e := range evs {
		types[i], scopes[i], payloads[i] = e.Type, e.Scope, e.Payload
		at[i], actors[i], audiences[i], admin[i] = e.At, e.Actor, e.Audience, e.AdminOnly
	}
	rows, err := q.db.QueryContext(ctx, `WITH l AS (SELECT pg_advisory_xact_lock($1)),
		ins AS (INSERT INTO cluster_events (type, at, actor, audience, admin_only, scope, payload)
			SELECT u.type, u.at, u.actor, u.audience, u.admin_only, u.scope, u.payload
			FROM unnest($3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BOOLEAN[], $8::TEXT[], $9::TEXT[])
				WITH ORDINALITY AS u(type, at, actor, audience, admin_only, scope, payload, ord)
			CROSS JOIN l ORDER BY u.ord RETURNING id),
		n AS (SELECT pg_notify($2, MAX(id)::TEXT) FROM ins)
		SELECT ins.id FROM ins CROSS JOIN n ORDER BY ins.id`,
		int64(eventsLock), channel, types, at, actors, audiences, admin, scopes, payloads)
	if err != nil {
		return fmt.Errorf("insert events: %w", mapErr(err))
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		if i == n {
			return errors.New("insert events: more ids than events")
		}
		if err := rows.Scan(&evs[i].ID); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert events: %w", mapErr(err))
	}
	if i != n {
		return fmt.Errorf("insert events: %d ids for %d events", i, n)
	}
	return nil
}

const clusterEventCols = `id, type, at, actor, audience, admin_only, scope, payload`

// EventsAfter lists up to limit events after id after, oldest first.
func (q *Q) EventsAfter(ctx context.Context, after int64, limit int) ([]ClusterEvent, error) {
	return q.clusterEvents(ctx, `SELECT `+clusterEventCols+` FROM cluster_events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// LatestEvents lists the newest limit events up to id upTo, oldest first.
func (q *Q) LatestEvents(ctx context.Context, upTo int64, limit int) ([]ClusterEvent, error) {
	return q.clusterEvents(ctx, `SELECT * FROM (SELECT `+clusterEventCols+` FROM cluster_events WHERE id <= $1
		ORDER BY id DESC LIMIT $2) e ORDER BY id`, upTo, limit)
}

func (q *Q) clusterEvents(ctx context.Context, query string, args ...any) ([]ClusterEvent, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", mapErr(err))
	}
	defer rows.Close()
	var out []ClusterEvent
	for rows.Next() {
		var e ClusterEvent
		if err := rows.Scan(&e.ID, &e.Type, &e.At, &e.Actor, &e.Audience, &e.AdminOnly, &e.Scope, &e.Payload); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastEventID is the id of the newest event, 0 when there is none.
func (q *Q) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := q.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM cluster_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last event: %w", mapErr(err))
	}
	return id, nil
}

// PruneEvents deletes events older than beforeMs and all but the newest keep.
func (q *Q) PruneEvents(ctx context.Context, beforeMs int64, keep int) error {
	_, err := q.db.ExecContext(ctx, `DELETE FROM cluster_events WHERE at < $1
		OR id <= (SELECT COALESCE(MAX(id), 0) FROM cluster_events) - $2`, beforeMs, keep)
	if err != nil {
		return fmt.Errorf("prune events: %w", mapErr(err))
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM cluster_messages WHERE at < $1`, beforeMs)
	if err != nil {
		return fmt.Errorf("prune messages: %w", mapErr(err))
	}
	return nil
}

// Beat refreshes process's lease (creating it), and forgets the processes whose lease ended before leaseMs ago,
// with their presence rows.
func (q *Q) Beat(ctx context.Context, process string, leaseMs int64) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO cluster_processes (id, seen_at)
		VALUES ($1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)
		ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`, process)
	if err != nil {
		return fmt.Errorf("process heartbeat: %w", mapErr(err))
	}
	_, err = q.db.ExecContext(ctx, `DELETE FROM cluster_processes
		WHERE seen_at < (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - $1`, leaseMs)
	if err != nil {
		return fmt.Errorf("expire processes: %w", mapErr(err))
	}
	return nil
}

// LeaveCluster forgets process, its presence and its job leases, on a clean shutdown.
func (q *Q) LeaveCluster(ctx context.Context, process string) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM cluster_processes WHERE id = $1`, process); err != nil {
		return fmt.Errorf("leave cluster: %w", mapErr(err))
	}
	return nil
}

// liveProcess is the condition that a process's lease has not ended; %[1]s is its id, %[2]s the lease in ms.
const liveProcess = `EXISTS (SELECT 1 FROM cluster_processes p WHERE p.id = %[1]s
	AND p.seen_at >= (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - %[2]s)`

// Join records that uid has a socket open on process.
func (q *Q) Join(ctx context.Context, process string, uid int64) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO cluster_presence (process, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		process, uid)
	if err != nil {
		return fmt.Errorf("join presence: %w", mapErr(err))
	}
	return nil
}

// SetPresence makes process's presence rows exactly uids (a periodic repair against joins and leaves that raced).
func (q *Q) SetPresence(ctx context.Context, process string, uids []int64) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM cluster_presence WHERE process = $1 AND NOT (uid = ANY($2))`,
		process, uids); err != nil {
		return fmt.Errorf("set presence: %w", mapErr(err))
	}
	if _, err := q.db.ExecContext(ctx, `INSERT INTO cluster_presence (process, uid) SELECT $1, u FROM unnest($2::BIGINT[]) u
		ON CONFLICT DO NOTHING`, process, uids); err != nil {
		return fmt.Errorf("set presence: %w", mapErr(err))
	}
	return nil
}

// Leave records that uid has no socket open on process any more.
func (q *Q) Leave(ctx context.Context, process string, uid int64) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM cluster_presence WHERE process = $1 AND uid = $2`, process, uid); err != nil {
		return fmt.Errorf("leave presence: %w", mapErr(err))
	}
	return nil
}

// OnlineCount counts the users with a socket open on a live process.
func (q *Q) OnlineCount(ctx context.Context, leaseMs int64) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT uid) FROM cluster_presence c WHERE `+
		fmt.Sprintf(liveProcess, "c.process", "$1"), leaseMs).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count online: %w", mapErr(err))
	}
	return n, nil
}

// OnlineAmong tells which of uids have a socket open on a live process other than except.
func (q *Q) OnlineAmong(ctx context.Context, leaseMs int64, uids []int64, except string) (map[int64]bool, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT DISTINCT uid FROM cluster_presence c WHERE uid = ANY($2)
		AND c.process <> $3 AND `+fmt.Sprintf(liveProcess, "c.process", "$1"), leaseMs, uids, except)
	if err != nil {
		return nil, fmt.Errorf("online users: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("scan online: %w", err)
		}
		out[uid] = true
	}
	return out, rows.Err()
}

// Notify sends payload on channel (at most 8,000 bytes: PostgreSQL's limit).
func (q *Q) Notify(ctx context.Context, channel, payload string) error {
	if _, err := q.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, mapErr(err))
	}
	return nil
}

// NotifyIfOnline sends payload on channel when uid has a socket open on a live process other than except, and
// tells whether it did: one round trip where OnlineAmong and Notify take two.
func (q *Q) NotifyIfOnline(ctx context.Context, leaseMs, uid int64, except, channel, payload string) (bool, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT pg_notify($4, $5) FROM (SELECT 1 FROM cluster_presence c
		WHERE c.uid = $2 AND c.process <> $3 AND `+fmt.Sprintf(liveProcess, "c.process", "$1")+` LIMIT 1) x`,
		leaseMs, uid, except, channel, payload)
	if err != nil {
		return false, fmt.Errorf("notify %s: %w", channel, mapErr(err))
	}
	defer rows.Close()
	sent := rows.Next()
	return sent, mapErr(rows.Err())
}

// StoreMessage keeps a message too large for a notification and returns its id.
func (q *Q) StoreMessage(ctx context.Context, body string, at int64) (int64, error) {
	var id int64
	err := q.db.QueryRowContext(ctx, `INSERT INTO cluster_messages (body, at) VALUES ($1, $2) RETURNING id`, body, at).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store message: %w", mapErr(err))
	}
	return id, nil
}

// Message reads a stored message.
func (q *Q) Message(ctx context.Context, id int64) (string, error) {
	var body string
	if err := q.db.QueryRowContext(ctx, `SELECT body FROM cluster_messages WHERE id = $1`, id).Scan(&body); err != nil {
		return "", fmt.Errorf("read message %d: %w", id, mapErr(err))
	}
	return body, nil
}

// AuthFailures lists the failure times (Unix ms, newest first) of key since sinceMs, at most limit.
func (q *Q) AuthFailures(ctx context.Context, key string, sinceMs int64, limit int) ([]int64, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT at FROM auth_failures WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT $3`,
		key, sinceMs, limit)
	if err != nil {
		return nil, fmt.Errorf("auth failures: %w", mapErr(err))
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("scan auth failure: %w", err)
		}
		out = append(out, at)
	}
	return out, rows.Err()
}

// AddAuthFailure records a failure of key at atMs, and forgets failures older than beforeMs.
func (q *Q) AddAuthFailure(ctx context.Context, key string, atMs, beforeMs int64) error {
	if _, err := q.db.ExecContext(ctx, `INSERT INTO auth_failures (key, at) VALUES ($1, $2)`, key, atMs); err != nil {
		return fmt.Errorf("record auth failure: %w", mapErr(err))
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM auth_failures WHERE at < $1`, beforeMs); err != nil {
		return fmt.Errorf("prune auth failures: %w", mapErr(err))
	}
	return nil
}

// ResetAuthFailures forgets the failures of key.
func (q *Q) ResetAuthFailures(ctx context.Context, key string) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM auth_failures WHERE key = $1`, key); err != nil {
		return fmt.Errorf("reset auth failures: %w", mapErr(err))
	}
	return nil
}

// TryLock takes the session-level advisory lock key on a connection of its own, which holds it until release is
// called or the process dies. ok is false when another process holds it.
func (s *Store) TryLock(ctx context.Context, key int64) (ok bool, release func(), err error) {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("lock connection: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		conn.Close()
		return false, nil, err
	}
	return true, func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}

// lock waits for the session-level advisory lock key (TryLock, every quarter second), until release is called. It
// does not block in pg_advisory_lock: a statement blocked there holds a snapshot, which a migration that builds an
// index CONCURRENTLY would wait out while holding the lock, for ever.
func (s *Store) lock(ctx context.Context, key int64) (release func(), err error) {
	for {
		ok, release, err := s.TryLock(ctx, key)
		if err != nil || ok {
			return release, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("advisory lock %d: %w", key, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ListenConn opens a connection of its own for LISTEN (the pool's connections are shared and come and go).
func (s *Store) ListenConn(ctx context.Context) (*pgx.Conn, error) {
	if s.dsn == "" {
		return nil, fmt.Errorf("listen: not a PostgreSQL store")
	}
	c, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return nil, fmt.Errorf("listen connection: %w", err)
	}
	return c, nil
}

// HoldJob records that process runs job.
func (q *Q) HoldJob(ctx context.Context, job int64, process string) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO cluster_job_leases (job, process) VALUES ($1, $2)
		ON CONFLICT (job) DO UPDATE SET process = EXCLUDED.process`, job, process)
	if err != nil {
		return fmt.Errorf("hold job %d: %w", job, mapErr(err))
	}
	return nil
}

// ReleaseJob forgets job's lease (it ended).
func (q *Q) ReleaseJob(ctx context.Context, job int64) error {
	if _, err := q.db.ExecContext(ctx, `DELETE FROM cluster_job_leases WHERE job = $1`, job); err != nil {
		return fmt.Errorf("release job %d: %w", job, mapErr(err))
	}
	return nil
}

// ClaimJob takes job over for process when no live process holds it: its holder died, or it has none and has not
// moved for leaseMs (a job is held within moments of its creation). ok tells whether process now holds it.
func (q *Q) ClaimJob(ctx context.Context, job int64, process string, leaseMs, nowMs int64) (ok bool, err error) {
	var got int64
	err = q.db.QueryRowContext(ctx, `INSERT INTO cluster_job_leases (job, process)
		SELECT j.id, $2::TEXT FROM jobs j WHERE j.id = $1 AND j.state = 'running' AND j.updated_at < $4::BIGINT - $3::BIGINT
		ON CONFLICT (job) DO UPDATE SET process = EXCLUDED.process
		WHERE NOT `+fmt.Sprintf(liveProcess, "cluster_job_leases.process", "$3")+`
		RETURNING job`, job, process, leaseMs, nowMs).Scan(&got)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("claim job %d: %w", job, mapErr(err))
	}
	// A held job has a row whose holder is alive: the conflict update does nothing and nothing is returned. A job
	// without a row that moved recently is left to its creator, unless a dead process holds it.
	err = q.db.QueryRowContext(ctx, `UPDATE cluster_job_leases SET process = $2 WHERE job = $1
		AND NOT `+fmt.Sprintf(liveProcess, "cluster_job_leases.process", "$3")+` RETURNING job`, job, process, leaseMs).Scan(&got)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("claim job %d: %w", job, mapErr(err))
	}
	return false, nil
}

// Processes lists the ids of the processes in the cluster, live or not yet expired.
func (q *Q) Processes(ctx context.Context) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id FROM cluster_processes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", mapErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan process: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
