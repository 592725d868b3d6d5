package web

import "slices"

// Parsed names the pages parsed so far.
func (u *UI) Parsed() []string {
	var out []string
	for name, p := range u.pages {
		if p.t.Load() != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
