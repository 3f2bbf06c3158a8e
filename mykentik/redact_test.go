package mykentik

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// A successful response that is JSON but not the expected JSON, with the token echoed in
// a field the decoder quotes back, must not carry the token into the error.
func TestDecodeErrorRedactsToken(t *testing.T) {
	for _, body := range []string{
		`{"id":7,"name":"x","created_date":"` + testToken + `"}`,
		`{"id":"` + testToken + `","name":"x"}`,
	} {
		f := newFake(t, reply{body: body})
		_, err := newClient(t, f).GetTenant(context.Background(), 7)
		if err == nil {
			t.Fatalf("%s: no error", body)
		}
		if !errors.Is(err, ErrNotJSON) {
			t.Errorf("%s: %v does not wrap ErrNotJSON", body, err)
		}
		for e := error(err); e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), testToken) {
				t.Errorf("%s: the error shows the token: %v", body, e)
				break
			}
		}
	}
}

// An error body cut at the read limit may end in all but the last characters of an echoed
// token; percent-encoded copies of a token are copies too. No part of it may be shown.
func TestErrorBodyRedactsPartAndEncodedTokens(t *testing.T) {
	const token = "tok/en+with space&0123456789abcdef"
	spaces := strings.Repeat(" ", maxErrorBody-len(token)+1) // the cut falls on the token's last byte
	for name, body := range map[string]string{
		"cut at the limit": spaces + token,
		"cut earlier":      strings.Repeat(" ", maxErrorBody-len(token)/2) + token,
		"query-escaped":    "bad token " + url.QueryEscape(token),
		"path-escaped":     "bad token " + url.PathEscape(token),
		"lower-case hex":   "bad token " + strings.ToLower(url.QueryEscape(token)),
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, body)
		}))
		c, err := New(context.Background(), WithBaseURL(srv.URL), WithCredentials(kentik.Credentials{Email: testEmail, Token: token}),
			WithRateLimit(ratelimit.Off), WithRetry(kentik.NoRetry))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListTenants(context.Background())
		srv.Close()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		msg := err.Error()
		for n := 6; n <= len(token); n++ {
			for _, part := range []string{token[:n], url.QueryEscape(token)[:n], url.PathEscape(token)[:n]} {
				if strings.Contains(msg, part) {
					t.Fatalf("%s: the error shows %q of the token: %s", name, part, msg)
				}
			}
		}
	}
}

// A Retry-After far beyond the retry policy's MaxPushBack is not waited for: the call
// fails at once with Kentik's refusal, and the account's later calls are held for
// MaxPushBack only, not for the server's hour (or century).
func TestAbsurdRetryAfterBounded(t *testing.T) {
	for _, ra := range []string{"1000000000", "Fri, 01 Jan 2099 00:00:00 GMT"} {
		f := newFake(t, reply{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": ra}}, reply{body: `[]`})
		pol, err := ratelimit.Parse("concurrency=4,1000/1s")
		if err != nil {
			t.Fatal(err)
		}
		limiter := ratelimit.New(pol) // one account's limiter, which every client of it shares
		p := kentik.RetryPolicy{MaxAttempts: 4, Initial: time.Millisecond, MaxPushBack: 150 * time.Millisecond}
		c := newClient(t, f, WithLimiter(limiter), WithRetry(p))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err = c.ListTenants(ctx)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.RetryAfter < time.Hour || !kentik.IsRateLimited(err) {
			t.Fatalf("%s: err = %v", ra, err)
		}
		if f.calls.Load() != 1 || time.Since(start) > 2*time.Second {
			t.Fatalf("%s: %d calls in %v: the refusal was retried or waited for", ra, f.calls.Load(), time.Since(start))
		}
		// A second client of the account (the same limiter) waits out the capped push-back only.
		c2 := newClient(t, f, WithLimiter(limiter), WithRetry(p))
		if _, err := c2.ListTenants(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 5*time.Second {
			t.Fatalf("%s: the next call started after %v, want about the 150ms cap", ra, el)
		}
	}
}

// errorMessage reads whatever a server or a proxy answers. Whatever the body, the message
// is short, holds no control character, and never shows the token (tokens are printable
// ASCII without blanks, so cleaning the body cannot split or join one).
func FuzzErrorMessage(f *testing.F) {
	const token = "s3cr3t-t0k3n"
	for _, body := range []string{
		`{"error":"invalid token s3cr3t-t0k3n"}`, `{"error":{"message":"x"}}`, `{"errors":[{"message":"a"},"b"]}`,
		`{"detail":"s3cr3t%2Dt0k3n"}`, `"s3cr3t-t0k3n"`, "<html><b>s3cr3t-</b>t0k3n</html>", "s3cr3t\x00-t0k3n",
		"\xff\xfe" + token, `{"message":"s3cr3t-t0k3n` + strings.Repeat("x", 400) + `"}`, `[[[[`, "",
	} {
		f.Add([]byte(body), token, false)
		f.Add([]byte(body), token, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, secret string, truncated bool) {
		msg := errorMessage(body, secret, truncated)
		if len(msg) > maxMessageLen {
			t.Fatalf("message of %d bytes", len(msg))
		}
		if strings.ContainsFunc(msg, unicode.IsControl) {
			t.Fatalf("control character in %q", msg)
		}
		if len(secret) >= 4 && kentik.HeaderSafe(secret) && !strings.ContainsAny(secret, " <>") && strings.Contains(msg, secret) {
			t.Fatalf("message %q shows the token %q", msg, secret)
		}
	})
}
