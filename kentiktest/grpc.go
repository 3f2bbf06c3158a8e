package kentiktest

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gokentik/kentik"
)

// retryPushbackTrailer is the trailer a RESOURCE_EXHAUSTED answer carries with the
// milliseconds to wait, as gRPC's retry machinery reads it (gRFC A6).
const retryPushbackTrailer = "grpc-retry-pushback-ms"

// newGRPCServer builds the gRPC server: every public v6 service behind recording,
// authentication, rate limits and faults, plus reflection and health, which skip all of
// those (grpcurl and `buf curl` work without a schema file or credentials).
func (s *Server) newGRPCServer() *grpc.Server {
	// Every Kentik service; not reflection and health.
	kentikAPI := selector.MatchFunc(func(_ context.Context, c grpcmw.CallMeta) bool {
		return strings.HasPrefix(c.Service, "kentik.")
	})
	panicked := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		s.log.LogAttrs(ctx, slog.LevelError, "handler panicked", slog.Any("panic", p))
		return status.Errorf(codes.Internal, "kentiktest: handler panicked: %v", p)
	})
	gs := grpc.NewServer(
		grpc.WaitForHandlers(true), // Close returns only once no handler runs
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(panicked),
			selector.UnaryServerInterceptor(s.observeGRPC, kentikAPI),
			selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(s.authGRPC), kentikAPI),
			selector.UnaryServerInterceptor(s.limitGRPC, kentikAPI),
		),
		grpc.ChainStreamInterceptor(recovery.StreamServerInterceptor(panicked)),
	)
	s.health = health.NewServer()
	for _, sd := range s.v6ServiceDescs() {
		gs.RegisterService(sd, s)
		s.health.SetServingStatus(sd.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
	return gs
}

// observeGRPC records the call and counts it, before anything can refuse it.
func (s *Server) observeGRPC(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := methodKey(info.FullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	r := Request{
		API:       "grpc",
		Method:    method,
		Header:    md.Copy(),
		UserAgent: strings.Join(md.Get("user-agent"), " "),
		Time:      time.Now(),
	}
	if slices.Contains(md.Get(restMarker), "rest") { // through the fake's REST mapping
		r.API = "rest"
		r.UserAgent = strings.Join(md.Get(gatewayUserAgent), " ")
		delete(r.Header, restMarker)
	}
	s.record(r)
	defer s.grpcAPI.received(method)()
	return handler(ctx, req)
}

// authGRPC checks x-ch-auth-email and x-ch-auth-api-token.
func (s *Server) authGRPC(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if r := s.authenticate(md.Get(kentik.MetadataEmail), md.Get(kentik.MetadataToken), kentik.MetadataEmail, kentik.MetadataToken); r != nil {
		s.grpcAPI.reject(RejectUnauthenticated)
		method, _ := grpc.Method(ctx)
		s.log.LogAttrs(ctx, slog.LevelInfo, "unauthenticated call", slog.String("api", "grpc"), slog.String("method", method))
		return nil, status.Error(r.code, r.msg)
	}
	return ctx, nil
}

// limitGRPC applies the rate limits and faults, then calls the handler.
func (s *Server) limitGRPC(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	done, r := s.gate(ctx, s.grpcAPI, methodKey(info.FullMethod))
	if r != nil {
		return nil, grpcRefusal(ctx, r)
	}
	defer done()
	return handler(ctx, req)
}

// methodKey names a method in Stats, Requests and the fault rules (see v6Method.key).
func methodKey(fullMethod string) string {
	if m, ok := v6Methods().byFull[fullMethod]; ok {
		return m.key
	}
	return fullMethod
}

// grpcRefusal turns a refusal into a status; a rate-limit rejection carries a
// google.rpc.RetryInfo detail and the grpc-retry-pushback-ms trailer.
func grpcRefusal(ctx context.Context, r *refusal) error {
	st := status.New(r.code, r.msg)
	if r.retryAfter <= 0 {
		return st.Err()
	}
	ms := (r.retryAfter + time.Millisecond - 1) / time.Millisecond
	_ = grpc.SetTrailer(ctx, metadata.Pairs(retryPushbackTrailer, strconv.FormatInt(int64(ms), 10)))
	withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.retryAfter)})
	if err != nil { // cannot happen: RetryInfo always marshals
		return st.Err()
	}
	return withInfo.Err()
}
