package idle

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// waitReleases waits (a minute at most, against hangs) until r has released n times.
func waitReleases(t *testing.T, r *Releaser, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for r.Releases() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d releases after a minute, want %d", r.Releases(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReleasesOnceAfterStartAndAfterEachBurst(t *testing.T) {
	r := New(20 * time.Millisecond)
	released := make(chan struct{}, 10)
	r.release = func() { released <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()

	waitReleases(t, r, 1) // the start-up release
	// A burst of work: one release after it, however many touches it had.
	for range 100 {
		r.Touch()
	}
	waitReleases(t, r, 2)
	// No work, no release: a few quiet periods pass without one.
	time.Sleep(100 * time.Millisecond)
	if n := r.Releases(); n != 2 {
		t.Errorf("%d releases without work since the second, want 2", n)
	}
	r.Touch()
	waitReleases(t, r, 3)
	cancel()
	<-done
	if len(released) != 3 {
		t.Errorf("release ran %d times, want 3", len(released))
	}
}

func TestNilReleaserIgnoresTouch(t *testing.T) {
	var r *Releaser
	r.Touch() // must not panic: servers without a releaser pass nil
}

// The real release: garbage left by a burst goes back to the OS.
func TestFreesTheGarbageOfABurst(t *testing.T) {
	r := New(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitReleases(t, r, 1)
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 256<<10)) // 16 MiB, garbage once keep goes
	}
	runtime.KeepAlive(keep)
	keep = nil
	r.Touch()
	waitReleases(t, r, 2)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	// Free pages still held: without the release, the 16 MiB of garbage would be here (the heap goal allows it).
	if held := m.HeapIdle - m.HeapReleased; held > 8<<20 {
		t.Errorf("%d MiB of free heap still held after the release", held>>20)
	}
}
