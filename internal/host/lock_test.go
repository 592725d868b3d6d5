package host

import (
	"testing"
	"time"
)

// A job holding an instance makes the next one busy, unless it is finishing: then the next one waits for it.
func TestLockWaitsForAFinishingJob(t *testing.T) {
	s := &Service{}
	if !s.lock("site") {
		t.Fatal("a free instance is busy")
	}
	if s.lock("site") {
		t.Fatal("two jobs hold one instance")
	}
	s.finishing("site")
	got := make(chan bool)
	go func() { got <- s.lock("site") }()
	select {
	case ok := <-got:
		t.Fatalf("the next job did not wait for the finishing one (locked: %v)", ok)
	case <-time.After(100 * time.Millisecond):
	}
	s.unlock("site")
	if !<-got {
		t.Fatal("the next job did not get the instance once the finishing one let go")
	}
	// The new claim is not finishing: a third job is busy at once.
	if s.lock("site") {
		t.Fatal("two jobs hold one instance")
	}
	s.unlock("site")
	s.unlock("site") // no claim: nothing to do
	if !s.lock("other") {
		t.Fatal("another instance is busy")
	}
}
