package cli

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/services"
)

// `kentik api call` reaches every public v6 method of the fake with an empty request:
// each is answered by its program, by the fake's own implementation (My Kentik's v6
// tenants: an empty request is refused as such), or by UNIMPLEMENTED saying how to
// program it; each reaches the fake once, counted under its name, with both credentials.
func TestAPICallEveryPublicMethod(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off))
	// A few methods answer: the first method of every tenth service gets a canned
	// (empty) response.
	programmed := map[string]bool{}
	for i, s := range services.All() {
		if i%10 == 0 && s.Name != ifacev1.InterfaceService_ServiceDesc.ServiceName {
			m := s.Methods[0]
			if err := srv.Respond(m.FullMethod, dynamicpb.NewMessage(m.Desc.Output())); err != nil {
				t.Fatalf("%s: %v", m.FullMethod, err)
			}
			programmed[m.FullMethod] = true
		}
	}
	if len(programmed) < 5 {
		t.Fatalf("%d methods programmed", len(programmed))
	}
	c := srv.Credentials()
	env := map[string]string{kentik.EnvEmail: c.Email, kentik.EnvToken: c.Token}
	calls := 0
	for _, s := range services.All() {
		for _, m := range s.Methods {
			if s.Name == "kentik.interface.v202108alpha1.InterfaceService" {
				continue // served by the fake's store; see the api call tests of interfaces
			}
			calls++
			code, out, errOut := runKentikArgs(env, "", "--plaintext", "--grpc-endpoint", srv.GRPCAddr(), "--rate-limit", "off",
				"--timeout", "10s", "api", "call", m.FullMethod)
			builtin, err := srv.Builtin(m.FullMethod)
			if err != nil {
				t.Fatalf("%s: %v", m.FullMethod, err)
			}
			switch {
			case builtin != nil:
				if strings.Contains(errOut, "Unimplemented") || code != ExitOK && code != ExitFailure {
					t.Errorf("%s (built in): exit %d, %s", m.FullMethod, code, errOut)
				}
			case programmed[m.FullMethod]:
				if code != ExitOK || strings.TrimSpace(out) != "{}" {
					t.Errorf("%s (programmed): exit %d, %q, %s", m.FullMethod, code, out, errOut)
				}
			case code != ExitFailure || !strings.Contains(errOut, "Unimplemented") || !strings.Contains(errOut, "Respond"):
				t.Errorf("%s: exit %d, want UNIMPLEMENTED saying how to program it:\n%s", m.FullMethod, code, errOut)
			}
		}
	}
	st := srv.Stats().GRPC
	reached := 0
	for _, r := range srv.Requests() {
		if r.API != "grpc" {
			continue
		}
		reached++
		if len(r.Header[kentik.MetadataEmail]) != 1 || len(r.Header[kentik.MetadataToken]) != 1 {
			t.Errorf("%s: reached without both credentials", r.Method)
		}
	}
	total := 0
	for _, n := range st.Calls {
		total += n
	}
	if calls < 280 || total != calls || reached != calls {
		t.Fatalf("%d methods called, %d counted, %d recorded: want every call counted once", calls, total, reached)
	}
	for _, s := range services.All() {
		for _, m := range s.Methods {
			if s.Name != "kentik.interface.v202108alpha1.InterfaceService" && st.Calls[m.FullMethod] != 1 {
				t.Errorf("%s counted %d times", m.FullMethod, st.Calls[m.FullMethod])
			}
		}
	}
}
