package classify

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// fakeService is a minimal InterfaceService for these tests: it stores classifications,
// counts what it receives, and fails on demand.
type fakeService struct {
	ifacev1.UnimplementedInterfaceServiceServer

	mu      sync.Mutex
	state   map[string]Classification // id -> classification
	calls   int                       // ManualClassify calls answered OK
	recv    int                       // ManualClassify calls received
	lists   int                       // ListInterface calls
	perID   map[string]int            // times each id was classified
	failIDs map[string]codes.Code     // a batch holding one of these ids fails
	fatalAt int                       // the fatalAt-th call (1-based) fails UNAUTHENTICATED
	onCall  func(n int)               // called with the number of each successful call
	after   map[string]Classification // applied after every call (to fake a mismatch)
	known   map[string]bool           // when set, the only interfaces there are: others are skipped, as Kentik does
	down    func(recv int) codes.Code // when set and not OK, the recv-th call (1-based) fails with it, unapplied
	times   []time.Time               // when each ManualClassify call was received
}

func newFakeService(ids ...string) *fakeService {
	f := &fakeService{state: map[string]Classification{}, perID: map[string]int{}, failIDs: map[string]codes.Code{}}
	for _, id := range ids {
		f.state[id] = Classification{}
	}
	return f
}

func (f *fakeService) ManualClassify(ctx context.Context, req *ifacev1.ManualClassifyRequest) (*ifacev1.ManualClassifyResponse, error) {
	f.mu.Lock()
	f.recv++
	f.times = append(f.times, time.Now())
	if f.fatalAt > 0 && f.recv == f.fatalAt {
		f.mu.Unlock()
		return nil, status.Error(codes.Unauthenticated, "invalid credentials")
	}
	if f.down != nil {
		if c := f.down(f.recv); c != codes.OK {
			f.mu.Unlock()
			return nil, status.Error(c, "service down")
		}
	}
	for _, id := range req.GetInterfaceIds() {
		if c, ok := f.failIDs[id]; ok {
			f.mu.Unlock()
			return nil, status.Errorf(c, "interface %s refused", id)
		}
	}
	c := Classification{ConnectivityType: req.GetConnectivityType(), NetworkBoundary: req.GetNetworkBoundary(), Provider: req.GetProvider()}
	for _, id := range req.GetInterfaceIds() {
		if f.known != nil && !f.known[id] {
			continue
		}
		f.state[id] = c
		f.perID[id]++
	}
	for id, c := range f.after {
		f.state[id] = c
	}
	f.calls++
	n, hook := f.calls, f.onCall
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return &ifacev1.ManualClassifyResponse{}, nil
}

func (f *fakeService) ListInterface(ctx context.Context, req *ifacev1.ListInterfaceRequest) (*ifacev1.ListInterfaceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	flt := req.GetFilters()
	var out []*ifacev1.Interface
	for id, c := range f.state {
		if len(flt.GetConnectivityTypes()) > 0 && !contains(flt.GetConnectivityTypes(), c.ConnectivityType) ||
			len(flt.GetNetworkBoundaries()) > 0 && !contains(flt.GetNetworkBoundaries(), c.NetworkBoundary) ||
			len(flt.GetProviders()) > 0 && !contains(flt.GetProviders(), c.Provider) {
			continue
		}
		out = append(out, &ifacev1.Interface{Id: id, ConnectivityType: c.ConnectivityType, NetworkBoundary: c.NetworkBoundary, Provider: c.Provider})
	}
	return &ifacev1.ListInterfaceResponse{Interfaces: out, TotalCount: int32(len(out))}, nil
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (f *fakeService) snapshot() (calls int, perID map[string]int, state map[string]Classification) {
	f.mu.Lock()
	defer f.mu.Unlock()
	perID = make(map[string]int, len(f.perID))
	for k, v := range f.perID {
		perID[k] = v
	}
	state = make(map[string]Classification, len(f.state))
	for k, v := range f.state {
		state[k] = v
	}
	return f.calls, perID, state
}

// startFake serves f over bufconn and returns a client for it; both stop at cleanup.
func startFake(t testing.TB, f *fakeService) ifacev1.InterfaceServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	ifacev1.RegisterInterfaceServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return ifacev1.NewInterfaceServiceClient(conn)
}
