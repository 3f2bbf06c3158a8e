// Package cli implements the kentik command. Each command group lives in a file of its
// own; newRoot wires them together.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/ratelimit"
)

// Exit codes of the kentik command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Globals holds the global flags after flags and the environment were merged, plus the
// streams the command writes to. Commands read it in RunE (never at construction time).
type Globals struct {
	Email        string
	Token        string
	Region       string
	GRPCEndpoint string
	APIURL       string
	Plaintext    bool
	RateLimit    string
	Output       string
	Verbose      bool
	Timeout      time.Duration

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	getenv     func(string) string
	isTerminal func(any) bool // decides whether a stream is a terminal; nil: the real one (tests)
	started    bool           // PersistentPreRunE was reached: arguments and flags were accepted
}

// UsageError marks an error in how the command was called (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string {
	if e.Err == nil {
		return "usage error"
	}
	return e.Err.Error()
}
func (e *UsageError) Unwrap() error { return e.Err }

// usagef returns a *UsageError with a formatted message.
func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Main runs the kentik command with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, stdin, stdout, stderr, os.Getenv)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return (&Globals{Stdin: stdin, Stdout: stdout, Stderr: stderr, getenv: getenv}).execute(ctx, args)
}

// execute runs the command with args on g's streams and returns the exit code.
func (g *Globals) execute(ctx context.Context, args []string) int {
	stdin, stdout, stderr := g.Stdin, g.Stdout, g.Stderr
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if !g.started && strings.HasPrefix(err.Error(), "unknown command ") {
		if ferr := unknownFlagError(root, args); ferr != nil {
			err = ferr
		}
	}
	// Library errors already name Kentik ("kentik: ...", "kentik rate limit ..."); say it once.
	if msg := err.Error(); strings.HasPrefix(msg, "kentik") {
		fmt.Fprintln(stderr, msg)
	} else {
		fmt.Fprintln(stderr, "kentik:", msg)
	}
	for _, hint := range g.flagHints(err) {
		fmt.Fprintln(stderr, "kentik:", hint)
	}
	if !g.started {
		// Cobra rejects unknown commands, bad flags and wrong argument counts before
		// PersistentPreRunE runs; it does not type those errors, but that order tells them
		// apart from what a command returns. Its messages do not say where to look.
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ExitUsage
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

// flagHints says which flags to look at for err. The libraries' errors speak of options
// and environment variables; a user of the command sets flags.
func (g *Globals) flagHints(err error) []string {
	var hints []string
	switch code := kentik.CodeOf(err); {
	case errors.Is(err, kentik.ErrMissingCredentials):
		hints = append(hints, "give --email and --token, or set KENTIK_EMAIL and KENTIK_API_TOKEN")
	case kentik.IsUnauthenticated(err):
		hints = append(hints, fmt.Sprintf("check --email and --token (or KENTIK_EMAIL and KENTIK_API_TOKEN) and --region (now %s): Kentik refuses a token of the other region", g.Region))
	case errors.Is(err, ratelimit.ErrLimited) && code == codes.DeadlineExceeded:
		hints = append(hints, fmt.Sprintf("no call slot of the rate-limit policy came before --timeout (now %s): allow a longer --timeout, or make fewer calls", g.Timeout))
	case code == codes.DeadlineExceeded:
		hints = append(hints, fmt.Sprintf("the call took longer than --timeout (now %s)", g.Timeout))
	case kentik.IsRateLimited(err):
		hints = append(hints, "Kentik's rate limit was exceeded: if other jobs use this account, choose a stricter --rate-limit or share one limiter with --limiter")
	case code == codes.Unavailable && g.plaintextHint(err) == "":
		hints = append(hints, "check the network, --region and --grpc-endpoint (or --api-url for V5 commands)")
	}
	if h := g.plaintextHint(err); h != "" {
		hints = append(hints, h)
	}
	return hints
}

// plaintextHint explains the most likely cause of an UNAVAILABLE call to a loopback
// endpoint without --plaintext: a local fake, which speaks plaintext gRPC only.
func (g *Globals) plaintextHint(err error) string {
	var ce *client.Error
	if g.Plaintext || g.GRPCEndpoint == "" || !errors.As(err, &ce) || ce.Code != codes.Unavailable {
		return ""
	}
	if !kentik.IsLoopback(g.GRPCEndpoint) {
		return ""
	}
	return fmt.Sprintf("%s is a loopback endpoint: if it is a local fake (kentik fake), add --plaintext, since the fake does not speak TLS", g.GRPCEndpoint)
}

func newRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "kentik",
		Short:         "A command-line client for Kentik's v6 gRPC and V5 REST APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Cobra checks required flags and flag groups only after this hook; check them
			// here so that they count as usage errors like the rest.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return &UsageError{Err: err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return &UsageError{Err: err}
			}
			g.started = true
			if cmd.Annotations[annotationSettings] == settingsNone {
				return g.resolveOutput(cmd)
			}
			return g.resolve(cmd)
		},
	}
	// --version prints what `kentik version` prints.
	root.Version = currentVersion().Version
	root.SetVersionTemplate(currentVersion().String())
	root.SetFlagErrorFunc(flagError)
	f := root.PersistentFlags()
	f.StringVar(&g.Email, "email", "", "Kentik user email (env KENTIK_EMAIL, then KTAPI_AUTH_EMAIL)")
	f.StringVar(&g.Token, "token", "", "Kentik API token (env KENTIK_API_TOKEN, then KTAPI_AUTH_TOKEN)")
	f.StringVar(&g.Region, "region", "", "Kentik region, us or eu (env KENTIK_REGION; default us)")
	f.StringVar(&g.GRPCEndpoint, "grpc-endpoint", "", "gRPC endpoint HOST:PORT, overriding the region's (env KENTIK_GRPC_ENDPOINT)")
	f.StringVar(&g.APIURL, "api-url", "", "V5 REST base URL, overriding the region's (env KENTIK_API_URL)")
	f.BoolVar(&g.Plaintext, "plaintext", false, "connect without TLS; accepted only for loopback endpoints")
	f.StringVar(&g.RateLimit, "rate-limit", "", "rate-limit policy: off, admin, query or e.g. concurrency=1,60/1m,3750/1h (env KENTIK_RATE_LIMIT; default admin)")
	f.StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	f.BoolVarP(&g.Verbose, "verbose", "v", false, "debug logs on stderr (the token is never logged)")
	f.DurationVar(&g.Timeout, "timeout", 30*time.Second, "timeout of each call")
	root.AddCommand(newInterfacesCmd(g), newTenantsCmd(g), newFakeCmd(g), newDemoCmd(g), newVersionCmd(g))
	return root
}

// annotationSettings, in a command's Annotations, set to settingsNone, makes
// PersistentPreRunE skip the credentials, endpoints and policy: the command needs none
// of them, and must work whatever the environment holds.
const (
	annotationSettings = "kentik.settings"
	settingsNone       = "none"
)

// resolve merges flags with the environment and checks what can be checked without a
// network: the region, the output format and the rate-limit policy.
func (g *Globals) resolve(cmd *cobra.Command) error {
	// The flags are the program's settings; the environment fills what they leave
	// unset, with the precedence kentik.Settings documents for both clients.
	changed := func(flag string, val *string) string {
		if !cmd.Flags().Changed(flag) {
			return ""
		}
		// Blanks around a flag's value are dropped as they are around the
		// environment's: " " is no token, and " eu " is eu.
		*val = strings.TrimSpace(*val)
		return *val
	}
	flags := kentik.Settings{
		Credentials:  kentik.Credentials{Email: changed("email", &g.Email), Token: changed("token", &g.Token)},
		Region:       changed("region", &g.Region),
		GRPCEndpoint: changed("grpc-endpoint", &g.GRPCEndpoint),
		V5BaseURL:    changed("api-url", &g.APIURL),
	}
	env, envSrc := kentik.FromEnv(g.getenv)
	s := flags.Or(env)
	g.Email, g.Token, g.Region, g.GRPCEndpoint, g.APIURL = s.Credentials.Email, s.Credentials.Token, s.Region, s.GRPCEndpoint, s.V5BaseURL
	// source names where a value came from, for error messages: "--region" or
	// "KENTIK_REGION".
	fromEnv := map[string]string{"email": envSrc.Email, "token": envSrc.Token}
	if !flags.HasLocation() {
		fromEnv["region"], fromEnv["grpc-endpoint"], fromEnv["api-url"] = envSrc.Region, envSrc.GRPCEndpoint, envSrc.V5BaseURL
	}
	source := func(flag string) string {
		if e := fromEnv[flag]; e != "" && !cmd.Flags().Changed(flag) {
			return e
		}
		return "--" + flag
	}
	if !cmd.Flags().Changed("rate-limit") {
		g.RateLimit = strings.TrimSpace(g.getenv("KENTIK_RATE_LIMIT"))
		fromEnv["rate-limit"] = "KENTIK_RATE_LIMIT"
	} else {
		g.RateLimit = strings.TrimSpace(g.RateLimit)
	}

	for _, c := range []struct{ flag, val string }{{"email", g.Email}, {"token", g.Token}} {
		if !kentik.HeaderSafe(c.val) {
			// gRPC metadata and HTTP headers carry printable ASCII only; the token's
			// value is not echoed.
			return usagef("%s holds a control or non-ASCII character, which cannot be sent in a request header", source(c.flag))
		}
	}
	if g.GRPCEndpoint != "" {
		if err := checkEndpoint(g.GRPCEndpoint); err != nil {
			return &UsageError{Err: fmt.Errorf("%s %q: %w", source("grpc-endpoint"), g.GRPCEndpoint, err)}
		}
	}
	region, err := kentik.ParseRegion(g.Region)
	if err != nil {
		return usagef("%s %q: want us or eu", source("region"), g.Region)
	}
	g.Region = region.String()
	if err := g.resolveOutput(cmd); err != nil {
		return err
	}
	if g.RateLimit == "" {
		g.RateLimit = "admin"
	}
	if _, err := parsePolicy(source("rate-limit"), g.RateLimit); err != nil {
		return err
	}
	if g.Timeout <= 0 {
		return usagef("--timeout %s: want a positive duration", g.Timeout)
	}
	return nil
}

// resolveOutput checks --output and sets up the logger: what every command needs.
func (g *Globals) resolveOutput(*cobra.Command) error {
	if g.Output != "table" && g.Output != "json" {
		return usagef("--output %q: want table or json", g.Output)
	}
	level := slog.LevelWarn
	if g.Verbose {
		level = slog.LevelDebug
	}
	g.Logger = slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// checkEndpoint checks a --grpc-endpoint of the form HOST or HOST:PORT ([IPv6]:PORT), so
// that a typo is a usage error at once rather than UNAVAILABLE after the client's
// retries. Other gRPC targets (dns:///HOST:PORT, unix:///PATH) are left to gRPC.
func checkEndpoint(endpoint string) error {
	if strings.Contains(endpoint, "/") {
		return nil
	}
	if strings.ContainsFunc(endpoint, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("want HOST:PORT without blanks or control characters")
	}
	if !strings.Contains(endpoint, ":") || strings.HasPrefix(endpoint, "[") && strings.HasSuffix(endpoint, "]") {
		return nil // a host alone: gRPC's default port, 443
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("want HOST:PORT or [IPv6]:PORT: %w", err)
	}
	if host == "" {
		return errors.New("want HOST:PORT: the host is missing")
	}
	return checkPort(port, 1)
}

// checkPort checks a decimal port number from min to 65535.
func checkPort(port string, min int) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < min || n > 65535 || port[0] == '+' {
		return fmt.Errorf("port %q: want a number from %d to 65535", port, min)
	}
	return nil
}

// Credentials returns the resolved email and token.
func (g *Globals) Credentials() kentik.Credentials {
	return kentik.Credentials{Email: g.Email, Token: g.Token}
}

// Policy returns the resolved rate-limit policy (already validated by resolve).
func (g *Globals) Policy() ratelimit.Policy {
	p, err := ratelimit.Parse(g.RateLimit)
	if err != nil {
		return ratelimit.Admin
	}
	return p
}

// JSON reports whether -o json was asked for.
func (g *Globals) JSON() bool { return g.Output == "json" }
