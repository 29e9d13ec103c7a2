package forward

import (
	"sync/atomic"
	"testing"
	"time"
)

// Memory is released once connections stop starting, not while they
// keep starting, and not again until one more has started.
func TestReleaseWhenQuiet(t *testing.T) {
	var released atomic.Int32
	go releaseWhenQuiet(20*time.Millisecond, 0, func() { released.Add(1) })
	// Connections keep starting: no release.
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		starts.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
	if n := released.Load(); n != 0 {
		t.Fatalf("released %d times while connections kept starting", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := released.Load(); n != 1 {
		t.Fatalf("released %d times after connections stopped starting, want 1", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := released.Load(); n != 1 {
		t.Fatalf("released %d times with nothing started since, want 1", n)
	}
	starts.Add(1)
	time.Sleep(100 * time.Millisecond)
	if n := released.Load(); n != 2 {
		t.Fatalf("released %d times after one more connection, want 2", n)
	}
}
