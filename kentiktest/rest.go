package kentiktest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest/internal/gateway"
)

// Kentik serves every v6 method with a google.api.http binding as REST/JSON too, at the
// binding's path on the service's host (curl https://grpc.api.kentik.com/device/v202504beta2/device/
// with the X-CH-Auth-* headers). The fake serves that mapping on its HTTP listener,
// beside the V5 API, with the handlers grpc-gateway generated into gen/gateway: each
// REST call becomes a gRPC call to the fake's own gRPC server, over an in-memory
// connection, so authentication, the rate limits (the v6 class: a REST call counts as
// the gRPC call it is), faults, programs and Stats are those of gRPC. Errors are
// grpc-gateway's JSON ({"code": 16, "message": "...", "details": [...]}) with the gRPC
// code mapped to its HTTP status; a rate-limit refusal also carries Retry-After.

// restMarker is the metadata key the fake's own gateway adds to the gRPC calls it
// makes, so that Requests can tell REST calls apart.
const restMarker = "kentiktest-api"

// gatewayUserAgent is the metadata key grpc-gateway puts the HTTP User-Agent in.
const gatewayUserAgent = runtime.MetadataPrefix + "user-agent"

// startREST serves s.grpcServer on an in-memory listener and returns the REST
// mapping's handler, forwarding to it. Called before the servers start; Close stops
// both.
func (s *Server) startREST() (http.Handler, error) {
	lis := bufconn.Listen(1 << 20)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.grpcServer.Serve(lis) // ends with grpcServer.Stop in Close
	}()
	conn, err := grpc.NewClient("passthrough:///kentiktest-rest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, restMarker, "rest"), method, req, reply, cc, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("kentiktest: REST mapping: %w", err)
	}
	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(restHeader),
		runtime.WithErrorHandler(restError),
	)
	if err := gateway.Register(context.Background(), mux, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	s.restConn = conn
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, withoutTrailingSlash(r))
	}), nil
}

// restHeader passes Kentik's credential headers on as gRPC metadata, and the other
// headers as grpc-gateway does by default.
func restHeader(key string) (string, bool) {
	switch k := strings.ToLower(key); k {
	case kentik.MetadataEmail, kentik.MetadataToken:
		return k, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// restError answers an error as grpc-gateway does, adding Retry-After (whole seconds,
// rounded up) when the status carries a RetryInfo, as the fake's rate-limit refusals do.
func restError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
				secs := (ri.GetRetryDelay().AsDuration() + time.Second - 1) / time.Second
				w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
			}
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// withoutTrailingSlash drops one trailing slash from the path: Kentik's own v6 curl
// example asks for /device/v202504beta2/device/, which its gateway answers, while
// grpc-gateway matches the binding /device/v202504beta2/device only without it.
func withoutTrailingSlash(r *http.Request) *http.Request {
	p := r.URL.Path
	if len(p) <= 1 || !strings.HasSuffix(p, "/") {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path = strings.TrimSuffix(p, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	r2.URL = &u
	return r2
}

// RESTURL returns the base URL of the v6 REST mapping, e.g. "http://127.0.0.1:8080":
// GET RESTURL()+"/interface/v202108alpha1/interfaces" lists interfaces as Kentik's
// GET https://grpc.api.kentik.com/interface/v202108alpha1/interfaces does. Every
// service's paths are served there, whatever host Kentik serves it on.
func (s *Server) RESTURL() string { return "http://" + s.HTTPAddr() }
