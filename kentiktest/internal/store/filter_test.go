package store

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func TestClassifyIP(t *testing.T) {
	for ip, want := range map[string]ipClass{
		"":                ipUnset,
		"  ":              ipUnset,
		"10.1.2.3":        ipPrivate,
		"172.16.0.1":      ipPrivate,
		"172.31.255.254":  ipPrivate,
		"192.168.1.1":     ipPrivate,
		"127.0.0.1":       ipPrivate,
		"169.254.10.1":    ipPrivate,
		"fd00::1":         ipPrivate,
		"fe80::1":         ipPrivate,
		"::1":             ipPrivate,
		"::ffff:10.0.0.1": ipPrivate,
		"10.0.0.1/30":     ipPrivate,
		"172.32.0.1":      ipPublic,
		"8.8.8.8":         ipPublic,
		"192.0.2.1":       ipPublic,
		"2001:db8::1":     ipPublic,
		"2001:db8::1/127": ipPublic,
		"224.0.0.5":       ipOther,
		"0.0.0.0":         ipOther,
		"ff02::1":         ipOther,
	} {
		got, err := classifyIP(ip)
		if err != nil || got != want {
			t.Errorf("classifyIP(%q) = %v, %v; want %v", ip, got, err, want)
		}
	}
	for _, bad := range []string{"10.0.0", "host.example", "1.2.3.4.5", "::g"} {
		if _, err := classifyIP(bad); err == nil {
			t.Errorf("classifyIP(%q): no error", bad)
		}
	}
}

func FuzzClassifyIP(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1", "2001:db8::1/64", "::ffff:1.2.3.4", "fe80::1%eth0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := classifyIP(s)
		if err != nil {
			return
		}
		if c == ipUnset && strings.TrimSpace(s) != "" {
			t.Fatalf("%q: unset but not empty", s)
		}
		if c == ipPrivate || c == ipPublic {
			a, aerr := netip.ParseAddr(strings.TrimSpace(s))
			if aerr != nil {
				p, perr := netip.ParsePrefix(strings.TrimSpace(s))
				if perr != nil {
					t.Fatalf("%q classified %v but does not parse", s, c)
				}
				a = p.Addr()
			}
			if c == ipPublic && (a.Unmap().IsPrivate() || !a.IsGlobalUnicast()) {
				t.Fatalf("%q classified public", s)
			}
		}
	})
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{
		{"TRANSIT: Cogent AS174", "cogent", true},
		{"TRANSIT: Cogent AS174", "TRANSIT: COGENT AS174", true},
		{"TRANSIT", "transits", false},
		{"abc", "", true},
		{"", "a", false},
		{"Straße Ü", "ü", true},
		{"k", "\u212a", true}, // KELVIN SIGN lowers to k
	} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}

func FuzzContainsFold(f *testing.F) {
	f.Add("TenGigE0/0/0/1", "gige")
	f.Add("Ü", "ü")
	f.Fuzz(func(t *testing.T, s, sub string) {
		if got, want := containsFold(s, sub), strings.Contains(strings.ToLower(s), strings.ToLower(sub)); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}

// filterStore holds a hand-made set of interfaces covering each filter field.
func filterStore(t *testing.T) *Store {
	t.Helper()
	s := New(nil)
	for _, in := range []*ifacev1.Interface{
		{DeviceId: "1", InterfaceDescription: "TenGigE0/0/0/1", SnmpAlias: "TRANSIT: Cogent", InterfaceIp: "192.0.2.1", SnmpSpeed: 10000, ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, Provider: "Cogent"},
		{DeviceId: "1", InterfaceDescription: "TenGigE0/0/0/2", SnmpAlias: "core link", InterfaceIp: "10.0.0.1", SnmpSpeed: 100000, ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_BACKBONE, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL},
		{DeviceId: "2", InterfaceDescription: "xe-0/0/1", SnmpAlias: "unused", SnmpSpeed: 10000},
		{DeviceId: "2", InterfaceDescription: "et-0/0/1", SnmpAlias: "PNI: Google", InterfaceIp: "2001:db8::1", SnmpSpeed: 100000, ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_FREE_PNI, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, Provider: "google"},
		{DeviceId: "3", InterfaceDescription: "Ethernet1/1", SnmpAlias: "mcast", InterfaceIp: "224.0.0.1", SnmpSpeed: 1000, NetworkBoundary: ifacev1.NetworkBoundary_NETWORK_BOUNDARY_AUTO},
	} {
		if _, err := s.Create(in); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestListFilters(t *testing.T) {
	s := filterStore(t)
	type F = ifacev1.InterfaceFilter
	// Results are given as positions (1-based) in filterStore's list.
	for name, c := range map[string]struct {
		f    *F
		want string
	}{
		"nil":                 {nil, "12345"},
		"empty":               {&F{}, "12345"},
		"text in desc":        {&F{Text: "tengige"}, "12"},
		"text in alias":       {&F{Text: "GOOGLE"}, "4"},
		"text spaces":         {&F{Text: "  unused "}, "3"},
		"text none":           {&F{Text: "nothing"}, ""},
		"devices":             {&F{DeviceIds: []string{"2", "3"}}, "345"},
		"unknown device":      {&F{DeviceIds: []string{"9"}}, ""},
		"types":               {&F{ConnectivityTypes: []ifacev1.ConnectivityType{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, ifacev1.ConnectivityType_CONNECTIVITY_TYPE_FREE_PNI}}, "14"},
		"unclassified":        {&F{ConnectivityTypes: []ifacev1.ConnectivityType{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_UNSPECIFIED}}, "35"},
		"boundaries":          {&F{NetworkBoundaries: []ifacev1.NetworkBoundary{ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_AUTO}}, "25"},
		"providers any case":  {&F{Providers: []string{"GOOGLE", "cogent"}}, "14"},
		"speeds":              {&F{SnmpSpeeds: []int32{100000}}, "24"},
		"private":             {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PRIVATE}}, "2"},
		"public":              {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PUBLIC}}, "14"},
		"unset":               {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_UNSET}}, "3"},
		"private or unset":    {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PRIVATE, ifacev1.IpFilter_IP_FILTER_UNSET}}, "23"},
		"ip unspecified only": {&F{IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_UNSPECIFIED}}, "12345"},
		"AND of fields":       {&F{SnmpSpeeds: []int32{10000, 100000}, IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_PUBLIC}, DeviceIds: []string{"1"}}, "1"},
		"AND excludes":        {&F{Text: "cogent", DeviceIds: []string{"2"}}, ""},
	} {
		got, err := s.List(c.f)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var pos strings.Builder
		for _, in := range got {
			n, _ := strconv.Atoi(in.GetId())
			pos.WriteString(strconv.Itoa(n - FirstID + 1))
		}
		if pos.String() != c.want {
			t.Errorf("%s: got %q, want %q", name, pos.String(), c.want)
		}
		m, _ := Compile(c.f)
		for _, in := range got {
			if !m.Match(in) {
				t.Errorf("%s: Match disagrees with List on %s", name, in.GetId())
			}
		}
	}
	for name, f := range map[string]*F{
		"bad type":     {ConnectivityTypes: []ifacev1.ConnectivityType{55}},
		"bad boundary": {NetworkBoundaries: []ifacev1.NetworkBoundary{9}},
		"bad ip type":  {IpTypes: []ifacev1.IpFilter{7}},
	} {
		if _, err := s.List(f); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
