package kentiktest_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	kentikclient "github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/services"
)

// Every public method, called with an empty request through the project's client
// (c.Conn(), routed by host, all hosts sent to the fake), is answered by its program
// (every seventh method is programmed here), by the fake's own implementation
// (InterfaceService, My Kentik's tenants), or UNIMPLEMENTED; each call is counted under
// the method's name; without credentials each is refused UNAUTHENTICATED.
func TestEveryPublicMethod(t *testing.T) {
	s := startOff(t)
	c, err := kentikclient.New(ctx(t), kentikclient.WithEndpoint(s.GRPCAddr()), kentikclient.WithPlaintext(),
		kentikclient.WithCredentials(s.Credentials()), kentikclient.WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	anonymous := conn(t, s)

	type call struct {
		full, key string
		in, out   proto.Message
	}
	var calls []call
	programmed := map[string]bool{}
	for _, svc := range services.All() {
		for _, m := range svc.Methods {
			in, err1 := protoregistry.GlobalTypes.FindMessageByName(m.Desc.Input().FullName())
			out, err2 := protoregistry.GlobalTypes.FindMessageByName(m.Desc.Output().FullName())
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: no Go types: %v %v", m.FullMethod, err1, err2)
			}
			key := m.FullMethod
			if svc.Name == "kentik.interface.v202108alpha1.InterfaceService" {
				key = string(m.Desc.Name())
			}
			calls = append(calls, call{m.FullMethod, key, in.New().Interface(), out.New().Interface()})
			if len(calls)%7 == 0 {
				if err := s.Respond(m.FullMethod, out.New().Interface()); err != nil {
					t.Fatal(err)
				}
				programmed[m.FullMethod] = true
			}
		}
	}
	if len(calls) != 289 {
		t.Fatalf("%d public methods, want 289", len(calls))
	}

	answered := map[codes.Code]int{}
	for _, cl := range calls {
		err := c.Conn().Invoke(ctx(t), cl.full, cl.in, cl.out)
		code := status.Code(err)
		answered[code]++
		builtin, _ := s.Builtin(cl.full)
		switch {
		case programmed[cl.full]:
			if code != codes.OK {
				t.Errorf("%s (programmed): %v", cl.full, err)
			}
		case builtin != nil:
			if code == codes.Unimplemented || code == codes.Unauthenticated || code == codes.Internal {
				t.Errorf("%s (the fake's own): %v", cl.full, err)
			}
		case code != codes.Unimplemented:
			t.Errorf("%s (unprogrammed): %v, want Unimplemented", cl.full, err)
		}
		err = anonymous.Invoke(ctx(t), cl.full, cl.in, cl.out)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s without credentials: %v", cl.full, err)
		}
	}
	st := s.Stats().GRPC
	for _, cl := range calls {
		if st.Calls[cl.key] != 2 {
			t.Errorf("%s counted %d times, want 2", cl.key, st.Calls[cl.key])
		}
	}
	if st.Rejected[kentiktest.RejectUnauthenticated] != len(calls) || len(st.Calls) != len(calls) {
		t.Errorf("%d methods counted, %v rejected", len(st.Calls), st.Rejected)
	}
	t.Logf("answers with credentials: %v", answered)
}
