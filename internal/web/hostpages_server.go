package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stackhub/stackhub/internal/host"
	"github.com/stackhub/stackhub/internal/sysinfo"
)

// The chart's drawing box, in SVG user units; server.js draws in the same box.
const (
	chartW    = 600
	chartH    = 160
	chartSpan = time.Hour
	// chartMax bounds the samples sent with the page: one per ~5 s of the hour is as fine as 600 units show.
	chartMax = 720
)

// serverView is the server page's data.
type serverView struct {
	Info    *host.ServerInfo
	Nodes   []host.NodeInfo // the Swarm's nodes, or this server as the one node
	Samples string          // JSON [[t, cpu %, mem %, disk %, load1], …], oldest first
	Lines   map[string]string
	Live    bool // a metrics history runs, so the page can stream
	// MinSpan is the chart's shortest time span in ms; SpanText names the one drawn now: the history so far, up
	// to an hour, so a young history fills the chart instead of a sliver at its right edge.
	MinSpan  int64
	SpanText string
}

func (u *UI) serverPage(w http.ResponseWriter, r *http.Request, me Me) {
	var samples []sysinfo.Sample
	if u.d.Metrics != nil {
		samples = u.d.Metrics.Samples()
	}
	var info *host.ServerInfo
	var err error
	if n := len(samples); n > 0 && time.Since(time.UnixMilli(samples[n-1].Time)) < 2*u.d.Metrics.Interval() {
		info, err = u.d.Host.ServerWith(r.Context(), me.Actor, u.d.WeakToken, samples[n-1].Snapshot)
	} else {
		info, err = u.d.Host.Server(r.Context(), me.Actor, u.d.WeakToken) // measures now: a CPU sample takes 200 ms
	}
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	nodes, err := u.d.Host.Nodes(r.Context(), me.Actor)
	if err != nil {
		u.fail(w, r, me, err)
		return
	}
	if len(samples) == 0 {
		samples = []sysinfo.Sample{{Time: time.Now().UnixMilli(), Snapshot: info.Metrics}}
	}
	if n := len(samples); n > chartMax {
		step := (n + chartMax - 1) / chartMax
		thin := make([]sysinfo.Sample, 0, chartMax+1)
		for i := 0; i < n; i += step {
			thin = append(thin, samples[i])
		}
		if thin[len(thin)-1].Time != samples[n-1].Time {
			thin = append(thin, samples[n-1])
		}
		samples = thin
	}
	points := make([][5]float64, len(samples))
	for i, s := range samples {
		points[i] = compact(s)
	}
	raw, _ := json.Marshal(points)
	minSpan := int64(time.Minute / time.Millisecond)
	if u.d.Metrics != nil {
		minSpan = max(20*u.d.Metrics.Interval().Milliseconds(), 1000)
	}
	span := spanOf(points, minSpan)
	u.render(w, r, http.StatusOK, "server", View{Title: "Server", Me: me, Data: serverView{Info: info, Nodes: nodes,
		Samples: string(raw), Lines: chartLines(points, span), Live: u.d.Metrics != nil, MinSpan: minSpan,
		SpanText: spanText(span)}})
}

// spanOf is the time the chart spans: from the oldest sample to the newest, at least minSpan, at most an hour.
func spanOf(points [][5]float64, minSpan int64) int64 {
	if len(points) == 0 {
		return minSpan
	}
	d := int64(points[len(points)-1][0] - points[0][0])
	return min(max(d, minSpan), chartSpan.Milliseconds())
}

// spanText names a span as the chart's caption does; server.js words it the same way.
func spanText(ms int64) string {
	switch {
	case ms >= chartSpan.Milliseconds():
		return "last hour"
	case ms >= 120_000:
		return fmt.Sprintf("last %d min", ms/60_000)
	}
	return fmt.Sprintf("last %d s", ms/1000)
}

// compact is a sample as the chart uses it.
func compact(s sysinfo.Sample) [5]float64 {
	return [5]float64{float64(s.Time), round1(s.CPUPercent), round1(s.MemPercent()), round1(s.DiskPercent()), round1(s.Load1)}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// chartLines are the polylines' points for CPU, memory and disk over span ms before the newest sample, so the
// page shows the chart before its script runs.
func chartLines(points [][5]float64, span int64) map[string]string {
	out := map[string]string{}
	if len(points) == 0 {
		return out
	}
	end := points[len(points)-1][0]
	for i, key := range []string{"cpu", "mem", "disk"} {
		var b strings.Builder
		for _, p := range points {
			x := chartW - (end-p[0])/float64(span)*chartW
			if x < 0 {
				continue
			}
			y := chartH - min(max(p[i+1], 0), 100)/100*chartH
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		out[key] = strings.TrimSpace(b.String())
	}
	return out
}

// heartbeat keeps idle proxies from closing the stream between samples.
const heartbeat = 25 * time.Second

// serverMetrics streams each new sample of the metrics history as an SSE "sample" event until the client goes.
func (u *UI) serverMetrics(w http.ResponseWriter, r *http.Request, me Me) {
	if err := u.d.Host.Authorize(me.Actor); err != nil {
		u.fail(w, r, me, err)
		return
	}
	if u.d.Metrics == nil {
		w.WriteHeader(http.StatusNoContent) // an EventSource stops reconnecting on 204
		return
	}
	samples, cancel := u.d.Metrics.Subscribe()
	defer cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", u.d.Metrics.Interval().Milliseconds()*2+1000)
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			fmt.Fprint(w, ": ping\n\n")
		case s := <-samples:
			b, _ := json.Marshal(map[string]any{"sample": s, "point": compact(s)})
			fmt.Fprintf(w, "event: sample\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
