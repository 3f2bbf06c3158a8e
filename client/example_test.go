package client_test

import (
	"context"
	"fmt"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// startExampleServer starts the project's fake of Kentik with 100 interfaces, accepting
// one email and token.
func startExampleServer() (addr string, stop func()) {
	srv, err := kentiktest.NewServer(kentiktest.WithInterfaces(100, 1), kentiktest.WithPolicy(ratelimit.Off),
		kentiktest.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "good-token"}))
	if err != nil {
		panic(err)
	}
	return srv.GRPCAddr(), srv.Close
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

	resp, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1000042"})
	fmt.Println(resp.GetInterface().GetInterfaceDescription(), err)

	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "7"})
	fmt.Println(kentik.IsNotFound(err), err)
	// Output:
	// xe-2/0/7 <nil>
	// true kentik: GetInterface: NotFound: interface not found: id 7
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

	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1000042"})
	fmt.Println(kentik.IsUnauthenticated(err))
	fmt.Println(err)
	// Output:
	// true
	// kentik: GetInterface: Unauthenticated: kentiktest: invalid credentials: the email and API token do not match the fake's user (check the email and API token: WithCredentials, or KENTIK_EMAIL and KENTIK_API_TOKEN; a token of the other region is refused too)
}
