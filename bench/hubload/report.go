package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	Engine, Database string
	Opts             options
	CPUs             int

	Seeded      bool
	Seed        seedReport
	Apps        int
	HotApp      int64
	HotComments int64

	BinSize, StrippedSize int64
	IdleRSS, PeakRSS      int64
	BaselineBytes         int
	Results               []loadResult
}

// The endpoints the requirement sets a target for; the hottest-app row is extra information.
var targeted = map[string]bool{
	"GET /app/<aid>": true, "GET /app/all?max=20": true, "GET /app/<aid>/comments?max=20": true,
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n) }

func perReq(cpu time.Duration, n int) string {
	if cpu == 0 || n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(cpu)/float64(time.Microsecond)/float64(n))
}

// baseline returns the mean req/s of the baseline runs, with the runs themselves.
func (r *report) baseline() (mean float64, runs []loadResult) {
	for _, res := range r.Results {
		if strings.HasPrefix(res.Name, "baseline") {
			runs = append(runs, res)
			mean += res.RPS
		}
	}
	if len(runs) > 0 {
		mean /= float64(len(runs))
	}
	return mean, runs
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.Opts
	fmt.Fprintf(&b, "## %s\n\n", r.Engine)
	fmt.Fprintf(&b, "Database `%s`, run %s.\n\n", r.Database, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if r.Seeded {
		s := r.Seed
		fmt.Fprintf(&b, "**Seed:** 10,000 users, 10,000 apps, 100,000 comments in **%.1f s** (users %.1f s, apps %.1f s, "+
			"comments %.1f s", s.Total.Seconds(), s.Users.Seconds(), s.Apps.Seconds(), s.Comments.Seconds())
		if s.Vacuum > 0 {
			fmt.Fprintf(&b, "; then VACUUM (ANALYZE) %.1f s", s.Vacuum.Seconds())
		}
		fmt.Fprintf(&b, "), through `store.Tx`, %d rows per transaction, %d concurrent transaction(s).\n", o.batch,
			o.seedWorkers)
	} else {
		b.WriteString("**Seed:** skipped (-skip-seed): database seeded by an earlier run.\n")
	}
	fmt.Fprintf(&b, "%d apps; the hottest, app %d, has %d comments; comments_num matches COUNT(*) on a sample.\n\n",
		r.Apps, r.HotApp, r.HotComments)
	if o.seedOnly {
		return b.String()
	}

	fmt.Fprintf(&b, "**Load:** %d clients, one keep-alive connection each, closed loop over loopback; %s warm-up "+
		"(not recorded) then %s measured per endpoint. `<aid>` is drawn uniformly from the seeded apps. "+
		"**%d CPUs, shared** by the load generator, `stackhub serve`, the baseline", o.clients, o.warmup, o.duration,
		r.CPUs)
	if r.Engine == "PostgreSQL" {
		b.WriteString(" and PostgreSQL")
	}
	b.WriteString(": absolute numbers are a floor, the ratio to the baseline is the figure to compare.\n\n")

	base, runs := r.baseline()
	pg := r.Engine == "PostgreSQL"
	b.WriteString("| endpoint | req/s | p50 | p99 | max | ratio to baseline | errors | body | server CPU/req | ")
	if pg {
		b.WriteString("PostgreSQL CPU/req | ")
	}
	b.WriteString("generator CPU/req | other CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if pg {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, res := range r.Results {
		ratio := "-"
		if base > 0 && !strings.HasPrefix(res.Name, "baseline") {
			ratio = fmt.Sprintf("%.2f×", res.RPS/base)
		}
		other := "n/a"
		if c := res.OtherCores(); c >= 0 {
			other = fmt.Sprintf("%.2f cores", c)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %d | %d B | %s | ", res.Name, res.RPS, ms(res.P50),
			ms(res.P99), ms(res.Max), ratio, res.Errors, res.BodyBytes, perReq(res.CPU.Proc, res.OK))
		if pg {
			fmt.Fprintf(&b, "%s | ", perReq(res.CPU.DB, res.OK))
		}
		fmt.Fprintf(&b, "%s | %s |\n", perReq(res.CPU.Self, res.OK), other)
	}
	b.WriteString("\n")
	if len(runs) == 2 && base > 0 {
		spread := (runs[1].RPS - runs[0].RPS) / base * 100
		fmt.Fprintf(&b, "Baseline: `bench/baseline`, a separate process answering a fixed %d-byte JSON body (the size "+
			"of a real GET /app/<aid>), measured before and after the hub; the ratios use their mean, %.0f req/s "+
			"(after vs before: %+.1f%%).", r.BaselineBytes, base, spread)
	}
	b.WriteString(" Server CPU/req is the answering process's user+system time over the window divided by the " +
		"requests served (the baseline's on baseline rows, `stackhub serve`'s on the others); generator CPU/req " +
		"the same for this load generator")
	if pg {
		b.WriteString("; PostgreSQL CPU/req the same for all processes named postgres (its backends)")
	}
	fmt.Fprintf(&b, ". Other CPU is the average number of cores busy with anything else: it should be ~0, "+
		"otherwise the machine was noisy (a window over %.2f cores is measured again, up to %d times, and the "+
		"least disturbed attempt is shown).\n\n", noiseCores, r.Opts.retries)
	if w := r.noise(runs, base); w != "" {
		b.WriteString("**Warning: " + w + " Rerun on an otherwise idle machine before drawing conclusions.**\n\n")
	}

	b.WriteString("| memory and size | |\n|---|---:|\n")
	rss := "n/a"
	if r.IdleRSS > 0 {
		rss = mib(r.IdleRSS)
	}
	peak := "n/a"
	if r.PeakRSS > 0 {
		peak = mib(r.PeakRSS)
	}
	fmt.Fprintf(&b, "| idle RSS of `stackhub serve` (VmRSS, %s idle after /api/v1/health answered, before load) | %s |\n",
		o.idleWait, rss)
	fmt.Fprintf(&b, "| peak RSS of `stackhub serve` over the run (VmHWM) | %s |\n", peak)
	fmt.Fprintf(&b, "| binary, `CGO_ENABLED=0 go build ./cmd/stackhub` (as `make build`) | %s |\n", mib(r.BinSize))
	fmt.Fprintf(&b, "| binary, `CGO_ENABLED=0 go build -ldflags=\"-s -w\" ./cmd/stackhub` | %s |\n\n",
		mib(r.StrippedSize))

	if r.Engine == "SQLite" {
		b.WriteString("**Target (SQLite): at least 0.5× the baseline's req/s, p99 under 10 ms.**\n\n")
	} else {
		b.WriteString("Target check (the target is set for SQLite; PostgreSQL shown for comparison):\n\n")
	}
	for _, res := range r.Results {
		if !targeted[res.Name] || base == 0 {
			continue
		}
		ratio := res.RPS / base
		verdict := "met"
		var why []string
		if ratio < 0.5 {
			why = append(why, "throughput below 0.5×")
		}
		if res.P99 >= 10*time.Millisecond {
			why = append(why, "p99 not under 10 ms")
		}
		if res.Errors > 0 {
			why = append(why, fmt.Sprintf("%d errors", res.Errors))
		}
		if len(why) > 0 {
			verdict = "**MISSED** (" + strings.Join(why, ", ") + ")"
		}
		fmt.Fprintf(&b, "- %s: %.2f×, p99 %s: %s\n", res.Name, ratio, ms(res.P99), verdict)
	}
	b.WriteString("\n")
	return b.String()
}

// noiseCores is how much CPU other processes may use during a window before the run is called noisy.
const noiseCores = 0.15

// noise describes signs that something else was using the machine, or "" when there are none: other CPU time
// during a window, or baseline runs more than 10% apart.
func (r *report) noise(runs []loadResult, base float64) string {
	var busy []string
	for _, res := range r.Results {
		if res.Noisy() {
			busy = append(busy, fmt.Sprintf("%s (%.2f cores)", res.Name, res.OtherCores()))
		}
	}
	var msg []string
	if len(busy) > 0 {
		msg = append(msg, "other processes used the CPU during "+strings.Join(busy, ", ")+".")
	}
	if len(runs) == 2 && base > 0 {
		if d := (runs[1].RPS - runs[0].RPS) / base; d > 0.1 || d < -0.1 {
			msg = append(msg, fmt.Sprintf("the two baseline runs differ by %+.0f%%.", d*100))
		}
	}
	return strings.Join(msg, " ")
}

// emit prints the report and writes it to path (if set).
func (r *report) emit(path string) error {
	md := r.markdown()
	fmt.Print(md)
	if path == "" {
		return nil
	}
	return os.WriteFile(path, []byte(md), 0o644)
}
