package interceptors

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
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

var testCreds = kentik.Credentials{Email: "ops@example.com", Token: "s3cr3t-t0k3n"}

// testServer is a small InterfaceService (GetInterface, CreateInterface) plus a
// server-streaming method, on 127.0.0.1, that records the metadata of every
// call and fails on demand.
type testServer struct {
	ifacev1.UnimplementedInterfaceServiceServer

	addr  string
	calls atomic.Int64

	mu  sync.Mutex
	mds []metadata.MD
	at  []time.Time
	// fail decides the outcome of call n (1-based); nil lets it succeed.
	fail func(ctx context.Context, n int64) error
	// sent, for the stream: how many messages to send before failing with fail's error.
	streamBeforeFail int
}

func startServer(t testing.TB, tlsCfg *tls.Config) *testServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	srv := grpc.NewServer(opts...)
	s := &testServer{addr: lis.Addr().String()}
	ifacev1.RegisterInterfaceServiceServer(srv, s)
	srv.RegisterService(&repeatService, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *testServer) setFail(f func(ctx context.Context, n int64) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func (s *testServer) enter(ctx context.Context) error {
	n := s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.mds = append(s.mds, md.Copy())
	s.at = append(s.at, time.Now())
	f := s.fail
	s.mu.Unlock()
	if f != nil {
		return f(ctx, n)
	}
	return nil
}

func (s *testServer) recorded() ([]metadata.MD, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]metadata.MD(nil), s.mds...), append([]time.Time(nil), s.at...)
}

func (s *testServer) GetInterface(ctx context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	return &ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId()}}, nil
}

func (s *testServer) CreateInterface(ctx context.Context, req *ifacev1.CreateInterfaceRequest) (*ifacev1.CreateInterfaceResponse, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	return &ifacev1.CreateInterfaceResponse{Interface: req.GetInterface()}, nil
}

const repeatMethod = "/kentik.test.Repeat/Repeat"

type repeater interface {
	repeat(grpc.ServerStream) error
}

var repeatService = grpc.ServiceDesc{
	ServiceName: "kentik.test.Repeat",
	HandlerType: (*repeater)(nil),
	Streams: []grpc.StreamDesc{{StreamName: "Repeat", ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error { return srv.(repeater).repeat(ss) }}},
}

var repeatDesc = &grpc.StreamDesc{StreamName: "Repeat", ServerStreams: true}

// repeat sends the request's id back three times; with fail set, it sends
// streamBeforeFail messages first and then fails.
func (s *testServer) repeat(ss grpc.ServerStream) error {
	var req ifacev1.GetInterfaceRequest
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	s.mu.Lock()
	before := s.streamBeforeFail
	s.mu.Unlock()
	for range before {
		if err := ss.SendMsg(&ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId()}}); err != nil {
			return err
		}
	}
	if err := s.enter(ss.Context()); err != nil {
		return err
	}
	for range 3 - before {
		if err := ss.SendMsg(&ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: req.GetId()}}); err != nil {
			return err
		}
	}
	return nil
}

// recvAll runs the repeat stream and returns the ids it received.
func recvAll(ctx context.Context, cc grpc.ClientConnInterface, id string) ([]string, error) {
	st, err := cc.NewStream(ctx, repeatDesc, repeatMethod)
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

func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client config
// that trusts it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
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

// checkAuthMD fails unless md has each credential key exactly once, with the
// right value, and no upper-case key.
func checkAuthMD(t *testing.T, md metadata.MD) {
	t.Helper()
	if got := md[kentik.MetadataEmail]; len(got) != 1 || got[0] != testCreds.Email {
		t.Errorf("%s = %q, want [%q]", kentik.MetadataEmail, got, testCreds.Email)
	}
	if got := md[kentik.MetadataToken]; len(got) != 1 || got[0] != testCreds.Token {
		t.Errorf("%s has %d values (or a wrong one), want exactly the token once", kentik.MetadataToken, len(got))
	}
	for k := range md {
		for _, r := range k {
			if r >= 'A' && r <= 'Z' {
				t.Errorf("metadata key %q is not lower-case", k)
			}
		}
	}
}
