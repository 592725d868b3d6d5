package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// Upgrade results.
const (
	UpgradeRunning    = "running"
	UpgradeSucceeded  = "succeeded"
	UpgradeRolledBack = "rolled_back" // the new version failed; the snapshot and the old version were restored
	UpgradeFailed     = "failed"      // failed before anything changed, or the restore failed too
)

// Upgrade records one upgrade (or rollback) of an instance.
type Upgrade struct {
	ID            int64  `json:"id"`
	Instance      string `json:"instance"`
	Job           int64  `json:"job"`
	Kind          string `json:"kind"` // upgrade or rollback
	FromVersion   string `json:"from"`
	FromReversion int64  `json:"from_rev"`
	ToVersion     string `json:"to"`
	ToReversion   int64  `json:"to_rev"`
	Result        string `json:"result"`
	Cause         string `json:"cause,omitempty"`
	Snapshot      string `json:"snapshot"`
	// Kept lists the files the admin had changed, which the upgrade left as they were and wrote its own rendering
	// of beside, as <file>.new. Replaced lists the StackHub-owned files (the Compose file, .env) with local edits
	// that it overwrote; the snapshot holds the edited copies.
	Kept       []string `json:"kept"`
	Replaced   []string `json:"replaced"`
	CreatedAt  int64    `json:"created_at"`
	FinishedAt *int64   `json:"finished_at"`
}

const upgradeCols = `id, instance, job, kind, from_version, from_reversion, to_version, to_reversion, result, cause,
	snapshot, kept, replaced, created_at, finished_at`

// CreateUpgrade inserts u (its ID is set).
func (q *Q) CreateUpgrade(ctx context.Context, u *Upgrade) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO upgrades (instance, job, kind, from_version, from_reversion,
		to_version, to_reversion, result, cause, snapshot, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING id`, u.Instance, u.Job, u.Kind, u.FromVersion, u.FromReversion, u.ToVersion, u.ToReversion, u.Result,
		u.Cause, u.Snapshot, u.CreatedAt).Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("insert upgrade: %w", mapErr(err))
	}
	return nil
}

// FinishUpgrade records an upgrade's result: u's Result, Cause, Snapshot, Kept, Replaced and FinishedAt.
func (q *Q) FinishUpgrade(ctx context.Context, u *Upgrade) error {
	return q.execOne(ctx, `UPDATE upgrades SET result = $2, cause = $3, snapshot = $4, kept = $5, replaced = $6,
		finished_at = $7 WHERE id = $1`, u.ID, u.Result, u.Cause, u.Snapshot, pathList(u.Kept), pathList(u.Replaced),
		u.FinishedAt)
}

// pathList is the stored form of a list of paths: a JSON array, or ” for none.
func pathList(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	b, _ := json.Marshal(paths)
	return string(b)
}

// Upgrades lists an instance's upgrades, newest first.
func (q *Q) Upgrades(ctx context.Context, instance string) ([]Upgrade, error) {
	return queryRows(ctx, q.db, scanUpgrade, `SELECT `+upgradeCols+` FROM upgrades WHERE instance = $1 ORDER BY id DESC`,
		instance)
}

func scanUpgrade(row rowScanner) (*Upgrade, error) {
	var u Upgrade
	var kept, replaced string
	if err := row.Scan(&u.ID, &u.Instance, &u.Job, &u.Kind, &u.FromVersion, &u.FromReversion, &u.ToVersion,
		&u.ToReversion, &u.Result, &u.Cause, &u.Snapshot, &kept, &replaced, &u.CreatedAt, &u.FinishedAt); err != nil {
		return nil, err
	}
	u.Kept, u.Replaced = []string{}, []string{}
	for _, l := range []struct {
		raw string
		to  *[]string
	}{{kept, &u.Kept}, {replaced, &u.Replaced}} {
		if l.raw != "" {
			if err := json.Unmarshal([]byte(l.raw), l.to); err != nil {
				return nil, fmt.Errorf("upgrade %d: stored file list: %w", u.ID, err)
			}
		}
	}
	return &u, nil
}

// SetInstanceVersion records the version an instance now runs.
func (q *Q) SetInstanceVersion(ctx context.Context, name, version string, reversion, ms int64) error {
	return q.execOne(ctx, `UPDATE instances SET version = $2, reversion = $3, updated_at = $4 WHERE name = $1`,
		name, version, reversion, ms)
}
