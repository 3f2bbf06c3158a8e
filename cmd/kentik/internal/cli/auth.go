package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func newAuthCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Save credentials in a profile, and show which ones the command uses",
		Long: `Profiles keep the settings of one Kentik account in the config file (KENTIK_CONFIG, or
kentik/config.json in your config directory: ~/.config/kentik/config.json on Linux), so
that no token needs to be on the command line or in the environment.

A profile is used when --profile or KENTIK_PROFILE names it, or, when neither does, if
it is called "default". Flags override the environment, which overrides the profile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAuthLoginCmd(g), newAuthStatusCmd(g))
	return cmd
}

type loginFlags struct {
	noCheck bool
}

func newAuthLoginCmd(g *Globals) *cobra.Command {
	var o loginFlags
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save an email and API token (and where to connect) as a profile",
		Long: `Save a profile (--profile, KENTIK_PROFILE, or "default") in the config file: the email
(--email, or asked for), the API token (asked for without echo on a terminal, read from
the first line of stdin otherwise, or --token-file to keep only the file's path), and the
region, endpoints, rate limit, CA file and plaintext given as flags. The token and the
other settings of the environment are not saved: only what the flags and answers give.

Before saving, one GetInterface call (for an id no interface has, 0) checks that Kentik
accepts the credentials; --no-check skips it. The config file is written with mode 0600,
and a config file that others can read is refused.`,
		Example: `  kentik auth login --email you@example.com --region eu
  kentik auth login --profile lab --email demo@kentik.local --grpc-endpoint 127.0.0.1:9090 --api-url http://127.0.0.1:8080/api/v5 --plaintext --rate-limit off
  kentik auth login --email ci@example.com --token-file /run/secrets/kentik-token
  printf '%s\n' "$TOKEN" | kentik auth login --email you@example.com`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotationSettings: settingsNone},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuthLogin(cmd, g, o)
		},
	}
	cmd.Flags().BoolVar(&o.noCheck, "no-check", false, "save without checking the credentials with Kentik")
	return cmd
}

// runAuthLogin builds the profile from the flags and the answers, checks it, and saves it.
func runAuthLogin(cmd *cobra.Command, g *Globals, o loginFlags) error {
	ctx := cmd.Context()
	name, from := strings.TrimSpace(g.Profile), "--profile"
	if !cmd.Flags().Changed("profile") {
		name, from = strings.TrimSpace(g.getenv(envProfile)), envProfile
	}
	if name == "" {
		name = defaultProfileName
	}
	if err := checkProfileName(name); err != nil {
		return &UsageError{Err: fmt.Errorf("%s: %w", from, err)}
	}
	path, err := g.configPath()
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cfg = &config{Profiles: map[string]profile{}}
	case err != nil:
		return err
	}

	flag := func(name string) string {
		if !cmd.Flags().Changed(name) {
			return ""
		}
		return strings.TrimSpace(cmd.Flags().Lookup(name).Value.String())
	}
	p := profile{
		Email: flag("email"), Region: flag("region"), GRPCEndpoint: flag("grpc-endpoint"), APIURL: flag("api-url"),
		RateLimit: flag("rate-limit"), Plaintext: g.Plaintext,
	}
	if ca := flag("ca-file"); ca != "" {
		if p.CAFile, err = filepath.Abs(ca); err != nil {
			return err
		}
	}
	if p.Email == "" {
		if !g.interactive() {
			return usagef("--email is required without a terminal")
		}
		fmt.Fprint(g.Stderr, "Kentik email: ")
		if p.Email, err = readLine(ctx, g.Stdin); err != nil {
			return err
		}
		p.Email = strings.TrimSpace(p.Email)
	}
	token := flag("token")
	switch tf := flag("token-file"); {
	case tf != "":
		if p.TokenFile, err = filepath.Abs(tf); err != nil {
			return err
		}
	case token != "":
		p.Token = token
	default:
		if p.Token, err = g.askToken(ctx); err != nil {
			return err
		}
	}

	// Check the profile as every command will read it, alone.
	l, err := profileToLayer(name, path, p)
	if err != nil {
		return err
	}
	if tok := l.settings.Credentials.Token; tok == "" && l.tokenFile != "" {
		if l.settings.Credentials.Token, err = readTokenFile(l.tokenFile); err != nil {
			return &UsageError{Err: fmt.Errorf("--token-file: %w", err)}
		}
	}
	if err := l.settings.Credentials.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	g.applyLayer(l, name)
	if err := g.check(cmd); err != nil {
		return err
	}
	if g.Plaintext && !kentik.IsLoopback(g.endpoint()) {
		return &UsageError{Err: fmt.Errorf("%w (endpoint %q)", kentik.ErrPlaintextNotLoopback, g.endpoint())}
	}
	if !o.noCheck {
		if err := g.checkCredentials(ctx); err != nil {
			return fmt.Errorf("%w (profile %s not saved; --no-check saves it unchecked)", err, name)
		}
		fmt.Fprintf(g.Stderr, "Kentik accepted the credentials of %s at %s\n", p.Email, g.endpoint())
	}
	cfg.Profiles[name] = p
	if err := saveConfig(path, cfg); err != nil {
		return fmt.Errorf("saving profile %s: %w", name, err)
	}
	fmt.Fprintf(g.Stdout, "saved profile %s in %s (mode 0600)\n", name, path)
	if name != defaultProfileName {
		fmt.Fprintf(g.Stdout, "use it with --profile %s or KENTIK_PROFILE=%s\n", name, name)
	}
	return nil
}

// askToken reads the API token: without echo on a terminal, else the first line of
// stdin (a pipe from a secret store).
func (g *Globals) askToken(ctx context.Context) (string, error) {
	var tok string
	var err error
	if f, ok := g.Stdin.(*os.File); ok && g.interactive() {
		fmt.Fprint(g.Stderr, "Kentik API token (not shown): ")
		tok, err = readSecret(ctx, f)
		fmt.Fprintln(g.Stderr)
	} else {
		tok, err = readLine(ctx, g.Stdin)
	}
	if err != nil {
		return "", fmt.Errorf("reading the API token: %w", err)
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", usagef("no API token given (type it at the prompt, pipe it on stdin, or give --token-file)")
	}
	return tok, nil
}

// applyLayer makes one layer's settings the command's, as resolve would with it alone.
func (g *Globals) applyLayer(l layer, profileName string) {
	s := l.settings
	g.Profile = profileName
	g.Email, g.Token, g.Region, g.GRPCEndpoint, g.APIURL = s.Credentials.Email, s.Credentials.Token, s.Region, s.GRPCEndpoint, s.V5BaseURL
	g.RateLimit, g.CAFile, g.Limiter, g.Plaintext = l.rateLimit.value, l.caFile.value, l.limiter.value, l.plaintext
}

// endpoint is the gRPC endpoint the command calls.
func (g *Globals) endpoint() string {
	if g.GRPCEndpoint != "" {
		return g.GRPCEndpoint
	}
	return kentik.Region(g.Region).GRPCEndpoint()
}

// apiURL is the V5 base URL the command calls.
func (g *Globals) apiURL() string {
	if g.APIURL != "" {
		return g.APIURL
	}
	return kentik.Region(g.Region).V5BaseURL()
}

// checkCredentials asks Kentik whether it accepts the credentials, with one
// GetInterface for id 0, which no interface has: NOT_FOUND (or INVALID_ARGUMENT)
// means they were accepted.
func (g *Globals) checkCredentials(ctx context.Context) error {
	return withInterfaces(ctx, g, func(ctx context.Context, ic ifacev1.InterfaceServiceClient) error {
		_, err := ic.GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "0"})
		switch kentik.CodeOf(err) {
		case codes.OK, codes.NotFound, codes.InvalidArgument:
			return nil
		}
		return err
	})
}

func newAuthStatusCmd(g *Globals) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the account, region and endpoints the command uses, and where each came from",
		Long: `Show the settings every other command would use, merged from the flags, the environment
and the profile, and where each came from. The token is never shown, only where it
came from. --check also asks Kentik whether it accepts the credentials (one
GetInterface call, for an id no interface has).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuthStatus(cmd.Context(), g, check)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "ask Kentik whether it accepts the credentials (one call)")
	return cmd
}

// statusSetting is one line of auth status.
type statusSetting struct {
	Value  string `json:"value"`
	Source string `json:"source"`
}

// authStatus is what auth status -o json prints.
type authStatus struct {
	Profile     string                   `json:"profile,omitempty"`
	ConfigFile  string                   `json:"config_file"`
	Settings    map[string]statusSetting `json:"settings"`
	Checked     bool                     `json:"checked"`
	Accepted    bool                     `json:"accepted,omitempty"`
	CheckError  string                   `json:"check_error,omitempty"`
	settingKeys []string
}

func runAuthStatus(ctx context.Context, g *Globals, check bool) error {
	st := g.status()
	var checkErr error
	if check {
		st.Checked = true
		if checkErr = g.checkCredentials(ctx); checkErr != nil {
			st.CheckError = checkErr.Error()
		} else {
			st.Accepted = true
		}
	}
	if g.JSON() {
		if err := writeJSON(g.Stdout, st); err != nil {
			return err
		}
		return checkErr
	}
	profile := st.Profile
	if profile == "" {
		profile = "(none)"
	}
	tw := newTable(g.Stdout)
	writeRow(tw, []string{"profile", profile, ""})
	writeRow(tw, []string{"config file", st.ConfigFile, ""})
	for _, k := range st.settingKeys {
		s := st.Settings[k]
		from := ""
		if s.Source != "" {
			from = "(" + s.Source + ")"
		}
		writeRow(tw, []string{strings.ReplaceAll(k, "_", " "), s.Value, from})
	}
	if check && checkErr == nil {
		writeRow(tw, []string{"credentials", "accepted by " + g.endpoint(), ""})
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return checkErr
}

// status collects the resolved settings and their sources; the token only as set or not.
func (g *Globals) status() authStatus {
	path := g.configFile
	if path == "" {
		path, _ = g.configPath()
	}
	if _, err := os.Stat(path); err != nil {
		path += " (none)"
	}
	st := authStatus{Profile: g.Profile, ConfigFile: path, Settings: map[string]statusSetting{}}
	add := func(key, setting, value, def string) {
		st.Settings[key] = statusSetting{Value: value, Source: g.sourceOr(setting, def)}
		st.settingKeys = append(st.settingKeys, key)
	}
	token := "(none)"
	if g.Token != "" {
		token = "set (never shown)"
	}
	region := g.sourceOr("region", "the default")
	add("email", "email", orNone(g.Email), "")
	add("token", "token", token, "")
	add("region", "region", g.Region, "the default")
	add("grpc_endpoint", "grpc-endpoint", g.endpoint(), "region, "+region)
	add("api_url", "api-url", g.apiURL(), "region, "+region)
	add("plaintext", "plaintext", fmt.Sprint(g.Plaintext), "the default")
	add("rate_limit", "rate-limit", g.RateLimit, "the default")
	add("ca_file", "ca-file", orNone(g.CAFile), "")
	return st
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
