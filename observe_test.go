package kentik

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gokentik/kentik/ratelimit"
)

type countObserver struct {
	NopObserver
	n *int
}

func (o countObserver) Retry(context.Context, RetryEvent) { *o.n++ }

func TestObservers(t *testing.T) {
	if Observers() != nil || Observers(nil, nil) != nil {
		t.Fatal("no observer should be nil")
	}
	var n int
	one := countObserver{n: &n}
	if got := Observers(nil, one); got != Observer(one) {
		t.Fatalf("one observer should come back as it is, got %T", got)
	}
	all := Observers(one, Observers(one, one), nil)
	ctx := context.Background()
	all.Retry(ctx, RetryEvent{})
	if n != 3 {
		t.Fatalf("%d observers told, want 3", n)
	}
	// The other methods reach every observer without effect here.
	all.LimiterWaitStart(ctx, LimiterEvent{})
	all.LimiterWaitEnd(ctx, LimiterEvent{})
	all.LimiterRelease(ctx, LimiterEvent{})
	all.PushBack(ctx, PushBackEvent{})
	all.V5Request(ctx, V5RequestEvent{})
	if n != 3 {
		t.Fatalf("n = %d", n)
	}
}

func TestLimiterEventReason(t *testing.T) {
	for err, want := range map[error]string{
		nil: "",
		&ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}: "deadline",
		&ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}:         "canceled",
		&ratelimit.WaitError{Policy: "admin"}:                                  "error",
		fmt.Errorf("limiter: %w", context.Canceled):                            "error", // not a limiter's refusal
		errors.New("redis unreachable"):                                        "error",
	} {
		if got := (LimiterEvent{Err: err}).Reason(); got != want {
			t.Errorf("Reason of %v = %q, want %q", err, got, want)
		}
	}
}
