package enums

import (
	"errors"
	"strings"
	"testing"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func TestParseConnectivityType(t *testing.T) {
	for _, in := range []string{"transit", "TRANSIT", "Transit", "CONNECTIVITY_TYPE_TRANSIT", "connectivity_type_transit", "  transit  "} {
		got, err := ParseConnectivityType(in)
		if err != nil || got != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT {
			t.Errorf("ParseConnectivityType(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"paid-pni", "Paid PNI", "PAID_PNI"} {
		got, err := ParseConnectivityType(in)
		if err != nil || got != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI {
			t.Errorf("ParseConnectivityType(%q) = %v, %v", in, got, err)
		}
	}
	// "transıt" (dotless i) and "ſ" (long s) upper-case to TRANSIT and S with
	// strings.ToUpper: look-alikes are not names.
	for _, in := range []string{"", "  ", "transits", "CONNECTIVITY_TYPE_", "NETWORK_BOUNDARY_EXTERNAL", "15", "transıt", "tranſit", "ıx"} {
		_, err := ParseConnectivityType(in)
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrUnknownValue) {
			t.Errorf("ParseConnectivityType(%q) err = %v, want *ParseError", in, err)
			continue
		}
		if !strings.Contains(err.Error(), "transit") || !strings.Contains(err.Error(), "connectivity type") {
			t.Errorf("error %q should list the valid names", err)
		}
	}
}

func TestParseNetworkBoundaryAndIPFilter(t *testing.T) {
	for in, want := range map[string]ifacev1.NetworkBoundary{
		"external":              ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL,
		"INTERNAL":              ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL,
		"NETWORK_BOUNDARY_AUTO": ifacev1.NetworkBoundary_NETWORK_BOUNDARY_AUTO,
		"none":                  ifacev1.NetworkBoundary_NETWORK_BOUNDARY_NONE,
	} {
		if got, err := ParseNetworkBoundary(in); err != nil || got != want {
			t.Errorf("ParseNetworkBoundary(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]ifacev1.IpFilter{
		"public": ifacev1.IpFilter_IP_FILTER_PUBLIC, "Private": ifacev1.IpFilter_IP_FILTER_PRIVATE,
		"IP_FILTER_UNSET": ifacev1.IpFilter_IP_FILTER_UNSET,
	} {
		if got, err := ParseIPFilter(in); err != nil || got != want {
			t.Errorf("ParseIPFilter(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseNetworkBoundary("transit"); err == nil {
		t.Error("ParseNetworkBoundary(transit) should fail")
	}
	if _, err := ParseIPFilter("v4"); err == nil {
		t.Error("ParseIPFilter(v4) should fail")
	}
}

func TestNamesRoundTrip(t *testing.T) {
	for n := range ifacev1.ConnectivityType_name {
		v := ifacev1.ConnectivityType(n)
		got, err := ParseConnectivityType(ConnectivityTypeName(v))
		if err != nil || got != v {
			t.Errorf("round trip of %v: %v, %v", v, got, err)
		}
	}
	for n := range ifacev1.NetworkBoundary_name {
		v := ifacev1.NetworkBoundary(n)
		if got, err := ParseNetworkBoundary(NetworkBoundaryName(v)); err != nil || got != v {
			t.Errorf("round trip of %v: %v, %v", v, got, err)
		}
	}
	for n := range ifacev1.IpFilter_name {
		v := ifacev1.IpFilter(n)
		if got, err := ParseIPFilter(IPFilterName(v)); err != nil || got != v {
			t.Errorf("round trip of %v: %v, %v", v, got, err)
		}
	}
	if got := ConnectivityTypeName(99); got != "99" {
		t.Errorf("unknown value name = %q", got)
	}
	if len(ConnectivityTypeNames()) != len(ifacev1.ConnectivityType_name) {
		t.Error("ConnectivityTypeNames incomplete")
	}
	if NetworkBoundaryNames()[0] != "auto" || IPFilterNames()[0] != "private" {
		t.Error("names not sorted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"transit", "CONNECTIVITY_TYPE_TRANSIT", "paid-pni", "external", "IP_FILTER_PUBLIC", "", "\xff", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseConnectivityType(s); err == nil {
			if _, ok := ifacev1.ConnectivityType_name[int32(v)]; !ok {
				t.Fatalf("%q parsed to undefined value %d", s, v)
			}
			if again, err := ParseConnectivityType(ConnectivityTypeName(v)); err != nil || again != v {
				t.Fatalf("%q: name round trip failed", s)
			}
		} else if !errors.Is(err, ErrUnknownValue) || err.Error() == "" {
			t.Fatalf("%q: bad error %v", s, err)
		}
		if v, err := ParseNetworkBoundary(s); err == nil {
			if _, ok := ifacev1.NetworkBoundary_name[int32(v)]; !ok {
				t.Fatalf("%q parsed to undefined value %d", s, v)
			}
		}
		if v, err := ParseIPFilter(s); err == nil {
			if _, ok := ifacev1.IpFilter_name[int32(v)]; !ok {
				t.Fatalf("%q parsed to undefined value %d", s, v)
			}
		}
	})
}
