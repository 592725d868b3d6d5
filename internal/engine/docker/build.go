package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/stackhub/stackhub/internal/engine"
)

// build builds a service's image from its build section for project, tagged as engine.Load named it (the content
// hash), and streams the build's output into progress, line by line.
func (e *Engine) build(ctx context.Context, project, service string, s types.ServiceConfig, progress func(engine.Progress)) error {
	b := s.Build
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, b.Context, b.Dockerfile, b.DockerfileInline)) }()
	dockerfile := b.Dockerfile
	if b.DockerfileInline != "" {
		dockerfile = inlineDockerfile
	}
	hash := strings.TrimPrefix(s.Image, engine.BuildRepo+":")
	labels := map[string]string{engine.LabelBuild: hash, engine.LabelBuiltBy: project, engine.LabelManaged: "true"}
	for k, v := range b.Labels {
		labels[k] = v
	}
	res, err := e.c.ImageBuild(ctx, pr, client.ImageBuildOptions{Tags: []string{s.Image}, Dockerfile: dockerfile,
		BuildArgs: b.Args, Target: b.Target, Labels: labels, Remove: true, ForceRemove: true})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("build the image of %s: %w", service, cleanErr(err))
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("build the image of %s: read its output: %w", service, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("build the image of %s: %s", service, strings.TrimSpace(msg.Error))
		}
		for _, line := range strings.Split(strings.TrimRight(msg.Stream+msg.Status, "\n"), "\n") {
			if strings.TrimSpace(line) != "" {
				progress(engine.Progress{Stage: "build", Service: service, Message: line, Percent: -1})
			}
		}
	}
	if _, err := e.c.ImageInspect(ctx, s.Image); err != nil {
		return fmt.Errorf("the build of %s left no image %s: %w", service, s.Image, cleanErr(err))
	}
	return nil
}

// inlineDockerfile is where a dockerfile_inline goes in the context.
const inlineDockerfile = ".stackhub.Dockerfile"

// writeContext writes the build context dir (as engine.BuildFiles lists it) as a tar stream, with fixed times.
func writeContext(w io.Writer, dir, dockerfile, inline string) error {
	files, err := engine.BuildFiles(dir, dockerfile)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, rel := range files {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: rel, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: time.Unix(0, 0)})
		}
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	if inline != "" {
		if err := tw.WriteHeader(&tar.Header{Name: inlineDockerfile, Mode: 0o644, Size: int64(len(inline)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, inline); err != nil {
			return err
		}
	}
	return tw.Close()
}

// removeUnusedBuilds removes, after project's Down, the images StackHub built that its containers ran (used, the
// image IDs) or that it built, when no container uses them any more (the daemon refuses to remove one in use, by
// a running or a stopped container) and no Up in progress holds them (holdBuilds): one built for an install whose
// containers are not created yet. Other projects' images are theirs to remove, so a Down never sweeps the build
// of an install in progress elsewhere (another server on the same engine). An untagged build image is anyone's
// to remove once it is superseded (see superseded).
func (e *Engine) removeUnusedBuilds(ctx context.Context, project string, used map[string]bool) {
	e.buildMu.Lock()
	defer e.buildMu.Unlock()
	imgs, err := e.c.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", engine.LabelBuild)})
	if err != nil {
		return
	}
	for _, img := range imgs.Items {
		untagged := !slices.ContainsFunc(img.RepoTags, func(tag string) bool { return tag != "<none>:<none>" })
		if untagged && !e.superseded(ctx, img.ID, img.Labels[engine.LabelBuild]) {
			continue
		}
		if !untagged && !used[img.ID] && img.Labels[engine.LabelBuiltBy] != project {
			continue
		}
		if slices.ContainsFunc(img.RepoTags, func(tag string) bool { return e.holding[tag] > 0 }) {
			continue
		}
		_, _ = e.c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{}) // in use (a conflict): kept for its users
	}
}

// staleUntagged is how long an untagged build image may go without its tag before a Down takes it for the leftover
// of a build that failed between commit and tag.
const staleUntagged = time.Hour

// superseded tells whether the untagged build image id may go: a later build of the same content (hash) took its
// tag, or nothing has taken it for staleUntagged. A build in flight is untagged for a moment too, between the
// daemon's commit and its tag, possibly by another server on the same engine, where no holding reaches: it is
// newer than any image holding its tag, so it stays.
func (e *Engine) superseded(ctx context.Context, id, hash string) bool {
	_, at, err := e.created(ctx, id)
	if err != nil {
		return false
	}
	holder, holderAt, err := e.created(ctx, engine.BuildRepo+":"+hash)
	if err != nil || holder == id {
		return time.Since(at) > staleUntagged
	}
	return holderAt.After(at)
}

// created returns the ID of the image ref names and when it was made.
func (e *Engine) created(ctx context.Context, ref string) (string, time.Time, error) {
	in, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", time.Time{}, err
	}
	at, err := time.Parse(time.RFC3339Nano, in.Created)
	return in.ID, at, err
}
