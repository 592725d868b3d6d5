package sysinfo

import (
	"context"
	"sync"
	"time"
)

// Sample is one reading of the host, at a time in epoch milliseconds.
type Sample struct {
	Time int64 `json:"t"`
	Snapshot
}

// History samples the host every Interval and keeps the last Span of readings in memory, for the server page's
// chart. Nothing is written to disk: a restart starts a new hour.
type History struct {
	path     string
	interval time.Duration
	mu       sync.RWMutex
	ring     []Sample
	next     int
	full     bool
	subs     map[chan Sample]struct{}
}

// NewHistory keeps span worth of samples taken every interval, measuring the disk that holds path.
func NewHistory(path string, interval, span time.Duration) *History {
	n := max(int(span/interval), 1)
	return &History{path: path, interval: interval, ring: make([]Sample, n), subs: map[chan Sample]struct{}{}}
}

// Run samples until ctx ends.
func (h *History) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		if s, err := Read(ctx, h.path); err == nil {
			h.add(Sample{Time: time.Now().UnixMilli(), Snapshot: s})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *History) add(s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
	for ch := range h.subs {
		select {
		case ch <- s:
		default: // a slow reader misses a sample rather than slowing the sampler
		}
	}
}

// Samples returns the kept samples, oldest first.
func (h *History) Samples() []Sample {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.full {
		return append([]Sample(nil), h.ring[:h.next]...)
	}
	return append(append([]Sample(nil), h.ring[h.next:]...), h.ring[:h.next]...)
}

// Subscribe delivers every new sample until cancel is called.
func (h *History) Subscribe() (<-chan Sample, func()) {
	ch := make(chan Sample, 4)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// Interval is the time between samples.
func (h *History) Interval() time.Duration { return h.interval }
