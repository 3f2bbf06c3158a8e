package redislimit

import (
	"errors"
	"strings"
)

// ErrUnavailable is matched (with errors.Is) by every error a Limiter returns
// because Redis could not be used: unreachable, refusing the credentials, or
// answering with an error.
var ErrUnavailable = errors.New("redislimit: Redis unavailable")

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("redislimit: limiter closed")

// UnavailableError is the error of a call that needed Redis and could not use
// it. errors.Is(err, ErrUnavailable) is true, and Unwrap also yields the
// go-redis error.
type UnavailableError struct {
	Addr string // the Redis address(es), host:port, never the password
	Op   string // what the limiter was doing, e.g. "acquire"
	Err  error  // the go-redis error
}

// Error implements error. The message names Redis, the address and what to
// check.
func (e *UnavailableError) Error() string {
	var b strings.Builder
	b.WriteString("redislimit: ")
	b.WriteString(e.Op)
	b.WriteString(": cannot use Redis at ")
	if e.Addr == "" {
		b.WriteString("(unknown address)")
	} else {
		b.WriteString(e.Addr)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	b.WriteString(" (check that Redis is running and reachable from this machine, and the URL's scheme, host, port, user, password and database; " +
		"WithFallback lets calls go on under an in-process limiter while Redis is away)")
	return b.String()
}

// Unwrap returns ErrUnavailable and the go-redis error.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}
