package client

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
)

// router is the connection every call of a dialled Client ends in, below the client's
// interceptors: it sends each call to the host that serves its method's service
// (kentik.LookupMethod: google.api.default_host, in the client's region), through one
// connection per host, made on the first call that needs it and shared by every service
// on that host.
type router struct {
	region    kentik.Region
	all       string            // one target for every host (WithEndpoint), or ""
	overrides map[string]string // US host → target (WithHostEndpoint)
	dial      func(target string) (*grpc.ClientConn, error)

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn // by target
	closed bool
}

// target returns where calls for a service of US host h go.
func (r *router) target(h string) string {
	if t, ok := r.overrides[h]; ok {
		return t
	}
	if r.all != "" {
		return r.all
	}
	return net.JoinHostPort(r.region.Host(h), "443")
}

func (r *router) conn(method string) (*grpc.ClientConn, error) {
	m, err := kentik.LookupMethod(method)
	if err != nil {
		return nil, &routeError{err: err}
	}
	t := r.target(m.Host)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, status.Error(codes.Canceled, "grpc: the client connection is closing")
	}
	if cc, ok := r.conns[t]; ok {
		return cc, nil
	}
	cc, err := r.dial(t)
	if err != nil {
		return nil, &routeError{err: fmt.Errorf("kentik: connect to %s: %w", t, err)}
	}
	r.conns[t] = cc
	return cc, nil
}

// Invoke implements grpc.ClientConnInterface.
func (r *router) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cc, err := r.conn(method)
	if err != nil {
		return err
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (r *router) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, err := r.conn(method)
	if err != nil {
		return nil, err
	}
	return cc.NewStream(ctx, desc, method, opts...)
}

// targets returns the targets connected so far.
func (r *router) targets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := make([]string, 0, len(r.conns))
	for t := range r.conns {
		ts = append(ts, t)
	}
	return ts
}

// close closes every connection; calls made afterwards fail.
func (r *router) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var first error
	for _, cc := range r.conns {
		if err := cc.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// routeError is a call the client could not route: a method outside its schema, or a
// target grpc refused. Its code is UNIMPLEMENTED (the client has no way to make that
// call) and it is never retried.
type routeError struct{ err error }

func (e *routeError) Error() string { return e.err.Error() }
func (e *routeError) Unwrap() error { return e.err }
func (e *routeError) GRPCStatus() *status.Status {
	return status.New(codes.Unimplemented, e.err.Error())
}
