package interceptors

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// A request that backs off before its retry holds no slot of the limiter meanwhile: under
// a one-call policy, another request goes through during the wait. When the wait is cut
// short, the caller still gets the last response, body included.
func TestRetryTransportHoldsNoSlotWhileBackingOff(t *testing.T) {
	var failed atomic.Int32
	first := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			if failed.Add(1) == 1 {
				close(first)
			}
			http.Error(w, "busy, come back later", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	one := ratelimit.New(ratelimit.Policy{Name: "custom", Concurrency: 1})
	// A backoff far longer than the test: only the end of the context ends it.
	p := kentik.RetryPolicy{MaxAttempts: 2, Initial: time.Hour, Max: time.Hour, Jitter: -1}
	hc := &http.Client{Transport: NewRetryTransport(NewRateLimitTransport(nil, one), p, nil)}

	busyCtx, stopBusy := context.WithCancel(context.Background())
	type outcome struct {
		status int
		body   string
		err    error
	}
	busy := make(chan outcome, 1)
	go func() {
		req, _ := http.NewRequestWithContext(busyCtx, http.MethodGet, srv.URL+"/busy", nil)
		resp, err := hc.Do(req)
		if err != nil {
			busy <- outcome{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		busy <- outcome{status: resp.StatusCode, body: string(b), err: err}
	}()
	<-first

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ok", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("a request waited for the slot of one backing off: %v", err)
	}
	resp.Body.Close()

	stopBusy()
	o := <-busy
	if o.err != nil || o.status != http.StatusServiceUnavailable || o.body != "busy, come back later\n" {
		t.Fatalf("cut-short retry: status %d, body %q, err %v; want the 503 and its body", o.status, o.body, o.err)
	}
	if n := failed.Load(); n != 1 {
		t.Fatalf("%d attempts reached the server, want 1", n)
	}
}
