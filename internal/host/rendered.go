package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stackhub/stackhub/internal/engine"
	"github.com/stackhub/stackhub/internal/store"
)

// An instance's project directory holds files StackHub renders from the template: the Compose file and .env,
// which StackHub owns (they carry the version's images, the booked ports and the secrets, and an upgrade must
// rewrite them to upgrade at all), and the template's extra files (configuration such as prometheus.yml), which
// the admin may edit. For each, the instance records the SHA-256 of what StackHub last wrote (Instance.Rendered),
// so that an upgrade can tell the admin's edits from StackHub's own output.

// rendering maps a project file's path (relative, with forward slashes) to the SHA-256 (hex) of its rendering.
type rendering map[string]string

// newSuffix names the file beside a kept one that holds the new version's rendering of it.
const newSuffix = ".new"

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// encode is the stored form of r (Instance.Rendered).
func (r rendering) encode() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// decodeRendering reads a stored rendering; "" (nothing recorded) is an empty one, never nil.
func decodeRendering(raw string) (rendering, error) {
	r := rendering{}
	if raw == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("the record of rendered files: %w", err)
	}
	return r, nil
}

// lastRendering is what StackHub last rendered into inst's project directory. An instance installed before
// StackHub kept that record has none: its Compose file and extra files are then the running version's template
// text (StackHub writes them verbatim), and when the catalog no longer has that version nothing is known, so
// every extra file that differs from the new rendering is kept.
func (s *Service) lastRendering(ctx context.Context, inst *store.Instance) (rendering, error) {
	r, err := decodeRendering(inst.Rendered)
	if err != nil || len(r) > 0 {
		return r, err
	}
	_, _, stack, err := s.resolve(ctx, inst.AppKey, "", inst.Version, "")
	if err != nil {
		s.log.Warn("no record of the rendered files and no template to derive it from; edited files are kept",
			"instance", inst.Name, "version", inst.Version, "err", err)
		return r, nil
	}
	r[engine.ComposeFile] = hashOf([]byte(stack.Compose))
	for rel, text := range stack.Files {
		r[rel] = hashOf([]byte(text))
	}
	return r, nil
}

// placement is what rendering does with one file of the project directory.
type placement int

const (
	placeWrite   placement = iota // new, as StackHub last rendered it, or already the new content: write it
	placeKeep                     // an extra file the admin changed: leave it, write the rendering as <file>.new
	placeRestore                  // an extra file the admin removed: write it again (nothing of theirs is lost)
	placeReplace                  // an owned file (Compose file, .env) with local edits: overwrite them
)

// place decides for one file during an upgrade. exists and cur are the file on disk, recorded the hash of what
// StackHub last rendered into it ("" when it did not render this path, or nothing is recorded), next the new
// rendering, and owned marks the Compose file and .env.
func place(owned, exists bool, cur []byte, recorded string, next []byte) placement {
	if !exists {
		if recorded != "" && !owned {
			return placeRestore
		}
		return placeWrite
	}
	if h := hashOf(cur); h == recorded || h == hashOf(next) {
		return placeWrite
	}
	switch {
	case !owned:
		return placeKeep // changed since StackHub wrote it, or never StackHub's
	case recorded != "":
		return placeReplace
	}
	return placeWrite // an owned file with nothing recorded: nothing to tell
}

// readIfExists reads a file; a missing one is (nil, false, nil).
func readIfExists(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// dropStaleNew removes <path>.new when it is exactly what StackHub wrote there at the last upgrade (its hash is
// recorded, the rendering of the file it stood beside): the admin has taken it over, or the file is no longer
// kept. A .new the admin edited stays.
func dropStaleNew(path, recorded string) error {
	b, ok, err := readIfExists(path + newSuffix)
	if err != nil || !ok || recorded == "" || hashOf(b) != recorded {
		return err
	}
	return os.Remove(path + newSuffix)
}

// renderedFile in a snapshot holds the instance's record of rendered files as it was when the snapshot was
// taken, so that restoring the files restores the record that describes them.
const renderedFile = "rendered.json"

// snapshotRendering reads the record a snapshot holds; a snapshot taken before StackHub kept it gives "".
func snapshotRendering(b *Backup) (string, error) {
	raw, ok, err := readIfExists(filepath.Join(b.Path, renderedFile))
	if err != nil || !ok {
		return "", err
	}
	return string(raw), nil
}
