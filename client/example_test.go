package client_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/ratelimit"
)

// exampleServer is a tiny stand-in for Kentik that knows one interface and
// one API token.
type exampleServer struct {
	ifacev1.UnimplementedInterfaceServiceServer
}

func (exampleServer) GetInterface(ctx context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if tok := md.Get(kentik.MetadataToken); len(tok) != 1 || tok[0] != "good-token" {
		return nil, status.Error(codes.Unauthenticated, "invalid email or API token")
	}
	if req.GetId() != "42" {
		return nil, status.Errorf(codes.NotFound, "no interface %q", req.GetId())
	}
	return &ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: "42", InterfaceDescription: "et-0/0/1 transit"}}, nil
}

func startExampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer()
	ifacev1.RegisterInterfaceServiceServer(srv, exampleServer{})
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), srv.Stop
}

func Example() {
	addr, stop := startExampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(ctx,
		client.WithEndpoint(addr), client.WithPlaintext(), // a local server; the default is TLS to grpc.api.kentik.com
		client.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "good-token"}),
		client.WithRateLimit(ratelimit.Off))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	resp, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "42"})
	fmt.Println(resp.GetInterface().GetInterfaceDescription(), err)

	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "7"})
	fmt.Println(kentik.IsNotFound(err), err)
	// Output:
	// et-0/0/1 transit <nil>
	// true kentik: GetInterface: NotFound: no interface "7"
}

func ExampleError_unauthenticated() {
	addr, stop := startExampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(ctx, client.WithEndpoint(addr), client.WithPlaintext(),
		client.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "stale-token"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "42"})
	fmt.Println(kentik.IsUnauthenticated(err))
	fmt.Println(err)
	// Output:
	// true
	// kentik: GetInterface: Unauthenticated: invalid email or API token (check the email and API token: WithCredentials, or KENTIK_EMAIL and KENTIK_API_TOKEN; a token of the other region is refused too)
}
