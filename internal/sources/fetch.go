package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// download is what a fetch brought: nothing new (304), or a file with its validators.
type download struct {
	notModified        bool
	file               string // in the sync's temp folder
	kind               kind
	etag, lastModified string
}

// fetch downloads a source's URL into dir with a conditional request (If-None-Match, If-Modified-Since from the
// last full download), refusing more than lim.Download bytes.
func (s *Service) fetch(ctx context.Context, url, etag, lastModified, dir string) (*download, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("the URL cannot be requested: %w", err)
	}
	req.Header.Set("User-Agent", "StackHub")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the download failed: %w", errors.Unwrap(err))
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotModified {
		return &download{notModified: true}, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the server answered %s", res.Status)
	}
	limit := s.opt.Limits.Download
	if res.ContentLength > limit {
		return nil, fmt.Errorf("the download is refused: it is %d bytes, over the limit of %d", res.ContentLength, limit)
	}
	file := filepath.Join(dir, "download")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, io.LimitReader(res.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if n > limit {
		return nil, fmt.Errorf("the download is refused: it is over the limit of %d bytes", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("the download was cut off: %w", err)
	}
	head := make([]byte, 512)
	if f, err = os.Open(file); err != nil {
		return nil, err
	}
	m, _ := io.ReadFull(f, head)
	f.Close()
	d := &download{file: file, kind: sniff(head[:m]), etag: res.Header.Get("ETag"),
		lastModified: res.Header.Get("Last-Modified")}
	if d.kind == kindUnknown {
		return nil, errors.New("the download is not a .tar.gz or .zip archive, nor a templates.json")
	}
	return d, nil
}

// newClient is the HTTP client of downloads: the whole download is cut off after timeout, and redirects (forges
// send archive URLs to their download hosts) are followed only to http and https, at most 10.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("more than 10 redirects")
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("a redirect to %s: only http and https are followed", req.URL.Scheme)
		}
		return nil
	}}
}
