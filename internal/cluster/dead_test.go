package cluster

import (
	"fmt"
	"os"
	"testing"
)

// TestDeadHere: a process id of this host is dead when its pid is gone or is this process's own (a restarted
// container); one of another host, or a live pid, is not.
func TestDeadHere(t *testing.T) {
	cases := []struct {
		id   string
		dead bool
	}{
		{fmt.Sprintf("my-host-%d-ab12", os.Getpid()), true},
		{"my-host-2147483646-ab12", true}, // no such pid
		{fmt.Sprintf("my-host-%d-ab12", os.Getppid()), false},
		{fmt.Sprintf("other-%d-ab12", os.Getpid()), false},
		{"node1", false},
	}
	for _, c := range cases {
		if got := deadHere(c.id, "my-host"); got != c.dead {
			t.Errorf("deadHere(%q) = %v, want %v", c.id, got, c.dead)
		}
	}
}
