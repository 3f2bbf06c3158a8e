package interceptors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
)

func TestPerRPCCredentialsOverTLS(t *testing.T) {
	serverTLS, clientTLS := testserver.SelfSigned(t)
	s := testserver.Start(t, testserver.Config{TLS: serverTLS})
	cc, err := grpc.NewClient(s.Addr,
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithPerRPCCredentials(PerRPCCredentials(testCreds)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "r1", "x-multi", "a", "x-multi", "b")
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if ids, err := testserver.CallStream(ctx, cc, "2"); err != nil || len(ids) != 3 {
		t.Fatalf("stream: %v %v", ids, err)
	}
	mds, _ := s.Recorded()
	if len(mds) != 2 {
		t.Fatalf("server saw %d calls", len(mds))
	}
	for _, md := range mds {
		checkAuthMD(t, md)
		if got := md["x-request-id"]; len(got) != 1 || got[0] != "r1" {
			t.Errorf("caller metadata lost: %v", got)
		}
		if got := md["x-multi"]; strings.Join(got, ",") != "a,b" {
			t.Errorf("caller metadata changed: %v", got)
		}
	}
}

func TestPerRPCCredentialsRequireTLS(t *testing.T) {
	if !PerRPCCredentials(testCreds).RequireTransportSecurity() {
		t.Fatal("secure credentials must require transport security")
	}
	if InsecurePerRPCCredentials(testCreds).RequireTransportSecurity() {
		t.Fatal("insecure variant must not")
	}
	s := testserver.Start(t, testserver.Config{})
	// grpc itself refuses to build a plaintext connection with them.
	cc, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(PerRPCCredentials(testCreds)))
	if err == nil {
		cc.Close()
		t.Fatal("plaintext connection with secure credentials was accepted")
	}
	if s.Calls() != 0 {
		t.Fatal("the server was reached")
	}
}

func TestPerRPCCredentialsNeverPrintToken(t *testing.T) {
	for _, p := range []credentials.PerRPCCredentials{PerRPCCredentials(testCreds), InsecurePerRPCCredentials(testCreds)} {
		// held is how grpc keeps them (an unexported field deep in a
		// ClientConn, which people do print): fmt reaches them by reflection
		// there and never calls their Format.
		held := struct {
			creds []credentials.PerRPCCredentials
		}{[]credentials.PerRPCCredentials{p}}
		for _, v := range []any{p, held, &held} {
			for _, f := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x"} {
				if out := fmt.Sprintf(f, v); strings.Contains(out, testCreds.Token) || strings.Contains(out, fmt.Sprintf("%x", testCreds.Token)) {
					t.Errorf("%s printed the token: %s", f, out)
				}
			}
		}
	}
}

func TestPerRPCCredentialsMissing(t *testing.T) {
	p := InsecurePerRPCCredentials(kentik.Credentials{Email: "a@b"})
	if _, err := p.GetRequestMetadata(context.Background()); !errors.Is(err, kentik.ErrMissingCredentials) {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthInterceptors(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc := testserver.Dial(t, s.Addr,
		grpc.WithUnaryInterceptor(AuthUnaryClientInterceptor(testCreds)),
		grpc.WithStreamInterceptor(AuthStreamClientInterceptor(testCreds)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A stale credential set by the caller is replaced, not duplicated.
	ctx = metadata.AppendToOutgoingContext(ctx, kentik.MetadataEmail, "old@example.com", "x-request-id", "r1")
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.CallStream(ctx, cc, "2"); err != nil {
		t.Fatal(err)
	}
	// The caller's context is untouched.
	if md, _ := metadata.FromOutgoingContext(ctx); md[kentik.MetadataEmail][0] != "old@example.com" || len(md[kentik.MetadataToken]) != 0 {
		t.Errorf("caller's metadata was modified: %v", md)
	}
	mds, _ := s.Recorded()
	for _, md := range mds {
		checkAuthMD(t, md)
		if md["x-request-id"][0] != "r1" {
			t.Error("caller metadata lost")
		}
	}
}

func TestAuthInterceptorMissingCredentials(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(AuthUnaryClientInterceptor(kentik.Credentials{})),
		grpc.WithStreamInterceptor(AuthStreamClientInterceptor(kentik.Credentials{Email: "x"})))
	_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if !errors.Is(err, kentik.ErrMissingCredentials) || status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v (%v)", err, status.Code(err))
	}
	if _, err := testserver.CallStream(context.Background(), cc, "1"); !errors.Is(err, kentik.ErrMissingCredentials) {
		t.Fatalf("stream err = %v", err)
	}
	if s.Calls() != 0 {
		t.Fatal("server reached")
	}
}

// The documented promise holds through grpc: a call made with incomplete
// per-RPC credentials fails Unauthenticated, errors.Is finds
// kentik.ErrMissingCredentials, and nothing reaches the server.
func TestPerRPCCredentialsMissingThroughGRPC(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc := testserver.Dial(t, s.Addr, grpc.WithPerRPCCredentials(InsecurePerRPCCredentials(kentik.Credentials{Email: "a@b"})))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"})
	if !errors.Is(err, kentik.ErrMissingCredentials) || status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v (%v)", err, status.Code(err))
	}
	if _, err := testserver.CallStream(ctx, cc, "1"); !errors.Is(err, kentik.ErrMissingCredentials) {
		t.Fatalf("stream err = %v", err)
	}
	if s.Calls() != 0 {
		t.Fatal("server reached")
	}
}
