package kentiktest_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik"
	devicev1 "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
)

// A fake with 96 seeded interfaces (two devices), called with the generated client.
func Example() {
	s, err := kentiktest.NewServer(kentiktest.WithInterfaces(96, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := ifacev1.NewInterfaceServiceClient(conn)

	// Every call carries Kentik's credentials (the client package's interceptors do this).
	creds := s.Credentials()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		kentik.MetadataEmail, creds.Email, kentik.MetadataToken, creds.Token)

	list, err := client.ListInterface(ctx, &ifacev1.ListInterfaceRequest{
		Filters: &ifacev1.InterfaceFilter{DeviceIds: []string{"1002"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("interfaces on device 1002:", list.GetTotalCount())

	first := list.GetInterfaces()[0]
	resp, err := client.ManualClassify(ctx, &ifacev1.ManualClassifyRequest{
		InterfaceIds:     []string{first.GetId()},
		ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT,
		NetworkBoundary:  ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL,
		Provider:         "Cogent",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("classified on devices:", resp.GetDeviceIds())

	in, _ := s.Interface(first.GetId())
	fmt.Println(in.GetId(), in.GetConnectivityType(), in.GetProvider())
	fmt.Println("gRPC calls:", s.Stats().GRPC.Limits.Admitted)
	// Output:
	// interfaces on device 1002: 48
	// classified on devices: [1002]
	// 1000049 CONNECTIVITY_TYPE_TRANSIT Cogent
	// gRPC calls: 2
}

// Failing calls on purpose, to test a client's retries.
func ExampleServer_FailNext() {
	s, err := kentiktest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// The next two ManualClassify calls fail with UNAVAILABLE, then calls succeed again.
	if err := s.FailNext("ManualClassify", 2, codes.Unavailable); err != nil {
		log.Fatal(err)
	}
	// Method names are checked.
	fmt.Println(s.FailNext("ManualClasify", 1, codes.Unavailable))
	// Output: kentiktest: unknown method "ManualClasify" (want one of *, CreateInterface, DeleteInterface, GetInterface, ListInterface, ManualClassify, TenantInfo, TenantList, TenantUserCreate, TenantUserDelete, UpdateInterface, or any public v6 method by full gRPC name)
}

// Programming a method of another service: a canned answer, then one computed from
// the request.
func ExampleServer_Handle() {
	s, err := kentiktest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	devices := devicev1.NewDeviceServiceClient(conn)
	creds := s.Credentials()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		kentik.MetadataEmail, creds.Email, kentik.MetadataToken, creds.Token)

	_, err = devices.GetDevice(ctx, &devicev1.GetDeviceRequest{Id: "1001"})
	fmt.Println(status.Code(err))

	err = s.Handle("/kentik.device.v202308beta1.DeviceService/GetDevice", func(_ context.Context, req proto.Message) (proto.Message, error) {
		id := req.(*devicev1.GetDeviceRequest).GetId()
		return &devicev1.GetDeviceResponse{Device: &devicev1.DeviceDetailed{Id: id, DeviceName: "edge-" + id}}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := devices.GetDevice(ctx, &devicev1.GetDeviceRequest{Id: "1001"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetDevice().GetDeviceName())
	fmt.Println(s.Stats().GRPC.Calls["/kentik.device.v202308beta1.DeviceService/GetDevice"])
	// Output:
	// Unimplemented
	// edge-1001
	// 2
}
