package kentiktest_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/gokentik/kentik"
	devicev1 "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/services"
)

const getDevice = "/kentik.device.v202308beta1.DeviceService/GetDevice"

func devices(t testing.TB, s *kentiktest.Server, c kentik.Credentials) devicev1.DeviceServiceClient {
	return devicev1.NewDeviceServiceClient(conn(t, s, grpc.WithUnaryInterceptor(withCreds(c))))
}

// A method nobody programmed answers UNIMPLEMENTED, saying how to program it, after
// authentication; it is counted under its full name.
func TestUnprogrammedMethod(t *testing.T) {
	s := startOff(t)
	_, err := devices(t, s, s.Credentials()).GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "1"})
	st := wantCode(t, "unprogrammed", err, codes.Unimplemented)
	for _, want := range []string{getDevice, "Respond", "Handle", "kentik.device.v202308beta1.DeviceService/GetDevice.json"} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("message %q does not mention %q", st.Message(), want)
		}
	}
	_, err = devices(t, s, kentik.Credentials{}).GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "1"})
	wantCode(t, "without credentials", err, codes.Unauthenticated)
	gs := s.Stats().GRPC
	if gs.Calls[getDevice] != 2 || gs.Rejected[kentiktest.RejectUnauthenticated] != 1 {
		t.Errorf("stats %+v", gs)
	}
	if rs := s.Requests(); len(rs) != 2 || rs[0].Method != getDevice || rs[0].API != "grpc" {
		t.Errorf("requests %+v", rs)
	}
}

func TestRespondAndHandle(t *testing.T) {
	s := startOff(t)
	dc := devices(t, s, s.Credentials())
	want := &devicev1.GetDeviceResponse{Device: &devicev1.DeviceDetailed{Id: "42", DeviceName: "edge-1"}}
	if err := s.Respond("kentik.device.v202308beta1.DeviceService.GetDevice", want); err != nil {
		t.Fatal(err)
	}
	want.Device.DeviceName = "changed after Respond" // Respond copied it
	got, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "1"})
	if err != nil || got.GetDevice().GetDeviceName() != "edge-1" {
		t.Fatalf("canned answer: %v, %v", got, err)
	}

	// A handler sees the typed request and may answer a status with details.
	err = s.Handle(getDevice, func(_ context.Context, req proto.Message) (proto.Message, error) {
		r := req.(*devicev1.GetDeviceRequest)
		if r.GetId() == "404" {
			st, _ := status.New(codes.NotFound, "no device 404").WithDetails(&errdetails.ResourceInfo{ResourceName: "404"})
			return nil, st.Err()
		}
		return &devicev1.GetDeviceResponse{Device: &devicev1.DeviceDetailed{Id: r.GetId()}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "7"}); err != nil || got.GetDevice().GetId() != "7" {
		t.Errorf("handled: %v, %v", got, err)
	}
	_, err = dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "404"})
	if st := wantCode(t, "handler error", err, codes.NotFound); len(st.Details()) != 1 {
		t.Errorf("details %v", st.Details())
	}

	// nil answers an empty response; a response of another type is INTERNAL.
	_ = s.Handle(getDevice, func(context.Context, proto.Message) (proto.Message, error) { return nil, nil })
	if got, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "7"}); err != nil || got.GetDevice() != nil {
		t.Errorf("nil answer: %v, %v", got, err)
	}
	_ = s.Handle(getDevice, func(context.Context, proto.Message) (proto.Message, error) {
		return &devicev1.ListDevicesResponse{}, nil
	})
	_, err = dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "7"})
	wantCode(t, "wrong answer type", err, codes.Internal)

	// A nil handler removes the program.
	_ = s.Handle(getDevice, nil)
	_, err = dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "7"})
	wantCode(t, "program removed", err, codes.Unimplemented)

	// A dynamic message of the right type is converted.
	md := want.ProtoReflect().Descriptor()
	dyn := dynamicpb.NewMessage(md)
	dev := dynamicpb.NewMessage(md.Fields().ByName("device").Message())
	dev.Set(dev.Descriptor().Fields().ByName("device_name"), protoreflect.ValueOfString("dyn-1"))
	dyn.Set(md.Fields().ByName("device"), protoreflect.ValueOfMessage(dev))
	if err := s.Respond(getDevice, dyn); err != nil {
		t.Fatal(err)
	}
	if got, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{}); err != nil || got.GetDevice().GetDeviceName() != "dyn-1" {
		t.Errorf("dynamic answer: %v, %v", got, err)
	}
}

func TestProgramNames(t *testing.T) {
	s := startOff(t)
	for _, name := range []string{getDevice, getDevice[1:], "kentik.device.v202308beta1.DeviceService.GetDevice", "ManualClassify", "InterfaceService.ManualClassify", "ListTenantUser"} {
		if err := s.Handle(name, nil); err != nil {
			t.Errorf("Handle(%q): %v", name, err)
		}
	}
	err := s.Respond("GetDevice", &devicev1.GetDeviceResponse{})
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), getDevice) {
		t.Errorf("ambiguous short name: %v", err)
	}
	if err := s.FailNext("GetDevice", 1, codes.Internal); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("FailNext with an ambiguous name: %v", err)
	}
	for _, name := range []string{"", "NoSuchMethod", "/kentik.device.v202308beta1.DeviceService/Nope", "TenantList"} {
		if err := s.Handle(name, nil); err == nil {
			t.Errorf("Handle(%q) accepted", name)
		}
	}
	if err := s.Respond(getDevice, &devicev1.ListDevicesResponse{}); err == nil || !strings.Contains(err.Error(), "want a kentik.device.v202308beta1.GetDeviceResponse") {
		t.Errorf("wrong type: %v", err)
	}
	if err := s.Respond(getDevice, nil); err == nil {
		t.Error("nil response accepted")
	}
	if _, err := kentiktest.NewServer(kentiktest.WithResponse("GetDevice", &devicev1.GetDeviceResponse{})); err == nil {
		t.Error("WithResponse with an ambiguous name accepted")
	}
	if h, err := s.Builtin(getDevice); h != nil || err != nil {
		t.Errorf("Builtin(GetDevice) = %v, %v; want none", h != nil, err)
	}
}

// Faults, limits, Stats and Requests apply to every service as to InterfaceService, and
// every v6 call counts in the one class.
func TestEveryServiceSharesFaultsAndLimits(t *testing.T) {
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1,3/1h")),
		kentiktest.WithInterfaces(1, 1),
		kentiktest.WithResponse(getDevice, &devicev1.GetDeviceResponse{Device: &devicev1.DeviceDetailed{Id: "1"}}))
	dc, ic := devices(t, s, s.Credentials()), client(t, s, s.Credentials())
	if err := s.FailNext("DeviceService.GetDevice", 1, codes.Unavailable); err == nil {
		t.Error("DeviceService.GetDevice is ambiguous (two versions) and was accepted")
	}
	if err := s.FailNext(getDevice, 1, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	_, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{})
	wantCode(t, "injected", err, codes.Unavailable)
	if _, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]}); err != nil {
		t.Fatal(err)
	}
	// The fourth v6 call of the hour is refused, whatever its service.
	_, err = dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{})
	wantCode(t, "fourth call", err, codes.ResourceExhausted)
	_, err = ic.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]})
	wantCode(t, "fifth call", err, codes.ResourceExhausted)

	gs := s.Stats().GRPC
	if gs.Calls[getDevice] != 3 || gs.Calls["GetInterface"] != 2 || gs.Rejected[kentiktest.RejectFault] != 1 ||
		gs.Rejected[kentiktest.RejectRateLimit] != 2 || gs.Limits.Admitted != 3 {
		t.Errorf("stats %+v", gs)
	}
}

// ManualClassify programmed per call on top of the store: the port of a hand-written
// fake's "a batch holding this id fails".
func TestHandleWrapsBuiltin(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(10, 1))
	ids := s.InterfaceIDs()
	store, err := s.Builtin("ManualClassify")
	if err != nil || store == nil {
		t.Fatalf("Builtin: %v", err)
	}
	err = s.Handle("ManualClassify", func(ctx context.Context, req proto.Message) (proto.Message, error) {
		if slices.Contains(req.(*ifacev1.ManualClassifyRequest).GetInterfaceIds(), ids[3]) {
			return nil, status.Errorf(codes.FailedPrecondition, "interface %s refused", ids[3])
		}
		return store(ctx, req)
	})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, s.Credentials())
	transit := ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT
	_, err = c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{InterfaceIds: ids[2:4], ConnectivityType: transit})
	wantCode(t, "refused batch", err, codes.FailedPrecondition)
	if _, err := c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{InterfaceIds: ids[4:6], ConnectivityType: transit}); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[2:6] {
		in, _ := s.Interface(id)
		if got, want := in.GetConnectivityType() == transit, i >= 2; got != want {
			t.Errorf("interface %s classified %v, want %v", id, got, want)
		}
	}
}

// Reflection lists every public service, so grpcurl and buf curl find them all.
func TestReflectionListsEveryService(t *testing.T) {
	s := startOff(t)
	stream, err := reflectionpb.NewServerReflectionClient(conn(t, s)).ServerReflectionInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, svc := range resp.GetListServicesResponse().GetService() {
		listed[svc.GetName()] = true
	}
	for _, svc := range services.All() {
		if !listed[svc.Name] {
			t.Errorf("reflection does not list %s", svc.Name)
		}
	}
	kentikServices := 0
	for name := range listed {
		if strings.HasPrefix(name, "kentik.") {
			kentikServices++
		}
	}
	if kentikServices != len(services.All()) || !listed["grpc.health.v1.Health"] {
		t.Errorf("reflection lists %d Kentik services, want %d; and health: %v", kentikServices, len(services.All()), listed["grpc.health.v1.Health"])
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("end of reflection stream: %v", err)
	}
}
