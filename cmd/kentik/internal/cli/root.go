// Package cli implements the kentik command. Each command group lives in a file of its
// own; newRoot wires them together.
package cli

import (
	"context"
	"crypto/tls"
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
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/ratelimit/redislimit"
)

// Exit codes of the kentik command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Globals holds the global settings after the flags, the environment and the profile
// were merged (see resolve), plus the streams the command writes to. Commands read it
// in RunE (never at construction time).
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
	Profile      string // the profile used ("" for none)
	TokenFile    string
	CAFile       string
	Limiter      string

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	LimiterFallback bool

	getenv       func(string) string
	redisFactory ratelimit.Factory // the limiters of --limiter, made once per command
	exits        []func()          // run when the command has ended
	configFile   string            // the config file the profile came from
	sources      map[string]string // where each setting came from (see source)
	tlsConfig    *tls.Config       // trusts --ca-file's CAs besides the system's; nil: the default
	notifier     *notifier         // notes long waits on stderr (see notices)
	isTerminal   func(any) bool    // decides whether a stream is a terminal; nil: the real one (tests)
	started      bool              // PersistentPreRunE was reached: arguments and flags were accepted
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
	g.Stderr = newConsole(g.Stderr) // one lock for every writer of stderr
	stdin, stdout, stderr := g.Stdin, g.Stdout, g.Stderr
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	for i := len(g.exits) - 1; i >= 0; i-- {
		g.exits[i]()
	}
	if err == nil {
		return ExitOK
	}
	if !g.started && strings.HasPrefix(err.Error(), "unknown command ") {
		if ferr := unknownFlagError(root, args); ferr != nil {
			err = ferr
		}
	}
	// Library errors already name Kentik ("kentik: ..."); say it once.
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
	var batchSize *classify.BatchSizeMismatchError
	plaintext := g.plaintextHint(err)
	switch code := kentik.CodeOf(err); {
	case errors.Is(err, kentik.ErrMissingCredentials):
		hints = append(hints, "run kentik auth login once, or give --email and --token-file (or set KENTIK_EMAIL and KENTIK_API_TOKEN)")
	case kentik.IsUnauthenticated(err):
		hints = append(hints, fmt.Sprintf("check the email (from %s) and the token (from %s), and the region (now %s, from %s): Kentik refuses a token of the other region; kentik auth status shows them all",
			g.source("email"), g.source("token"), g.Region, g.sourceOr("region", "the default")))
	case unknownAuthority(err):
		hints = append(hints, "the server's certificate is signed by an authority this machine does not trust: if a proxy intercepts TLS, give its CA certificate with --ca-file or KENTIK_CA_FILE")
	case errors.Is(err, ratelimit.ErrLimited) && code == codes.DeadlineExceeded:
		hints = append(hints, fmt.Sprintf("no call slot of the rate-limit policy came before --timeout (now %s): allow a longer --timeout, or make fewer calls", g.Timeout))
	case code == codes.DeadlineExceeded:
		hints = append(hints, fmt.Sprintf("the call took longer than --timeout (now %s)", g.Timeout))
	case kentik.IsRateLimited(err):
		hints = append(hints, "Kentik's rate limit was exceeded: if other jobs use this account, choose a stricter --rate-limit or share one limiter with --limiter")
	case errors.As(err, new(*classify.PlanError)):
		hints = append(hints, "fix the rows, or add --skip-invalid to send the good rows (the bad ones go to --reject-file)")
	case errors.Is(err, classify.ErrJournalInUse):
		hints = append(hints, "another running job holds the --journal: wait for it, or give this job a --journal of its own")
	case errors.As(err, &batchSize):
		hints = append(hints, fmt.Sprintf("rerun with --batch-size %d, the size the --journal was written with, or give a new --journal", batchSize.JournalBatchSize))
	case errors.Is(err, classify.ErrJournalMismatch):
		hints = append(hints, "run the plan the --journal was written for, or give a new --journal")
	case errors.Is(err, redislimit.ErrUnavailable):
		hints = append(hints, fmt.Sprintf("the Redis of the shared limiter (%s, from %s) could not be reached: check that it runs and is reachable, or add --limiter-fallback to go on with this process's own limiter", redislimit.RedactURL(g.Limiter), g.source("limiter")))
	case code == codes.Unavailable && plaintext == "":
		hints = append(hints, "check the network, --region and --grpc-endpoint (or --api-url for V5 commands)")
	}
	if plaintext != "" {
		hints = append(hints, plaintext)
	}
	if errors.Is(err, kentik.ErrPlaintextNotLoopback) {
		hints = append(hints, fmt.Sprintf("plaintext was asked for by %s, and the endpoint %s by %s", g.source("plaintext"), g.endpoint(), g.sourceOr("grpc-endpoint", "region "+g.Region)))
	}
	return hints
}

// plaintextHint explains the most likely cause of an UNAVAILABLE call to a loopback
// endpoint without --plaintext: a local fake, which speaks plaintext gRPC only.
func (g *Globals) plaintextHint(err error) string {
	var ce *client.Error
	if g.Plaintext || g.GRPCEndpoint == "" || !errors.As(err, &ce) || ce.Code != codes.Unavailable || unknownAuthority(err) {
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
			if cmd.Annotations[annotationSettings] == settingsNone || isCompletion(cmd) {
				return g.resolveOutput(cmd)
			}
			return g.resolve(cmd)
		},
	}
	// --version prints what `kentik version` prints.
	v := currentVersion()
	root.Version = v.Version
	root.SetVersionTemplate(v.String())
	root.SetFlagErrorFunc(flagError)
	f := root.PersistentFlags()
	f.StringVar(&g.Email, "email", "", "Kentik user email (env KENTIK_EMAIL, then KTAPI_AUTH_EMAIL)")
	f.StringVar(&g.Token, "token", "", "Kentik API token; other users of the machine can read it in the process list: prefer --token-file, KENTIK_API_TOKEN or a profile (env KENTIK_API_TOKEN, then KTAPI_AUTH_TOKEN)")
	f.StringVar(&g.TokenFile, "token-file", "", "file holding the Kentik API token on its first line, private to you (mode 0600) (env KENTIK_API_TOKEN_FILE)")
	f.StringVar(&g.Profile, "profile", "", "profile of the config file to use (env KENTIK_PROFILE; default: the profile named default, if any); flags and environment variables override it")
	f.StringVar(&g.CAFile, "ca-file", "", "PEM file of CA certificates to trust besides the system's, e.g. a TLS-intercepting proxy's (env KENTIK_CA_FILE)")
	f.StringVar(&g.Region, "region", "", "Kentik region, us or eu (env KENTIK_REGION; default us)")
	f.StringVar(&g.GRPCEndpoint, "grpc-endpoint", "", "gRPC endpoint HOST:PORT, overriding the region's (env KENTIK_GRPC_ENDPOINT)")
	f.StringVar(&g.APIURL, "api-url", "", "V5 REST base URL, overriding the region's (env KENTIK_API_URL)")
	f.BoolVar(&g.Plaintext, "plaintext", false, "connect without TLS; accepted only for loopback endpoints (e.g. kentik fake)")
	f.StringVar(&g.RateLimit, "rate-limit", "", "rate-limit policy: off, admin, query or e.g. concurrency=1,60/1m,3750/1h (env KENTIK_RATE_LIMIT; default admin)")
	f.StringVarP(&g.Output, "output", "o", "table", "output format: table or json; csv for list commands, plan for interfaces list")
	f.BoolVarP(&g.Verbose, "verbose", "v", false, "debug logs on stderr (the token is never logged)")
	f.DurationVar(&g.Timeout, "timeout", 30*time.Second, "timeout of each call")
	f.StringVar(&g.Limiter, "limiter", "", "share the account's rate limits with its other processes through Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or rediss:// (env KENTIK_LIMITER)")
	f.BoolVar(&g.LimiterFallback, "limiter-fallback", false, "when the --limiter Redis cannot be reached, go on with this process's own limiter (logged) instead of failing")
	root.MarkFlagsMutuallyExclusive("token", "token-file")
	root.AddCommand(newInterfacesCmd(g), newTenantsCmd(g), newFakeCmd(g), newDemoCmd(g), newVersionCmd(g), newAuthCmd(g))
	root.AddCommand(newAPICmd(g))
	g.registerCompletions(root)
	return root
}

// annotationSettings, in a command's Annotations, set to settingsNone, makes
// PersistentPreRunE skip the credentials, endpoints and policy: the command needs none
// of them, and must work whatever the environment holds.
const (
	annotationSettings = "kentik.settings"
	settingsNone       = "none"
)

// resolveOutput checks --output and sets up the logger: what every command needs.
func (g *Globals) resolveOutput(cmd *cobra.Command) error {
	if err := checkOutput(cmd, g.Output); err != nil {
		return err
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
