package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stackhub/stackhub/bench/install/kit"
	"github.com/stackhub/stackhub/bench/internal/stats"
)

func durs[T any](xs []T, f func(T) time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func row(sb *strings.Builder, what, waits string, ds []time.Duration) {
	lo, hi := kit.MinMax(ds)
	fmt.Fprintf(sb, "| %s | %s | **%s** | %s | %s | %s |\n", what, waits, kit.Ms(stats.Median(ds)),
		kit.Ms(stats.Percentile(ds, 90)), kit.Ms(lo), kit.Ms(hi))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func render(header []string, all []results, o options, leaks []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# StackHub install overhead — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, h := range header {
		fmt.Fprintf(&sb, "- %s\n", h)
	}
	sb.WriteString("- the same container both ways: image built here FROM scratch (the test app), restart unless-stopped, " +
		"`APP_NAME=web`, one port published on 127.0.0.1, attached to one pre-existing user-defined bridge network " +
		"(the template's external `W9_NETWORK`, created once per run, as on a server that already runs apps), no volume\n")
	sb.WriteString("- each run: arms alternate (odd runs StackHub first, even runs last); every StackHub install is " +
		"uninstalled with purge, every baseline container removed, before the next arm\n\n")

	for _, r := range all {
		v := r.v
		target := ""
		if v.name == "plain" {
			target = " (the target)"
		}
		fmt.Fprintf(&sb, "## Variant %q%s — image %s\n\n", v.name, target, v.image)
		total := durs(r.sh, func(x shRun) time.Duration { return x.total })
		ans := durs(r.sh, func(x shRun) time.Duration { return x.answered })
		acc := durs(r.sh, func(x shRun) time.Duration { return x.accepted })
		run := durs(r.run, func(x baseRun) time.Duration { return x.total })
		runRet := durs(r.run, func(x baseRun) time.Duration { return x.returned })
		api := durs(r.api, func(x baseRun) time.Duration { return x.total })
		sb.WriteString("| arm | waits for | median | p90 | min | max |\n|---|---|---|---|---|---|\n")
		row(&sb, "**StackHub**: POST /installApp → getAppInfo status \"1\"", v.shWaits, total)
		row(&sb, "StackHub: POST /installApp answered", "the accepted answer (job queued)", acc)
		row(&sb, "StackHub: POST /installApp → app answers HTTP", "the benchmark's own probe of GET / (information)", ans)
		row(&sb, "**docker run -d** → ready", v.baseWaits, run)
		row(&sb, "docker run -d: the CLI returned", "the container is started", runRet)
		if v.health {
			row(&sb, "docker run -d → app answers HTTP", "GET / (information)", durs(r.run, func(x baseRun) time.Duration { return x.answered }))
		}
		row(&sb, "Engine API create + start → ready (information)", v.baseWaits+"; no CLI process", api)
		sb.WriteString("\n")

		var pair []float64
		for i := range min(len(r.sh), len(r.run)) {
			pair = append(pair, ratio(r.sh[i].total, r.run[i].total))
		}
		rt := ratio(stats.Median(total), stats.Median(run))
		verdict := ""
		if v.name == "plain" {
			if rt < o.target {
				verdict = fmt.Sprintf(" — **target (< %.1f×) met**", o.target)
			} else {
				verdict = fmt.Sprintf(" — **target (< %.1f×) not met**", o.target)
			}
		}
		fmt.Fprintf(&sb, "**Ratio StackHub ÷ docker run (medians): %.2f×**%s. Median of the per-run ratios (each "+
			"StackHub install ÷ the docker run measured next to it): %.2f×. StackHub ÷ Engine API: %.2f×. "+
			"StackHub's extra time over docker run: %s (median difference).\n\n", rt, verdict, stats.Median(pair),
			ratio(stats.Median(total), stats.Median(api)), kit.Ms(stats.Median(total)-stats.Median(run)))

		breakdown(&sb, r)

		sb.WriteString("### Teardown (information)\n\n| arm | median | p90 |\n|---|---|---|\n")
		for _, t := range []struct {
			what string
			ds   []time.Duration
		}{
			{"StackHub uninstallApp with purge (synchronous)", durs(r.sh, func(x shRun) time.Duration { return x.uninstall })},
			{"docker rm -f", durs(r.run, func(x baseRun) time.Duration { return x.remove })},
			{"Engine API remove (force)", durs(r.api, func(x baseRun) time.Duration { return x.remove })},
		} {
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", t.what, kit.Ms(stats.Median(t.ds)), kit.Ms(stats.Percentile(t.ds, 90)))
		}
		sb.WriteString("\n### Every run (ms)\n\n| run | order | StackHub status 1 | StackHub app answered | docker run | Engine API |\n|---|---|---|---|---|---|\n")
		for i := range r.sh {
			fmt.Fprintf(&sb, "| %d | %s | %d | %d | %d | %d |\n", i+1, r.order[i], r.sh[i].total.Milliseconds(),
				r.sh[i].answered.Milliseconds(), r.run[i].total.Milliseconds(), r.api[i].total.Milliseconds())
		}
		fmt.Fprintf(&sb, "\nLoad average after this variant: %s.\n\n", r.loadAfter)
	}
	if len(leaks) > 0 {
		fmt.Fprintf(&sb, "**Left behind** (removed by the benchmark's sweep): %s.\n", strings.Join(leaks, ", "))
	} else {
		sb.WriteString("Nothing was left behind: after StackHub's uninstalls (with purge) the sweep found no container, " +
			"volume, network (other than the benchmark's own) or project directory.\n")
	}
	return sb.String()
}

// milestone is one point of an install, in ms after the POST /installApp was sent.
type milestone struct {
	label, note string
	seen        int                   // order of first appearance, to break ties (ms resolution)
	at          map[int]time.Duration // by run
	median      time.Duration         // of at
}

// breakdown writes the install job's stages (GET /api/v1/jobs/{id}, server clock) next to the client's points.
func breakdown(sb *strings.Builder, r results) {
	ms := map[string]*milestone{}
	add := func(label, note string, run int, d time.Duration) {
		m := ms[label]
		if m == nil {
			m = &milestone{label: label, note: note, seen: len(ms), at: map[int]time.Duration{}}
			ms[label] = m
		}
		if _, seen := m.at[run]; !seen {
			m.at[run] = d
		}
	}
	for i, x := range r.sh {
		add("client: installApp answered", "", i, x.accepted)
		for _, e := range x.events {
			add("job: "+e.Stage, e.Message, i, time.Duration(e.At-x.t0ms)*time.Millisecond)
		}
		if x.answered > 0 {
			add("client: app answers HTTP", "the benchmark's probe", i, x.answered)
		}
		add(`client: getAppInfo status "1"`, "", i, x.total)
	}
	list := make([]*milestone, 0, len(ms))
	for _, m := range ms {
		m.median = stats.Median(slices.Collect(maps.Values(m.at)))
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b *milestone) int {
		return cmp.Or(cmp.Compare(a.median, b.median), a.seen-b.seen)
	})
	sb.WriteString("### Where StackHub's time goes (medians over the runs)\n\n")
	sb.WriteString("`job:` lines are the first event of each stage in the install job's log (`at`, server clock, ms " +
		"resolution); `client:` lines are seen by the benchmark. \"Until next\" is the median over runs of the gap " +
		"to the next line.\n\n| milestone | first message | ms after POST | until next |\n|---|---|---|---|\n")
	for i, m := range list {
		next := "—"
		if i+1 < len(list) {
			var gaps []time.Duration
			for run, d := range m.at {
				if d2, ok := list[i+1].at[run]; ok {
					gaps = append(gaps, d2-d)
				}
			}
			next = kit.Ms(stats.Median(gaps))
		}
		fmt.Fprintf(sb, "| %s | %s | %s | %s |\n", m.label, m.note, kit.Ms(m.median), next)
	}
	sb.WriteString("\n")
}
