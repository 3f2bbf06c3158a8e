package interceptors

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
	"github.com/gokentik/kentik/ratelimit"
)

// recorder is a kentik.Observer that keeps every event, in order, as a short line.
type recorder struct {
	kentik.NopObserver
	mu     sync.Mutex
	lines  []string
	waits  []kentik.LimiterEvent // LimiterWaitEnd events
	pushes []kentik.PushBackEvent
	tries  []kentik.RetryEvent
}

func (r *recorder) add(line string) {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

func (r *recorder) LimiterWaitStart(_ context.Context, e kentik.LimiterEvent) {
	r.add("start " + e.Class + " " + e.Route)
}

func (r *recorder) LimiterWaitEnd(_ context.Context, e kentik.LimiterEvent) {
	line := "end " + e.Class + " " + e.Route
	if e.Err != nil {
		line += " refused"
	}
	r.add(line)
	r.mu.Lock()
	r.waits = append(r.waits, e)
	r.mu.Unlock()
}

func (r *recorder) LimiterRelease(_ context.Context, e kentik.LimiterEvent) {
	r.add("release " + e.Class + " " + e.Route)
}

func (r *recorder) PushBack(_ context.Context, e kentik.PushBackEvent) {
	r.add("pushback " + e.Class + " " + e.Route + " " + e.Code.String() + " " + e.Wait.String())
	r.mu.Lock()
	r.pushes = append(r.pushes, e)
	r.mu.Unlock()
}

func (r *recorder) Retry(_ context.Context, e kentik.RetryEvent) {
	r.add("retry " + e.Route + " " + e.Code.String())
	r.mu.Lock()
	r.tries = append(r.tries, e)
	r.mu.Unlock()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const getMethod = "/kentik.interface.v202108alpha1.InterfaceService/GetInterface"

// TestObserverUnary runs a call refused once with a push-back, then admitted, through the
// retry and rate-limit interceptors of a real connection, and checks what the observer
// is told, in order.
func TestObserverUnary(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	rec := &recorder{}
	obs := []Option{WithObserver(rec)}
	cc := testserver.Dial(t, s.Addr, grpc.WithChainUnaryInterceptor(
		RetryUnaryClientInterceptor(kentik.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond}, nil, obs...),
		RateLimitUnaryClientInterceptor(ratelimit.New(ratelimit.Off), obs...),
	))
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return retryInfoErr(codes.ResourceExhausted, 30*time.Millisecond)
		}
		return nil
	})
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	c := kentik.ClassV6Admin
	sameLines(t, rec.got(), []string{
		"start " + c + " " + getMethod,
		"end " + c + " " + getMethod,
		"pushback " + c + " " + getMethod + " ResourceExhausted 30ms",
		"release " + c + " " + getMethod,
		"retry " + getMethod + " ResourceExhausted",
		"start " + c + " " + getMethod,
		"end " + c + " " + getMethod,
		"release " + c + " " + getMethod,
	})
	// The second attempt waited out the push-back in the limiter.
	if w := rec.waits[1].Wait; w < 20*time.Millisecond {
		t.Errorf("second attempt waited %v, want about the 30ms push-back", w)
	}
	if e := rec.tries[0]; e.Attempt != 2 || e.Method != getMethod || e.Err == nil {
		t.Errorf("retry event %+v", e)
	}
}

// TestObserverRefusals: a limiter's refusal ends the wait with its error and no release;
// a RESOURCE_EXHAUSTED without a delay is still a push-back (Wait 0); other failures are
// not; WithClass names the class.
func TestObserverRefusals(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	rec := &recorder{}
	refusing := &stubLimiter{err: &ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}}
	cc := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(refusing, WithObserver(rec), WithClass("query"))))
	_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("err = %v", err)
	}
	if s.Calls() != 0 {
		t.Fatal("a refused call reached the server")
	}
	sameLines(t, rec.got(), []string{"start query " + getMethod, "end query " + getMethod + " refused"})
	if !errors.Is(rec.waits[0].Err, ratelimit.ErrLimited) {
		t.Errorf("wait error %v", rec.waits[0].Err)
	}

	rec2 := &recorder{}
	cc2 := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(nil, WithObserver(rec2))))
	ic := ifacev1.NewInterfaceServiceClient(cc2)
	for _, e := range []error{
		status.Error(codes.ResourceExhausted, "slow down"),
		status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"),
		status.Error(codes.Unavailable, "no"),
		status.Error(codes.NotFound, "no"),
	} {
		s.SetFail(func(context.Context, string, int64) error { return e })
		_, _ = ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	}
	var pushes []string
	for _, l := range rec2.got() {
		if strings.HasPrefix(l, "pushback") {
			pushes = append(pushes, l)
		}
	}
	sameLines(t, pushes, []string{"pushback " + kentik.ClassV6Admin + " " + getMethod + " ResourceExhausted 0s"})
}

// TestObserverStream: a stream's slot is reported released once, when the stream ends.
func TestObserverStream(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	rec := &recorder{}
	cc := testserver.Dial(t, s.Addr, grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(nil, WithObserver(rec))))
	st, err := cc.NewStream(context.Background(), testserver.StreamDesc, testserver.StreamMethod)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(&ifacev1.GetInterfaceRequest{Id: "7"}); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseSend()
	for {
		var m ifacev1.GetInterfaceResponse
		if err := st.RecvMsg(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	c := kentik.ClassV6Admin
	sameLines(t, rec.got(), []string{"start " + c + " " + testserver.StreamMethod, "end " + c + " " + testserver.StreamMethod, "release " + c + " " + testserver.StreamMethod})
}

// TestObserverTransports: the V5 transports name a request by its path template, never
// by its path; a 429 is a push-back with its Retry-After; the retry carries its wait.
func TestObserverTransports(t *testing.T) {
	var n int
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		n++
		if n == 1 {
			return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"0"}}, Body: io.NopCloser(strings.NewReader("slow")), Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	})
	rec := &recorder{}
	rt := NewRetryTransport(NewRateLimitTransport(base, &rtFakeLimiter{}, WithObserver(rec)),
		kentik.RetryPolicy{MaxAttempts: 2, Initial: time.Millisecond}, nil, WithObserver(rec))
	req := httptest.NewRequest("GET", "http://127.0.0.1/api/v5/mykentik/tenant/101", nil)
	req = req.WithContext(WithPathTemplate(req.Context(), "/mykentik/tenant/{id}"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	route := "GET /mykentik/tenant/{id}"
	c := kentik.ClassV5Admin
	sameLines(t, rec.got(), []string{
		"start " + c + " " + route,
		"end " + c + " " + route,
		"pushback " + c + " " + route + " ResourceExhausted 0s",
		"release " + c + " " + route, // the retry drains and closes the refused body
		"retry " + route + " ResourceExhausted",
		"start " + c + " " + route,
		"end " + c + " " + route,
		"release " + c + " " + route,
	})
	if e := rec.tries[0]; e.Method != "GET /api/v5/mykentik/tenant/101" || e.Wait < 700*time.Microsecond || e.Wait > 1300*time.Microsecond {
		t.Errorf("retry event %+v", e)
	}

	// Without a template the route is empty: the path, with its ids, is never used.
	rec2 := &recorder{}
	n = 1
	resp, err = NewRateLimitTransport(base, &rtFakeLimiter{}, WithObserver(rec2)).RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/api/v5/mykentik/tenant/101", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sameLines(t, rec2.got(), []string{"start " + c + " ", "end " + c + " ", "release " + c + " "})
}

// TestObserverNone: without an observer nothing changes, and a nil observer option is
// harmless.
func TestObserverNone(t *testing.T) {
	if o := buildOptions([]Option{WithObserver(nil), nil}, "x"); o.obs != nil || o.class != "x" {
		t.Fatalf("options %+v", o)
	}
	var w waitObserver
	w.released(context.Background())
	if f := w.wrapRelease(context.Background(), noRelease); f == nil {
		t.Fatal("nil release")
	}
}

func noRelease() {}
