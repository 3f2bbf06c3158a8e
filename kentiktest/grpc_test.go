package kentiktest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

func wantCode(t *testing.T, what string, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
	return st
}

func TestCRUD(t *testing.T) {
	s := startOff(t)
	c := client(t, s, s.Credentials())
	cx := ctx(t)

	created, err := c.CreateInterface(cx, &ifacev1.CreateInterfaceRequest{Interface: &ifacev1.Interface{
		Id: "12345", DeviceId: "77", SnmpId: "3", SnmpSpeed: 10000, SnmpAlias: "TRANSIT: Cogent",
		InterfaceDescription: "xe-0/0/1", InterfaceIp: "192.0.2.9", InterfaceTags: map[string]string{"site": "fra1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	in := created.GetInterface()
	if in.GetId() == "12345" || in.GetId() == "" || in.GetCdate() == nil || in.GetEdate() == nil {
		t.Fatalf("created %v: want a server-assigned id and dates", in)
	}
	if _, err := strconv.ParseUint(in.GetId(), 10, 64); err != nil {
		t.Errorf("id %q is not numeric", in.GetId())
	}
	if stored, ok := s.Interface(in.GetId()); !ok || !proto.Equal(stored, in) {
		t.Errorf("store holds %v, want %v", stored, in)
	}

	got, err := c.GetInterface(cx, &ifacev1.GetInterfaceRequest{Id: in.GetId()})
	if err != nil || !proto.Equal(got.GetInterface(), in) {
		t.Fatalf("Get: %v %v", got, err)
	}

	upd, err := c.UpdateInterface(cx, &ifacev1.UpdateInterfaceRequest{Interface: &ifacev1.Interface{Id: in.GetId(), DeviceId: "78", SnmpSpeed: 100000}})
	if err != nil {
		t.Fatal(err)
	}
	u := upd.GetInterface()
	if u.GetDeviceId() != "78" || u.GetSnmpAlias() != "" || len(u.GetInterfaceTags()) != 0 || !proto.Equal(u.GetCdate(), in.GetCdate()) || u.GetEdate().AsTime().Before(in.GetEdate().AsTime()) {
		t.Errorf("update: %v", u)
	}

	if _, err := c.DeleteInterface(cx, &ifacev1.DeleteInterfaceRequest{Id: in.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Interface(in.GetId()); ok {
		t.Error("deleted interface still stored")
	}

	// Errors.
	_, err = c.GetInterface(cx, &ifacev1.GetInterfaceRequest{Id: in.GetId()})
	wantCode(t, "Get deleted", err, codes.NotFound)
	_, err = c.GetInterface(cx, &ifacev1.GetInterfaceRequest{})
	wantCode(t, "Get empty id", err, codes.InvalidArgument)
	_, err = c.DeleteInterface(cx, &ifacev1.DeleteInterfaceRequest{Id: in.GetId()})
	wantCode(t, "Delete deleted", err, codes.NotFound)
	_, err = c.UpdateInterface(cx, &ifacev1.UpdateInterfaceRequest{Interface: &ifacev1.Interface{Id: "424242", DeviceId: "1"}})
	wantCode(t, "Update unknown", err, codes.NotFound)
	_, err = c.UpdateInterface(cx, &ifacev1.UpdateInterfaceRequest{})
	wantCode(t, "Update nil", err, codes.InvalidArgument)
	_, err = c.CreateInterface(cx, &ifacev1.CreateInterfaceRequest{})
	wantCode(t, "Create nil", err, codes.InvalidArgument)
	_, err = c.CreateInterface(cx, &ifacev1.CreateInterfaceRequest{Interface: &ifacev1.Interface{SnmpId: "1"}})
	wantCode(t, "Create without device", err, codes.InvalidArgument)
}

func TestListEveryFilter(t *testing.T) {
	s := startOff(t)
	var ids []string
	for _, in := range []*ifacev1.Interface{
		{DeviceId: "1", InterfaceDescription: "TenGigE0/0/0/1", SnmpAlias: "TRANSIT: Cogent", InterfaceIp: "192.0.2.1", SnmpSpeed: 10000, ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, Provider: "Cogent"},
		{DeviceId: "1", InterfaceDescription: "TenGigE0/0/0/2", SnmpAlias: "core", InterfaceIp: "10.0.0.1", SnmpSpeed: 100000, ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_BACKBONE, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL},
		{DeviceId: "2", InterfaceDescription: "xe-0/0/1", SnmpAlias: "unused", SnmpSpeed: 1000},
		{DeviceId: "2", InterfaceDescription: "et-0/0/1", SnmpAlias: "pni google", InterfaceIp: "fd00::1", SnmpSpeed: 100000, Provider: "Google", NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL},
	} {
		out, err := s.AddInterface(in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.GetId())
	}
	c := client(t, s, s.Credentials())
	type F = ifacev1.InterfaceFilter
	for name, tc := range map[string]struct {
		f    *F
		want []int
	}{
		"none":               {nil, []int{0, 1, 2, 3}},
		"text":               {&F{Text: "TENGIG"}, []int{0, 1}},
		"text alias":         {&F{Text: "Google"}, []int{3}},
		"device_ids":         {&F{DeviceIds: []string{"2"}}, []int{2, 3}},
		"connectivity_types": {&F{ConnectivityTypes: []ifacev1.ConnectivityType{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, ifacev1.ConnectivityType_CONNECTIVITY_TYPE_BACKBONE}}, []int{0, 1}},
		"network_boundaries": {&F{NetworkBoundaries: []ifacev1.NetworkBoundary{ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL}}, []int{0, 3}},
		"providers":          {&F{Providers: []string{"google"}}, []int{3}},
		"snmp_speeds":        {&F{SnmpSpeeds: []int32{1000, 10000}}, []int{0, 2}},
		"ip private":         {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PRIVATE}}, []int{1, 3}},
		"ip public":          {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PUBLIC}}, []int{0}},
		"ip unset":           {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_UNSET}}, []int{2}},
		"and":                {&F{SnmpSpeeds: []int32{100000}, IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PRIVATE}, DeviceIds: []string{"1"}}, []int{1}},
	} {
		resp, err := c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{Filters: tc.f})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []string
		for _, in := range resp.GetInterfaces() {
			got = append(got, in.GetId())
		}
		var want []string
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		if !slices.Equal(got, want) || int(resp.GetTotalCount()) != len(want) {
			t.Errorf("%s: got %v (total %d), want %v", name, got, resp.GetTotalCount(), want)
		}
	}
	_, err := c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{Filters: &F{IpTypes: []ifacev1.IpFilter{9}}})
	wantCode(t, "undefined ip type", err, codes.InvalidArgument)
}

func TestListOrderedByNumericID(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(300, 1))
	resp, err := client(t, s, s.Credentials()).ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTotalCount() != 300 || len(resp.GetInterfaces()) != 300 {
		t.Fatalf("got %d (total %d)", len(resp.GetInterfaces()), resp.GetTotalCount())
	}
	if !slices.IsSortedFunc(resp.GetInterfaces(), func(a, b *ifacev1.Interface) int {
		x, _ := strconv.Atoi(a.GetId())
		y, _ := strconv.Atoi(b.GetId())
		return x - y
	}) {
		t.Error("not ordered by id")
	}
}

func TestManualClassify(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(200, 2))
	c := client(t, s, s.Credentials())
	ids := s.InterfaceIDs()
	req := &ifacev1.ManualClassifyRequest{
		InterfaceIds:     []string{ids[150], ids[3], "9999999", ids[60]},
		ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX,
		NetworkBoundary:  ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL,
		Provider:         "AMS-IX",
	}
	resp, err := c.ManualClassify(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	// 48 per device: 150 -> 1004, 3 -> 1001, 60 -> 1002.
	if want := []string{"1001", "1002", "1004"}; !slices.Equal(resp.GetDeviceIds(), want) {
		t.Errorf("device_ids = %v, want %v", resp.GetDeviceIds(), want)
	}
	for _, id := range []string{ids[150], ids[3], ids[60]} {
		in, _ := s.Interface(id)
		if in.GetConnectivityType() != req.ConnectivityType || in.GetNetworkBoundary() != req.NetworkBoundary || in.GetProvider() != "AMS-IX" {
			t.Errorf("%s not classified: %v", id, in)
		}
	}
	if n := s.Stats().UnknownIDsClassified; n != 1 {
		t.Errorf("UnknownIDsClassified = %d, want 1", n)
	}
	_, err = c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{})
	wantCode(t, "no ids", err, codes.InvalidArgument)
	_, err = c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{InterfaceIds: []string{ids[0], "x"}})
	wantCode(t, "malformed id", err, codes.InvalidArgument)
}

func TestAuthGRPC(t *testing.T) {
	// Two calls an hour: any unauthenticated call counted against it would show.
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1,2/1h")),
		kentiktest.WithCredentials(kentik.Credentials{Email: "me@example.com", Token: "s3cret-token"}))
	good := s.Credentials()
	for name, cr := range map[string]kentik.Credentials{
		"missing":     {},
		"no token":    {Email: good.Email},
		"no email":    {Token: good.Token},
		"wrong email": {Email: "other@example.com", Token: good.Token},
		"wrong token": {Email: good.Email, Token: "guess"},
	} {
		_, err := client(t, s, cr).ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{})
		st := wantCode(t, name, err, codes.Unauthenticated)
		if msg := st.Message(); msg == "" || strings.Contains(msg, "guess") || strings.Contains(msg, good.Token) {
			t.Errorf("%s: message %q is empty or echoes a token", name, msg)
		}
	}
	// The same credential sent twice is refused too.
	twice := ifacev1.NewInterfaceServiceClient(conn(t, s))
	dup := metadata.AppendToOutgoingContext(ctx(t), kentik.MetadataEmail, good.Email, kentik.MetadataToken, good.Token, kentik.MetadataToken, good.Token)
	_, err := twice.ListInterface(dup, &ifacev1.ListInterfaceRequest{})
	wantCode(t, "token twice", err, codes.Unauthenticated)

	// Email case does not matter; the limit still has both slots.
	c := client(t, s, kentik.Credentials{Email: "ME@Example.com", Token: good.Token})
	for i := 0; i < 2; i++ {
		if _, err := c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{}); err != nil {
			t.Fatalf("authenticated call %d: %v", i, err)
		}
	}
	st := s.Stats().GRPC
	if st.Rejected[kentiktest.RejectUnauthenticated] != 6 || st.Limits.Admitted != 2 || st.Calls["ListInterface"] != 8 {
		t.Errorf("stats %+v", st)
	}
}

// retryInfo returns the RetryInfo detail of a status, or nil.
func retryInfo(st *status.Status) *errdetails.RetryInfo {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}

func TestRateLimitWindowAndSoftDelay(t *testing.T) {
	// Compressed admin-like policy: 10 calls per 5 s, delayed beyond 5.
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1,10/5s,soft=5/5s:30ms")), kentiktest.WithInterfaces(5, 1))
	c := client(t, s, s.Credentials())
	id := s.InterfaceIDs()[0]
	var (
		rejected *status.Status
		trailer  metadata.MD
		slowest  time.Duration
		admitted int
	)
	for i := 0; i < 20 && rejected == nil; i++ {
		var tr metadata.MD
		t0 := time.Now()
		_, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: id}, grpc.Trailer(&tr))
		took := time.Since(t0)
		if err != nil {
			rejected, trailer = wantCode(t, "burst", err, codes.ResourceExhausted), tr
			break
		}
		admitted++
		if i >= 5 {
			slowest = max(slowest, took)
		}
	}
	if rejected == nil {
		t.Fatal("20 calls in a row were all admitted under a 10/5s limit")
	}
	if admitted > 10 {
		t.Errorf("%d calls admitted before the first rejection", admitted)
	}
	ri := retryInfo(rejected)
	if ri == nil || ri.GetRetryDelay().AsDuration() <= 0 || ri.GetRetryDelay().AsDuration() > 5*time.Second {
		t.Errorf("RetryInfo = %v, want a delay within the window", ri)
	}
	ms, err := strconv.Atoi(strings.Join(trailer.Get("grpc-retry-pushback-ms"), ""))
	if err != nil || ms <= 0 || ms > 5000 {
		t.Errorf("trailer %s = %v", "grpc-retry-pushback-ms", trailer.Get("grpc-retry-pushback-ms"))
	}
	if slowest < 30*time.Millisecond {
		t.Errorf("calls beyond the soft limit answered in %v, want at least the 30ms delay", slowest)
	}
	st := s.Stats().GRPC
	if st.Delayed == 0 || st.Rejected[kentiktest.RejectRateLimit] != 1 || st.Limits.Exceeded() || st.Limits.WindowPeak[0] > 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestSoftDelayHonoursContextAndResetStats(t *testing.T) {
	// Every call after the first is delayed by a minute.
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "soft=1/1h:1m")), kentiktest.WithInterfaces(1, 1))
	c := client(t, s, s.Credentials())
	req := &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]}
	if _, err := c.GetInterface(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.GetInterface(short, req)
	wantCode(t, "delayed past deadline", err, codes.DeadlineExceeded)
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("took %v despite a 50ms deadline", took)
	}
	// The server notices the cancellation a moment after the client.
	for i := 0; s.Stats().GRPC.Rejected[kentiktest.RejectCanceled] != 1; i++ {
		if i == 500 {
			t.Fatalf("stats %+v", s.Stats().GRPC)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats().GRPC; st.Delayed != 1 || st.Limits.Admitted != 2 {
		t.Errorf("stats %+v", st)
	}

	s.ResetStats()
	if st := s.Stats(); len(st.GRPC.Calls) != 0 || st.GRPC.Limits.Admitted != 0 || len(s.Requests()) != 0 {
		t.Errorf("after reset: %+v", st)
	}
	// Fresh windows: the first call is not delayed (a delayed one would outlive ctx).
	if _, err := c.GetInterface(ctx(t), req); err != nil {
		t.Errorf("after reset: %v", err)
	}
}

func TestRateLimitConcurrency(t *testing.T) {
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1")), kentiktest.WithInterfaces(5, 1))
	if err := s.SetLatency("ListInterface", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := client(t, s, s.Credentials())
	slow, cancel := context.WithCancel(ctx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.ListInterface(slow, &ifacev1.ListInterfaceRequest{})
		errc <- err
	}()
	// Wait (bounded) until the slow call holds the slot.
	for i := 0; s.Stats().GRPC.Limits.InFlight == 0; i++ {
		if i == 500 {
			t.Fatal("the slow call never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]})
	st := wantCode(t, "second concurrent call", err, codes.ResourceExhausted)
	if retryInfo(st) == nil || !strings.Contains(st.Message(), "concurrency") {
		t.Errorf("status %v: want RetryInfo and a concurrency message", st)
	}
	cancel() // the slow call honours its context during the injected latency
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Errorf("slow call: %v, want Canceled", err)
	}
	stats := s.Stats().GRPC
	if stats.Rejected[kentiktest.RejectConcurrency] != 1 || stats.Limits.MaxConcurrent != 1 || stats.MaxInFlight != 2 {
		t.Errorf("stats %+v", stats)
	}
	// The slot is free again.
	for i := 0; s.Stats().GRPC.Limits.InFlight != 0; i++ {
		if i == 500 {
			t.Fatal("slot never released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]}); err != nil {
		t.Errorf("after the slow call: %v", err)
	}
}

func TestFaults(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(50, 1))
	c := client(t, s, s.Credentials())
	ids := s.InterfaceIDs()
	classify := func() error {
		_, err := c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{InterfaceIds: ids[:2]})
		return err
	}

	if err := s.FailNext("ManualClassify", 2, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	if err := s.FailNext(ifacev1.InterfaceService_ManualClassify_FullMethodName, 1, codes.Internal); err != nil {
		t.Fatal(err)
	}
	for i, want := range []codes.Code{codes.Unavailable, codes.Unavailable, codes.Internal, codes.OK} {
		wantCode(t, fmt.Sprintf("classify %d", i), classify(), want)
	}
	// Other methods are not affected.
	if _, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: ids[0]}); err != nil {
		t.Error(err)
	}
	if s.Stats().GRPC.Rejected[kentiktest.RejectFault] != 3 {
		t.Errorf("faults counted: %v", s.Stats().GRPC.Rejected)
	}

	// Bad input is refused.
	if err := s.FailNext("NoSuchMethod", 1, codes.Internal); err == nil {
		t.Error("unknown method accepted")
	}
	if err := s.FailNext("GetInterface", 1, codes.OK); err == nil {
		t.Error("code OK accepted")
	}
	if err := s.SetErrorRate("GetInterface", codes.Internal, 1.5); err == nil {
		t.Error("rate 1.5 accepted")
	}
	if err := s.SetLatency("GetInterface", -time.Second); err == nil {
		t.Error("negative latency accepted")
	}

	// Latency honours the caller's deadline.
	if err := s.SetLatency(kentiktest.AllMethods, time.Minute); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.GetInterface(short, &ifacev1.GetInterfaceRequest{Id: ids[0]})
	wantCode(t, "latency past deadline", err, codes.DeadlineExceeded)
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("call took %v despite a 50ms deadline", took)
	}
	s.ClearFaults()
	if _, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: ids[0]}); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

// errorPattern runs n GetInterface calls against a fresh fake with a 50% error rate and
// returns which failed.
func errorPattern(t *testing.T, seed int64, n int) string {
	s := startOff(t, kentiktest.WithInterfaces(1, 1), kentiktest.WithFaultSeed(seed))
	if err := s.SetErrorRate("GetInterface", codes.Unavailable, 0.5); err != nil {
		t.Fatal(err)
	}
	c := client(t, s, s.Credentials())
	var b strings.Builder
	for range n {
		_, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]})
		switch status.Code(err) {
		case codes.OK:
			b.WriteByte('.')
		case codes.Unavailable:
			b.WriteByte('x')
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	return b.String()
}

func TestErrorRateDeterministic(t *testing.T) {
	a, b, c := errorPattern(t, 7, 40), errorPattern(t, 7, 40), errorPattern(t, 8, 40)
	if a != b {
		t.Errorf("same seed, different failures:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same failures: %s", a)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 32 {
		t.Errorf("%d of 40 failed at rate 0.5: %s", n, a)
	}
}

func TestConcurrentLoad(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(2000, 3))
	c := client(t, s, s.Credentials())
	ids := s.InterfaceIDs()
	const workers, each = 32, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				switch (w + i) % 6 {
				case 0:
					_, err = c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{Filters: &ifacev1.InterfaceFilter{Text: "cogent", SnmpSpeeds: []int32{100000}}})
				case 1:
					_, err = c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: ids[(w*each+i)%len(ids)]})
				case 2:
					_, err = c.ManualClassify(ctx(t), &ifacev1.ManualClassifyRequest{InterfaceIds: ids[w*10 : w*10+10], Provider: strconv.Itoa(w)})
				case 3:
					_, err = c.CreateInterface(ctx(t), &ifacev1.CreateInterfaceRequest{Interface: &ifacev1.Interface{DeviceId: "5000"}})
				case 4:
					_, err = c.UpdateInterface(ctx(t), &ifacev1.UpdateInterfaceRequest{Interface: &ifacev1.Interface{Id: ids[1000+w], DeviceId: "5001"}})
				case 5:
					_, err = c.DeleteInterface(ctx(t), &ifacev1.DeleteInterfaceRequest{Id: ids[1500+w*each+i]})
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, n := range s.Stats().GRPC.Calls {
		total += n
	}
	if total != workers*each {
		t.Errorf("%d calls counted, want %d", total, workers*each)
	}
}

func TestReflectionAndHealthNeedNoAuthAndAreNotCounted(t *testing.T) {
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1,1/1h")))
	cc := conn(t, s) // no credentials at all

	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, svc := range resp.GetListServicesResponse().GetService() {
			names = append(names, svc.GetName())
		}
		if !slices.Contains(names, ifacev1.InterfaceService_ServiceDesc.ServiceName) || !slices.Contains(names, healthpb.Health_ServiceDesc.ServiceName) {
			t.Errorf("reflection lists %v", names)
		}
	}
	// grpcurl then fetches the service's file and every file it depends on.
	pending := []*reflectionpb.ServerReflectionRequest{{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: ifacev1.InterfaceService_ServiceDesc.ServiceName}}}
	seen := map[string]bool{}
	for len(pending) > 0 && len(seen) < 50 {
		req := pending[0]
		pending = pending[1:]
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			t.Fatalf("reflection %v: %v", req, e)
		}
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fd); err != nil {
				t.Fatal(err)
			}
			seen[fd.GetName()] = true
			for _, dep := range fd.GetDependency() {
				if !seen[dep] {
					pending = append(pending, &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
				}
			}
		}
	}
	if !seen["kentik/interface/v202108alpha1/interface.proto"] || len(seen) < 2 {
		t.Errorf("reflection served files %v", seen)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("end of reflection stream: %v", err)
	}

	h := healthpb.NewHealthClient(cc)
	for _, svc := range []string{"", ifacev1.InterfaceService_ServiceDesc.ServiceName} {
		for range 3 {
			resp, err := h.Check(ctx(t), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health %q: %v %v", svc, resp, err)
			}
		}
	}
	st := s.Stats().GRPC
	if len(st.Calls) != 0 || st.Limits.Admitted != 0 {
		t.Errorf("reflection/health were counted: %+v", st)
	}
}

func TestRequestsRecordMetadata(t *testing.T) {
	var hooked []kentiktest.Request
	var mu sync.Mutex
	s := startOff(t, kentiktest.WithRequestLog(2), kentiktest.WithRequestHook(func(r kentiktest.Request) {
		mu.Lock()
		hooked = append(hooked, r)
		mu.Unlock()
	}))
	c := ifacev1.NewInterfaceServiceClient(conn(t, s, grpc.WithUnaryInterceptor(withCreds(s.Credentials())), grpc.WithUserAgent("kentik-test/1.0")))
	for range 3 {
		c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{})
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests kept, want 2 (WithRequestLog)", len(reqs))
	}
	r := reqs[1]
	if r.API != "grpc" || r.Method != "ListInterface" || !strings.HasPrefix(r.UserAgent, "kentik-test/1.0") {
		t.Errorf("request %+v", r)
	}
	if got := r.Header[kentik.MetadataEmail]; !slices.Equal(got, []string{s.Credentials().Email}) {
		t.Errorf("email metadata %v", got)
	}
	if got := r.Header[kentik.MetadataToken]; !slices.Equal(got, []string{s.Credentials().Token}) {
		t.Errorf("token metadata %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 3 {
		t.Errorf("hook saw %d requests", len(hooked))
	}
}

func TestSameSeedSameStore(t *testing.T) {
	a := startOff(t, kentiktest.WithInterfaces(500, 11))
	b := startOff(t, kentiktest.WithInterfaces(500, 11))
	x, y := a.AllInterfaces(), b.AllInterfaces()
	if len(x) != 500 || !slices.EqualFunc(x, y, func(p, q *ifacev1.Interface) bool { return proto.Equal(p, q) }) {
		t.Error("same seed gave different interfaces")
	}
}

func TestNewServerOptions(t *testing.T) {
	for name, o := range map[string]kentiktest.Option{
		"empty token":    kentiktest.WithCredentials(kentik.Credentials{Email: "a@b.c"}),
		"bad policy":     kentiktest.WithPolicy(ratelimit.Policy{Concurrency: -1}),
		"bad v5 policy":  kentiktest.WithV5Policy(ratelimit.Policy{Windows: []ratelimit.Window{{Limit: 0, Period: time.Second}}}),
		"negative seed":  kentiktest.WithInterfaces(-1, 1),
		"bad address":    kentiktest.WithGRPCAddr("no-such-host.invalid:99999"),
		"duplicate user": kentiktest.WithTenants(kentiktest.Tenant{ID: 1, Users: []kentiktest.TenantUser{{ID: "1"}, {ID: "1"}}}),
	} {
		if s, err := kentiktest.NewServer(o); err == nil {
			s.Close()
			t.Errorf("%s: no error", name)
		}
	}
	s, err := kentiktest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	if s.Credentials().Email != kentiktest.DefaultEmail || s.Credentials().Token != kentiktest.DefaultToken {
		t.Errorf("default credentials %v", s.Credentials())
	}
	if s.Policy().String() != ratelimit.Admin.String() || s.V5Policy().String() != ratelimit.Admin.String() {
		t.Errorf("default policies %v %v", s.Policy(), s.V5Policy())
	}
	if !strings.HasPrefix(s.GRPCAddr(), "127.0.0.1:") || !strings.HasPrefix(s.V5URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.V5URL(), "/api/v5") {
		t.Errorf("addresses %s %s", s.GRPCAddr(), s.V5URL())
	}
	s.Close()
	s.Close() // idempotent
	cc, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	short, cancel := context.WithTimeout(ctx(t), time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(short, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("closed server still answers")
	}
}
