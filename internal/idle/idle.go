// Package idle gives the memory a burst of work used back to the operating system once the server goes quiet.
//
// Go's collector lets the heap grow to twice what is live before it collects (GOGC=100), and at idle nothing
// allocates, so the next collection waits for the runtime's forced one (every 2 minutes) and even then the
// scavenger keeps about that heap goal resident. An idle server therefore holds the garbage of its last requests
// or install jobs: several megabytes, more than its whole live heap. A Releaser collects once and returns the
// free pages (debug.FreeOSMemory) after work stops for a quiet period; under steady load it costs one collection
// per period, and at idle nothing at all: no timer runs until the next Touch.
package idle

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// DefaultQuiet is how long a server must stay quiet before its memory is released.
const DefaultQuiet = 5 * time.Second

// Releaser collects and frees memory after work stops. Touch marks work; Run watches for the quiet after it.
type Releaser struct {
	quiet   time.Duration
	release func()
	busy    atomic.Bool   // set by Touch, cleared by Run at the start of each quiet period it waits
	wake    chan struct{} // a Touch wakes a sleeping Run
	runs    atomic.Int64  // releases done, for tests
}

// New returns a Releaser that frees memory after quiet (DefaultQuiet when 0) without a Touch.
func New(quiet time.Duration) *Releaser {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	return &Releaser{quiet: quiet, release: debug.FreeOSMemory, wake: make(chan struct{}, 1)}
}

// Touch marks work: a request, a job's event. It is safe for concurrent use and costs an atomic load when work is
// already marked, so it can run on every request. A nil Releaser ignores it.
func (r *Releaser) Touch() {
	if r == nil || r.busy.Load() || r.busy.Swap(true) {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Releases is how many times Run has released memory.
func (r *Releaser) Releases() int64 { return r.runs.Load() }

// Run releases memory a quiet period after each stretch of work, until ctx ends. It releases once at the start
// too: the start-up work (migrations, catalog seeding, template parsing) is done by then.
func (r *Releaser) Run(ctx context.Context) {
	for {
		if !r.waitQuiet(ctx) {
			return
		}
		r.release()
		r.runs.Add(1)
		if r.busy.Load() {
			continue // work came in while releasing: wait for its quiet too
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}

// waitQuiet returns once a whole quiet period passes without a Touch; false when ctx ends first.
func (r *Releaser) waitQuiet(ctx context.Context) bool {
	t := time.NewTimer(r.quiet)
	defer t.Stop()
	for {
		r.busy.Store(false)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if !r.busy.Load() {
			// Drop a wake-up left by a Touch of this period: its work is covered by this release.
			select {
			case <-r.wake:
			default:
			}
			return true
		}
		t.Reset(r.quiet)
	}
}
