package kit

import (
	"slices"
	"strconv"
	"time"
)

// MinMax of ds.
func MinMax(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	return slices.Min(ds), slices.Max(ds)
}

// Ms formats d in whole milliseconds, "1234 ms".
func Ms(d time.Duration) string {
	return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
}
