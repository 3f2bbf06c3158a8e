package client

import (
	"context"

	"google.golang.org/grpc"
)

// chainedConn runs a caller's grpc.ClientConnInterface (WithConn) through the
// client's interceptors. grpc chains interceptors only on a *grpc.ClientConn it
// dialled itself, so the chaining is done here; it mirrors grpc's: the first
// interceptor is the outermost.
type chainedConn struct {
	cc     grpc.ClientConnInterface
	raw    *grpc.ClientConn // cc as a *grpc.ClientConn, when it is one (interceptors receive it)
	unary  grpc.UnaryClientInterceptor
	stream grpc.StreamClientInterceptor
}

func newChainedConn(cc grpc.ClientConnInterface, unary []grpc.UnaryClientInterceptor, stream []grpc.StreamClientInterceptor) *chainedConn {
	raw, _ := cc.(*grpc.ClientConn)
	return &chainedConn{cc: cc, raw: raw, unary: chainUnary(unary), stream: chainStream(stream)}
}

func (c *chainedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.unary(ctx, method, args, reply, c.raw, func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return c.cc.Invoke(ctx, method, req, reply, opts...)
	}, opts...)
}

func (c *chainedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.stream(ctx, desc, c.raw, method, func(ctx context.Context, desc *grpc.StreamDesc, _ *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return c.cc.NewStream(ctx, desc, method, opts...)
	}, opts...)
}

func chainUnary(ics []grpc.UnaryClientInterceptor) grpc.UnaryClientInterceptor {
	if len(ics) == 1 {
		return ics[0]
	}
	first, rest := ics[0], chainUnary(ics[1:])
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return first(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			return rest(ctx, method, req, reply, cc, invoker, opts...)
		}, opts...)
	}
}

func chainStream(ics []grpc.StreamClientInterceptor) grpc.StreamClientInterceptor {
	if len(ics) == 1 {
		return ics[0]
	}
	first, rest := ics[0], chainStream(ics[1:])
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return first(ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return rest(ctx, desc, cc, method, streamer, opts...)
		}, opts...)
	}
}
