package stats

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]int, 100) // 1..100
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		xs   []int
		p    float64
		want int
	}{
		{nil, 50, 0},
		{[]int{7}, 1, 7},
		{[]int{7}, 100, 7},
		{hundred, 50, 50}, // nearest rank: the 50th value, not the 51st
		{hundred, 99, 99},
		{hundred, 100, 100},
		{hundred, 0.5, 1},
		{[]int{1, 2, 3, 4}, 50, 2},
		{[]int{1, 2, 3, 4}, 51, 3},
		{[]int{1, 2, 3, 4}, 90, 4},
		{[]int{4, 1, 3, 2}, 50, 2}, // unsorted
	} {
		if got := Percentile(c.xs, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %d, want %d", c.xs, c.p, got, c.want)
		}
	}
	// A thousand samples, p99: rank 990.
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[i] = time.Duration(1000 - i) // reverse order
	}
	if got := Percentile(ds, 99); got != 990 {
		t.Errorf("p99 of 1..1000 = %d, want 990", got)
	}
	if ds[0] != 1000 {
		t.Error("Percentile sorted its argument in place")
	}
}

func TestMedian(t *testing.T) {
	if got := Median([]time.Duration{}); got != 0 {
		t.Errorf("Median(none) = %v", got)
	}
	if got := Median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("Median(3, 1, 2) = %v, want 2", got)
	}
	if got := Median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("Median(4, 1, 3, 2) = %v, want 2 (the mean of 2 and 3, in whole nanoseconds)", got)
	}
	if got := Median([]float64{1, 2}); got != 1.5 {
		t.Errorf("Median(1.0, 2.0) = %v, want 1.5", got)
	}
	xs := []float64{2, 1}
	Median(xs)
	if xs[0] != 2 {
		t.Error("Median sorted its argument in place")
	}
}
