package kentik

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik/ratelimit"
)

// CodeOf returns the gRPC code that describes err, whichever client it came from:
//   - a gRPC status error, or any error wrapping one (*client.Error);
//   - an error with an HTTPStatus() int method (*mykentik.APIError): 400
//     InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409
//     AlreadyExists, 429 ResourceExhausted, 501 Unimplemented, 502 and 503 Unavailable,
//     504 DeadlineExceeded, other 5xx Internal, other 4xx FailedPrecondition;
//   - a limiter's refusal (ratelimit.ErrLimited): DeadlineExceeded or Canceled when the
//     context caused it, ResourceExhausted otherwise;
//   - context.DeadlineExceeded and context.Canceled.
//
// nil is OK; anything else Unknown.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		return CodeOfHTTP(hs.HTTPStatus())
	}
	if errors.Is(err, ratelimit.ErrLimited) {
		return limitCode(err)
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus().Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}

// limitCode is the code of a limiter's refusal.
func limitCode(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.ResourceExhausted
}

// CodeOfHTTP maps an HTTP status to the gRPC code of the same meaning, as CodeOf
// documents.
func CodeOfHTTP(s int) codes.Code {
	switch {
	case s >= 200 && s < 300:
		return codes.OK
	case s == http.StatusBadRequest:
		return codes.InvalidArgument
	case s == http.StatusUnauthorized:
		return codes.Unauthenticated
	case s == http.StatusForbidden:
		return codes.PermissionDenied
	case s == http.StatusNotFound:
		return codes.NotFound
	case s == http.StatusConflict:
		return codes.AlreadyExists
	case s == http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case s == http.StatusNotImplemented:
		return codes.Unimplemented
	case s == http.StatusBadGateway || s == http.StatusServiceUnavailable:
		return codes.Unavailable
	case s == http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case s >= 500:
		return codes.Internal
	case s >= 400:
		return codes.FailedPrecondition
	}
	return codes.Unknown
}

// message returns the gRPC status message behind err, if any.
func message(err error) string {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus().Message()
	}
	return ""
}

// IsNotFound reports whether the object the call named does not exist (gRPC NOT_FOUND,
// HTTP 404).
func IsNotFound(err error) bool { return CodeOf(err) == codes.NotFound }

// IsUnauthenticated reports whether Kentik rejected the credentials (gRPC
// UNAUTHENTICATED, HTTP 401), or the client had none to send (ErrMissingCredentials).
func IsUnauthenticated(err error) bool {
	return CodeOf(err) == codes.Unauthenticated || errors.Is(err, ErrMissingCredentials)
}

// IsPermissionDenied reports whether the credentials are valid but may not make the
// call (gRPC PERMISSION_DENIED, HTTP 403).
func IsPermissionDenied(err error) bool { return CodeOf(err) == codes.PermissionDenied }

// IsRateLimited reports whether the call was refused for the account's rate limit:
// Kentik said so (gRPC RESOURCE_EXHAUSTED, HTTP 429), or the client's own limiter gave
// no slot in time (ratelimit.ErrLimited). grpc-go's RESOURCE_EXHAUSTED for an over-size
// message is not a rate limit.
func IsRateLimited(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ratelimit.ErrLimited) {
		return true
	}
	return CodeOf(err) == codes.ResourceExhausted && !IsMessageSizeError(message(err))
}

// IsTemporary reports whether the same call may succeed later: UNAVAILABLE, a rate
// limit (IsRateLimited), DEADLINE_EXCEEDED, and their HTTP counterparts. A call the
// caller cancelled is not temporary, even while it waited for a slot.
func IsTemporary(err error) bool {
	switch CodeOf(err) {
	case codes.Canceled, codes.OK:
		return false
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return IsRateLimited(err)
}
