package mykentik

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidEmail is wrapped by CreateTenantUser when the address is refused locally,
// before any request.
var ErrInvalidEmail = errors.New("mykentik: invalid email address")

// ErrInvalidArgument is wrapped when an id passed to a method cannot name a resource
// (a tenant id below 1, an empty user id); nothing is sent.
var ErrInvalidArgument = errors.New("mykentik: invalid argument")

// ErrBodyTooLarge is wrapped when a response body is larger than the client accepts (see
// WithMaxBodyBytes).
var ErrBodyTooLarge = errors.New("mykentik: response body too large")

// ErrNotJSON is wrapped when a successful response cannot be read as the JSON the call
// expects.
var ErrNotJSON = errors.New("mykentik: response is not the expected JSON")

// APIError is a response from the Kentik V5 API with a status other than 2xx. Use
// errors.As to reach it, or the checks of package kentik (kentik.IsNotFound,
// kentik.IsUnauthenticated, kentik.IsPermissionDenied, kentik.IsRateLimited), which read
// it through HTTPStatus as they read the gRPC client's errors. Its text never contains the API token: the token is only ever sent in a header,
// and any echo of it in the server's message is redacted.
type APIError struct {
	// StatusCode is the HTTP status, e.g. 404.
	StatusCode int
	// Method is the HTTP method of the request, e.g. "GET".
	Method string
	// Path is the request's URL path, e.g. "/api/v5/mykentik/tenant/7" (no host, no query).
	Path string
	// Message is Kentik's explanation taken from the body ({"error":...}, {"message":...}
	// or plain text), cleaned of control characters and truncated; it may be empty.
	Message string
	// RetryAfter is the delay the server asked for in a Retry-After header (0 if none).
	RetryAfter time.Duration
}

// Error reads like "mykentik: GET /api/v5/mykentik/tenant/7: 404 Not Found: Tenant not
// found".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mykentik: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + text)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	return b.String()
}

// hint tells the user what to do next for the statuses that have an obvious next step.
func (e *APIError) hint() string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "check the email and API token, and that they belong to this region"
	case http.StatusForbidden:
		return "the user may lack the Administrator role: Member users can only read"
	}
	return ""
}

// HTTPStatus returns the response's status, for kentik.CodeOf and the checks built on it.
func (e *APIError) HTTPStatus() int { return e.StatusCode }

// maxMessageLen bounds APIError.Message, in bytes.
const maxMessageLen = 300

// errorMessage pulls Kentik's explanation out of an error response body. JSON bodies are
// searched for "error" (a string, or an object with "message"), "message", "detail" or
// "error_description"; anything else is taken as text, with HTML tags stripped. The
// result is cleaned of control characters, has secret redacted, and is truncated. A
// body that was cut at a read limit (truncated) loses its last len(secret) bytes first:
// the cut may have split an echoed token, and no prefix of it may be shown.
func errorMessage(body []byte, secret string, truncated bool) string {
	if truncated && secret != "" {
		body = body[:max(0, len(body)-len(secret))]
	}
	msg := jsonMessage(body)
	if msg == "" {
		msg = string(body)
		if strings.HasPrefix(strings.TrimSpace(msg), "<") {
			msg = stripTags(msg)
		}
	}
	// Cleaning first, so that control characters cannot split the token and hide it
	// from the replacement; truncating last cannot reveal a prefix of a token that is
	// already gone.
	msg = cleanText(msg)
	msg = redactSecret(msg, secret)
	msg = truncate(msg, maxMessageLen)
	return msg
}

// redactSecret replaces every copy of secret in s, as it is and percent-encoded (query
// and path escaping, upper- and lower-case hex), with "<redacted>".
func redactSecret(s, secret string) string {
	if secret == "" {
		return s
	}
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	for _, f := range forms[1:] {
		forms = append(forms, lowerHexEscapes(f))
	}
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, "<redacted>")
	}
	return s
}

// lowerHexEscapes writes the hex digits of s's %XX escapes in lower case.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

func jsonMessage(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		for _, key := range []string{"error", "message", "detail", "error_description", "errors"} {
			if s := messageValue(v[key]); s != "" {
				return s
			}
		}
	}
	return ""
}

func messageValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if s, ok := v["message"].(string); ok {
			return s
		}
	case []any:
		var parts []string
		for _, e := range v {
			if s := messageValue(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// stripTags turns an HTML error page into its text.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanText replaces control characters and invalid UTF-8 (which could rewrite a
// terminal) and collapses runs of white space.
func cleanText(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
