package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkReplicas measures two real serve processes on one PostgreSQL database: the time from a comment posted
// on one process (the request's start) to its comment.created event on an event-stream client of the other, at
// 100 comments a second (and, as the baseline, on a client of the same process); and a GeekApk direct message from a user on one process to a user on the other, one at a
// time. It reports p50 and p99 of each, and the machine's load average before and after (a shared machine skews
// them). Run: go test -run '^$' -bench Replicas -benchtime 1x ./internal/cli/
func BenchmarkReplicas(b *testing.B) {
	e := postgresEngine(b)
	dsn := e.DSN(b)
	env := []string{"DOGETOK=" + cliToken}
	dir := b.TempDir()
	pa := startServe(b, env, "--data-dir", dir, "--database", dsn, "--log-level", "warn")
	pb := startServe(b, env, "--data-dir", dir, "--database", dsn, "--log-level", "warn")
	alice := newHubUser(b, pa.url, "alice")
	bob := newHubUser(b, pb.url, "bob")
	_, aid := hubCall(b, pa.url, alice, "POST", "/app", `{"name":"A"}`)
	loadBefore := loadavg()
	b.ResetTimer()
	for range b.N {
		// Events: 1,000 comments at 100/s on A, received on B; first on A itself (the baseline).
		for _, to := range []struct {
			name string
			p    *proc
		}{{"event-same-process", pa}, {"event", pb}} {
			evB, stop := openEvents(b, to.p.url, "")
			const n = 1000
			sent := make([]time.Time, n)
			errc := make(chan error, 1)
			go func() {
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for i := range n {
					<-tick.C
					sent[i] = time.Now()
					body := fmt.Sprintf(`{"content":"bench %d"}`, i)
					if st, text := hubCall(b, pa.url, alice, "POST", "/app/"+aid+"/comment", body); st != 200 {
						errc <- fmt.Errorf("comment %d: %d %s", i, st, text)
						return
					}
				}
				errc <- nil
			}()
			lat := make([]time.Duration, 0, n)
			for len(lat) < n {
				ev := nextOf(b, evB, "comment.created")
				now := time.Now()
				var p struct {
					Content string `json:"content"`
				}
				_ = json.Unmarshal(ev.Payload, &p)
				i, err := strconv.Atoi(strings.TrimPrefix(p.Content, "bench "))
				if err != nil {
					b.Fatalf("comment %q", p.Content)
				}
				lat = append(lat, now.Sub(sent[i]))
			}
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			stop()
			report(b, to.name, lat)
		}

		// Direct messages: 300 from alice on A to bob on B, one at a time, at most 16 a second (a GeekApk connection
		// may send 20 frames a second).
		as := dialGeek(b, pa.ws, alice, "")
		bs := dialGeek(b, pb.ws, bob, "")
		lat := make([]time.Duration, 0, 300)
		pace := time.NewTicker(60 * time.Millisecond)
		for i := range 300 {
			<-pace.C
			start := time.Now()
			as.send(fmt.Sprintf("%d:dm %d", bob.uid, i))
			if got := bs.read(); got != fmt.Sprintf("%d:dm %d", alice.uid, i) {
				b.Fatalf("bob got %q", got)
			}
			lat = append(lat, time.Since(start))
		}
		pace.Stop()
		report(b, "dm", lat)
	}
	b.StopTimer()
	b.Logf("load average before: %s; after: %s (the machine is shared with other work)", loadBefore, loadavg())
}

func report(b *testing.B, what string, lat []time.Duration) {
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, what+"-p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, what+"-p99-ms")
	b.Logf("%s: n=%d p50=%v p99=%v max=%v", what, len(lat), p(0.5), p(0.99), lat[len(lat)-1])
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}
