package host

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/store"
)

// Backup is one snapshot of an instance: its volumes and rendered files before an upgrade.
type Backup struct {
	Path      string   `json:"path"`
	Instance  string   `json:"instance"`
	Version   string   `json:"version"`
	Reversion int64    `json:"reversion"`
	Volumes   []string `json:"volumes"`
	Size      int64    `json:"size"` // bytes of data archived (before compression)
	CreatedAt int64    `json:"created_at"`
}

const metaFile = "snapshot.json"

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func (s *Service) backupDir(name string) string { return filepath.Join(s.cfg.DataDir, "backups", name) }

// takeSnapshot archives the instance's project directory and every volume of its project, read from the volumes'
// host mountpoints (no helper container, so nothing needs pulling), with the record of what StackHub rendered into
// the directory. The app keeps running meanwhile.
func (s *Service) takeSnapshot(ctx context.Context, inst *store.Instance) (_ *Backup, err error) {
	now := s.now()
	dir := filepath.Join(s.backupDir(inst.Name), now.UTC().Format("20060102-150405.000")+"-"+unsafeChars.ReplaceAllString(inst.Version, "_"))
	if err := os.MkdirAll(filepath.Join(dir, "volumes"), 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot dir: %w", err)
	}
	defer func() {
		if err != nil { // a half-written snapshot is no snapshot, and would count against the three kept
			_ = os.RemoveAll(dir)
		}
	}()
	b := &Backup{Path: dir, Instance: inst.Name, Version: inst.Version, Reversion: inst.Reversion, CreatedAt: now.UnixMilli()}
	n, err := tarDir(s.projectDir(inst.Name), filepath.Join(dir, "files.tar.gz"))
	if err != nil {
		return nil, fmt.Errorf("snapshot files: %w", err)
	}
	b.Size += n
	vols, err := s.engine.Volumes(ctx, inst.Project)
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		mp, err := s.engine.VolumeMountpoint(ctx, v)
		if err != nil {
			return nil, err
		}
		n, err := tarDir(mp, filepath.Join(dir, "volumes", v+".tar.gz"))
		if err != nil {
			return nil, fmt.Errorf("snapshot volume %s: %w", v, err)
		}
		b.Size += n
		b.Volumes = append(b.Volumes, v)
	}
	if err := os.WriteFile(filepath.Join(dir, renderedFile), []byte(inst.Rendered), 0o600); err != nil {
		return nil, fmt.Errorf("write snapshot record of rendered files: %w", err)
	}
	meta, _ := json.MarshalIndent(b, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, metaFile), meta, 0o600); err != nil {
		return nil, fmt.Errorf("write snapshot meta: %w", err)
	}
	s.prune(inst.Name)
	return b, nil
}

// restoreSnapshot puts back the volumes' data and the project files; the caller has removed the containers.
func (s *Service) restoreSnapshot(ctx context.Context, inst *store.Instance, b *Backup) error {
	for _, v := range b.Volumes {
		mp, err := s.engine.VolumeMountpoint(ctx, v)
		if err != nil {
			return err
		}
		if err := untarDir(filepath.Join(b.Path, "volumes", v+".tar.gz"), mp); err != nil {
			return fmt.Errorf("restore volume %s: %w", v, err)
		}
	}
	if err := untarDir(filepath.Join(b.Path, "files.tar.gz"), s.projectDir(inst.Name)); err != nil {
		return fmt.Errorf("restore files: %w", err)
	}
	return nil
}

// prune keeps the newest backupRetention snapshots of an instance.
func (s *Service) prune(name string) {
	list, err := s.readBackups(name)
	if err != nil {
		return
	}
	for i := backupRetention; i < len(list); i++ {
		if err := os.RemoveAll(list[i].Path); err != nil {
			s.log.Error("prune snapshot", "path", list[i].Path, "err", err)
		}
	}
}

// readBackups lists an instance's snapshots, newest first.
func (s *Service) readBackups(name string) ([]Backup, error) {
	entries, err := os.ReadDir(s.backupDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return []Backup{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Backup{}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(s.backupDir(name), e.Name(), metaFile))
		if err != nil {
			continue // a snapshot cut short has no meta and is not offered
		}
		var b Backup
		if json.Unmarshal(raw, &b) == nil {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Backup) int { return strings.Compare(b.Path, a.Path) })
	return out, nil
}

// Backups lists an instance's snapshots, newest first.
func (s *Service) Backups(ctx context.Context, a auth.Actor, name string) ([]Backup, error) {
	if err := s.CheckInstance(ctx, a, name); err != nil {
		return nil, err
	}
	return s.readBackups(name)
}

// tarDir writes dir's tree (modes, owners, times, symlinks) as a gzipped tar; it returns the bytes archived.
func tarDir(dir, dst string) (int64, error) {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	var total int64
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil // a socket is the running app's, recreated when it starts; tar has no form for it
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		n, err := io.Copy(tw, src)
		total += n
		return err
	})
	if err != nil {
		return total, err
	}
	if err := tw.Close(); err != nil {
		return total, err
	}
	if err := zw.Close(); err != nil {
		return total, err
	}
	return total, f.Sync()
}

// untarDir empties dir and extracts the archive into it, refusing entries that would leave it.
func untarDir(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range old {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	tr := tar.NewReader(zr)
	var dirs []*tar.Header
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves %s", hdr.Name, dir)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
			dirs = append(dirs, hdr)
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeReg:
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			_ = os.Chmod(target, mode)
		default:
			continue
		}
		_ = os.Lchown(target, hdr.Uid, hdr.Gid) // databases care who owns their files
		if hdr.Typeflag == tar.TypeReg {
			_ = os.Chtimes(target, time.Now(), hdr.ModTime)
		}
	}
	for _, hdr := range dirs { // directory modes last, so a read-only one could be filled first
		_ = os.Chmod(filepath.Join(dir, filepath.FromSlash(hdr.Name)), fs.FileMode(hdr.Mode).Perm())
	}
	return nil
}
