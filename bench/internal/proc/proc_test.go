package proc

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux /proc")
	}
	pid := os.Getpid()
	name, _, err := CPU(pid)
	if err != nil || name == "" {
		t.Fatalf("CPU = %q, %v", name, err)
	}
	st, err := ReadStatus(pid)
	if err != nil || st.RSS <= 0 || st.HWM < st.RSS || st.Threads < 1 {
		t.Fatalf("ReadStatus = %+v, %v", st, err)
	}
	// The split adds up to the whole (the rest, shared memory, is 0 here); both parts are there in a Go test.
	if st.RSSAnon <= 0 || st.RSSFile <= 0 || st.RSSAnon+st.RSSFile > st.RSS {
		t.Fatalf("ReadStatus = %+v: RssAnon and RssFile do not split VmRSS", st)
	}
	if n := FDs(pid); n < 3 {
		t.Fatalf("FDs = %d", n)
	}
	if _, ok := CPUByName(func(n string) bool { return n == name })[pid]; !ok {
		t.Fatalf("CPUByName misses this process (%s)", name)
	}
}

func TestCPUDelta(t *testing.T) {
	d, n := CPUDelta(map[int]time.Duration{1: 10, 2: 5}, map[int]time.Duration{1: 30, 3: 100})
	if d != 20 || n != 1 {
		t.Fatalf("CPUDelta = %v, %d; want 20ns, 1 (only processes present in both count)", d, n)
	}
}
