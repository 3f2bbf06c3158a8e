package kentik

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// RetryPolicy is how both clients try a failed call again: how many attempts, how long
// to wait between them, and how long a server's push-back (gRPC RetryInfo or
// grpc-retry-pushback-ms, HTTP Retry-After) may hold a call. Which failures are retried
// at all is not the policy's choice but the call's (see Retryable): a call is sent again
// after it may have reached Kentik only when its method is idempotent.
//
// The wait before attempt n+1 (n >= 1) is Initial*Multiplier^(n-1), capped at Max, then
// spread by ±Jitter (a fraction); a server's push-back replaces it when longer. A zero
// field takes DefaultRetryPolicy's value.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included; 1 disables retries
	// (NoRetry).
	MaxAttempts int
	Initial     time.Duration // first backoff
	Max         time.Duration // backoff cap
	Multiplier  float64       // growth per attempt; values below 1 take the default
	Jitter      float64       // ±fraction of randomness, at most 1; a negative value means none

	// MaxPushBack is the longest push-back a client waits out. A server that asks
	// for longer gets the call failed at once with its own refusal (not retried, and
	// not blamed on the caller's deadline), and holds the account's later calls for
	// MaxPushBack at most: a broken proxy's "retry in 30 years" must not stall a
	// process.
	MaxPushBack time.Duration
}

// DefaultRetryPolicy gives the zero fields of a RetryPolicy their value: 5 attempts,
// backoff from 250 ms doubling to at most 10 s, ±20 % jitter, push-back waited out up
// to a minute (the longest wait Kentik's per-minute windows can ask for).
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts: 5,
	Initial:     250 * time.Millisecond,
	Max:         10 * time.Second,
	Multiplier:  2,
	Jitter:      0.2,
	MaxPushBack: time.Minute,
}

// NoRetry makes every call a single attempt.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// WithDefaults returns p with its zero fields filled from DefaultRetryPolicy and the
// others brought into range.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	p.Max = max(p.Max, p.Initial)
	if p.Multiplier < 1 || math.IsNaN(p.Multiplier) {
		p.Multiplier = d.Multiplier
	}
	switch {
	case p.Jitter < 0 || math.IsNaN(p.Jitter):
		p.Jitter = -1 // none; kept negative so that WithDefaults stays idempotent
	case p.Jitter == 0:
		p.Jitter = d.Jitter
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.MaxPushBack <= 0 {
		p.MaxPushBack = d.MaxPushBack
	}
	return p
}

// Backoff returns the wait before the given attempt (2 for the first retry; 0 before the
// first attempt), jitter included. Zero fields take the defaults.
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	if attempt < 2 {
		return 0
	}
	p = p.WithDefaults()
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-2))
	if d > float64(p.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(max(d, 0))
}

// Failure sorts a failed attempt for the retry decision.
type Failure int

const (
	// Permanent failures are never retried: trying again cannot help (bad input,
	// missing object, credentials, permissions) or the caller gave up.
	Permanent Failure = iota
	// Refused failures come from a server that declined the call before acting on
	// it (Kentik's rate limit, an overloaded front end): every method may be retried.
	Refused
	// Interrupted failures may come after the request reached Kentik (a connection
	// lost, a gateway that gave up waiting): only idempotent methods are retried, since
	// a create sent twice creates twice.
	Interrupted
)

// Retryable reports whether an attempt that failed with f may be sent again, for a
// method that is, or is not, idempotent. It is the one place both clients decide it.
func Retryable(f Failure, idempotent bool) bool {
	return f == Refused || f == Interrupted && idempotent
}

// GRPCFailure sorts a gRPC status. RESOURCE_EXHAUSTED is a refusal, except the ones
// grpc-go makes itself for an over-size message (retrying cannot help: Permanent) and
// for an HTTP/2 stream reset (which may come after the server acted: Interrupted).
// UNAVAILABLE is Interrupted. Every other code is Permanent.
func GRPCFailure(code codes.Code, msg string) Failure {
	switch code {
	case codes.ResourceExhausted:
		switch {
		case IsMessageSizeError(msg):
			return Permanent
		case isStreamReset(msg):
			return Interrupted
		}
		return Refused
	case codes.Unavailable:
		return Interrupted
	}
	return Permanent
}

// HTTPFailure sorts a V5 response status. 429 and 503 say the server did not act on
// the request (Refused); 502 and 504 come from a gateway that may have passed it on
// (Interrupted); anything else is Permanent.
func HTTPFailure(status int) Failure {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return Refused
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return Interrupted
	}
	return Permanent
}

// IdempotentHTTPMethod reports whether an HTTP method may be repeated without changing
// the outcome: GET, HEAD, OPTIONS, PUT and DELETE.
func IdempotentHTTPMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// IsMessageSizeError recognises the RESOURCE_EXHAUSTED messages grpc-go makes when a
// message exceeds a size limit. grpc-go gives those errors no type of their own, so
// their text is all there is to go on.
func IsMessageSizeError(msg string) bool {
	return strings.HasPrefix(msg, "grpc: received message larger than max") ||
		strings.HasPrefix(msg, "trying to send message larger than max") ||
		strings.HasPrefix(msg, "grpc: received message after decompression larger than max") ||
		strings.HasPrefix(msg, "grpc: message after decompression larger than max")
}

// isStreamReset recognises grpc-go's errors for an HTTP/2 RST_STREAM frame
// (ENHANCE_YOUR_CALM and FLOW_CONTROL_ERROR map to RESOURCE_EXHAUSTED); like the size
// errors, they have no type of their own.
func isStreamReset(msg string) bool {
	return strings.HasPrefix(msg, "stream terminated by RST_STREAM")
}

// RetryEvent describes a retry about to start, for the clients' retry hooks.
type RetryEvent struct {
	// Method names the call: the full gRPC method ("/pkg.Service/Method"), or the V5
	// request's HTTP method and path ("GET /api/v5/mykentik/tenants").
	Method string
	// Route names the call with a bounded set of values, as LimiterEvent.Route does:
	// the full gRPC method, or the V5 request's HTTP method and path template ("GET
	// /mykentik/tenant/{id}"); "" when unknown.
	Route   string
	Class   string        // the call's rate-limit class (ClassV6Admin, ClassV5Admin), when the client says
	Attempt int           // the attempt about to start: 2 for the first retry
	Code    codes.Code    // CodeOf the previous attempt's error
	Err     error         // the previous attempt's error
	Wait    time.Duration // how long the V5 transport waited before the retry (backoff or Retry-After); 0 from the gRPC interceptors, whose backoff go-grpc-middleware keeps to itself
}
