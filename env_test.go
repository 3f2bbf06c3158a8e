package kentik

import (
	"errors"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolvePrecedence(t *testing.T) {
	env := envOf(map[string]string{
		EnvEmail: " env@example.com ", EnvTokenSDK: "sdk-token", EnvEmailSDK: "sdk@example.com",
		EnvRegion: "EU", EnvGRPCEndpoint: "127.0.0.1:9090",
	})
	s, r, err := Resolve(Settings{}, env)
	if err != nil || r != EU || s.Credentials.Email != "env@example.com" || s.Credentials.Token != "sdk-token" ||
		s.GRPCEndpoint != "127.0.0.1:9090" || s.V5BaseURL != EU.V5BaseURL() || s.Region != "eu" {
		t.Fatalf("from the environment: %+v %v %v", s, r, err)
	}
	// The program's values win, field by field for the credentials...
	s, _, _ = Resolve(Settings{Credentials: Credentials{Token: "mine"}}, env)
	if s.Credentials.Email != "env@example.com" || s.Credentials.Token != "mine" {
		t.Fatalf("credentials: %+v", s.Credentials)
	}
	// ...and as a whole for where to connect: an explicit region is not overridden by
	// an endpoint from the environment.
	s, r, _ = Resolve(Settings{Region: "us"}, env)
	if r != US || s.GRPCEndpoint != US.GRPCEndpoint() || s.V5BaseURL != US.V5BaseURL() {
		t.Fatalf("explicit region: %+v", s)
	}
	s, r, _ = Resolve(Settings{V5BaseURL: "http://127.0.0.1:8080"}, env)
	if r != US || s.GRPCEndpoint != US.GRPCEndpoint() || s.V5BaseURL != "http://127.0.0.1:8080" {
		t.Fatalf("explicit V5 URL: %+v", s)
	}
	s, r, _ = Resolve(Settings{}, envOf(nil))
	if r != US || s.GRPCEndpoint != "grpc.api.kentik.com:443" || s.V5BaseURL != "https://api.kentik.com/api/v5" || s.Credentials != (Credentials{}) {
		t.Fatalf("defaults: %+v", s)
	}
	if _, _, err := Resolve(Settings{}, envOf(map[string]string{EnvRegion: "apac"})); !errors.Is(err, ErrUnknownRegion) {
		t.Fatalf("bad region: %v", err)
	}
	_, src := FromEnv(env)
	if src.Email != EnvEmail || src.Token != EnvTokenSDK || src.Region != EnvRegion || src.V5BaseURL != "" {
		t.Fatalf("sources: %+v", src)
	}
}

func TestParseRegion(t *testing.T) {
	for in, want := range map[string]Region{"": US, "us": US, " US ": US, "eu": EU, "Eu": EU} {
		if r, err := ParseRegion(in); err != nil || r != want {
			t.Errorf("ParseRegion(%q) = %v, %v", in, r, err)
		}
	}
	for _, in := range []string{"apac", "e u", "usa"} {
		if _, err := ParseRegion(in); !errors.Is(err, ErrUnknownRegion) {
			t.Errorf("ParseRegion(%q): %v", in, err)
		}
	}
	if Region("").String() != "us" || EU.GRPCEndpoint() != "grpc.api.kentik.eu:443" || EU.V5BaseURL() != "https://api.kentik.eu/api/v5" {
		t.Error("region endpoints")
	}
}
