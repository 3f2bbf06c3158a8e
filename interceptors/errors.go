package interceptors

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// codedError is a Go error that also carries a gRPC code, so that status.Code,
// status.FromError and the retry logic see a proper status while errors.Is and
// errors.As still reach the wrapped cause.
type codedError struct {
	code codes.Code
	msg  string
	err  error
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Unwrap() error { return e.err }

// GRPCStatus lets status.FromError and status.Code read the code.
func (e *codedError) GRPCStatus() *status.Status { return status.New(e.code, e.msg) }

func missingCredentials(method string, err error) error {
	return &codedError{code: codes.Unauthenticated, msg: method + ": " + err.Error(), err: err}
}
