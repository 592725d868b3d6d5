package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// Source is a store the admin registered by URL (stores.md §1), with what its last sync did.
type Source struct {
	ID     int64  `json:"id"`
	URL    string `json:"url"`
	Name   string `json:"name"`
	Format string `json:"format" doc:"the format the admin named; empty: detected from the layout"`
	// ReadFormat is the format the last sync read (named or detected).
	ReadFormat   string `json:"read_format"`
	ETag         string `json:"etag" doc:"the ETag of the last download, sent back as If-None-Match"`
	LastModified string `json:"last_modified" doc:"the Last-Modified of the last download, sent back as If-Modified-Since"`
	// SyncedAt is when the last sync ended (a download, a 304 or a failure); nil before the first.
	SyncedAt *int64 `json:"synced_at"`
	Error    string `json:"error" doc:"why the last sync failed; empty when it did not"`
	// The counts of the last sync that read the store (a 304 keeps them).
	AppsAccepted    int64    `json:"apps_accepted"`
	AppsRefused     int64    `json:"apps_refused"`
	VersionsAdded   int64    `json:"versions_added"`
	VersionsRemoved int64    `json:"versions_removed"`
	Refusals        []string `json:"refusals" doc:"the refused apps of the last sync that read the store, with the reasons"`
	CreatedAt       int64    `json:"created_at"`
}

// SourceSync is what a sync that read the store writes.
type SourceSync struct {
	ReadFormat, ETag, LastModified                            string
	AppsAccepted, AppsRefused, VersionsAdded, VersionsRemoved int64
	Refusals                                                  []string
}

// SourceVersion is a catalog version a source holds.
type SourceVersion struct {
	Source  int64
	AppKey  string
	Version string
	Stale   bool // no longer offered (or its source was removed), kept while an install uses it
}

const sourceCols = `id, url, name, format, read_format, etag, last_modified, synced_at, error, apps_accepted,
	apps_refused, versions_added, versions_removed, refusals, created_at`

func scanSource(row rowScanner) (*Source, error) {
	var s Source
	var refusals string
	err := row.Scan(&s.ID, &s.URL, &s.Name, &s.Format, &s.ReadFormat, &s.ETag, &s.LastModified, &s.SyncedAt,
		&s.Error, &s.AppsAccepted, &s.AppsRefused, &s.VersionsAdded, &s.VersionsRemoved, &refusals, &s.CreatedAt)
	if err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(refusals), &s.Refusals); err != nil || s.Refusals == nil {
		s.Refusals = []string{}
	}
	return &s, nil
}

// CreateSource inserts s (its ID is set); a URL already registered is ErrConflict.
func (q *Q) CreateSource(ctx context.Context, s *Source) error {
	err := q.db.QueryRowContext(ctx, `INSERT INTO sources (url, name, format, created_at) VALUES ($1, $2, $3, $4)
		RETURNING id`, s.URL, s.Name, s.Format, s.CreatedAt).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("insert source: %w", mapErr(err))
	}
	return nil
}

// Sources lists the registered sources (not the removed ones), oldest first.
func (q *Q) Sources(ctx context.Context) ([]Source, error) {
	ss, err := queryRows(ctx, q.db, scanSource, `SELECT `+sourceCols+` FROM sources WHERE removed_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	return ss, nil
}

// Source loads a registered source; a removed one is ErrNotFound.
func (q *Q) Source(ctx context.Context, id int64) (*Source, error) {
	s, err := scanSource(q.db.QueryRowContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE id = $1 AND removed_at IS NULL`, id))
	if err != nil {
		return nil, fmt.Errorf("source %d: %w", id, err)
	}
	return s, nil
}

// SetSourceUnchanged records a sync the server answered with 304 Not Modified: only its time (and that it did
// not fail).
func (q *Q) SetSourceUnchanged(ctx context.Context, id, at int64) error {
	return q.execOne(ctx, `UPDATE sources SET synced_at = $2, error = '' WHERE id = $1`, id, at)
}

// SetSourceFailed records a failed sync and its reason; the counts of the last good one stay.
func (q *Q) SetSourceFailed(ctx context.Context, id, at int64, reason string) error {
	return q.execOne(ctx, `UPDATE sources SET synced_at = $2, error = $3 WHERE id = $1`, id, at, reason)
}

// SetSourceSynced records a sync that read the store.
func (q *Q) SetSourceSynced(ctx context.Context, id, at int64, r SourceSync) error {
	refusals, err := json.Marshal(r.Refusals)
	if err != nil || r.Refusals == nil {
		refusals = []byte("[]")
	}
	return q.execOne(ctx, `UPDATE sources SET synced_at = $2, error = '', read_format = $3, etag = $4,
		last_modified = $5, apps_accepted = $6, apps_refused = $7, versions_added = $8, versions_removed = $9,
		refusals = $10 WHERE id = $1`, id, at, r.ReadFormat, r.ETag, r.LastModified, r.AppsAccepted, r.AppsRefused,
		r.VersionsAdded, r.VersionsRemoved, string(refusals))
}

// MarkSourceRemoved takes a source off the list; its versions are retired afterwards (DeleteRetiredSources).
func (q *Q) MarkSourceRemoved(ctx context.Context, id, at int64) error {
	return q.execOne(ctx, `UPDATE sources SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL`, id, at)
}

// DeleteRetiredSources deletes the removed sources that hold no version any more.
func (q *Q) DeleteRetiredSources(ctx context.Context) error {
	_, err := q.exec(ctx, `DELETE FROM sources WHERE removed_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM source_versions sv WHERE sv.source = sources.id)`)
	return err
}

// ClaimSourceVersion records that a source offers a version of an app, before it is imported; an offer again
// makes a stale claim live. A version already in the catalog that no source holds (a built-in or hand-imported
// one) is not claimed: removing the source must not take it away. It reports whether the claim was written.
func (q *Q) ClaimSourceVersion(ctx context.Context, source int64, key, version string) (bool, error) {
	n, err := q.exec(ctx, `INSERT INTO source_versions (source, app_key, version, stale)
		SELECT $1, $2, $3, FALSE
		WHERE EXISTS (SELECT 1 FROM source_versions o WHERE o.app_key = $2 AND o.version = $3)
		   OR NOT EXISTS (SELECT 1 FROM updates u JOIN apps a ON a.id = u.app
		                  WHERE a.package_name = $2 AND u.version_name = $3)
		ON CONFLICT (source, app_key, version) DO UPDATE SET stale = FALSE`, source, key, version)
	if err != nil {
		return false, fmt.Errorf("claim %s %s for source %d: %w", key, version, source, err)
	}
	return n > 0, nil
}

// SourceVersions lists what a source holds.
func (q *Q) SourceVersions(ctx context.Context, source int64) ([]SourceVersion, error) {
	vs, err := queryRows(ctx, q.db, scanSourceVersion, `SELECT source, app_key, version, stale FROM source_versions
		WHERE source = $1 ORDER BY app_key, version`, source)
	if err != nil {
		return nil, fmt.Errorf("versions of source %d: %w", source, err)
	}
	return vs, nil
}

// RetiringSourceVersions lists the claims waiting to leave the catalog: the stale ones and those of removed
// sources.
func (q *Q) RetiringSourceVersions(ctx context.Context) ([]SourceVersion, error) {
	vs, err := queryRows(ctx, q.db, scanSourceVersion, `SELECT sv.source, sv.app_key, sv.version, sv.stale
		FROM source_versions sv JOIN sources s ON s.id = sv.source
		WHERE sv.stale OR s.removed_at IS NOT NULL ORDER BY sv.source, sv.app_key, sv.version`)
	if err != nil {
		return nil, fmt.Errorf("retiring source versions: %w", err)
	}
	return vs, nil
}

func scanSourceVersion(row rowScanner) (*SourceVersion, error) {
	var v SourceVersion
	if err := row.Scan(&v.Source, &v.AppKey, &v.Version, &v.Stale); err != nil {
		return nil, err
	}
	return &v, nil
}

// OfferedElsewhere reports whether another registered source still offers the version.
func (q *Q) OfferedElsewhere(ctx context.Context, source int64, key, version string) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM source_versions sv JOIN sources s ON s.id = sv.source
		WHERE sv.app_key = $2 AND sv.version = $3 AND sv.source <> $1 AND NOT sv.stale AND s.removed_at IS NULL`,
		source, key, version)
}

// SetSourceVersionStale marks a claim as no longer offered.
func (q *Q) SetSourceVersionStale(ctx context.Context, v SourceVersion) error {
	_, err := q.exec(ctx, `UPDATE source_versions SET stale = TRUE WHERE source = $1 AND app_key = $2 AND version = $3`,
		v.Source, v.AppKey, v.Version)
	return err
}

// DropSourceVersion deletes a claim.
func (q *Q) DropSourceVersion(ctx context.Context, v SourceVersion) error {
	_, err := q.exec(ctx, `DELETE FROM source_versions WHERE source = $1 AND app_key = $2 AND version = $3`,
		v.Source, v.AppKey, v.Version)
	return err
}

// DeleteUnusedVersions deletes an app's versions of a name that no install uses, and tells how many it deleted
// and how many stay because an install uses them.
func (q *Q) DeleteUnusedVersions(ctx context.Context, app int64, version string) (deleted, kept int64, err error) {
	deleted, err = q.exec(ctx, `DELETE FROM updates WHERE app = $1 AND version_name = $2
		AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.app = updates.app AND i.reversion = updates.reversion)`,
		app, version)
	if err != nil {
		return 0, 0, fmt.Errorf("delete versions %s of app %d: %w", version, app, err)
	}
	kept, err = q.int64(ctx, `SELECT COUNT(*) FROM updates WHERE app = $1 AND version_name = $2`, app, version)
	if err != nil {
		return 0, 0, fmt.Errorf("versions %s of app %d: %w", version, app, err)
	}
	return deleted, kept, nil
}

// AppInstalled reports whether an instance was installed from the app.
func (q *Q) AppInstalled(ctx context.Context, app int64) (bool, error) {
	return q.exists(ctx, `SELECT 1 FROM instances WHERE app = $1`, app)
}
