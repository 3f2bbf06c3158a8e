package interceptors_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// flakyServer fails its first call with UNAVAILABLE and reports the email it
// was called as.
type flakyServer struct {
	ifacev1.UnimplementedInterfaceServiceServer
	calls atomic.Int64
}

func (s *flakyServer) GetInterface(ctx context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	if s.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "restarting")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return &ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId(), Provider: md.Get(kentik.MetadataEmail)[0]}}, nil
}

// The interceptors on a plain grpc.ClientConn, chained as the client chains
// them: retry outside rate limit, credentials on every attempt.
func Example() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer()
	ifacev1.RegisterInterfaceServiceServer(srv, &flakyServer{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	creds := kentik.Credentials{Email: "ops@example.com", Token: "t0ken"}
	// One push-back state for every interceptor that takes a slot.
	limiter := ratelimit.HonourPushBack(ratelimit.New(ratelimit.Admin), kentik.DefaultRetryPolicy.MaxPushBack)
	retry := kentik.RetryPolicy{Initial: 10 * time.Millisecond}
	onRetry := func(e kentik.RetryEvent) { fmt.Println("retry", e.Attempt, "after", e.Code) }
	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), // loopback only
		grpc.WithPerRPCCredentials(interceptors.InsecurePerRPCCredentials(creds)),
		grpc.WithChainUnaryInterceptor(
			interceptors.RetryUnaryClientInterceptor(retry, onRetry),
			interceptors.RateLimitUnaryClientInterceptor(limiter)))
	if err != nil {
		panic(err)
	}
	defer cc.Close()

	resp, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "42"})
	fmt.Println(resp.GetInterface().GetId(), resp.GetInterface().GetProvider(), err)
	// Output:
	// retry 2 after Unavailable
	// 42 ops@example.com <nil>
}
