// Package dsn holds what the benchmark commands share about database addresses.
package dsn

import "net/url"

// Redact hides the password of a database address, for a report.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return u.String()
}
