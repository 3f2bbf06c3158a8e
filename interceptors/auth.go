package interceptors

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/gokentik/kentik"
)

// PerRPCCredentials returns gRPC per-RPC credentials that put Kentik's
// x-ch-auth-email and x-ch-auth-api-token metadata on every call. Installed
// with grpc.WithPerRPCCredentials, the transport asks for them on every
// attempt (including grpc's own transparent retries and every attempt of the
// retry interceptor) for unary and streaming calls alike, and adds them beside
// the caller's outgoing metadata without touching it. Do not also set those two
// keys in outgoing metadata yourself, or the server sees them twice.
//
// RequireTransportSecurity is true: grpc refuses to build a connection that
// would send the token in clear text. For a plaintext connection to a local
// fake use InsecurePerRPCCredentials.
//
// The credentials are checked when the connection asks for them: with an empty
// email or token every call fails (codes.Unauthenticated, wrapping
// kentik.ErrMissingCredentials) before anything is sent. Call c.Validate first to fail
// earlier.
func PerRPCCredentials(c kentik.Credentials) credentials.PerRPCCredentials {
	return newPerRPC(c, true)
}

// InsecurePerRPCCredentials is PerRPCCredentials without the transport security
// requirement. It exists for plaintext connections to a loopback address (a
// local fake); never use it towards a real Kentik endpoint.
func InsecurePerRPCCredentials(c kentik.Credentials) credentials.PerRPCCredentials {
	return newPerRPC(c, false)
}

type perRPC struct {
	// md returns the metadata, built once and read-only (grpc only reads the
	// map). It sits behind a func because fmt prints a func as an address
	// whatever the verb: a %s of the grpc.ClientConn holding these
	// credentials reaches this struct by reflection, without calling Format.
	md     func() map[string]string
	email  string
	err    error
	secure bool
}

func newPerRPC(c kentik.Credentials, secure bool) *perRPC {
	p := &perRPC{secure: secure, email: c.Email}
	if err := c.Validate(); err != nil {
		// A status error grpc hands back to the caller as it is, so that
		// errors.Is(err, kentik.ErrMissingCredentials) holds for the failed call.
		p.err = &codedError{code: codes.Unauthenticated, msg: err.Error(), err: err}
		return p
	}
	md := map[string]string{kentik.MetadataEmail: c.Email, kentik.MetadataToken: c.Token}
	p.md = func() map[string]string { return md }
	return p
}

// GetRequestMetadata implements credentials.PerRPCCredentials. It returns the
// same read-only map on every call, so that it costs no allocation.
func (p *perRPC) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.secure {
		// grpc already refuses to dial insecurely with these credentials; this
		// also covers a transport whose security level is below privacy.
		ri, _ := credentials.RequestInfoFromContext(ctx)
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, err
		}
	}
	return p.md(), nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (p *perRPC) RequireTransportSecurity() bool { return p.secure }

// String never shows the token.
func (p *perRPC) String() string {
	if p.md == nil {
		return "kentik per-RPC credentials{<missing>}"
	}
	return "kentik per-RPC credentials{Email:" + p.email + " Token:<redacted>}"
}

// GoString keeps %#v from printing the token.
func (p *perRPC) GoString() string { return p.String() }

// Format makes every verb go through String.
func (p *perRPC) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// AuthUnaryClientInterceptor adds Kentik's credential metadata to every unary
// call, for users who prefer interceptors to per-RPC credentials (for example
// on a grpc.ClientConnInterface they did not dial). Any x-ch-auth-email or
// x-ch-auth-api-token already in the outgoing metadata is replaced; the other
// keys are kept. A retry interceptor placed outside this one reuses the
// context, so every attempt carries the credentials.
//
// With an empty email or token every call fails with codes.Unauthenticated
// wrapping kentik.ErrMissingCredentials, and nothing is sent.
func AuthUnaryClientInterceptor(c kentik.Credentials) grpc.UnaryClientInterceptor {
	err := c.Validate()
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err != nil {
			return missingCredentials(method, err)
		}
		return invoker(withAuth(ctx, c), method, req, reply, cc, opts...)
	}
}

// AuthStreamClientInterceptor is AuthUnaryClientInterceptor for streams.
func AuthStreamClientInterceptor(c kentik.Credentials) grpc.StreamClientInterceptor {
	err := c.Validate()
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err != nil {
			return nil, missingCredentials(method, err)
		}
		return streamer(withAuth(ctx, c), desc, cc, method, opts...)
	}
}

// withAuth returns ctx with the credential keys set (replaced, not appended)
// in a copy of the outgoing metadata.
func withAuth(ctx context.Context, c kentik.Credentials) context.Context {
	md, ok := metadata.FromOutgoingContext(ctx) // a copy: safe to modify
	if !ok {
		return metadata.AppendToOutgoingContext(ctx, kentik.MetadataEmail, c.Email, kentik.MetadataToken, c.Token)
	}
	md.Set(kentik.MetadataEmail, c.Email)
	md.Set(kentik.MetadataToken, c.Token)
	return metadata.NewOutgoingContext(ctx, md)
}
