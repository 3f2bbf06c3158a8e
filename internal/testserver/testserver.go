// Package testserver is the gRPC test fixture the client and interceptor tests share: an
// InterfaceService (GetInterface, CreateInterface, ManualClassify) and a server-streaming
// method outside Kentik's schema, on 127.0.0.1, that records what every call carried and
// fails, holds or cuts a stream short on demand. Tests of behaviour against Kentik's
// semantics (auth, limits, the store) use kentiktest instead; this one is for the
// interceptors' own mechanics, which need errors kentiktest does not make (any status
// with any details, trailers, failures mid-stream) and TLS.
package testserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// TB is the part of testing.TB the fixture uses.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// StreamMethod is the full name of the server-streaming test method: it reads one
// GetInterfaceRequest and sends back three GetInterfaceResponses carrying its id.
const StreamMethod = "/kentik.test.Repeat/Repeat"

// StreamDesc describes StreamMethod for ClientConn.NewStream.
var StreamDesc = &grpc.StreamDesc{StreamName: "Repeat", ServerStreams: true}

// Config configures Start.
type Config struct {
	TLS *tls.Config // serve TLS instead of plaintext
	// Token, when set, is the only x-ch-auth-api-token accepted: other calls fail with
	// UNAUTHENTICATED before Fail is asked.
	Token string
	// NoRecord skips recording metadata and times (benchmarks).
	NoRecord bool
}

// Server is the running fixture. Its methods are safe for concurrent use.
type Server struct {
	Addr string

	cfg      Config
	calls    atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64

	mu     sync.Mutex
	mds    []metadata.MD
	starts []time.Time
	fail   func(ctx context.Context, method string, n int64) error
	hold   time.Duration
	before int
}

// Start serves the fixture on 127.0.0.1 until the test ends.
func Start(t TB, cfg Config) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	srv := grpc.NewServer(opts...)
	s := &Server{Addr: lis.Addr().String(), cfg: cfg}
	ifacev1.RegisterInterfaceServiceServer(srv, &ifaceService{s: s})
	srv.RegisterService(&repeatService, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s
}

// SetFail decides the outcome of each call: call n (1-based, counted over all methods)
// of method (its short name, "GetInterface" or "Repeat") fails with the error f returns,
// or proceeds when it returns nil. f may set trailers with grpc.SetTrailer(ctx, ...).
// nil lets every call proceed.
func (s *Server) SetFail(f func(ctx context.Context, method string, n int64) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// SetHold makes every call take d before it answers, to observe concurrency.
func (s *Server) SetHold(d time.Duration) {
	s.mu.Lock()
	s.hold = d
	s.mu.Unlock()
}

// SetStreamBeforeFail makes the stream send n messages before it asks SetFail's
// function, so that a failure comes mid-stream.
func (s *Server) SetStreamBeforeFail(n int) {
	s.mu.Lock()
	s.before = n
	s.mu.Unlock()
}

// Calls returns the number of calls that reached the server.
func (s *Server) Calls() int64 { return s.calls.Load() }

// MaxInFlight returns the most calls that were in the server at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

// Recorded returns the incoming metadata and start time of every call, in order.
func (s *Server) Recorded() ([]metadata.MD, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]metadata.MD(nil), s.mds...), append([]time.Time(nil), s.starts...)
}

// enter records the call and returns the injected error, if any; done must be called
// when the call ends.
func (s *Server) enter(ctx context.Context, method string) (done func(), err error) {
	n := s.calls.Add(1)
	in := s.inflight.Add(1)
	for {
		m := s.maxIn.Load()
		if in <= m || s.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	done = func() { s.inflight.Add(-1) }
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	if !s.cfg.NoRecord {
		s.mds = append(s.mds, md.Copy())
		s.starts = append(s.starts, time.Now())
	}
	fail, hold := s.fail, s.hold
	s.mu.Unlock()
	if s.cfg.Token != "" {
		if got := md.Get(kentik.MetadataToken); len(got) != 1 || got[0] != s.cfg.Token {
			done()
			return nil, status.Error(codes.Unauthenticated, "invalid email or API token")
		}
	}
	if fail != nil {
		if err := fail(ctx, method, n); err != nil {
			done()
			return nil, err
		}
	}
	if hold > 0 {
		time.Sleep(hold)
	}
	return done, nil
}

// Interface is what GetInterface answers for any id but "missing" (NOT_FOUND).
var Interface = &ifacev1.Interface{Id: "42", DeviceId: "7", SnmpId: "3", SnmpSpeed: 10000, InterfaceDescription: "et-0/0/1 transit", Provider: "ExampleNet"}

type ifaceService struct {
	ifacev1.UnimplementedInterfaceServiceServer
	s *Server
}

func (f *ifaceService) GetInterface(ctx context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	done, err := f.s.enter(ctx, "GetInterface")
	if err != nil {
		return nil, err
	}
	defer done()
	if req.GetId() == "missing" {
		return nil, status.Error(codes.NotFound, "no interface "+req.GetId())
	}
	if f.s.cfg.NoRecord {
		return &ifacev1.GetInterfaceResponse{Interface: Interface}, nil
	}
	return &ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId(), DeviceId: Interface.DeviceId, SnmpId: Interface.SnmpId,
		SnmpSpeed: Interface.SnmpSpeed, InterfaceDescription: Interface.InterfaceDescription, Provider: Interface.Provider}}, nil
}

func (f *ifaceService) CreateInterface(ctx context.Context, req *ifacev1.CreateInterfaceRequest) (*ifacev1.CreateInterfaceResponse, error) {
	done, err := f.s.enter(ctx, "CreateInterface")
	if err != nil {
		return nil, err
	}
	defer done()
	return &ifacev1.CreateInterfaceResponse{Interface: req.GetInterface()}, nil
}

func (f *ifaceService) ManualClassify(ctx context.Context, _ *ifacev1.ManualClassifyRequest) (*ifacev1.ManualClassifyResponse, error) {
	done, err := f.s.enter(ctx, "ManualClassify")
	if err != nil {
		return nil, err
	}
	defer done()
	return &ifacev1.ManualClassifyResponse{}, nil
}

type repeater interface{ repeat(grpc.ServerStream) error }

var repeatService = grpc.ServiceDesc{
	ServiceName: "kentik.test.Repeat",
	HandlerType: (*repeater)(nil),
	Streams: []grpc.StreamDesc{{StreamName: "Repeat", ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error { return srv.(repeater).repeat(ss) }}},
}

// repeat sends the request's id back three times; with SetStreamBeforeFail(n), it sends
// n messages before it asks SetFail's function.
func (s *Server) repeat(ss grpc.ServerStream) error {
	var req ifacev1.GetInterfaceRequest
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	s.mu.Lock()
	before := s.before
	s.mu.Unlock()
	send := func(n int) error {
		for range n {
			if err := ss.SendMsg(&ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId()}}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := send(before); err != nil {
		return err
	}
	done, err := s.enter(ss.Context(), "Repeat")
	if err != nil {
		return err
	}
	defer done()
	return send(3 - before)
}

// CallStream runs the test stream through cc and returns the ids received.
func CallStream(ctx context.Context, cc grpc.ClientConnInterface, id string) ([]string, error) {
	st, err := cc.NewStream(ctx, StreamDesc, StreamMethod)
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(&ifacev1.GetInterfaceRequest{Id: id}); err != nil {
		return nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	var ids []string
	for {
		var resp ifacev1.GetInterfaceResponse
		err := st.RecvMsg(&resp)
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
		ids = append(ids, resp.GetInterface().GetId())
	}
}

// Dial connects to addr in plaintext (unless opts say otherwise) until the test ends.
func Dial(t TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// SelfSigned returns a server TLS config for 127.0.0.1 and a client config that trusts it.
func SelfSigned(t TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kentik test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}
