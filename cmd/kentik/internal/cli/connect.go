package cli

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
)

// dialGRPC builds the gRPC client from the resolved global flags: endpoint from
// --grpc-endpoint or --region, --plaintext (loopback only), --ca-file, the credentials,
// the --rate-limit policy, notices of long waits, and debug logs of every call with -v.
// Nothing is dialled until the first call. Commands apply --timeout to each call
// themselves (see callContext). Extra options (e.g. a retry observer) are applied after
// those.
func (g *Globals) dialGRPC(ctx context.Context, extra ...client.Option) (*client.Client, error) {
	n := g.notices()
	limiter, err := g.limiter(ctx, g.endpoint(), kentik.ClassV6Admin) // the --rate-limit policy, timed
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithRegion(g.Region),
		client.WithCredentials(g.Credentials()),
		client.WithLimiter(limiter),
		client.WithOnRetry(n.retryWait),
		client.WithDialOptions(grpc.WithChainUnaryInterceptor(n.unaryInterceptor)), // innermost: times each attempt
		client.WithUserAgent("kentik-cli"),
	}
	if g.GRPCEndpoint != "" {
		opts = append(opts, client.WithEndpoint(g.GRPCEndpoint))
	}
	if g.Plaintext {
		opts = append(opts, client.WithPlaintext())
	}
	if g.tlsConfig != nil {
		opts = append(opts, client.WithTLSConfig(g.tlsConfig))
	}
	if g.Verbose && g.Logger != nil {
		opts = append(opts, client.WithLogger(g.Logger))
	}
	factory, err := g.limiterFactory()
	if err != nil {
		return nil, err
	}
	if factory != nil {
		opts = append(opts, client.WithLimiterFactory(factory))
	}
	c, err := client.New(ctx, append(opts, extra...)...)
	switch {
	case errors.Is(err, kentik.ErrPlaintextNotLoopback):
		return nil, &UsageError{Err: err}
	case errors.Is(err, kentik.ErrMissingCredentials):
		return nil, &UsageError{Err: err}
	case err != nil:
		return nil, err
	}
	return c, nil
}

// callContext bounds one call by --timeout.
func (g *Globals) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.Timeout)
}
