package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// maxFakeInterfaces bounds --interfaces: a million take about 250 MB, ten million about
// 2.5 GB, which is as far as a laptop should be asked to go.
const maxFakeInterfaces = 10_000_000

type fakeFlags struct {
	grpcListen  string
	httpListen  string
	interfaces  int
	seed        int64
	v5RateLimit string
	listenAny   bool
	responses   string
	metrics     metricsFlags
	outage      outageFlags
}

func newFakeCmd(g *Globals) *cobra.Command {
	var o fakeFlags
	cmd := &cobra.Command{
		Use:   "fake",
		Short: "Run a local fake of Kentik (every v6 service over gRPC, My Kentik tenants over V5 REST)",
		Long: `Run a local fake of Kentik in the foreground until Ctrl-C or SIGTERM.

The fake serves every public v6 service over plaintext gRPC (with reflection and health,
so grpcurl works) and the V5 My Kentik tenant API over HTTP, with seeded interfaces and
tenants. InterfaceService works over the seeded interfaces, My Kentik's v6 tenant
services (kentik.mkp.v202407) over the V5 tenants; other methods answer UNIMPLEMENTED
unless --responses DIR gives them a canned answer: a file DIR/SERVICE/METHOD.json per
method, the response in protobuf JSON, e.g.
DIR/kentik.device.v202308beta1.DeviceService/GetDevice.json. The HTTP listener also
serves Kentik's v6 REST mapping of every service (the paths of Kentik's REST reference,
such as GET /interface/v202108alpha1/interfaces), with the same headers and limits.

It accepts only the credentials given by --email/--token (or KENTIK_EMAIL /
KENTIK_API_TOKEN), falling back to the fake's built-in local ones, and enforces
--rate-limit the way Kentik does: over the limits, RESOURCE_EXHAUSTED or HTTP 429 with a
retry delay; beyond soft limits, delayed answers.

It listens on loopback only unless --listen-any is given, which also requires your own
credentials: the built-in token is public.

With -o json it prints where it listens (and the built-in credentials, when used) as one
JSON document on stdout, for scripts that start it on port 0.

With --metrics-listen ADDR it serves what it saw for Prometheus at http://ADDR/metrics:
calls, rejections and soft-limit delays per API, and the fullest rolling window against
its limit.

With --outage-for D it plays an outage of Kentik for D, --outage-after after it starts
(at once by default): every call answered UNAVAILABLE (HTTP 503), or with
--outage-mode refuse, every connection closed and new ones refused, the listeners
opened again when it ends. Clients that must ride one out can be tried against it.`,
		Example: `  kentik fake
  kentik fake --interfaces 1000000 --seed 7 --rate-limit "concurrency=1,60/2s,soft=20/2s:50ms"
  kentik fake --outage-after 30s --outage-for 1m --outage-mode refuse
  kentik fake --responses ./fake-responses
  KENTIK_EMAIL=demo@kentik.local KENTIK_API_TOKEN=kentiktest-token \
    KENTIK_GRPC_ENDPOINT=127.0.0.1:9090 kentik --plaintext interfaces list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFake(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.grpcListen, "grpc-listen", "127.0.0.1:9090", "address of the gRPC server")
	f.StringVar(&o.httpListen, "http-listen", "127.0.0.1:8080", "address of the HTTP server (V5 and the v6 REST mapping)")
	f.IntVar(&o.interfaces, "interfaces", 1000, "number of interfaces to seed (48 per device)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the generated interfaces (same seed, same interfaces)")
	f.StringVar(&o.v5RateLimit, "v5-rate-limit", "", "rate-limit policy of the V5 API (default: the --rate-limit policy)")
	f.BoolVar(&o.listenAny, "listen-any", false, "allow non-loopback listen addresses (requires --email and --token)")
	f.StringVar(&o.responses, "responses", "", "directory of canned v6 responses, DIR/SERVICE/METHOD.json (protobuf JSON)")
	_ = cmd.MarkFlagDirname("responses")
	o.metrics.add(f)
	o.outage.add(f)
	return cmd
}

// outageFlags play an outage of the fake (kentik fake, kentik demo).
type outageFlags struct {
	after time.Duration
	dur   time.Duration
	mode  string
}

func (o *outageFlags) add(f *pflag.FlagSet) {
	f.DurationVar(&o.after, "outage-after", 0, "when the outage of --outage-for begins, counted from the fake's start")
	f.DurationVar(&o.dur, "outage-for", 0, "play an outage of Kentik that lasts this long (0: none)")
	f.StringVar(&o.mode, "outage-mode", "unavailable", "unavailable: every call answered UNAVAILABLE (HTTP 503); refuse: connections closed and refused")
}

// check validates the flags and returns the mode.
func (o outageFlags) check() (kentiktest.OutageMode, error) {
	var mode kentiktest.OutageMode
	switch o.mode {
	case "unavailable":
		mode = kentiktest.OutageUnavailable
	case "refuse":
		mode = kentiktest.OutageRefuse
	default:
		return 0, usagef("--outage-mode %q: want unavailable or refuse", o.mode)
	}
	switch {
	case o.dur < 0 || o.after < 0:
		return 0, usagef("--outage-for %s, --outage-after %s: want durations of 0 or more", o.dur, o.after)
	case o.dur == 0 && o.after > 0:
		return 0, usagef("--outage-after needs --outage-for (how long the outage lasts)")
	}
	return mode, nil
}

// String describes the outage, "" when there is none.
func (o outageFlags) String() string {
	if o.dur <= 0 {
		return ""
	}
	return fmt.Sprintf("%s for %s, %s after the start", o.mode, o.dur, o.after)
}

// start plays the outage on srv, if any, at its time, telling say (a line) when it
// begins and ends; stop cancels what has not happened yet, and say is not called after
// it returns.
func (o outageFlags) start(srv *kentiktest.Server, mode kentiktest.OutageMode, say func(string)) (stop func()) {
	if o.dur <= 0 {
		return func() {}
	}
	var (
		mu      sync.Mutex
		stopped bool
	)
	tell := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			say(line)
		}
	}
	begin := time.AfterFunc(o.after, func() {
		if err := srv.Outage(o.dur, mode); err == nil {
			tell(fmt.Sprintf("kentik fake: outage (%s) for %s", o.mode, o.dur))
		}
	})
	end := time.AfterFunc(o.after+o.dur, func() {
		// End it here, not on the fake's own timer, so that the fake listens again
		// before the line that says so (a script waits for it).
		_ = srv.Outage(0, mode)
		tell("kentik fake: outage over")
	})
	return func() {
		begin.Stop()
		end.Stop()
		mu.Lock() // a line being written is written before stop returns, none after
		stopped = true
		mu.Unlock()
	}
}

// checkListenAddr checks the address of a --FLAG to listen on, HOST:PORT with a port
// from 0 to 65535, and returns its host.
func checkListenAddr(flag, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef("--%s %q: want HOST:PORT: %v", flag, addr, err)
	}
	if err := checkPort(port, 0); err != nil {
		return "", &UsageError{Err: fmt.Errorf("--%s %q: %w", flag, addr, err)}
	}
	return host, nil
}

// fakeCheckListen checks a listen address (checkListenAddr) and, unless anyHost, refuses
// one that is not a loopback address. An empty host (":9090") listens everywhere and is
// refused too.
func fakeCheckListen(flag, addr string, anyHost bool) error {
	host, err := checkListenAddr(flag, addr)
	if err != nil {
		return err
	}
	if anyHost || kentik.IsLoopbackHost(host) {
		return nil
	}
	return usagef("--%s %q is not a loopback address; the fake accepts a well-known token, so it listens on 127.0.0.1 or ::1 unless you pass --listen-any (with your own --email and --token)", flag, addr)
}

func runFake(ctx context.Context, g *Globals, o fakeFlags) error {
	if o.interfaces < 0 || o.interfaces > maxFakeInterfaces {
		return usagef("--interfaces %d: want 0 to %d", o.interfaces, maxFakeInterfaces)
	}
	// The built-in token is public (it is in this program and its docs): whether it came
	// from a flag, the environment or nowhere, it must not guard a fake others can reach.
	customCreds := g.Email != "" && g.Token != "" && g.Token != kentiktest.DefaultToken
	if o.listenAny && !customCreds {
		return usagef("--listen-any needs your own --email and --token (or KENTIK_EMAIL and KENTIK_API_TOKEN): the fake's built-in token is public")
	}
	for _, l := range []struct{ flag, addr string }{{"grpc-listen", o.grpcListen}, {"http-listen", o.httpListen}} {
		if err := fakeCheckListen(l.flag, l.addr, o.listenAny); err != nil {
			return err
		}
	}
	if err := o.metrics.check(); err != nil {
		return err
	}
	outageMode, err := o.outage.check()
	if err != nil {
		return err
	}
	creds := g.Credentials()
	if creds.Email == "" {
		creds.Email = kentiktest.DefaultEmail
	}
	defaultToken := creds.Token == ""
	if defaultToken {
		creds.Token = kentiktest.DefaultToken
	}
	grpcPolicy := g.Policy()
	v5Policy := grpcPolicy
	if o.v5RateLimit != "" {
		p, err := parsePolicy("--v5-rate-limit", o.v5RateLimit)
		if err != nil {
			return err
		}
		v5Policy = p
	}

	opts := []kentiktest.Option{
		kentiktest.WithCredentials(creds),
		kentiktest.WithPolicy(grpcPolicy),
		kentiktest.WithV5Policy(v5Policy),
		kentiktest.WithInterfaces(o.interfaces, o.seed),
		kentiktest.WithGRPCAddr(o.grpcListen),
		kentiktest.WithHTTPAddr(o.httpListen),
		kentiktest.WithRequestLog(0), // nobody reads it; don't keep tokens around
	}
	if g.Logger != nil {
		opts = append(opts, kentiktest.WithLogger(g.Logger))
	}
	if o.responses != "" {
		opts = append(opts, kentiktest.WithResponses(o.responses))
	}
	s, err := kentiktest.NewServer(opts...)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("starting the fake: %w (another kentik fake may be running: stop it, or pick other addresses with --grpc-listen and --http-listen)", err)
	}
	if err != nil {
		return fmt.Errorf("starting the fake: %w", err)
	}
	defer s.Close()
	ms, err := startMetrics(g, o.metrics)
	if err != nil {
		return err
	}
	defer ms.Close()
	metricsURL := ""
	if ms != nil {
		if err := ms.Register(fakeCollector{srv: s}); err != nil {
			return err
		}
		metricsURL = ms.URL()
	}

	stopped := g.Stdout
	if g.JSON() {
		// One JSON document alone on stdout, for scripts that start the fake on :0.
		info := fakeJSON(s, o, defaultToken)
		info.MetricsURL = metricsURL
		if err := writeJSON(g.Stdout, info); err != nil {
			return err
		}
		stopped = g.Stderr
	} else {
		printFakeBanner(g.Stdout, s, o, defaultToken, metricsURL)
	}
	stopOutage := o.outage.start(s, outageMode, func(line string) { fmt.Fprintln(stopped, line) })
	defer stopOutage()
	<-ctx.Done()
	stopOutage()
	s.Close()
	fmt.Fprintln(stopped, "kentik fake: stopped")
	return nil
}

// fakeInfo is what `kentik fake -o json` prints.
type fakeInfo struct {
	GRPCAddr   string `json:"grpc_addr"`
	V5URL      string `json:"v5_url"`
	RESTURL    string `json:"rest_url"` // the v6 REST mapping
	Email      string `json:"email"`
	Token      string `json:"token,omitempty"` // only the built-in token, never the user's
	GRPCPolicy string `json:"grpc_rate_limit"`
	V5Policy   string `json:"v5_rate_limit"`
	Interfaces int    `json:"interfaces"`
	Devices    int    `json:"devices"`
	Seed       int64  `json:"seed"`
	MetricsURL string `json:"metrics_url,omitempty"` // with --metrics-listen
	Outage     string `json:"outage,omitempty"`      // with --outage-for: "refuse for 1m0s, 30s after the start"
}

func fakeJSON(s *kentiktest.Server, o fakeFlags, defaultToken bool) fakeInfo {
	devices, _ := s.Seeded()
	info := fakeInfo{
		GRPCAddr:   fakeDialable(s.GRPCAddr()),
		V5URL:      "http://" + fakeDialable(s.HTTPAddr()) + kentiktest.V5Prefix,
		RESTURL:    "http://" + fakeDialable(s.HTTPAddr()),
		Email:      s.Credentials().Email,
		GRPCPolicy: s.Policy().String(),
		V5Policy:   s.V5Policy().String(),
		Interfaces: s.NumInterfaces(),
		Devices:    devices,
		Seed:       o.seed,
		Outage:     o.outage.String(),
	}
	if defaultToken {
		info.Token = s.Credentials().Token
	}
	return info
}

// describePolicy prints a preset's name with its limits spelled out.
func describePolicy(p ratelimit.Policy) string {
	name := p.String()
	q := p.Scale(1)
	q.Name = "custom"
	if list := q.String(); list != name {
		return name + " (" + list + ")"
	}
	return name
}

// fakeDialable turns a listen address into one a client can dial: an unspecified host
// (0.0.0.0, ::) becomes the loopback address.
func fakeDialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
		if a.Is4() {
			return net.JoinHostPort("127.0.0.1", port)
		}
		return net.JoinHostPort("::1", port)
	}
	return addr
}

func printFakeBanner(w io.Writer, s *kentiktest.Server, o fakeFlags, defaultToken bool, metricsURL string) {
	grpcAddr := fakeDialable(s.GRPCAddr())
	v5URL := "http://" + fakeDialable(s.HTTPAddr()) + kentiktest.V5Prefix
	creds := s.Credentials()
	devices, took := s.Seeded()

	fmt.Fprintln(w, "kentik fake: a local fake of Kentik for tests and demos (not the real service)")
	fmt.Fprintf(w, "  gRPC v6 services       %s  (plaintext; rate limit %s)\n", s.GRPCAddr(), describePolicy(s.Policy()))
	fmt.Fprintf(w, "  V5 REST API            http://%s%s  (rate limit %s)\n", s.HTTPAddr(), kentiktest.V5Prefix, describePolicy(s.V5Policy()))
	fmt.Fprintf(w, "  v6 REST mapping        http://%s  (e.g. GET /interface/v202108alpha1/interfaces; counted with gRPC)\n", s.HTTPAddr())
	fmt.Fprintf(w, "  interfaces             %d on %d devices (seed %d, generated in %v)\n", s.NumInterfaces(), devices, o.seed, took.Round(time.Millisecond))
	if o.responses != "" {
		fmt.Fprintf(w, "  canned responses       %d methods from %s\n", len(s.Programmed()), o.responses)
	}
	if metricsURL != "" {
		fmt.Fprintf(w, "  metrics                %s  (Prometheus: what the fake saw)\n", metricsURL)
	}
	if out := o.outage.String(); out != "" {
		fmt.Fprintf(w, "  outage                 %s\n", out)
	}
	tokenShown := creds.Token
	if defaultToken {
		fmt.Fprintf(w, "  credentials            email %s, token %s (the fake's built-in local token)\n", creds.Email, creds.Token)
	} else {
		tokenShown = "<your token>"
		fmt.Fprintf(w, "  credentials            email %s, token as given by --token / KENTIK_API_TOKEN\n", creds.Email)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Use it from another terminal:")
	fmt.Fprintf(w, "  export KENTIK_EMAIL=%s KENTIK_API_TOKEN=%s\n", creds.Email, tokenShown)
	fmt.Fprintf(w, "  export KENTIK_GRPC_ENDPOINT=%s KENTIK_API_URL=%s\n", grpcAddr, v5URL)
	fmt.Fprintln(w, "  kentik --plaintext interfaces list")
	fmt.Fprintf(w, "  grpcurl -plaintext %s list\n", grpcAddr)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Stop with Ctrl-C.")
}
