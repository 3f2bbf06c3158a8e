package client

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

const (
	testEmail = "ops@example.com"
	testToken = "s3cr3t-t0k3n"
)

var testCreds = kentik.Credentials{Email: testEmail, Token: testToken}

// fakeServer is a minimal InterfaceService on 127.0.0.1 that checks the
// credentials, records what it saw and fails on demand.
type fakeServer struct {
	ifacev1.UnimplementedInterfaceServiceServer

	addr string
	srv  *grpc.Server

	calls    atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64

	mu     sync.Mutex
	mds    []metadata.MD // incoming metadata of every call, in order
	starts []time.Time   // start time of every call
	// fail, if set, decides the outcome of call n (1-based) of method m; a nil
	// error lets the call proceed.
	fail func(method string, n int64) error
	// hold keeps each call this long (to observe concurrency).
	hold time.Duration
	// noRecord skips recording metadata and times (benchmarks).
	noRecord bool
}

func newFakeServer(t testing.TB) *fakeServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: lis.Addr().String(), srv: grpc.NewServer()}
	ifacev1.RegisterInterfaceServiceServer(f.srv, f)
	f.srv.RegisterService(&streamDesc, f)
	go func() { _ = f.srv.Serve(lis) }()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *fakeServer) setFail(fn func(method string, n int64) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

// enter records the call and returns the injected error, if any.
func (f *fakeServer) enter(ctx context.Context, method string) (func(), error) {
	n := f.calls.Add(1)
	in := f.inflight.Add(1)
	for {
		m := f.maxIn.Load()
		if in <= m || f.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	if !f.noRecord {
		f.mds = append(f.mds, md.Copy())
		f.starts = append(f.starts, time.Now())
	}
	fail, hold := f.fail, f.hold
	f.mu.Unlock()
	done := func() { f.inflight.Add(-1) }
	if got := md.Get(kentik.MetadataToken); len(got) != 1 || got[0] != testToken {
		done()
		return nil, status.Error(codes.Unauthenticated, "invalid email or API token")
	}
	if fail != nil {
		if err := fail(method, n); err != nil {
			done()
			return nil, err
		}
	}
	if hold > 0 {
		time.Sleep(hold)
	}
	return done, nil
}

func (f *fakeServer) recorded() ([]metadata.MD, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metadata.MD(nil), f.mds...), append([]time.Time(nil), f.starts...)
}

var benchIface = &ifacev1.Interface{Id: "42", DeviceId: "7", SnmpId: "3", SnmpSpeed: 10000, InterfaceDescription: "et-0/0/1 transit", Provider: "ExampleNet"}

func (f *fakeServer) GetInterface(ctx context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	done, err := f.enter(ctx, "GetInterface")
	if err != nil {
		return nil, err
	}
	defer done()
	if req.GetId() == "missing" {
		return nil, status.Error(codes.NotFound, "no interface "+req.GetId())
	}
	return &ifacev1.GetInterfaceResponse{Interface: benchIface}, nil
}

func (f *fakeServer) CreateInterface(ctx context.Context, req *ifacev1.CreateInterfaceRequest) (*ifacev1.CreateInterfaceResponse, error) {
	done, err := f.enter(ctx, "CreateInterface")
	if err != nil {
		return nil, err
	}
	defer done()
	return &ifacev1.CreateInterfaceResponse{Interface: req.GetInterface()}, nil
}

func (f *fakeServer) ManualClassify(ctx context.Context, req *ifacev1.ManualClassifyRequest) (*ifacev1.ManualClassifyResponse, error) {
	done, err := f.enter(ctx, "ManualClassify")
	if err != nil {
		return nil, err
	}
	defer done()
	return &ifacev1.ManualClassifyResponse{}, nil
}

// A server-streaming method outside Kentik's schema, to test streams: it sends
// back the request's id three times.
const streamMethod = "/kentik.test.Stream/Repeat"

type streamer interface{ repeat(grpc.ServerStream) error }

var streamDesc = grpc.ServiceDesc{
	ServiceName: "kentik.test.Stream",
	HandlerType: (*streamer)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Repeat",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			return srv.(streamer).repeat(ss)
		},
	}},
}

var clientStreamDesc = &grpc.StreamDesc{StreamName: "Repeat", ServerStreams: true}

func (f *fakeServer) repeat(ss grpc.ServerStream) error {
	done, err := f.enter(ss.Context(), "Repeat")
	if err != nil {
		return err
	}
	defer done()
	var req ifacev1.GetInterfaceRequest
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	for range 3 {
		if err := ss.SendMsg(&ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId()}}); err != nil {
			return err
		}
	}
	return nil
}

// callStream runs the test stream through conn and returns the ids received.
func callStream(ctx context.Context, conn grpc.ClientConnInterface, id string) ([]string, error) {
	s, err := conn.NewStream(ctx, clientStreamDesc, streamMethod)
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(&ifacev1.GetInterfaceRequest{Id: id}); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var ids []string
	for {
		var resp ifacev1.GetInterfaceResponse
		if err := s.RecvMsg(&resp); err != nil {
			if err.Error() == "EOF" {
				return ids, nil
			}
			return ids, err
		}
		ids = append(ids, resp.GetInterface().GetId())
	}
}
