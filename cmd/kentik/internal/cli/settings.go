package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit/redislimit"
)

// layer is one source of settings: the flags, the environment or a profile. sources
// has the same shape as settings and holds, for each value set, where it came from
// ("--region", "KENTIK_REGION", "profile prod's region"), so that merging the sources
// with kentik.Settings.Or names the origin of each merged value by the very rule that
// merged it.
type layer struct {
	settings, sources kentik.Settings
	tokenFile         string // read for the token when this layer is the first to give one

	rateLimit, caFile, limiter source
	plaintext                  bool // a profile's; the flag is read apart
}

// source is a value and where it came from.
type source struct{ value, from string }

// firstOf returns the first source with a value.
func firstOf(ss ...source) source {
	for _, s := range ss {
		if s.value != "" {
			return s
		}
	}
	return source{}
}

// settingsOf builds a layer's settings and their sources; a source is recorded only
// for a value that is set, as Or reads them.
func settingsOf(email, token, region, endpoint, apiURL string, from func(setting string) string) (kentik.Settings, kentik.Settings) {
	src := func(v, setting string) string {
		if strings.TrimSpace(v) == "" {
			return ""
		}
		return from(setting)
	}
	return kentik.Settings{
			Credentials: kentik.Credentials{Email: email, Token: token},
			Region:      region, GRPCEndpoint: endpoint, V5BaseURL: apiURL,
		}, kentik.Settings{
			Credentials: kentik.Credentials{Email: src(email, "email"), Token: src(token, "token")},
			Region:      src(region, "region"), GRPCEndpoint: src(endpoint, "grpc-endpoint"), V5BaseURL: src(apiURL, "api-url"),
		}
}

// flagLayer is what the flags set. Blanks around a flag's value are dropped as they
// are around the environment's: " " is no token, and " eu " is eu.
func (g *Globals) flagLayer(cmd *cobra.Command) layer {
	val := func(flag string, p *string) string {
		if !cmd.Flags().Changed(flag) {
			return ""
		}
		*p = strings.TrimSpace(*p)
		return *p
	}
	var l layer
	l.settings, l.sources = settingsOf(val("email", &g.Email), val("token", &g.Token), val("region", &g.Region),
		val("grpc-endpoint", &g.GRPCEndpoint), val("api-url", &g.APIURL), func(s string) string { return "--" + s })
	if tf := val("token-file", &g.TokenFile); tf != "" {
		l.tokenFile, l.sources.Credentials.Token = tf, "--token-file"
	}
	l.rateLimit = source{val("rate-limit", &g.RateLimit), "--rate-limit"}
	l.caFile = source{val("ca-file", &g.CAFile), "--ca-file"}
	l.limiter = source{val("limiter", &g.Limiter), "--limiter"}
	return l
}

// envLayer is what the environment sets: kentik.FromEnv's variables, then the
// command's own. KENTIK_API_TOKEN_FILE comes after KENTIK_API_TOKEN and before
// Kentik's SDK name KTAPI_AUTH_TOKEN.
func (g *Globals) envLayer() layer {
	env, names := kentik.FromEnv(g.getenv)
	l := layer{settings: env}
	l.sources = kentik.Settings{
		Credentials: kentik.Credentials{Email: names.Email, Token: names.Token},
		Region:      names.Region, GRPCEndpoint: names.GRPCEndpoint, V5BaseURL: names.V5BaseURL,
	}
	get := func(name string) source { return source{strings.TrimSpace(g.getenv(name)), name} }
	if tf := get(envTokenFile); tf.value != "" && names.Token != kentik.EnvToken {
		l.settings.Credentials.Token, l.tokenFile, l.sources.Credentials.Token = "", tf.value, envTokenFile
	}
	l.rateLimit, l.caFile, l.limiter = get(envRateLimit), get(envCAFile), get(envLimiter)
	return l
}

// profileLayer is what the profile sets: the one --profile or KENTIK_PROFILE names
// (which must exist), else the profile "default" if the config file has one.
func (g *Globals) profileLayer(cmd *cobra.Command) (layer, error) {
	name, from := "", ""
	switch {
	case cmd.Flags().Changed("profile"):
		name, from = strings.TrimSpace(g.Profile), "--profile"
	case strings.TrimSpace(g.getenv(envProfile)) != "":
		name, from = strings.TrimSpace(g.getenv(envProfile)), envProfile
	}
	named := name != ""
	if !named {
		name = defaultProfileName
	}
	if err := checkProfileName(name); err != nil {
		return layer{}, &UsageError{Err: fmt.Errorf("%s: %w", from, err)}
	}
	path, err := g.configPath()
	if err != nil {
		if named {
			return layer{}, &UsageError{Err: fmt.Errorf("%s %s: %w", from, name, err)}
		}
		return layer{}, nil
	}
	cfg, err := loadConfig(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && named:
		return layer{}, usagef("%s %s: there is no config file %s (kentik auth login --profile %s writes one)", from, name, path, name)
	case errors.Is(err, fs.ErrNotExist):
		return layer{}, nil
	case err != nil:
		return layer{}, &UsageError{Err: fmt.Errorf("config file: %w", err)}
	}
	p, ok := cfg.Profiles[name]
	if !ok {
		if named {
			return layer{}, usagef("%s %s: %s has no such profile (it has: %s)", from, name, path, strings.Join(cfg.names(), ", "))
		}
		return layer{}, nil
	}
	g.Profile, g.configFile = name, path
	return profileToLayer(name, path, p)
}

// profileToLayer turns a profile into a layer, its paths resolved.
func profileToLayer(name, configPath string, p profile) (layer, error) {
	from := func(setting string) string {
		return "profile " + name + "'s " + strings.ReplaceAll(setting, "-", "_")
	}
	trim := strings.TrimSpace
	var l layer
	l.settings, l.sources = settingsOf(trim(p.Email), trim(p.Token), trim(p.Region), trim(p.GRPCEndpoint), trim(p.APIURL), from)
	var err error
	if l.tokenFile, err = profilePath(configPath, p.TokenFile); err != nil {
		return layer{}, &UsageError{Err: fmt.Errorf("%s: %w", from("token-file"), err)}
	}
	if l.tokenFile != "" {
		l.sources.Credentials.Token = from("token-file")
	}
	ca, err := profilePath(configPath, p.CAFile)
	if err != nil {
		return layer{}, &UsageError{Err: fmt.Errorf("%s: %w", from("ca-file"), err)}
	}
	l.rateLimit = source{trim(p.RateLimit), from("rate-limit")}
	l.caFile = source{ca, from("ca-file")}
	l.limiter = source{trim(p.Limiter), from("limiter")}
	l.plaintext = p.Plaintext
	return l, nil
}

// resolve merges the flags, the environment and the profile, in that order of
// precedence, and checks what can be checked without a network. The precedence is
// kentik.Settings.Or's (the rule both clients follow): the email and the token are
// taken field by field, the region and the two endpoints as one choice of where to
// connect. The other settings are taken one by one.
func (g *Globals) resolve(cmd *cobra.Command) error {
	prof, err := g.profileLayer(cmd)
	if err != nil {
		return err
	}
	layers := []layer{g.flagLayer(cmd), g.envLayer(), prof}
	// The first layer that gives a token gives it; a token file is read only then.
	for i := range layers {
		l := &layers[i]
		if l.settings.Credentials.Token != "" {
			break
		}
		if l.tokenFile != "" {
			tok, err := readTokenFile(l.tokenFile)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("%s: %w", l.sources.Credentials.Token, err)}
			}
			l.settings.Credentials.Token = tok
			break
		}
	}
	s, src := layers[0].settings, layers[0].sources
	var rateLimit, caFile, limiter []source
	for i, l := range layers {
		if i > 0 {
			s, src = s.Or(l.settings), src.Or(l.sources)
		}
		rateLimit, caFile, limiter = append(rateLimit, l.rateLimit), append(caFile, l.caFile), append(limiter, l.limiter)
	}
	switch {
	case cmd.Flags().Changed("plaintext"):
		g.setSource("plaintext", "--plaintext")
	case prof.plaintext:
		g.Plaintext = true
		g.setSource("plaintext", "profile "+g.Profile+"'s plaintext")
	}
	g.Email, g.Token, g.Region, g.GRPCEndpoint, g.APIURL = s.Credentials.Email, s.Credentials.Token, s.Region, s.GRPCEndpoint, s.V5BaseURL
	for setting, from := range map[string]string{
		"email": src.Credentials.Email, "token": src.Credentials.Token, "region": src.Region,
		"grpc-endpoint": src.GRPCEndpoint, "api-url": src.V5BaseURL,
	} {
		g.setSource(setting, from)
	}
	rl, ca, lim := firstOf(rateLimit...), firstOf(caFile...), firstOf(limiter...)
	g.RateLimit, g.CAFile, g.Limiter = rl.value, ca.value, lim.value
	g.setSource("rate-limit", rl.from)
	g.setSource("ca-file", ca.from)
	g.setSource("limiter", lim.from)
	return g.check(cmd)
}

// setSource records where a setting came from ("" for nowhere: the default).
func (g *Globals) setSource(setting, from string) {
	if g.sources == nil {
		g.sources = map[string]string{}
	}
	if from != "" {
		g.sources[setting] = from
	}
}

// source names where a setting's value came from, for messages: "--region",
// "KENTIK_REGION", "profile prod's region"; the flag when it came from nowhere.
func (g *Globals) source(setting string) string {
	if s := g.sources[setting]; s != "" {
		return s
	}
	return "--" + setting
}

// sourceOr is source, or def when the setting came from nowhere.
func (g *Globals) sourceOr(setting, def string) string {
	if s := g.sources[setting]; s != "" {
		return s
	}
	return def
}

// check checks the merged settings: what can be checked without a network.
func (g *Globals) check(cmd *cobra.Command) error {
	for _, setting := range []string{"email", "token"} {
		val := map[string]string{"email": g.Email, "token": g.Token}[setting]
		if !kentik.HeaderSafe(val) {
			// gRPC metadata and HTTP headers carry printable ASCII only; the token's
			// value is not echoed.
			return usagef("%s holds a control or non-ASCII character, which cannot be sent in a request header", g.source(setting))
		}
	}
	if g.GRPCEndpoint != "" {
		if err := checkEndpoint(g.GRPCEndpoint); err != nil {
			return &UsageError{Err: fmt.Errorf("%s %q: %w", g.source("grpc-endpoint"), g.GRPCEndpoint, err)}
		}
	}
	region, err := kentik.ParseRegion(g.Region)
	if err != nil {
		return usagef("%s %q: want us or eu", g.source("region"), g.Region)
	}
	g.Region = region.String()
	if err := g.resolveOutput(cmd); err != nil {
		return err
	}
	if g.RateLimit == "" {
		g.RateLimit = "admin"
	}
	if _, err := parsePolicy(g.source("rate-limit"), g.RateLimit); err != nil {
		return err
	}
	if g.Limiter != "" {
		// A bad URL is a usage error now, before any call (the Redis is reached only
		// when a command makes its first client, which limiterFactory makes again).
		rdb, err := redislimit.Client(g.Limiter, nil)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("%s: %w", g.source("limiter"), err)}
		}
		_ = rdb.Close()
	}
	if g.CAFile != "" {
		if g.tlsConfig, err = loadCAFile(g.CAFile); err != nil {
			return &UsageError{Err: fmt.Errorf("%s %s: %w", g.source("ca-file"), g.CAFile, err)}
		}
	}
	if g.Timeout <= 0 {
		return usagef("--timeout %s: want a positive duration", g.Timeout)
	}
	return nil
}
