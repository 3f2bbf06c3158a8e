package kentiktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/services"
)

// v6Method is one method of a public v6 service, as the fake serves it.
type v6Method struct {
	full    string // "/kentik.mkp.v202407.TenantService/ListTenant"
	service string // "kentik.mkp.v202407.TenantService"
	name    string // "ListTenant"
	// key names the method in Stats, Requests and the fault rules: the short name for
	// InterfaceService ("ManualClassify"), as the fake always has, and the full
	// method for every other service, whose short names repeat across versions.
	key     string
	desc    protoreflect.MethodDescriptor
	in, out protoreflect.MessageType
}

// streaming reports whether either side of the method is a stream. Kentik's public
// schema has no streaming method; the fake answers one UNIMPLEMENTED if a newer schema
// brings one.
func (m *v6Method) streaming() bool { return m.desc.IsStreamingClient() || m.desc.IsStreamingServer() }

// errAmbiguous is wrapped when a short method name fits several public methods.
var errAmbiguous = errors.New("ambiguous method name")

// v6Catalog holds every public v6 method the program's schema knows (package services).
type v6Catalog struct {
	services []*services.Service
	byFull   map[string]*v6Method   // "/pkg.Service/Method" → method
	byKey    map[string]*v6Method   // v6Method.key → method
	byShort  map[string][]*v6Method // "Method" and "Service.Method" → candidates
}

// v6Methods returns the catalog, built on first use: building it takes milliseconds
// and megabytes, which the kentik command, linking this package for `kentik fake`,
// would otherwise spend at the start of every command.
var v6Methods = sync.OnceValue(newV6Catalog)

func newV6Catalog() *v6Catalog {
	c := &v6Catalog{
		services: services.All(),
		byFull:   map[string]*v6Method{},
		byKey:    map[string]*v6Method{},
		byShort:  map[string][]*v6Method{},
	}
	iface := ifacev1.InterfaceService_ServiceDesc.ServiceName
	for _, svc := range c.services {
		for _, km := range svc.Methods {
			md := km.Desc
			m := &v6Method{
				full:    km.FullMethod,
				service: svc.Name,
				name:    string(md.Name()),
				key:     km.FullMethod,
				desc:    md,
				in:      messageType(md.Input()),
				out:     messageType(md.Output()),
			}
			if svc.Name == iface {
				m.key = m.name
			}
			c.byFull[m.full] = m
			c.byKey[m.key] = m
			short := string(svc.Desc.Name()) + "." + m.name
			c.byShort[m.name] = append(c.byShort[m.name], m)
			c.byShort[short] = append(c.byShort[short], m)
		}
	}
	return c
}

// messageType returns the generated Go type of a message of the schema (every
// generated package is imported through package services, so it is registered), or a
// dynamic type should a descriptor have no Go type.
func messageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

// lookup finds a v6 method by any of the names the fake accepts: the full gRPC name
// ("/kentik.mkp.v202407.TenantService/ListTenant", with or without the leading slash,
// or with a dot before the method), "TenantService.ListTenant" or "ListTenant" when
// only one public method has that name, and InterfaceService's short names.
func (c *v6Catalog) lookup(name string) (*v6Method, error) {
	name = strings.TrimSpace(name)
	if m, ok := c.byKey[name]; ok {
		return m, nil
	}
	full := name
	if !strings.HasPrefix(full, "/") {
		full = "/" + full
	}
	if m, ok := c.byFull[full]; ok {
		return m, nil
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 && strings.Count(name, ".") > 1 && !strings.Contains(name, "/") {
		// "pkg.Service.Method"
		if m, ok := c.byFull["/"+strings.TrimPrefix(name[:i], "/")+"/"+name[i+1:]]; ok {
			return m, nil
		}
	}
	short := strings.Replace(name, "/", ".", 1)
	switch ms := c.byShort[short]; len(ms) {
	case 0:
		return nil, fmt.Errorf("kentiktest: unknown method %q: no public v6 method has that name (name one as /PACKAGE.SERVICE/METHOD, SERVICE.METHOD or METHOD)", name)
	case 1:
		return ms[0], nil
	default:
		cands := make([]string, len(ms))
		for i, m := range ms {
			cands[i] = m.full
		}
		slices.Sort(cands)
		return nil, fmt.Errorf("kentiktest: %w: %q names %s", errAmbiguous, name, strings.Join(cands, ", "))
	}
}

// v6ServiceDescs returns a grpc.ServiceDesc for every public service: each method
// decodes its request into the generated type and is answered by answer. The generated
// Register...Server functions cannot serve this purpose: they need a Go type with every
// method of the service, and the fake answers 60 services it knows only as schema.
func (s *Server) v6ServiceDescs() []*grpc.ServiceDesc {
	var out []*grpc.ServiceDesc
	for _, svc := range v6Methods().services {
		sd := &grpc.ServiceDesc{
			ServiceName: svc.Name,
			HandlerType: (*any)(nil), // any server value will do: the handlers close over s
			Metadata:    svc.Desc.ParentFile().Path(),
		}
		for _, km := range svc.Methods {
			m := v6Methods().byFull[km.FullMethod]
			if m.streaming() {
				sd.Streams = append(sd.Streams, grpc.StreamDesc{
					StreamName:    m.name,
					ServerStreams: m.desc.IsStreamingServer(),
					ClientStreams: m.desc.IsStreamingClient(),
					Handler: func(any, grpc.ServerStream) error {
						return status.Errorf(codes.Unimplemented, "kentiktest: %s is a streaming method, which the fake does not serve", m.full)
					},
				})
				continue
			}
			sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: m.name, Handler: s.unaryHandler(m)})
		}
		out = append(out, sd)
	}
	return out
}

// unaryHandler is a grpc.MethodHandler for m, written out as protoc-gen-go-grpc writes
// one, with the request type taken from the schema.
func (s *Server) unaryHandler(m *v6Method) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := m.in.New().Interface()
		if err := dec(req); err != nil {
			return nil, err
		}
		answer := func(ctx context.Context, req any) (any, error) {
			return s.answer(ctx, m, req.(proto.Message))
		}
		if interceptor == nil {
			return answer(ctx, req)
		}
		return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: s, FullMethod: m.full}, answer)
	}
}

// answer runs the method's program (Handle, Respond), else the fake's own
// implementation, else answers UNIMPLEMENTED saying how to program the method.
func (s *Server) answer(ctx context.Context, m *v6Method, req proto.Message) (proto.Message, error) {
	h := s.programs.get(m.full)
	if h == nil {
		h = s.builtins[m.full]
	}
	if h == nil {
		return nil, status.Errorf(codes.Unimplemented,
			"kentiktest: %s is not programmed: give it an answer with Server.Respond or Server.Handle (or the options WithResponse and WithHandler), or with a file %s in the directory of `kentik fake --responses DIR`",
			m.full, responseFile(m))
	}
	resp, err := h(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp == nil || !resp.ProtoReflect().IsValid() {
		return m.out.New().Interface(), nil
	}
	if got, want := resp.ProtoReflect().Descriptor().FullName(), m.out.Descriptor().FullName(); got != want {
		return nil, status.Errorf(codes.Internal, "kentiktest: the program of %s answered a %s, want a %s", m.full, got, want)
	}
	return resp, nil
}
