package interceptors

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
)

// Option configures the rate-limit and retry interceptors and transports that take
// options.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	obs   kentik.Observer
	class string
}

// WithObserver tells o about each call: limiter waits, slot releases and server
// push-backs (rate-limit interceptors and transport), and retries (retry interceptors and
// transport). Several WithObserver options add up (see kentik.Observers). Without one
// the interceptors make no observer calls and read no clock for them.
func WithObserver(o kentik.Observer) Option {
	return optionFunc(func(opts *options) { opts.obs = kentik.Observers(opts.obs, o) })
}

// WithClass names the rate-limit class in the observer's events: kentik.ClassV6Admin by
// default for the gRPC interceptors, kentik.ClassV5Admin for the transports.
func WithClass(class string) Option {
	return optionFunc(func(opts *options) { opts.class = class })
}

func buildOptions(opts []Option, class string) options {
	o := options{class: class}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

type pathTemplateKey struct{}

// WithPathTemplate returns ctx carrying the path template of the V5 request made with
// it ("/mykentik/tenant/{id}"): the transports name the request by it in their observer
// events (kentik.LimiterEvent.Route and the like), which must never carry an id. Package
// mykentik sets it on every request; a request without one is named "".
func WithPathTemplate(ctx context.Context, tmpl string) context.Context {
	return context.WithValue(ctx, pathTemplateKey{}, tmpl)
}

// PathTemplate returns the path template WithPathTemplate put in ctx, or "".
func PathTemplate(ctx context.Context) string {
	s, _ := ctx.Value(pathTemplateKey{}).(string)
	return s
}

// httpRoute names a V5 request for the observer: its method and path template, or ""
// without a template (never the path itself, which holds ids).
func httpRoute(req *http.Request) string {
	if t := PathTemplate(req.Context()); t != "" {
		return req.Method + " " + t
	}
	return ""
}

// waitObserver reports one attempt's limiter wait; the zero value (no observer) does
// nothing. It is a value so that the unobserved path allocates nothing.
type waitObserver struct {
	obs   kentik.Observer
	class string
	route string
	start time.Time
	wait  time.Duration
}

// begin reports the start of the wait; o.obs must not be nil.
func (o options) begin(ctx context.Context, route string) waitObserver {
	w := waitObserver{obs: o.obs, class: o.class, route: route, start: time.Now()}
	w.obs.LimiterWaitStart(ctx, kentik.LimiterEvent{Class: w.class, Route: route, Start: w.start})
	return w
}

// end reports the limiter's answer; w.obs must not be nil (callers check, so that the
// unobserved path is one comparison).
func (w *waitObserver) end(ctx context.Context, err error) {
	w.wait = time.Since(w.start)
	w.obs.LimiterWaitEnd(ctx, kentik.LimiterEvent{Class: w.class, Route: w.route, Start: w.start, Wait: w.wait, Err: err})
}

// released reports the slot given back.
func (w *waitObserver) released(ctx context.Context) {
	if w.obs != nil {
		w.obs.LimiterRelease(ctx, kentik.LimiterEvent{Class: w.class, Route: w.route, Start: w.start, Wait: w.wait})
	}
}

// wrapRelease returns release, or with an observer a release that also reports it.
func (w *waitObserver) wrapRelease(ctx context.Context, release func()) func() {
	if w.obs == nil {
		return release
	}
	wo := *w
	return func() {
		release()
		wo.released(ctx)
	}
}

// pushBack reports a gRPC attempt's failure when the server asked it to back off (d, ok:
// what retryPushBack found, capped at max) or refused it for the rate limit without
// saying for how long.
func (w *waitObserver) pushBack(ctx context.Context, err error, d time.Duration, ok bool, max time.Duration) {
	st, _ := status.FromError(err)
	if !ok {
		if kentik.GRPCFailure(st.Code(), st.Message()) != kentik.Refused {
			return
		}
		d = 0
	}
	w.obs.PushBack(ctx, kentik.PushBackEvent{Class: w.class, Route: w.route, Code: st.Code(), Wait: min(d, max)})
}

// httpPushBack reports a V5 attempt refused with 429 Too Many Requests; d is its
// Retry-After (0 when none), capped at max.
func (w *waitObserver) httpPushBack(ctx context.Context, d, max time.Duration) {
	w.obs.PushBack(ctx, kentik.PushBackEvent{Class: w.class, Route: w.route, Code: codes.ResourceExhausted, Wait: min(d, max)})
}
