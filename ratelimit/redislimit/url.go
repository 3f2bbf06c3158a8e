package redislimit

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// URLError reports a Redis URL that go-redis cannot parse. Its message shows
// the URL with the password replaced by "xxxxx".
type URLError struct {
	URL    string // the URL, redacted
	Reason string // what is wrong
}

// Error implements error.
func (e *URLError) Error() string {
	return fmt.Sprintf("redislimit: bad Redis URL %q: %s (expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], rediss:// for TLS, or unix:///PATH)", e.URL, e.Reason)
}

// parseURL is redis.ParseURL with errors that never show the password.
func parseURL(raw string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	if err == nil {
		return o, nil
	}
	reason := "not a valid URL"
	var ue *url.Error
	if !errors.As(err, &ue) {
		// go-redis's own errors name the scheme, database or a query
		// parameter; still, never let a password through.
		reason = redactSecrets(err.Error(), raw)
	}
	return nil, &URLError{URL: RedactURL(raw), Reason: reason}
}

// RedactURL returns raw with its password (in the user info, or a password
// query parameter) replaced by "xxxxx", for messages and logs. A string that
// does not parse as a URL keeps only its scheme and what follows the last
// '@'.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok {
			scheme, rest = "", raw
		} else {
			scheme += "://"
		}
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			rest = "xxxxx@" + rest[i+1:]
		} else if strings.ContainsAny(rest, ":") {
			return scheme + "xxxxx" // no host to show without risking a secret
		}
		return scheme + rest
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactSecrets replaces in msg whatever raw carries as a password.
func redactSecrets(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return msg
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	if pw := u.Query().Get("password"); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}
