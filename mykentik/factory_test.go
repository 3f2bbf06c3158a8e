package mykentik

import (
	"context"
	"errors"
	"testing"

	"github.com/gokentik/kentik/ratelimit"
)

// closingLimiter is a limiter that records being closed.
type closingLimiter struct {
	ratelimit.Limiter
	closed int
}

func (l *closingLimiter) Close() error { l.closed++; return nil }

// WithLimiterFactory makes the V5 limiter of the account's "v5-admin" class, every
// request goes through it, and Close closes it; a factory's failure fails New.
func TestLimiterFactory(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	var got struct{ account, class string }
	made := &closingLimiter{Limiter: ratelimit.New(ratelimit.Admin)}
	factory := func(_ context.Context, account, class string, p ratelimit.Policy) (ratelimit.Limiter, error) {
		got.account, got.class = account, class
		return made, nil
	}
	c, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(testCreds), WithLimiterFactory(factory))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.account != testEmail || got.class != "v5-admin" {
		t.Fatalf("factory called for %+v", got)
	}
	if err := c.Close(); err != nil || made.closed != 1 {
		t.Fatalf("Close: %v, limiter closed %d times", err, made.closed)
	}
	refused := errors.New("redis down")
	if _, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(testCreds),
		WithLimiterFactory(func(context.Context, string, string, ratelimit.Policy) (ratelimit.Limiter, error) {
			return nil, refused
		})); !errors.Is(err, refused) {
		t.Fatalf("a failing factory: %v", err)
	}
}
