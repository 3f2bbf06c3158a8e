package interceptors

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// attemptsField is the log field that counts the attempts a call took.
const attemptsField = "grpc.attempts"

// logLevel is the level at which a finished call with the given code is
// logged: Debug for OK; Info for answers about the request itself (NotFound,
// InvalidArgument, AlreadyExists, FailedPrecondition, OutOfRange, Aborted,
// Canceled); Warn for auth, rate-limit, deadline and availability failures;
// Error for Unknown, Unimplemented, Internal and DataLoss.
func logLevel(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelDebug
	case codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.FailedPrecondition, codes.OutOfRange, codes.Aborted:
		return slog.LevelInfo
	case codes.Unauthenticated, codes.PermissionDenied, codes.ResourceExhausted,
		codes.DeadlineExceeded, codes.Unavailable:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// slogLogger adapts a *slog.Logger to go-grpc-middleware's logging.Logger.
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// callLog is the per-call state shared by the logging interceptor and the
// retry interceptor inside it (through the context): the number of attempts,
// and, when a failure is logged after the fact, the real start and duration.
type callLog struct {
	attempts atomic.Int32
	start    time.Time
	dur      time.Duration
	replay   bool
}

type callLogKey struct{}

func callLogFrom(ctx context.Context) *callLog {
	cl, _ := ctx.Value(callLogKey{}).(*callLog)
	return cl
}

// fieldsFromCallLog feeds the middleware the attempt count and, on replay, the
// real start time and duration (fields from the context take precedence over
// the middleware's own).
func fieldsFromCallLog(ctx context.Context) logging.Fields {
	cl := callLogFrom(ctx)
	if cl == nil {
		return nil
	}
	f := logging.Fields{attemptsField, int(cl.attempts.Load())}
	if cl.replay {
		f = append(f,
			"grpc.start_time", cl.start.Format(time.RFC3339),
			"grpc.time_ms", fmt.Sprintf("%v", float32(cl.dur.Nanoseconds()/1000)/1000))
	}
	return f
}

func middlewareOptions() []logging.Option {
	return []logging.Option{
		// One line per call when it finishes; never payloads (PayloadSent and
		// PayloadReceived stay off) and never metadata, so no secret is logged.
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(c codes.Code) logging.Level { return logging.Level(logLevel(c)) }),
		logging.WithFieldsFromContext(fieldsFromCallLog),
	}
}

// LoggingUnaryClientInterceptor logs each finished unary call through l with
// go-grpc-middleware's logging interceptor: service, method, code, error
// message, start time, duration and number of attempts, never payloads or
// metadata. The level follows the code: Debug for OK; Info for answers about
// the request itself (NotFound, InvalidArgument, AlreadyExists,
// FailedPrecondition, OutOfRange, Aborted, Canceled); Warn for auth,
// rate-limit, deadline and availability failures; Error for the rest. A nil l
// logs nothing.
//
// Cost: when l drops every level a call can be logged at, calls pass straight
// through. When l drops Debug but not Warn (a logger at Info), successful calls
// are not handed to the middleware at all, which would build all its fields
// only for the line to be dropped; a failure whose level l keeps is then
// logged through the same middleware after the fact, with its real start time
// and duration, so that the lines look the same either way.
func LoggingUnaryClientInterceptor(l *slog.Logger) grpc.UnaryClientInterceptor {
	if l == nil {
		return passUnary
	}
	full := logging.UnaryClientInterceptor(slogLogger(l), middlewareOptions()...)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !l.Enabled(ctx, slog.LevelError) {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		cl := &callLog{}
		cl.attempts.Store(1)
		ctx = context.WithValue(ctx, callLogKey{}, cl)
		if l.Enabled(ctx, slog.LevelDebug) {
			return full(ctx, method, req, reply, cc, invoker, opts...)
		}
		cl.start = time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil || !l.Enabled(ctx, logLevel(status.Code(err))) {
			return err
		}
		cl.dur = time.Since(cl.start)
		cl.replay = true
		return full(ctx, method, req, reply, cc, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return err
		}, opts...)
	}
}

// LoggingStreamClientInterceptor is LoggingUnaryClientInterceptor for streams:
// one line when the stream ends. Streams are handed to the middleware whenever
// l keeps any level a call can be logged at.
func LoggingStreamClientInterceptor(l *slog.Logger) grpc.StreamClientInterceptor {
	if l == nil {
		return passStream
	}
	full := logging.StreamClientInterceptor(slogLogger(l), middlewareOptions()...)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if !l.Enabled(ctx, slog.LevelError) {
			return streamer(ctx, desc, cc, method, opts...)
		}
		cl := &callLog{}
		cl.attempts.Store(1)
		return full(context.WithValue(ctx, callLogKey{}, cl), desc, cc, method, streamer, opts...)
	}
}

// countAttempt is called by the retry interceptor before each retry.
func countAttempt(ctx context.Context, attempt int) {
	if cl := callLogFrom(ctx); cl != nil {
		cl.attempts.Store(int32(attempt))
	}
}
