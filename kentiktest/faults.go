package kentiktest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// AllMethods names every method of both APIs in FailNext, SetErrorRate and SetLatency.
// A rule for a method by name takes precedence over a rule for AllMethods.
const AllMethods = "*"

// Short names of the V5 REST operations, as Kentik's documentation names them.
const (
	V5TenantList       = "TenantList"       // GET /api/v5/mykentik/tenants
	V5TenantInfo       = "TenantInfo"       // GET /api/v5/mykentik/tenant/{id}
	V5TenantUserCreate = "TenantUserCreate" // POST /api/v5/mykentik/tenant/{id}/user
	V5TenantUserDelete = "TenantUserDelete" // DELETE /api/v5/mykentik/tenant/{id}/user/{user_id}
	v5Other            = "Other"            // any other path under /api/v5
)

// methodNames maps every accepted spelling of a method to its short name.
var methodNames = func() map[string]string {
	m := map[string]string{AllMethods: AllMethods}
	svc := ifacev1.InterfaceService_ServiceDesc.ServiceName
	for _, md := range ifacev1.InterfaceService_ServiceDesc.Methods {
		n := md.MethodName
		m[n] = n
		m[svc+"/"+n] = n
		m["/"+svc+"/"+n] = n
	}
	for _, r := range v5Routes {
		m[r.op] = r.op
		m[r.method+" "+r.path] = r.op
	}
	return m
}()

// canonicalMethod returns the short name of a method given by short name ("GetInterface",
// "TenantList"), full gRPC name ("/kentik.interface.v202108alpha1.InterfaceService/GetInterface",
// with or without the leading slash) or V5 route ("GET /api/v5/mykentik/tenants").
func canonicalMethod(name string) (string, error) {
	if n, ok := methodNames[strings.TrimSpace(name)]; ok {
		return n, nil
	}
	m, err := v6Methods().lookup(name)
	if err == nil {
		return m.key, nil
	}
	if errors.Is(err, errAmbiguous) {
		return "", err
	}
	known := make([]string, 0, len(methodNames))
	for k, v := range methodNames {
		if k == v {
			known = append(known, k)
		}
	}
	slices.Sort(known)
	return "", fmt.Errorf("kentiktest: unknown method %q (want one of %s, or any public v6 method by full gRPC name)", name, strings.Join(known, ", "))
}

// faults holds the failures and latencies tests asked for.
type faults struct {
	mu      sync.Mutex
	rng     *rand.Rand
	next    map[string][]failNext
	rates   map[string]map[codes.Code]float64
	latency map[string]time.Duration
}

type failNext struct {
	code codes.Code
	left int
}

func newFaults(seed int64) *faults {
	f := &faults{}
	f.reset(seed)
	return f
}

func (f *faults) reset(seed int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = rand.New(rand.NewPCG(uint64(seed), 0x6b656e74696b)) // "kentik"
	f.next = map[string][]failNext{}
	f.rates = map[string]map[codes.Code]float64{}
	f.latency = map[string]time.Duration{}
}

// fault is what the injector decided for one call.
type fault struct {
	latency time.Duration
	fail    bool
	code    codes.Code
	why     string
}

// decide consumes a FailNext slot or draws against the error rates for one call of
// method (a short name).
func (f *faults) decide(method string) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out fault
	if d, ok := f.latency[method]; ok {
		out.latency = d
	} else {
		out.latency = f.latency[AllMethods]
	}
	for _, key := range []string{method, AllMethods} {
		if q := f.next[key]; len(q) > 0 {
			out.fail, out.code, out.why = true, q[0].code, "FailNext"
			if q[0].left--; q[0].left == 0 {
				q = q[1:]
			}
			if len(q) == 0 {
				delete(f.next, key)
			} else {
				f.next[key] = q
			}
			return out
		}
	}
	rates, ok := f.rates[method]
	if !ok {
		rates = f.rates[AllMethods]
	}
	if len(rates) == 0 {
		return out
	}
	// One draw per call, walked through the codes in a fixed order, so the outcome of a
	// sequence of calls depends only on the seed.
	u := f.rng.Float64()
	cs := slices.Sorted(maps.Keys(rates))
	var cum float64
	for _, c := range cs {
		cum += rates[c]
		if u < cum {
			out.fail, out.code, out.why = true, c, "SetErrorRate"
			break
		}
	}
	return out
}

func checkFaultCode(code codes.Code) error {
	if code == codes.OK || code > codes.Unauthenticated {
		return fmt.Errorf("kentiktest: fault code must be an error code, got %v", code)
	}
	return nil
}
