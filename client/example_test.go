package client_test

import (
	"context"
	"fmt"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	devicev "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	mkpv "github.com/gokentik/kentik/gen/kentik/mkp/v202407"
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

// One client calls three services on two hosts: InterfaceService and DeviceService on
// grpc.api.kentik.com, My Kentik's TenantService on mkp.api.kentik.com. Two local fakes
// stand for the two hosts here; against Kentik, client.New(ctx) alone does the same.
func ExampleClient_Conn() {
	ctx := context.Background()
	creds := kentik.Credentials{Email: "ops@example.com", Token: "good-token"}
	grpcHost, err := kentiktest.NewServer(kentiktest.WithInterfaces(100, 1), kentiktest.WithCredentials(creds),
		kentiktest.WithResponse("/kentik.device.v202308beta1.DeviceService/ListDevices",
			&devicev.ListDevicesResponse{Devices: []*devicev.DeviceDetailed{{Id: "1001", DeviceName: "edge-1"}}}))
	if err != nil {
		panic(err)
	}
	defer grpcHost.Close()
	mkpHost, err := kentiktest.NewServer(kentiktest.WithCredentials(creds))
	if err != nil {
		panic(err)
	}
	defer mkpHost.Close()

	c, err := client.New(ctx, client.WithCredentials(creds), client.WithPlaintext(),
		client.WithEndpoint(grpcHost.GRPCAddr()),                          // every host...
		client.WithHostEndpoint("mkp.api.kentik.com", mkpHost.GRPCAddr())) // ...but My Kentik's
	if err != nil {
		panic(err)
	}
	defer c.Close()

	iface, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1000042"})
	fmt.Println(iface.GetInterface().GetInterfaceDescription(), err)
	devices, err := devicev.NewDeviceServiceClient(c.Conn()).ListDevices(ctx, &devicev.ListDevicesRequest{})
	fmt.Println(devices.GetDevices()[0].GetDeviceName(), err)
	tenants, err := mkpv.NewTenantServiceClient(c.Conn()).ListTenant(ctx, &mkpv.ListTenantRequest{})
	fmt.Println(len(tenants.GetTenants()) > 0, err)
	fmt.Println(len(c.Targets()), "connections")
	// Output:
	// xe-2/0/7 <nil>
	// edge-1 <nil>
	// true <nil>
	// 2 connections
}
