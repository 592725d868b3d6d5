package store

import (
	"context"
	"fmt"
)

// Job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is a long operation on an instance, recorded stage by stage.
type Job struct {
	ID        int64  `json:"id"`
	Instance  string `json:"instance"`
	Kind      string `json:"kind"`
	Stage     string `json:"stage"`
	State     string `json:"state"`
	Error     string `json:"error,omitempty"`
	Rollback  string `json:"-"` // JSON: what a rollback must undo, kept so it survives a crash
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// JobEvent is one line of a job's log.
type JobEvent struct {
	Job     int64  `json:"job"`
	Seq     int64  `json:"seq"`
	At      int64  `json:"at"`
	Stage   string `json:"stage"`
	Message string `json:"message"`
	Percent int    `json:"percent"`
}

const jobCols = `id, instance, kind, stage, state, error, rollback, created_at, updated_at`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	if err := row.Scan(&j.ID, &j.Instance, &j.Kind, &j.Stage, &j.State, &j.Error, &j.Rollback, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	return &j, nil
}

// CreateJob inserts j (its ID is set).
func (q *Q) CreateJob(ctx context.Context, j *Job) error {
	if j.Rollback == "" {
		j.Rollback = "{}"
	}
	err := q.db.QueryRowContext(ctx, `INSERT INTO jobs (instance, kind, stage, state, error, rollback, created_at,
		updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, j.Instance, j.Kind, j.Stage, j.State, j.Error,
		j.Rollback, j.CreatedAt, j.UpdatedAt).Scan(&j.ID)
	if err != nil {
		return fmt.Errorf("insert job: %w", mapErr(err))
	}
	return nil
}

// Job loads one job.
func (q *Q) Job(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(q.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", id, err)
	}
	return j, nil
}

// RunningJobs lists jobs that have not finished, oldest first.
func (q *Q) RunningJobs(ctx context.Context) ([]Job, error) {
	return q.jobs(ctx, `SELECT `+jobCols+` FROM jobs WHERE state = $1 ORDER BY id`, JobRunning)
}

func (q *Q) jobs(ctx context.Context, query string, args ...any) ([]Job, error) {
	return queryRows(ctx, q.db, scanJob, query, args...)
}

// SetJobStage records the stage a job reached.
func (q *Q) SetJobStage(ctx context.Context, id int64, stage string, ms int64) error {
	return q.execOne(ctx, `UPDATE jobs SET stage = $2, updated_at = $3 WHERE id = $1`, id, stage, ms)
}

// SetJobRollback records what a rollback of the job must undo.
func (q *Q) SetJobRollback(ctx context.Context, id int64, rollback string) error {
	return q.execOne(ctx, `UPDATE jobs SET rollback = $2 WHERE id = $1`, id, rollback)
}

// FinishJob records a job's result.
func (q *Q) FinishJob(ctx context.Context, id int64, state, errText string, ms int64) error {
	return q.execOne(ctx, `UPDATE jobs SET state = $2, error = $3, updated_at = $4 WHERE id = $1`, id, state, errText, ms)
}

// AddJobEvent appends a line to a job's log; Seq is set.
func (q *Q) AddJobEvent(ctx context.Context, e *JobEvent) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO job_events (job, seq, at, stage, message, percent)
		SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM job_events WHERE job = $1 RETURNING seq`,
		e.Job, e.At, e.Stage, e.Message, e.Percent).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("insert job event: %w", mapErr(err))
	}
	return nil
}

// JobEvents lists a job's log after seq.
func (q *Q) JobEvents(ctx context.Context, job, after int64) ([]JobEvent, error) {
	return queryRows(ctx, q.db, scanJobEvent, `SELECT job, seq, at, stage, message, percent FROM job_events
		WHERE job = $1 AND seq > $2 ORDER BY seq`, job, after)
}

func scanJobEvent(row rowScanner) (*JobEvent, error) {
	var e JobEvent
	if err := row.Scan(&e.Job, &e.Seq, &e.At, &e.Stage, &e.Message, &e.Percent); err != nil {
		return nil, err
	}
	return &e, nil
}
