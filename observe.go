package kentik

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik/ratelimit"
)

// Observer is told what the clients' middleware does with each call besides sending it:
// the wait for a slot of the account's rate limiter, the server's push-backs, the
// retries, and, for the V5 adapter, the outcome of each request. Metrics and traces are
// built on it (packages kentikprom and kentikotel); install one with client.WithObserver
// or mykentik.WithObserver, or with interceptors.WithObserver on interceptors you chain
// yourself.
//
// The methods are called on the goroutine of the call they describe, with its context;
// they must be quick, must not block, and must be safe for concurrent use. The events are
// values an observer may keep; their errors are the call's own, already free of the API
// token. Embed NopObserver in an implementation so that methods added to this interface
// later do nothing in it.
//
// A client with no observer makes none of these calls and reads no clock for them.
type Observer interface {
	// LimiterWaitStart is called when an attempt asks the limiter for a slot.
	LimiterWaitStart(ctx context.Context, e LimiterEvent)
	// LimiterWaitEnd is called when the limiter admitted the attempt (e.Err nil) or
	// refused it: e.Err satisfies errors.Is(err, ratelimit.ErrLimited) when the
	// context's deadline came before a slot could, or the context ended; a limiter that
	// failed otherwise (a shared one whose Redis is out of reach) gives its own error
	// (see LimiterEvent.Reason). e.Wait is how long it waited either way. Every
	// LimiterWaitStart is followed by one LimiterWaitEnd.
	LimiterWaitEnd(ctx context.Context, e LimiterEvent)
	// LimiterRelease is called when an admitted attempt is over and has given its slot
	// back (for a V5 request, once its response body is read or closed).
	LimiterRelease(ctx context.Context, e LimiterEvent)
	// PushBack is called when the server refused an attempt for the account's rate
	// limit (gRPC RESOURCE_EXHAUSTED, HTTP 429), or told it how long to wait before
	// trying again (gRPC RetryInfo or grpc-retry-pushback-ms, HTTP Retry-After).
	PushBack(ctx context.Context, e PushBackEvent)
	// Retry is called just before a retry attempt starts, after its backoff.
	Retry(ctx context.Context, e RetryEvent)
	// V5Request is called when a call of the V5 adapter is over, retries included.
	V5Request(ctx context.Context, e V5RequestEvent)
}

// Rate-limit classes, the Class of the observer's events: Kentik counts each account's
// calls per class.
const (
	ClassV6Admin = "v6-admin" // v6 gRPC admin services such as InterfaceService
	ClassV5Admin = "v5-admin" // V5 REST admin calls such as the My Kentik tenants
)

// LimiterEvent describes one attempt's wait for the rate limiter.
type LimiterEvent struct {
	// Class is the rate-limit class whose limiter the attempt waits for (ClassV6Admin,
	// ClassV5Admin).
	Class string
	// Route names the call with a bounded set of values, safe as a metric label: the
	// full gRPC method ("/kentik.interface.v202108alpha1.InterfaceService/GetInterface"),
	// or the V5 request's HTTP method and path template ("GET /mykentik/tenant/{id}");
	// "" when the caller did not say (a V5 request made outside package mykentik).
	Route string
	Start time.Time     // when the attempt asked for a slot
	Wait  time.Duration // how long it waited (0 in LimiterWaitStart)
	Err   error         // LimiterWaitEnd: the limiter's refusal, or nil when admitted
}

// Reason names why the limiter refused the attempt, as the metrics label it: "deadline"
// (no slot before the context's deadline), "canceled" (the context ended while it
// waited) or "error" (any other failure, such as a shared limiter's store out of
// reach); "" when it was admitted.
func (e LimiterEvent) Reason() string {
	switch {
	case e.Err == nil:
		return ""
	case !errors.Is(e.Err, ratelimit.ErrLimited):
		return "error"
	}
	switch limitCode(e.Err) {
	case codes.Canceled:
		return "canceled"
	case codes.DeadlineExceeded:
		return "deadline"
	}
	return "error"
}

// PushBackEvent describes a server's refusal or request to back off.
type PushBackEvent struct {
	Class string     // as in LimiterEvent
	Route string     // as in LimiterEvent
	Code  codes.Code // the attempt's code: ResourceExhausted (HTTP 429 included) or Unavailable
	// Wait is how long the server asked the account to wait, capped as the client
	// caps it; 0 when it did not say.
	Wait time.Duration
}

// V5RequestEvent describes a finished call of the V5 adapter.
type V5RequestEvent struct {
	Method   string        // the HTTP method, "GET"
	Path     string        // the path template below the base URL: "/mykentik/tenant/{id}"
	Status   int           // the last response's HTTP status; 0 when there was none
	Duration time.Duration // from the call to its outcome, limiter waits and retries included
	Err      error         // the call's error, nil on success
}

// NopObserver is an Observer that does nothing: embed it in an Observer so that methods
// added to the interface later have a default.
type NopObserver struct{}

func (NopObserver) LimiterWaitStart(context.Context, LimiterEvent) {}
func (NopObserver) LimiterWaitEnd(context.Context, LimiterEvent)   {}
func (NopObserver) LimiterRelease(context.Context, LimiterEvent)   {}
func (NopObserver) PushBack(context.Context, PushBackEvent)        {}
func (NopObserver) Retry(context.Context, RetryEvent)              {}
func (NopObserver) V5Request(context.Context, V5RequestEvent)      {}

// Observers returns one Observer that tells each of obs, in order. nil entries are
// dropped; with none left it returns nil (no observer), with one it returns that one.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		switch o := o.(type) {
		case nil:
		case multiObserver:
			list = append(list, o...)
		default:
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) LimiterWaitStart(ctx context.Context, e LimiterEvent) {
	for _, o := range m {
		o.LimiterWaitStart(ctx, e)
	}
}

func (m multiObserver) LimiterWaitEnd(ctx context.Context, e LimiterEvent) {
	for _, o := range m {
		o.LimiterWaitEnd(ctx, e)
	}
}

func (m multiObserver) LimiterRelease(ctx context.Context, e LimiterEvent) {
	for _, o := range m {
		o.LimiterRelease(ctx, e)
	}
}

func (m multiObserver) PushBack(ctx context.Context, e PushBackEvent) {
	for _, o := range m {
		o.PushBack(ctx, e)
	}
}

func (m multiObserver) Retry(ctx context.Context, e RetryEvent) {
	for _, o := range m {
		o.Retry(ctx, e)
	}
}

func (m multiObserver) V5Request(ctx context.Context, e V5RequestEvent) {
	for _, o := range m {
		o.V5Request(ctx, e)
	}
}
