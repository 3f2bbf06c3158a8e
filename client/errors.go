package client

import (
	"context"
	"errors"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// Error is the error every call through a Client returns: the gRPC status of
// the failure, the method, and the original error (Unwrap), with a message
// that says what to do next where there is something to do:
//
//	kentik: ManualClassify: Unauthenticated: invalid email or API token (check the email and API token: WithCredentials, or KENTIK_EMAIL and KENTIK_API_TOKEN)
//
// Branch on it with kentik.IsNotFound, kentik.IsRateLimited and the other
// checks of package kentik, which read the V5 adapter's errors the same way.
// errors.Is(err, ratelimit.ErrLimited) is true when the client's own limiter
// gave no slot in time, and errors.Is(err, context.DeadlineExceeded) or
// context.Canceled when the code says so.
type Error struct {
	Code    codes.Code // the gRPC code
	Message string     // the server's (or grpc's) message
	Details []any      // the status details (e.g. *errdetails.RetryInfo)
	Method  string     // the full gRPC method name, e.g. "/kentik.interface.v202108alpha1.InterfaceService/GetInterface"

	st  *status.Status
	err error
}

// newError wraps err (never nil) from method; an *Error is returned as is.
func newError(method string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a status error: the limiter's refusal, a context error, or a
		// custom interceptor's error. kentik.CodeOf gives its code.
		st = status.New(kentik.CodeOf(err), err.Error())
	}
	return &Error{Code: st.Code(), Message: st.Message(), Details: st.Details(), Method: method, st: st, err: err}
}

// MethodName returns the method's short name ("GetInterface").
func (e *Error) MethodName() string {
	return e.Method[strings.LastIndexByte(e.Method, '/')+1:]
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kentik: ")
	if m := e.MethodName(); m != "" {
		b.WriteString(m)
		b.WriteString(": ")
	}
	b.WriteString(e.Code.String())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) hint() string {
	limited := errors.Is(e.err, ratelimit.ErrLimited)
	switch {
	case e.Code == codes.Unauthenticated:
		return "check the email and API token: WithCredentials, or KENTIK_EMAIL and KENTIK_API_TOKEN; a token of the other region is refused too"
	case e.Code == codes.PermissionDenied:
		return "the user of this API token may not make this call: check its role and permissions in Kentik"
	case limited && e.Code == codes.DeadlineExceeded:
		return "the rate-limit policy has no free slot before the context's deadline: allow a later deadline or make fewer calls"
	case limited:
		return "the client-side rate limiter refused the call"
	case e.Code == codes.ResourceExhausted && kentik.IsMessageSizeError(e.Message):
		return "a message is larger than the size limit: send less per call, or raise the limit (WithMaxRecvMsgSize) for large responses"
	case e.Code == codes.ResourceExhausted:
		return "Kentik's rate limit for this account was exceeded even after retries: make fewer calls, or choose a stricter policy (WithRateLimit, or a shared WithLimiter) if other jobs use the same account"
	case e.Code == codes.Unavailable:
		return "Kentik could not be reached even after retries: check the network and the endpoint (WithRegion, WithEndpoint, or KENTIK_REGION and KENTIK_GRPC_ENDPOINT)"
	}
	return ""
}

// Unwrap returns the original error.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, context.DeadlineExceeded) and context.Canceled true
// for those codes (grpc's status errors do not wrap the context's errors).
func (e *Error) Is(target error) bool {
	switch target {
	case context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	case context.Canceled:
		return e.Code == codes.Canceled
	}
	return false
}

// GRPCStatus returns the status, so status.Code and status.FromError work on
// an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.st != nil {
		return e.st
	}
	return status.New(e.Code, e.Message)
}

// errorUnaryInterceptor returns the outermost interceptor: it runs next (the
// logging interceptor) and turns every failure into an *Error. Success costs
// nothing.
func errorUnaryInterceptor(next grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := next(ctx, method, req, reply, cc, invoker, opts...); err != nil {
			return newError(method, err)
		}
		return nil
	}
}

func errorStreamInterceptor(next grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := next(ctx, desc, cc, method, streamer, opts...)
		if err != nil {
			return nil, newError(method, err)
		}
		return &errorStream{ClientStream: s, method: method}, nil
	}
}

// errorStream turns the stream's failures into *Error; io.EOF stays io.EOF.
type errorStream struct {
	grpc.ClientStream
	method string
}

func (s *errorStream) wrap(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return newError(s.method, err)
}

func (s *errorStream) SendMsg(m any) error { return s.wrap(s.ClientStream.SendMsg(m)) }
func (s *errorStream) RecvMsg(m any) error { return s.wrap(s.ClientStream.RecvMsg(m)) }
func (s *errorStream) CloseSend() error    { return s.wrap(s.ClientStream.CloseSend()) }

// redactUnaryInterceptor takes the API token out of the status message of a
// failed call, should a server or a proxy echo it back ("invalid token ...").
// The client places it innermost, so that nothing above it (retry hooks,
// logs, *Error) ever holds the token. Success costs nothing.
func redactUnaryInterceptor(token string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return redact(invoker(ctx, method, req, reply, cc, opts...), token)
	}
}

func redactStreamInterceptor(token string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, redact(err, token)
		}
		return &redactStream{ClientStream: s, token: token}, nil
	}
}

type redactStream struct {
	grpc.ClientStream
	token string
}

func (s *redactStream) SendMsg(m any) error { return redact(s.ClientStream.SendMsg(m), s.token) }
func (s *redactStream) RecvMsg(m any) error { return redact(s.ClientStream.RecvMsg(m), s.token) }

// redact returns err unchanged unless its text contains token; then it
// returns the same status (code and details) with token replaced in the
// message.
func redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	p := status.Convert(err).Proto() // a copy
	p.Message = strings.ReplaceAll(p.GetMessage(), token, "<redacted>")
	return status.FromProto(p).Err()
}
