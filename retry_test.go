package kentik

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 3, Jitter: -1}
	for attempt, want := range map[int]time.Duration{0: 0, 1: 0, 2: 100 * time.Millisecond, 3: 300 * time.Millisecond, 4: 900 * time.Millisecond, 5: time.Second, 60: time.Second} {
		if got := p.Backoff(attempt); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
	p.Jitter = 0.5
	for range 100 {
		if d := p.Backoff(2); d < 50*time.Millisecond || d > 150*time.Millisecond {
			t.Fatalf("jittered backoff %v out of range", d)
		}
	}
	if d := (RetryPolicy{}).Backoff(1000); d > 12*time.Second || d < 8*time.Second {
		t.Fatalf("default cap: %v", d)
	}
}

// A policy without jitter stays without jitter however often defaults are applied (the
// interceptors apply them, and Backoff again).
func TestNoJitterStaysNone(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Jitter: -1}.WithDefaults().WithDefaults()
	for range 20 {
		if d := p.Backoff(2); d != 100*time.Millisecond {
			t.Fatalf("Backoff(2) = %v: jitter came back", d)
		}
	}
}

func TestRetryPolicyWithDefaults(t *testing.T) {
	if got := (RetryPolicy{}).WithDefaults(); got != DefaultRetryPolicy {
		t.Fatalf("zero policy: %+v", got)
	}
	got := RetryPolicy{MaxAttempts: 1, Initial: time.Second, Max: time.Millisecond, Multiplier: 0.5, Jitter: 7, MaxPushBack: time.Second}.WithDefaults()
	want := RetryPolicy{MaxAttempts: 1, Initial: time.Second, Max: time.Second, Multiplier: 2, Jitter: 1, MaxPushBack: time.Second}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// The one retry rule: refusals for every method, interruptions for idempotent ones.
func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		f          Failure
		idempotent bool
		want       bool
	}{
		{"grpc unavailable, get", GRPCFailure(codes.Unavailable, "down"), true, true},
		{"grpc unavailable, create", GRPCFailure(codes.Unavailable, "down"), false, false},
		{"grpc exhausted, create", GRPCFailure(codes.ResourceExhausted, "slow down"), false, true},
		{"grpc stream reset, create", GRPCFailure(codes.ResourceExhausted, "stream terminated by RST_STREAM with error code: ENHANCE_YOUR_CALM"), false, false},
		{"grpc stream reset, get", GRPCFailure(codes.ResourceExhausted, "stream terminated by RST_STREAM with error code: ENHANCE_YOUR_CALM"), true, true},
		{"grpc message size", GRPCFailure(codes.ResourceExhausted, "grpc: received message larger than max (9 vs. 4)"), true, false},
		{"grpc not found", GRPCFailure(codes.NotFound, ""), true, false},
		{"grpc unauthenticated", GRPCFailure(codes.Unauthenticated, ""), true, false},
		{"grpc deadline", GRPCFailure(codes.DeadlineExceeded, ""), true, false},
		{"http 429, post", HTTPFailure(http.StatusTooManyRequests), false, true},
		{"http 503, post", HTTPFailure(http.StatusServiceUnavailable), false, true},
		{"http 502, post", HTTPFailure(http.StatusBadGateway), false, false},
		{"http 504, delete", HTTPFailure(http.StatusGatewayTimeout), true, true},
		{"http 500, get", HTTPFailure(http.StatusInternalServerError), true, false},
		{"http 404, get", HTTPFailure(http.StatusNotFound), true, false},
	} {
		if got := Retryable(tc.f, tc.idempotent); got != tc.want {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIdempotent(t *testing.T) {
	for m, want := range map[string]bool{"GET": true, "PUT": true, "DELETE": true, "HEAD": true, "OPTIONS": true, "POST": false, "PATCH": false} {
		if IdempotentHTTPMethod(m) != want {
			t.Errorf("IdempotentHTTPMethod(%q) != %v", m, want)
		}
	}
}
