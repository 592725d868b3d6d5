package sources

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/catalog"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// SyncEvent is the payload of source.synced and source.failed: the source after the sync, with its counts or its
// error.
type SyncEvent struct {
	Source    store.Source `json:"source"`
	Unchanged bool         `json:"unchanged,omitempty"` // the server answered 304 Not Modified: nothing was read
}

// maxRefusals bounds the refusals kept per sync; the counts stay exact.
const maxRefusals = 1000

// syncLocked syncs a source unless a sync or removal of it is running (a Conflict then), on the service's
// background context: a client that goes away does not cut an import short.
func (s *Service) syncLocked(id int64) (*store.Source, error) {
	if !s.lock(id) {
		return nil, busyError(id)
	}
	after, typ, err := s.syncHeld(id)
	s.unlock(id) // before the event: whoever it wakes may sync again at once
	if err != nil {
		return nil, err
	}
	s.bus.Publish(events.Event{Type: typ, AdminOnly: true, Payload: SyncEvent{Source: after.src, Unchanged: after.unchanged}})
	return &after.src, nil
}

type synced struct {
	src       store.Source
	unchanged bool
}

// syncHeld syncs source id, whose lock the caller holds, and answers the source after it and the event to publish.
func (s *Service) syncHeld(id int64) (synced, string, error) {
	ctx := s.bg
	src, err := s.source(ctx, id)
	if err != nil {
		return synced{}, "", err
	}
	unchanged, err := s.sync(ctx, src)
	if err != nil && !isReason(err) {
		// A fault of our own (the database): the list says so, the log has the cause.
		s.log.Error("source sync", "source", id, "err", err)
		if ferr := s.failed(ctx, src, "the sync failed on the server's side; its log has the cause"); !isReason(ferr) {
			return synced{}, "", err
		}
	}
	after, lerr := s.source(context.WithoutCancel(ctx), id)
	if lerr != nil {
		return synced{}, "", lerr
	}
	typ := events.SourceSynced
	if err != nil {
		typ = events.SourceFailed
	}
	return synced{*after, unchanged}, typ, nil
}

// reason is a sync failure the admin is told about (recorded on the source), as opposed to a fault of our own.
type reason struct{ error }

func isReason(err error) bool {
	_, ok := err.(reason)
	return ok
}

// sync fetches, unpacks, reads and imports a source; a failure is recorded on the source with its reason and
// returned as a reason.
func (s *Service) sync(ctx context.Context, src *store.Source) (unchanged bool, err error) {
	dir, err := s.tempDir()
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	d, err := s.fetch(ctx, src.URL, src.ETag, src.LastModified, dir)
	if err == nil && d.notModified {
		return true, s.store.Tx(ctx, func(q *store.Q) error { return q.SetSourceUnchanged(ctx, src.ID, s.now().UnixMilli()) })
	}
	var path string
	if err == nil {
		path, err = unpack(d, dir, s.opt.Limits)
	}
	var ts []catalog.Template
	var refused []catalog.Refusal
	var im catalog.Importer
	if err == nil {
		im, ts, refused, err = catalog.ReadStore(path, src.Format, catalog.ReadOptions{})
	}
	if err != nil {
		return false, s.failed(ctx, src, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	s.catalog.Lock()
	defer s.catalog.Unlock()
	r := store.SourceSync{ReadFormat: im.Format(), ETag: d.etag, LastModified: d.lastModified}
	if err := s.importAll(ctx, src.ID, ts, refused, &r); err != nil {
		why := apperr.As(err).Message
		switch {
		case ctx.Err() != nil:
			why = "the server stopped during the import; the next sync resumes it"
		case apperr.As(err).Kind == apperr.Internal:
			s.log.Error("source import", "source", src.ID, "err", err)
		}
		return false, s.failed(ctx, src, "the import stopped: "+why)
	}
	if err := s.store.Tx(ctx, func(q *store.Q) error { return q.SetSourceSynced(ctx, src.ID, s.now().UnixMilli(), r) }); err != nil {
		return false, err
	}
	s.log.Info("source synced", "source", src.ID, "format", r.ReadFormat, "accepted", r.AppsAccepted,
		"refused", r.AppsRefused, "added", r.VersionsAdded, "removed", r.VersionsRemoved)
	return false, s.sweepLocked(ctx)
}

// failed records a failed sync; nothing was imported.
func (s *Service) failed(ctx context.Context, src *store.Source, why string) error {
	s.log.Warn("source sync failed", "source", src.ID, "reason", why)
	ctx = context.WithoutCancel(ctx) // a sync cut off by shutdown still records why
	if err := s.store.Tx(ctx, func(q *store.Q) error {
		return q.SetSourceFailed(ctx, src.ID, s.now().UnixMilli(), why)
	}); err != nil {
		return err
	}
	return reason{fmt.Errorf("%s", why)}
}

// unpack makes a download readable by catalog.ReadStore: an archive unpacked (its single top-level folder
// stripped), or the templates.json file.
func unpack(d *download, dir string, lim Limits) (string, error) {
	if d.kind == kindJSON {
		p := filepath.Join(dir, catalog.StoreFile)
		return p, os.Rename(d.file, p)
	}
	dest := filepath.Join(dir, "store")
	if err := os.Mkdir(dest, 0o750); err != nil {
		return "", err
	}
	extract := extractTarGz
	if d.kind == kindZip {
		extract = extractZip
	}
	if err := extract(d.file, dest, lim); err != nil {
		return "", err
	}
	_ = os.Remove(d.file) // the archive's room on disk is not needed while the store is read
	return storeRoot(dest)
}

// importAll claims and imports every template, then retires the versions the source held and no longer offers.
func (s *Service) importAll(ctx context.Context, id int64, ts []catalog.Template, refused []catalog.Refusal, r *store.SourceSync) error {
	offered := map[[2]string]bool{}
	refuse := func(key, why string) {
		r.AppsRefused++
		if len(r.Refusals) < maxRefusals {
			r.Refusals = append(r.Refusals, key+": "+why)
		}
	}
	for _, t := range ts {
		// The claims come first: a crash after the import cannot leave a version no source answers for.
		err := s.store.Tx(ctx, func(q *store.Q) error {
			for _, v := range t.Versions {
				if _, err := q.ClaimSourceVersion(ctx, id, t.Key, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		res, err := s.hub.ImportTemplate(ctx, admin, t)
		if err != nil {
			if apperr.As(err).Kind == apperr.Internal {
				return err
			}
			refuse(t.Key, apperr.As(err).Message)
			continue
		}
		r.AppsAccepted++
		r.VersionsAdded += int64(len(res.Added))
		for _, v := range t.Versions {
			offered[[2]string{t.Key, v}] = true
		}
	}
	for _, rf := range refused {
		refuse(rf.Key, rf.Reason)
	}
	held, err := s.store.Q().SourceVersions(ctx, id)
	if err != nil {
		return err
	}
	for _, v := range held {
		if offered[[2]string{v.AppKey, v.Version}] {
			continue
		}
		n, err := s.retire(ctx, v)
		if err != nil {
			return err
		}
		r.VersionsRemoved += n
	}
	return nil
}

// retire takes a claimed version out of the catalog unless another source still offers it; a version an install
// uses stays, its claim marked stale for a later sweep. It returns the version rows deleted.
func (s *Service) retire(ctx context.Context, v store.SourceVersion) (int64, error) {
	elsewhere, err := s.store.Q().OfferedElsewhere(ctx, v.Source, v.AppKey, v.Version)
	if err != nil {
		return 0, err
	}
	var n int64
	var kept bool
	if !elsewhere {
		if n, kept, err = s.hub.RetireImportedVersion(ctx, admin, v.AppKey, v.Version); err != nil {
			return 0, err
		}
	}
	return n, s.store.Tx(ctx, func(q *store.Q) error {
		if kept {
			return q.SetSourceVersionStale(ctx, v)
		}
		return q.DropSourceVersion(ctx, v)
	})
}

// sweep retires what waits to leave the catalog: the versions of removed sources and those no longer offered,
// which installs held; then it deletes the removed sources that hold nothing any more.
func (s *Service) sweep(ctx context.Context) error {
	s.catalog.Lock()
	defer s.catalog.Unlock()
	return s.sweepLocked(ctx)
}

func (s *Service) sweepLocked(ctx context.Context) error {
	list, err := s.store.Q().RetiringSourceVersions(ctx)
	if err != nil {
		return err
	}
	for _, v := range list {
		if _, err := s.retire(ctx, v); err != nil {
			return fmt.Errorf("retire %s %s of source %d: %w", v.AppKey, v.Version, v.Source, err)
		}
	}
	return s.store.Tx(ctx, func(q *store.Q) error { return q.DeleteRetiredSources(ctx) })
}
