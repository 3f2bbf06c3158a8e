package kentiktest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A Handler answers the calls of one v6 method in place of the fake. req is the request
// decoded into the method's generated type (a *devicev1.GetDeviceRequest for
// DeviceService.GetDevice); the answer must be of the method's response type, and nil
// is sent as an empty response. An error made by package status (status.Error) is
// answered with its code and details; any other error is answered UNKNOWN with its
// text.
//
// A Handler runs after authentication, the rate limits and the injected faults, on the
// call's own goroutine: it must be safe for concurrent use.
type Handler func(ctx context.Context, req proto.Message) (proto.Message, error)

// programs holds the Handlers tests gave, by full method.
type programs struct {
	mu sync.RWMutex
	m  map[string]Handler
}

func (p *programs) get(full string) Handler {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.m[full]
}

func (p *programs) set(full string, h Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]Handler{}
	}
	if h == nil {
		delete(p.m, full)
	} else {
		p.m[full] = h
	}
}

// Handle makes h answer every call of method from now on, in place of what the fake
// did before: its own implementation (InterfaceService over the interface store, My
// Kentik's v202407 TenantService and TenantUserService over the tenants), an earlier
// program, or UNIMPLEMENTED. A nil h removes the program. method names any public v6
// method, as the full gRPC name ("/kentik.device.v202308beta1.DeviceService/GetDevice",
// the leading slash optional), "DeviceService.GetDevice" or "GetDevice" when only one
// public method is so named, or an InterfaceService method by short name. Wrap the
// fake's own answer (Builtin) to add to it, e.g. to fail some calls by their content.
func (s *Server) Handle(method string, h Handler) error {
	m, err := v6Methods().lookup(method)
	if err != nil {
		return err
	}
	s.programs.set(m.full, h)
	return nil
}

// Respond makes every call of method answer resp (a canned response) from now on, as
// Handle does with a Handler. resp must be of the method's response type (its generated
// type, or another proto.Message of the same full name, such as a dynamicpb.Message);
// it is copied, so later changes to it do not show.
func (s *Server) Respond(method string, resp proto.Message) error {
	m, h, err := canned(method, resp)
	if err != nil {
		return err
	}
	s.programs.set(m.full, h)
	return nil
}

// Builtin returns the fake's own implementation of method, for a Handler to wrap: the
// InterfaceService methods over the interface store and My Kentik's v202407
// TenantService and TenantUserService over the tenants; nil for every other method (it
// answers UNIMPLEMENTED unless programmed). Programs given with Handle or Respond are
// not consulted. The error is for a method name that names no public method.
func (s *Server) Builtin(method string) (Handler, error) {
	m, err := v6Methods().lookup(method)
	if err != nil {
		return nil, err
	}
	return s.builtins[m.full], nil
}

// Programmed returns the full names of the methods programmed with Handle, Respond or
// their options, sorted.
func (s *Server) Programmed() []string {
	s.programs.mu.RLock()
	defer s.programs.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.programs.m))
}

// WithHandler programs method with h from the start, as Server.Handle does.
func WithHandler(method string, h Handler) Option {
	return func(cf *config) error {
		m, err := v6Methods().lookup(method)
		if err != nil {
			return err
		}
		cf.programs = append(cf.programs, program{full: m.full, h: h})
		return nil
	}
}

// WithResponse programs method to answer resp from the start, as Server.Respond does.
func WithResponse(method string, resp proto.Message) Option {
	return func(cf *config) error {
		m, h, err := canned(method, resp)
		if err != nil {
			return err
		}
		cf.programs = append(cf.programs, program{full: m.full, h: h})
		return nil
	}
}

// program is a Handler given as an option.
type program struct {
	full string
	h    Handler
}

// canned checks resp against method's response type and returns a Handler answering
// a copy of it.
func canned(method string, resp proto.Message) (*v6Method, Handler, error) {
	m, err := v6Methods().lookup(method)
	if err != nil {
		return nil, nil, err
	}
	if resp == nil {
		return nil, nil, fmt.Errorf("kentiktest: the response for %s is nil (want a %s)", m.full, m.out.Descriptor().FullName())
	}
	out, err := convert(m.out, resp)
	if err != nil {
		return nil, nil, fmt.Errorf("kentiktest: the response for %s: %w", m.full, err)
	}
	return m, func(context.Context, proto.Message) (proto.Message, error) { return out, nil }, nil
}

// convert returns a copy of msg as a message of type mt: a clone when msg is of that
// Go type, else msg's wire form decoded into mt, when it has the same full name.
func convert(mt protoreflect.MessageType, msg proto.Message) (proto.Message, error) {
	want, got := mt.Descriptor().FullName(), msg.ProtoReflect().Descriptor().FullName()
	if got != want {
		return nil, fmt.Errorf("got a %s, want a %s", got, want)
	}
	if msg.ProtoReflect().Type() == mt {
		return proto.Clone(msg), nil
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	out := mt.New().Interface()
	if err := proto.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// typed adapts a method of a generated server interface to a Handler.
func typed[Req, Resp proto.Message](f func(context.Context, Req) (Resp, error)) Handler {
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		r, ok := req.(Req)
		if !ok {
			return nil, status.Errorf(codes.Internal, "kentiktest: request of type %T, want %T", req, r)
		}
		resp, err := f(ctx, r)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}
