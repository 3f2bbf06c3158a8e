package kentiktest_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
)

// handlerStacks returns the stacks of goroutines still running the fake's code.
func handlerStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "kentiktest.(*Server)") || strings.Contains(g, "kentiktest.sleep") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// Close must end the calls that sleep in a soft-limit delay (gRPC and V5, a POST whose
// body the handler has not read yet included) and return only once no handler runs.
func TestCloseEndsDelayedCallsAndWaitsForHandlers(t *testing.T) {
	s, err := kentiktest.NewServer(kentiktest.WithPolicy(policy(t, "soft=1/1h:1m")),
		kentiktest.WithV5Policy(policy(t, "soft=1/1h:1m")), kentiktest.WithInterfaces(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client(t, s, s.Credentials())
	req := &ifacev1.GetInterfaceRequest{Id: s.InterfaceIDs()[0]}
	if _, err := c.GetInterface(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "POST", s.V5URL()+"/mykentik/tenant/103/user", s.Credentials(), `{"user_email":"first@example.com"}`); r.status != http.StatusOK {
		t.Fatalf("first POST: %d %s", r.status, r.body)
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = c.GetInterface(context.Background(), req) // delayed a minute
		done <- struct{}{}
	}()
	go func() {
		hreq, _ := http.NewRequest("POST", s.V5URL()+"/mykentik/tenant/103/user", strings.NewReader(`{"user_email":"late@example.com"}`))
		hreq.Header.Set(kentik.HeaderEmail, s.Credentials().Email)
		hreq.Header.Set(kentik.HeaderToken, s.Credentials().Token)
		if resp, err := http.DefaultClient.Do(hreq); err == nil {
			resp.Body.Close()
		}
		done <- struct{}{}
	}()
	for i := 0; s.Stats().GRPC.Delayed != 1 || s.Stats().V5.Delayed != 1; i++ {
		if i == 500 {
			t.Fatalf("the calls were never delayed: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	s.Close()
	if took := time.Since(t0); took > 20*time.Second {
		t.Errorf("Close took %v", took)
	}
	if st := handlerStacks(); st != "" {
		t.Errorf("handlers still running after Close:\n%s", st)
	}
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a delayed call did not end after Close")
		}
	}
	if tn, _ := s.Tenant(103); len(tn.Users) != 1 {
		t.Errorf("tenant 103 has %d users after Close, want 1 (the delayed POST must not be applied)", len(tn.Users))
	}
}
