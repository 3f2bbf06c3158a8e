package kentiktest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	mkpv1 "github.com/gokentik/kentik/gen/kentik/mkp/v202407"
	"github.com/gokentik/kentik/kentiktest"
)

// getOne calls GetInterface for the fake's first interface with a short deadline.
func getOne(t *testing.T, s *kentiktest.Server, c ifacev1.InterfaceServiceClient, opts ...grpc.CallOption) error {
	t.Helper()
	cx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := c.GetInterface(cx, &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]}, opts...)
	return err
}

// eventually polls f every 10 ms for at most 10 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for i := 0; !f(); i++ {
		if i == 1000 {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// servingStatus is what the health service says of InterfaceService and of My Kentik's
// TenantService, which must agree.
func servingStatus(t *testing.T, s *kentiktest.Server) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	var out []healthpb.HealthCheckResponse_ServingStatus
	for _, svc := range []string{ifacev1.InterfaceService_ServiceDesc.ServiceName, mkpv1.TenantService_ServiceDesc.ServiceName} {
		r, err := healthpb.NewHealthClient(conn(t, s)).Check(ctx(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.GetStatus())
	}
	if out[0] != out[1] {
		t.Errorf("health: InterfaceService %v, TenantService %v", out[0], out[1])
	}
	return out[0]
}

func TestOutageUnavailable(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(1, 1))
	c := client(t, s, s.Credentials())
	if err := getOne(t, s, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Outage(time.Hour, kentiktest.OutageUnavailable); err != nil {
		t.Fatal(err)
	}
	if err := getOne(t, s, c); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "outage") {
		t.Errorf("gRPC during the outage: %v", err)
	}
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", s.Credentials(), ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("V5 during the outage: %d %s", r.status, r.body)
	}
	// Credentials are still checked first.
	if err := getOne(t, s, client(t, s, kentik.Credentials{Email: "x@example.com", Token: "wrong"})); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong credentials during the outage: %v", err)
	}
	if st := servingStatus(t, s); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health during the outage: %v", st)
	}
	st := s.Stats()
	if st.GRPC.Rejected[kentiktest.RejectOutage] != 1 || st.V5.Rejected[kentiktest.RejectOutage] != 1 || st.GRPC.Limits.Admitted != 1 {
		t.Errorf("stats: gRPC %+v, V5 %+v", st.GRPC, st.V5)
	}
	// d <= 0 ends it at once.
	if err := s.Outage(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := getOne(t, s, c); err != nil {
		t.Errorf("after the outage: %v", err)
	}
	if st := servingStatus(t, s); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after the outage: %v", st)
	}
	// A timed outage ends by itself; ClearFaults ends one too.
	if err := s.Outage(100*time.Millisecond, kentiktest.OutageUnavailable); err != nil {
		t.Fatal(err)
	}
	if err := getOne(t, s, c); status.Code(err) != codes.Unavailable {
		t.Errorf("during a timed outage: %v", err)
	}
	eventually(t, "the timed outage ends", func() bool { return getOne(t, s, c) == nil })
	s.Outage(time.Hour, kentiktest.OutageUnavailable)
	s.ClearFaults()
	if err := getOne(t, s, c); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
	if err := s.Outage(time.Second, kentiktest.OutageMode(7)); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

// refused reports whether dialing addr is refused (nothing listens there).
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestOutageRefuse(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(1, 1))
	c := client(t, s, s.Credentials())
	if err := getOne(t, s, c); err != nil {
		t.Fatal(err)
	}
	// A call in flight when the outage starts loses its connection.
	if err := s.SetLatency("GetInterface", time.Minute); err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan error, 1)
	go func() { inFlight <- getOne(t, s, c) }()
	eventually(t, "the call is received", func() bool { return s.Stats().GRPC.Calls["GetInterface"] == 2 })
	if err := s.Outage(time.Hour, kentiktest.OutageRefuse); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-inFlight:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call in flight: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call in flight did not end with the outage")
	}
	s.SetLatency("GetInterface", 0)
	if !refused(s.GRPCAddr()) || !refused(s.HTTPAddr()) {
		t.Error("connections are not refused during the outage")
	}
	if err := getOne(t, s, c); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC during the outage: %v", err)
	}
	// Ending it listens again on the same addresses.
	s.Outage(0, 0)
	if refused(s.GRPCAddr()) || refused(s.HTTPAddr()) {
		t.Fatal("still refused after the outage")
	}
	if err := getOne(t, s, c, grpc.WaitForReady(true)); err != nil {
		t.Errorf("after the outage: %v", err)
	}
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", s.Credentials(), ""); r.status != http.StatusOK {
		t.Errorf("V5 after the outage: %d", r.status)
	}
	// A refusing outage replaced by an unavailable one listens again.
	s.Outage(time.Hour, kentiktest.OutageRefuse)
	s.Outage(time.Hour, kentiktest.OutageUnavailable)
	if refused(s.GRPCAddr()) {
		t.Error("refused after switching to OutageUnavailable")
	}
	// The connection closed by the refusing outage may still take a call or two before
	// the client notices; then the calls are answered by the outage.
	eventually(t, "calls answered UNAVAILABLE by the outage", func() bool {
		err := getOne(t, s, c, grpc.WaitForReady(true))
		return status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "outage")
	})
}

// A listener the test gave cannot be opened again: it stays open, and its connections
// are closed at once during the outage.
func TestOutageRefuseOwnListener(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startOff(t, kentiktest.WithInterfaces(1, 1), kentiktest.WithGRPCListener(lis))
	c := client(t, s, s.Credentials())
	s.Outage(time.Hour, kentiktest.OutageRefuse)
	if err := getOne(t, s, c); status.Code(err) != codes.Unavailable {
		t.Errorf("during the outage: %v", err)
	}
	s.Outage(0, 0)
	if err := getOne(t, s, c, grpc.WaitForReady(true)); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

// Close during a refusing outage returns, leaves no goroutine accepting, and the
// outage's end does not open the listeners again.
func TestOutageClose(t *testing.T) {
	s, err := kentiktest.NewServer(kentiktest.WithInterfaces(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	s.Outage(50*time.Millisecond, kentiktest.OutageRefuse)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return during an outage")
	}
	time.Sleep(100 * time.Millisecond)
	if !refused(s.GRPCAddr()) || !refused(s.HTTPAddr()) {
		t.Error("a listener was opened again after Close")
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "outageListener") {
		t.Errorf("a listener goroutine survived Close:\n%s", st)
	}
}
