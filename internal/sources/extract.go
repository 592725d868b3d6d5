package sources

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits bound what one sync may download and unpack, so a hostile or broken source (an archive bomb) is refused
// before it fills the disk. Zero fields take the defaults in brackets, sized for the largest real store
// (CasaOS's: a 9 MB archive, 236 MB and 1,200 files unpacked).
type Limits struct {
	Download int64 // bytes of the archive or templates.json [256 MiB]
	Unpacked int64 // bytes of all files unpacked [1 GiB]
	Files    int   // files and folders unpacked [100,000]
}

func (l *Limits) defaults() {
	if l.Download <= 0 {
		l.Download = 256 << 20
	}
	if l.Unpacked <= 0 {
		l.Unpacked = 1 << 30
	}
	if l.Files <= 0 {
		l.Files = 100_000
	}
}

// kind is what a download holds, told from its first bytes (forges' archive URLs need not end in .tar.gz).
type kind int

const (
	kindUnknown kind = iota
	kindTarGz
	kindZip
	kindJSON
)

func sniff(head []byte) kind {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return kindTarGz
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return kindZip
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return kindJSON
	}
	return kindUnknown
}

// extractor writes an archive's entries under one root, safely: every entry path must stay inside it (no "..",
// no absolute path), only regular files and folders are written, links are never created (a link pointing out
// of the archive refuses it, one inside is skipped), and the unpacked bytes and entries are counted against the
// limits. The os.Root makes an escape impossible even if a check were wrong.
type extractor struct {
	root    *os.Root
	lim     Limits
	bytes   int64
	entries int
	skipped int // links inside the archive and special files, not written
}

func newExtractor(dir string, lim Limits) (*extractor, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open extraction folder: %w", err)
	}
	return &extractor{root: root, lim: lim}, nil
}

func (x *extractor) close() { _ = x.root.Close() }

// entryPath checks and cleans an archive entry's name; "" means the archive root itself.
func entryPath(name string) (string, error) {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || filepath.VolumeName(name) != "" || (len(n) > 1 && n[1] == ':') {
		return "", fmt.Errorf("the archive is refused: entry %q has an absolute path", name)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", fmt.Errorf("the archive is refused: entry %q leaves the archive (..)", name)
		}
	}
	clean := path.Clean(n)
	if clean == "." {
		return "", nil
	}
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", fmt.Errorf("the archive is refused: entry %q is not a plain relative path", name)
	}
	return clean, nil
}

// link checks a link entry: a target outside the archive refuses it; one inside is skipped, never created.
// hard: target is an archive path (a hard link) rather than relative to the link's folder.
func (x *extractor) link(name, target string, hard bool) error {
	t := strings.ReplaceAll(target, `\`, "/")
	resolved := path.Clean(t)
	if !hard {
		resolved = path.Join(path.Dir(name), t)
	}
	if strings.HasPrefix(t, "/") || filepath.VolumeName(target) != "" || !filepath.IsLocal(filepath.FromSlash(resolved)) {
		return fmt.Errorf("the archive is refused: link %q points outside it (%q)", name, target)
	}
	x.skipped++
	return nil
}

func (x *extractor) count() error {
	x.entries++
	if x.entries > x.lim.Files {
		return fmt.Errorf("the archive is refused: it holds more than %d files and folders (the limit)", x.lim.Files)
	}
	return nil
}

func (x *extractor) dir(name string) error {
	if err := x.count(); err != nil || name == "" {
		return err
	}
	if err := x.root.MkdirAll(filepath.FromSlash(name), 0o755); err != nil {
		return fmt.Errorf("the archive is broken: folder %q: %w", name, err)
	}
	return nil
}

// file writes one regular file from r, counting its bytes against the unpacked limit as they are written (the
// sizes an archive declares may lie).
func (x *extractor) file(name string, r io.Reader) error {
	if err := x.count(); err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	p := filepath.FromSlash(name)
	if dir := filepath.Dir(p); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("the archive is broken: folder of %q: %w", name, err)
		}
	}
	f, err := x.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("the archive is broken: file %q: %w", name, err)
	}
	room := x.lim.Unpacked - x.bytes
	n, err := io.Copy(f, io.LimitReader(r, room+1))
	x.bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if n > room {
		return fmt.Errorf("the archive is refused: it unpacks to more than %d bytes (the limit)", x.lim.Unpacked)
	}
	if err != nil {
		return fmt.Errorf("the archive is broken: file %q: %w", name, err)
	}
	return nil
}

// extractTarGz unpacks a .tar.gz into dir.
func extractTarGz(file, dir string, lim Limits) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("the archive is broken: not a gzip stream: %w", err)
	}
	x, err := newExtractor(dir, lim)
	if err != nil {
		return err
	}
	defer x.close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the archive is broken: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader { // forges put the commit id there
			continue
		}
		name, err := entryPath(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = x.dir(name)
		case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
			err = x.file(name, tr)
		case tar.TypeSymlink, tar.TypeLink:
			err = x.link(name, h.Linkname, h.Typeflag == tar.TypeLink)
		default: // devices, FIFOs: never written
			x.skipped++
		}
		if err != nil {
			return err
		}
	}
	// Read the rest of the stream so that a truncated or corrupt gzip (its checksum is at the end) is caught.
	if _, err := io.Copy(io.Discard, io.LimitReader(gz, lim.Unpacked)); err != nil {
		return fmt.Errorf("the archive is broken: %w", err)
	}
	return nil
}

// extractZip unpacks a .zip into dir.
func extractZip(file, dir string, lim Limits) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("the archive is broken: not a zip file: %w", err)
	}
	defer zr.Close()
	if len(zr.File) > lim.Files {
		return fmt.Errorf("the archive is refused: it holds more than %d files and folders (the limit)", lim.Files)
	}
	x, err := newExtractor(dir, lim)
	if err != nil {
		return err
	}
	defer x.close()
	for _, zf := range zr.File {
		name, err := entryPath(zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			err = x.dir(name)
		case mode&fs.ModeSymlink != 0:
			err = zipLink(x, zf, name)
		case mode.IsRegular():
			err = zipFile(x, zf, name)
		default:
			x.skipped++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func zipFile(x *extractor, zf *zip.File, name string) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("the archive is broken: file %q: %w", zf.Name, err)
	}
	defer rc.Close()
	return x.file(name, rc)
}

// zipLink reads a symlink's target, which a zip stores as the entry's content.
func zipLink(x *extractor, zf *zip.File, name string) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("the archive is broken: link %q: %w", zf.Name, err)
	}
	defer rc.Close()
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return fmt.Errorf("the archive is broken: link %q: %w", zf.Name, err)
	}
	return x.link(name, string(target), false)
}

// storeRoot is the folder holding the store: forges wrap a repository in one top-level folder
// (<repo>-<branch>/), which is stripped; an archive with several top-level entries is its own root.
func storeRoot(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) == 1 && entries[0].IsDir() {
		return filepath.Join(dir, entries[0].Name()), nil
	}
	if len(entries) == 0 {
		return "", errors.New("the archive is empty")
	}
	return dir, nil
}
