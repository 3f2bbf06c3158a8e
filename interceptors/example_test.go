package interceptors_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// The interceptors on a plain grpc.ClientConn, chained as the client chains
// them: retry outside rate limit, credentials on every attempt.
func Example() {
	creds := kentik.Credentials{Email: "ops@example.com", Token: "t0ken"}
	// The project's fake of Kentik, answering its next GetInterface with UNAVAILABLE.
	srv, err := kentiktest.NewServer(kentiktest.WithInterfaces(100, 1), kentiktest.WithCredentials(creds))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.FailNext("GetInterface", 1, codes.Unavailable); err != nil {
		panic(err)
	}

	// One push-back state for every interceptor that takes a slot.
	limiter := ratelimit.HonourPushBack(ratelimit.New(ratelimit.Admin), kentik.DefaultRetryPolicy.MaxPushBack)
	retry := kentik.RetryPolicy{Initial: 10 * time.Millisecond}
	onRetry := func(e kentik.RetryEvent) { fmt.Println("retry", e.Attempt, "after", e.Code) }
	cc, err := grpc.NewClient(srv.GRPCAddr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), // loopback only
		grpc.WithPerRPCCredentials(interceptors.InsecurePerRPCCredentials(creds)),
		grpc.WithChainUnaryInterceptor(
			interceptors.RetryUnaryClientInterceptor(retry, onRetry),
			interceptors.RateLimitUnaryClientInterceptor(limiter)))
	if err != nil {
		panic(err)
	}
	defer cc.Close()

	resp, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "1000042"})
	fmt.Println(resp.GetInterface().GetId(), err)
	// Output:
	// retry 2 after Unavailable
	// 1000042 <nil>
}
