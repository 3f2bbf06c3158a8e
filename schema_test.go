package kentik

import (
	"errors"
	"testing"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

var _ = ifacev1.File_kentik_interface_v202108alpha1_interface_proto // registers InterfaceService

func TestLookupMethod(t *testing.T) {
	const svc = "/kentik.interface.v202108alpha1.InterfaceService/"
	for name, want := range map[string]struct {
		verb       string
		idempotent bool
	}{
		"ListInterface":   {"GET", true},
		"GetInterface":    {"GET", true},
		"CreateInterface": {"POST", false},
		"UpdateInterface": {"PUT", true},
		"DeleteInterface": {"DELETE", true},
		"ManualClassify":  {"POST", true}, // idempotent by meaning
	} {
		m, err := LookupMethod(svc + name)
		if err != nil {
			t.Fatal(err)
		}
		if m.HTTPMethod != want.verb || m.Idempotent != want.idempotent || IdempotentMethod(svc+name) != want.idempotent || m.Host != DefaultHost {
			t.Errorf("%s: %+v", name, m)
		}
	}
	for _, bad := range []string{"", "/", "GetInterface", "/x.Y/Z", "/kentik.nope.v1.S/M", svc + "Nope", "/kentik.interface.v202108alpha1.InterfaceService", svc + "A/B",
		"/kentik.interface.v202108alpha1.ConnectivityType/X"} {
		if _, err := LookupMethod(bad); !errors.Is(err, ErrUnknownMethod) {
			t.Errorf("LookupMethod(%q): %v", bad, err)
		}
		if IdempotentMethod(bad) {
			t.Errorf("IdempotentMethod(%q) for an unknown method", bad)
		}
	}
}

func TestRegionHost(t *testing.T) {
	for _, tc := range []struct {
		r          Region
		host, want string
	}{
		{US, "grpc.api.kentik.com", "grpc.api.kentik.com"},
		{EU, "grpc.api.kentik.com", "grpc.api.kentik.eu"},
		{EU, "mkp.api.kentik.com", "mkp.api.kentik.eu"},
		{EU, "cloud_export.api.kentik.com", "cloud_export.api.kentik.eu"},
		{EU, "example.com", "example.com"},
		{"", "mkp.api.kentik.com", "mkp.api.kentik.com"},
	} {
		if got := tc.r.Host(tc.host); got != tc.want {
			t.Errorf("%s.Host(%q) = %q", tc.r, tc.host, got)
		}
	}
}

func TestStability(t *testing.T) {
	for pkg, want := range map[string]string{
		"kentik.interface.v202108alpha1": "alpha", "kentik.cloud_export.v202101beta1": "beta",
		"kentik.user.v202211": "GA", "kentik.alerting.public.v202505": "GA", "kentik.x": "unknown",
		"kentik.asset_tags.v20260515beta1": "beta",
	} {
		if got := Stability(pkg); got != want {
			t.Errorf("Stability(%q) = %q, want %q", pkg, got, want)
		}
	}
}
