package kentik

import (
	"os"
	"strings"
)

// The environment variables both clients and the kentik command read. For each
// setting the first one set (after trimming blanks) wins; the KTAPI_ names are the ones
// Kentik's own SDKs read.
const (
	EnvEmail        = "KENTIK_EMAIL"
	EnvToken        = "KENTIK_API_TOKEN"
	EnvEmailSDK     = "KTAPI_AUTH_EMAIL"
	EnvTokenSDK     = "KTAPI_AUTH_TOKEN"
	EnvRegion       = "KENTIK_REGION"
	EnvGRPCEndpoint = "KENTIK_GRPC_ENDPOINT"
	EnvAPIURL       = "KENTIK_API_URL"
)

// Settings are who calls Kentik and where: what both clients need before they can
// connect. An empty field is unset.
//
// Precedence, the same for both clients and the kentik command: what the program
// gives (options, or the command's flags), else the environment (FromEnv), else the
// defaults (US, and the region's endpoints). The email and the token are taken field by
// field. The region and the two endpoints are one choice of where to connect: a layer
// that sets any of them sets all three (those it leaves empty take the region's
// defaults), so an explicit region is never overridden by an endpoint from the
// environment. Resolve applies it; Or combines layers.
type Settings struct {
	Credentials  Credentials
	Region       string // "us" or "eu", any case; see ParseRegion
	GRPCEndpoint string // HOST:PORT or a gRPC target, overriding the region's
	V5BaseURL    string // overriding the region's V5 base URL
}

// EnvSources names the variable each field of FromEnv's Settings came from ("" when
// none was set), for messages that must say where a bad value came from.
type EnvSources struct {
	Email, Token, Region, GRPCEndpoint, V5BaseURL string
}

// FromEnv reads the Settings from the environment through getenv (os.Getenv when nil):
// KENTIK_EMAIL then KTAPI_AUTH_EMAIL, KENTIK_API_TOKEN then KTAPI_AUTH_TOKEN,
// KENTIK_REGION, KENTIK_GRPC_ENDPOINT and KENTIK_API_URL. Values are trimmed.
func FromEnv(getenv func(string) string) (Settings, EnvSources) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var s Settings
	var src EnvSources
	s.Credentials.Email, src.Email = firstEnv(getenv, EnvEmail, EnvEmailSDK)
	s.Credentials.Token, src.Token = firstEnv(getenv, EnvToken, EnvTokenSDK)
	s.Region, src.Region = firstEnv(getenv, EnvRegion)
	s.GRPCEndpoint, src.GRPCEndpoint = firstEnv(getenv, EnvGRPCEndpoint)
	s.V5BaseURL, src.V5BaseURL = firstEnv(getenv, EnvAPIURL)
	return s, src
}

func firstEnv(getenv func(string) string, names ...string) (value, name string) {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// Or returns s with an empty email or token taken from fallback, and with fallback's
// region and endpoints when s sets none of them.
func (s Settings) Or(fallback Settings) Settings {
	if s.Credentials.Email == "" {
		s.Credentials.Email = fallback.Credentials.Email
	}
	if s.Credentials.Token == "" {
		s.Credentials.Token = fallback.Credentials.Token
	}
	if !s.HasLocation() {
		s.Region, s.GRPCEndpoint, s.V5BaseURL = fallback.Region, fallback.GRPCEndpoint, fallback.V5BaseURL
	}
	return s
}

// HasLocation reports whether s sets the region or an endpoint.
func (s Settings) HasLocation() bool {
	return strings.TrimSpace(s.Region) != "" || strings.TrimSpace(s.GRPCEndpoint) != "" || strings.TrimSpace(s.V5BaseURL) != ""
}

// Resolve applies the precedence: s, then the environment read through getenv
// (os.Getenv when nil), then the defaults. It checks the region and fills the
// endpoints the region implies; it does not check the credentials (see
// Credentials.Validate), since a caller may supply them another way.
func Resolve(s Settings, getenv func(string) string) (Settings, Region, error) {
	env, _ := FromEnv(getenv)
	s = s.Or(env)
	r, err := ParseRegion(s.Region)
	if err != nil {
		return s, "", err
	}
	s.Region = r.String()
	s.GRPCEndpoint = strings.TrimSpace(s.GRPCEndpoint)
	if s.GRPCEndpoint == "" {
		s.GRPCEndpoint = r.GRPCEndpoint()
	}
	s.V5BaseURL = strings.TrimSpace(s.V5BaseURL)
	if s.V5BaseURL == "" {
		s.V5BaseURL = r.V5BaseURL()
	}
	return s, r, nil
}
