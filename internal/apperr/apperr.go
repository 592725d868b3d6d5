// Package apperr is the error every service returns to a front door: a kind that picks the status, a message that
// is safe to show a client, the field it concerns, and the wrapped cause that only the log sees.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error; each front door maps it to its own status codes.
type Kind int

// The kinds, in the order of the HTTP statuses they usually become.
const (
	Internal     Kind = iota // 500: the cause is logged, never shown
	Invalid                  // 400
	Unauthorized             // 401
	Forbidden                // 403
	NotFound                 // 404
	Conflict                 // 409
	TooLarge                 // 413
	Unsupported              // 415
	RateLimited              // 429
	Unavailable              // 503
)

// Error is a service error with a client-safe message.
type Error struct {
	Kind       Kind
	Field      string        // the request field at fault, if any
	Message    string        // safe to show a client
	RetryAfter time.Duration // with RateLimited
	Err        error         // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind with a client-safe message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Field returns an error of kind about one request field.
func Field(kind Kind, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a cause to a client-safe message.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithField names the request field an error is about.
func (e *Error) WithField(field string) *Error {
	e.Field = field
	return e
}

var httpStatus = [...]int{Internal: 500, Invalid: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404,
	Conflict: 409, TooLarge: 413, Unsupported: 415, RateLimited: 429, Unavailable: 503}

// HTTPStatus is the usual HTTP status of a kind; a front door with its own contract may map differently.
func HTTPStatus(k Kind) int { return httpStatus[k] }

// As finds the *Error in err's chain; a plain error becomes Internal with a generic message.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Message: "internal error", Err: err}
}

// Is reports whether err carries kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
