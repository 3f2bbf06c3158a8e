package kentik

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik/ratelimit"
)

// httpError stands for the V5 adapter's *mykentik.APIError.
type httpError struct{ code int }

func (e *httpError) Error() string   { return fmt.Sprintf("status %d", e.code) }
func (e *httpError) HTTPStatus() int { return e.code }

func TestCodeOf(t *testing.T) {
	limited := &ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{errors.New("x"), codes.Unknown},
		{status.Error(codes.NotFound, "gone"), codes.NotFound},
		{fmt.Errorf("wrapped: %w", status.Error(codes.PermissionDenied, "no")), codes.PermissionDenied},
		{&httpError{404}, codes.NotFound},
		{fmt.Errorf("v5: %w", &httpError{401}), codes.Unauthenticated},
		{&httpError{403}, codes.PermissionDenied},
		{&httpError{429}, codes.ResourceExhausted},
		{&httpError{409}, codes.AlreadyExists},
		{&httpError{400}, codes.InvalidArgument},
		{&httpError{503}, codes.Unavailable},
		{&httpError{504}, codes.DeadlineExceeded},
		{&httpError{500}, codes.Internal},
		{&httpError{418}, codes.FailedPrecondition},
		{limited, codes.DeadlineExceeded},
		{&ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}, codes.Canceled},
		{&ratelimit.WaitError{Policy: "admin"}, codes.ResourceExhausted},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{fmt.Errorf("x: %w", context.Canceled), codes.Canceled},
	} {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The checks read gRPC and V5 errors alike.
func TestPredicates(t *testing.T) {
	type preds struct{ notFound, unauth, denied, limited, temporary bool }
	check := func(err error) preds {
		return preds{IsNotFound(err), IsUnauthenticated(err), IsPermissionDenied(err), IsRateLimited(err), IsTemporary(err)}
	}
	for _, tc := range []struct {
		err  error
		want preds
	}{
		{nil, preds{}},
		{errors.New("x"), preds{}},
		{status.Error(codes.NotFound, ""), preds{notFound: true}},
		{&httpError{http.StatusNotFound}, preds{notFound: true}},
		{status.Error(codes.Unauthenticated, ""), preds{unauth: true}},
		{&httpError{http.StatusUnauthorized}, preds{unauth: true}},
		{fmt.Errorf("x: %w", ErrMissingCredentials), preds{unauth: true}},
		{status.Error(codes.PermissionDenied, ""), preds{denied: true}},
		{&httpError{http.StatusForbidden}, preds{denied: true}},
		{status.Error(codes.ResourceExhausted, "slow down"), preds{limited: true, temporary: true}},
		{&httpError{http.StatusTooManyRequests}, preds{limited: true, temporary: true}},
		{&ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}, preds{limited: true, temporary: true}},
		{&ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}, preds{limited: true}},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), preds{}},
		{status.Error(codes.Unavailable, ""), preds{temporary: true}},
		{&httpError{http.StatusServiceUnavailable}, preds{temporary: true}},
		{status.Error(codes.DeadlineExceeded, ""), preds{temporary: true}},
		{status.Error(codes.Canceled, ""), preds{}},
	} {
		if got := check(tc.err); got != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.err, got, tc.want)
		}
	}
}
