// Package stats holds the order statistics the benchmarks report, so that every table computes a percentile
// the same way.
package stats

import (
	"math"
	"slices"
)

// Number is what the benchmarks take statistics of: durations, counts and ratios.
type Number interface {
	~int | ~int64 | ~float64
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of xs: the smallest value with at least p % of
// the values at or below it, always one of the values. 0 for none. xs need not be sorted; a sorted slice is
// read in place, so callers with many samples sort once and ask several times.
func Percentile[T Number](xs []T, p float64) T {
	if len(xs) == 0 {
		return 0
	}
	if !slices.IsSorted(xs) {
		xs = slices.Sorted(slices.Values(xs))
	}
	rank := int(math.Ceil(p * float64(len(xs)) / 100)) // p*n first: exact for whole p, so ceil does not round up
	return xs[min(max(rank, 1), len(xs))-1]
}

// Median of xs, the mean of the two middle values for an even count; 0 for none. xs need not be sorted.
func Median[T Number](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
