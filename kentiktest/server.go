package kentiktest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest/internal/store"
	"github.com/gokentik/kentik/ratelimit"
)

// Server is a running fake of Kentik: every public v6 service over gRPC on one loopback
// listener; the V5 My Kentik REST API and the v6 REST mapping on another. Its methods
// are safe for concurrent use.
type Server struct {
	cfg     config
	log     *slog.Logger
	store   *store.Store
	tenants *tenantStore
	grpcAPI *apiClass
	v5API   *apiClass
	faults  *faults
	outage  *outage
	reqs    *requestLog

	programs programs           // Handle, Respond and their options
	builtins map[string]Handler // the fake's own implementations, by full method

	unknownIDs atomic.Int64
	devices    int
	seedTime   time.Duration

	grpcServer  *grpc.Server
	health      *health.Server
	httpServer  *http.Server
	v5Handler   http.Handler
	restHandler http.Handler     // the v6 REST mapping (rest.go)
	restConn    *grpc.ClientConn // the REST mapping's way to the gRPC server, in memory
	grpcLis     net.Listener
	httpLis     net.Listener

	quit      chan struct{} // closed by Close: ends soft-limit delays and injected latency
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewServer seeds a fake and starts serving gRPC and HTTP, by default on 127.0.0.1 at
// ports the system picks. Without options it accepts DefaultEmail and DefaultToken,
// enforces Kentik's admin policy on each API, holds no interfaces and three tenants.
// Call Close when done.
func NewServer(opts ...Option) (*Server, error) {
	cf := defaultConfig()
	for _, o := range opts {
		if err := o(&cf); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	s := &Server{
		cfg:     cf,
		log:     cf.logger,
		store:   store.New(nil),
		grpcAPI: newAPIClass("grpc", cf.grpcPolicy),
		v5API:   newAPIClass("v5", cf.v5Policy),
		faults:  newFaults(cf.faultSeed),
		outage:  newOutage(cf.logger),
		reqs:    newRequestLog(cf.requestLog),
		quit:    make(chan struct{}),
	}
	for _, p := range cf.programs {
		s.programs.set(p.full, p.h)
	}
	s.builtins = s.builtinHandlers()
	ts := defaultTenants()
	if cf.tenantsSet {
		ts = cf.tenants
	}
	var err error
	if s.tenants, err = newTenantStore(ts, started); err != nil {
		return nil, err
	}
	if cf.interfaces > 0 {
		t0 := time.Now()
		if s.devices, err = s.store.Seed(cf.interfaces, cf.seed); err != nil {
			return nil, fmt.Errorf("kentiktest: seeding: %w", err)
		}
		s.seedTime = time.Since(t0)
	}

	if s.grpcLis = cf.grpcListener; s.grpcLis == nil {
		if s.grpcLis, err = net.Listen("tcp", cf.grpcAddr); err != nil {
			return nil, fmt.Errorf("kentiktest: gRPC listener: %w", err)
		}
	}
	if s.httpLis = cf.httpListener; s.httpLis == nil {
		if s.httpLis, err = net.Listen("tcp", cf.httpAddr); err != nil {
			s.grpcLis.Close()
			return nil, fmt.Errorf("kentiktest: HTTP listener: %w", err)
		}
	}
	s.grpcLis = s.outage.wrap(s.grpcLis, cf.grpcListener == nil)
	s.httpLis = s.outage.wrap(s.httpLis, cf.httpListener == nil)

	s.grpcServer = s.newGRPCServer()
	s.v5Handler = s.newV5Handler()
	if s.restHandler, err = s.startREST(); err != nil {
		s.grpcServer.Stop()
		s.grpcLis.Close()
		s.httpLis.Close()
		s.wg.Wait()
		return nil, err
	}
	s.httpServer = &http.Server{
		Handler:           s.httpHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.grpcServer.Serve(s.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("gRPC server stopped", slog.Any("err", err))
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.httpServer.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped", slog.Any("err", err))
		}
	}()
	s.log.Info("kentiktest listening", slog.String("grpc", s.GRPCAddr()), slog.String("v5", s.V5URL()),
		slog.Int("interfaces", cf.interfaces), slog.String("grpc_policy", cf.grpcPolicy.String()),
		slog.String("v5_policy", cf.v5Policy.String()))
	return s, nil
}

// TB is the part of testing.TB that Start uses. It is an interface of its own so that
// programs that only run a fake (the kentik command) do not link package testing.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start is NewServer for tests: it fails t at once if the server cannot start, and
// closes the server when the test ends. t is a *testing.T, *testing.B or *testing.F.
func Start(t TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("kentiktest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// closeTimeout bounds how long Close waits for V5 handlers that are still reading a
// request body from a slow client before it closes their connections.
const closeTimeout = 5 * time.Second

// Close stops both servers at once, ending calls in flight (those in a soft-limit delay
// or injected latency are answered UNAVAILABLE / 503 at once), and returns when no
// handler runs any more. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.outage.close()
		s.health.Shutdown()
		s.grpcServer.Stop() // waits for handlers: see grpc.WaitForHandlers in newGRPCServer
		// http.Server.Close does not wait for handlers; Shutdown does, and they end
		// quickly now that quit is closed.
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		_ = s.httpServer.Shutdown(ctx)
		cancel()
		_ = s.httpServer.Close()
		_ = s.restConn.Close()
		s.wg.Wait()
	})
}

// httpHandler serves the V5 API under V5Prefix and the v6 REST mapping everywhere
// else.
func (s *Server) httpHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == V5Prefix || strings.HasPrefix(r.URL.Path, V5Prefix+"/") {
			s.v5Handler.ServeHTTP(w, r)
			return
		}
		s.restHandler.ServeHTTP(w, r)
	})
}

// GRPCAddr returns the host:port the gRPC server listens on.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr returns the host:port the HTTP server listens on: the V5 REST API (V5URL)
// and the v6 REST mapping (RESTURL).
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// V5URL returns the base URL of the V5 REST API, e.g. "http://127.0.0.1:8080/api/v5".
func (s *Server) V5URL() string { return "http://" + s.HTTPAddr() + V5Prefix }

// V5Handler returns the V5 REST handler itself (authentication, limits and faults
// included), to serve from an httptest.Server or a mux of one's own.
func (s *Server) V5Handler() http.Handler { return s.v5Handler }

// Credentials returns the email and token the fake accepts.
func (s *Server) Credentials() kentik.Credentials { return s.cfg.creds }

// Policy returns the rate-limit policy of the v6 APIs (gRPC and their REST mapping).
func (s *Server) Policy() ratelimit.Policy { return s.grpcAPI.policy.Scale(1) }

// V5Policy returns the V5 REST API's rate-limit policy.
func (s *Server) V5Policy() ratelimit.Policy { return s.v5API.policy.Scale(1) }

// Seeded reports how many devices carry the seeded interfaces and how long seeding took.
func (s *Server) Seeded() (devices int, took time.Duration) { return s.devices, s.seedTime }

// Interface returns a copy of the interface with the given id.
func (s *Server) Interface(id string) (*ifacev1.Interface, bool) {
	in, err := s.store.Get(id)
	return in, err == nil
}

// AllInterfaces returns copies of every interface, ordered by id.
func (s *Server) AllInterfaces() []*ifacev1.Interface { return s.store.All() }

// InterfaceIDs returns the id of every interface, ordered by id.
func (s *Server) InterfaceIDs() []string { return s.store.IDs() }

// NumInterfaces returns how many interfaces the store holds.
func (s *Server) NumInterfaces() int { return s.store.Len() }

// AddInterface stores an interface directly, as CreateInterface would (new id, dates
// set, same validation), without credentials, limits or faults.
func (s *Server) AddInterface(in *ifacev1.Interface) (*ifacev1.Interface, error) {
	return s.store.Create(in)
}

// Tenants returns copies of the My Kentik tenants, ordered by id.
func (s *Server) Tenants() []Tenant { return s.tenants.list() }

// Tenant returns a copy of one tenant.
func (s *Server) Tenant(id int64) (Tenant, bool) { return s.tenants.get(id) }

// FailNext makes the next n calls of method fail with code, after authentication and
// admission (they count against the rate limits, as calls that reached the server do).
// Successive FailNext calls queue up; n <= 0 clears the queue of method. Methods are
// named by short name ("ManualClassify", "TenantList"), full gRPC name (any public v6
// method), SERVICE.METHOD or METHOD when only one public method is so named, or
// AllMethods.
// Injected errors carry no retry hints.
func (s *Server) FailNext(method string, n int, code codes.Code) error {
	m, err := canonicalMethod(method)
	if err != nil {
		return err
	}
	if n <= 0 {
		s.faults.mu.Lock()
		delete(s.faults.next, m)
		s.faults.mu.Unlock()
		return nil
	}
	if err := checkFaultCode(code); err != nil {
		return err
	}
	s.faults.mu.Lock()
	s.faults.next[m] = append(s.faults.next[m], failNext{code: code, left: n})
	s.faults.mu.Unlock()
	return nil
}

// SetErrorRate makes calls of method fail with code with probability rate (0 removes
// the rule). Several codes may be set for one method; their rates add up. The draws come
// from a generator seeded by WithFaultSeed, so a sequential test sees the same failures
// on every run.
func (s *Server) SetErrorRate(method string, code codes.Code, rate float64) error {
	m, err := canonicalMethod(method)
	if err != nil {
		return err
	}
	if err := checkFaultCode(code); err != nil {
		return err
	}
	if !(rate >= 0 && rate <= 1) {
		return fmt.Errorf("kentiktest: error rate %v is not within [0, 1]", rate)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if rate == 0 {
		delete(s.faults.rates[m], code)
		if len(s.faults.rates[m]) == 0 {
			delete(s.faults.rates, m)
		}
		return nil
	}
	if s.faults.rates[m] == nil {
		s.faults.rates[m] = map[codes.Code]float64{}
	}
	s.faults.rates[m][code] = rate
	return nil
}

// SetLatency delays every call of method by d before it is handled (0 removes the
// delay). The caller's deadline is honoured.
func (s *Server) SetLatency(method string, d time.Duration) error {
	m, err := canonicalMethod(method)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("kentiktest: latency %v is negative", d)
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if d == 0 {
		delete(s.faults.latency, m)
	} else {
		s.faults.latency[m] = d
	}
	return nil
}

// ClearFaults removes every FailNext, SetErrorRate and SetLatency rule, ends an Outage,
// and reseeds the error-rate generator.
func (s *Server) ClearFaults() {
	s.faults.reset(s.cfg.faultSeed)
	s.outage.end(0)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		GRPC:                 s.grpcAPI.stats(),
		V5:                   s.v5API.stats(),
		UnknownIDsClassified: int(s.unknownIDs.Load()),
	}
}

// ResetStats zeroes the counters, forgets the recorded requests and empties the
// rate-limit windows (a fresh enforcer per API).
func (s *Server) ResetStats() {
	s.grpcAPI.reset()
	s.v5API.reset()
	s.unknownIDs.Store(0)
	s.reqs.reset()
}

// Requests returns the latest requests received (see WithRequestLog), oldest first.
func (s *Server) Requests() []Request { return s.reqs.all() }

// record logs a request and passes it to the hook.
func (s *Server) record(r Request) {
	s.reqs.add(r)
	if s.cfg.hook != nil {
		s.cfg.hook(r)
	}
}
