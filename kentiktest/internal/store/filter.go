package store

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// ipClass is what an interface_ip is, for the ip_types filter.
type ipClass uint8

const (
	ipUnset   ipClass = iota // empty interface_ip
	ipPrivate                // RFC 1918, RFC 4193 (ULA), loopback, link-local
	ipPublic                 // any other global unicast address
	ipOther                  // multicast or unspecified: neither private nor public
)

// classifyIP parses an interface_ip with net/netip and sorts it into a class. The
// address may carry a prefix length ("10.0.0.1/30"), as some devices report it; an
// IPv4-mapped IPv6 address counts as its IPv4 address.
//
// Private means netip's IsPrivate (10/8, 172.16/12, 192.168/16, fc00::/7), IsLoopback
// (127/8, ::1) or IsLinkLocalUnicast (169.254/16, fe80::/10): addresses that never route
// on the internet. Public means IsGlobalUnicast and none of those. Multicast and the
// unspecified address are neither. Anything that does not parse is an error.
func classifyIP(s string) (ipClass, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ipUnset, nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return 0, fmt.Errorf("%q is not an IP address", s)
		}
		addr = p.Addr()
	}
	addr = addr.Unmap()
	switch {
	case addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast():
		return ipPrivate, nil
	case addr.IsGlobalUnicast():
		return ipPublic, nil
	}
	return ipOther, nil
}

// Matcher is a compiled InterfaceFilter.
type Matcher struct {
	text      string
	devices   map[string]struct{}
	types     []ifacev1.ConnectivityType
	bounds    []ifacev1.NetworkBoundary
	providers []string
	speeds    []int32
	ipTypes   []ipClass
}

// Compile checks f and prepares it for matching. The rules:
//
//   - every field that is set must match (AND); a field matches when the interface has
//     any one of its values (OR);
//   - text matches case-insensitively anywhere in interface_description or snmp_alias
//     (surrounding spaces are ignored; an empty text matches everything);
//   - device_ids match exactly; providers match exactly but ignoring case;
//   - connectivity_types and network_boundaries match the enum value, UNSPECIFIED
//     included (it selects the unclassified interfaces);
//   - ip_types PRIVATE and PUBLIC follow classifyIP, UNSET matches an empty
//     interface_ip; IP_FILTER_UNSPECIFIED entries are ignored, since they name no
//     category.
//
// Values the schema does not define are refused with ErrInvalid.
func Compile(f *ifacev1.InterfaceFilter) (*Matcher, error) {
	m := &Matcher{}
	if f == nil {
		return m, nil
	}
	m.text = strings.TrimSpace(f.GetText())
	if ids := f.GetDeviceIds(); len(ids) > 0 {
		m.devices = make(map[string]struct{}, len(ids))
		for _, id := range ids {
			m.devices[id] = struct{}{}
		}
	}
	for _, t := range f.GetConnectivityTypes() {
		if _, ok := ifacev1.ConnectivityType_name[int32(t)]; !ok {
			return nil, fmt.Errorf("%w: filters.connectivity_types: %d is not defined", ErrInvalid, t)
		}
	}
	m.types = f.GetConnectivityTypes()
	for _, b := range f.GetNetworkBoundaries() {
		if _, ok := ifacev1.NetworkBoundary_name[int32(b)]; !ok {
			return nil, fmt.Errorf("%w: filters.network_boundaries: %d is not defined", ErrInvalid, b)
		}
	}
	m.bounds = f.GetNetworkBoundaries()
	m.providers = f.GetProviders()
	m.speeds = f.GetSnmpSpeeds()
	for _, t := range f.GetIpTypes() {
		switch t {
		case ifacev1.IpFilter_IP_FILTER_UNSPECIFIED:
		case ifacev1.IpFilter_IP_FILTER_PRIVATE:
			m.ipTypes = append(m.ipTypes, ipPrivate)
		case ifacev1.IpFilter_IP_FILTER_PUBLIC:
			m.ipTypes = append(m.ipTypes, ipPublic)
		case ifacev1.IpFilter_IP_FILTER_UNSET:
			m.ipTypes = append(m.ipTypes, ipUnset)
		default:
			return nil, fmt.Errorf("%w: filters.ip_types: %d is not defined", ErrInvalid, t)
		}
	}
	return m, nil
}

// Match reports whether the interface matches (used by tests and by callers that hold
// messages rather than store records).
func (m *Matcher) Match(in *ifacev1.Interface) bool {
	cls, err := classifyIP(in.GetInterfaceIp())
	if err != nil {
		cls = ipOther
	}
	r := record{
		deviceID: in.GetDeviceId(), alias: in.GetSnmpAlias(), desc: in.GetInterfaceDescription(),
		provider: in.GetProvider(), speed: in.GetSnmpSpeed(), ct: in.GetConnectivityType(),
		nb: in.GetNetworkBoundary(), ipClass: cls,
	}
	return m.match(&r)
}

func (m *Matcher) match(r *record) bool {
	if m.text != "" && !containsFold(r.desc, m.text) && !containsFold(r.alias, m.text) {
		return false
	}
	if m.devices != nil {
		if _, ok := m.devices[r.deviceID]; !ok {
			return false
		}
	}
	if len(m.types) > 0 && !slices.Contains(m.types, r.ct) {
		return false
	}
	if len(m.bounds) > 0 && !slices.Contains(m.bounds, r.nb) {
		return false
	}
	if len(m.providers) > 0 && !slices.ContainsFunc(m.providers, func(p string) bool { return strings.EqualFold(p, r.provider) }) {
		return false
	}
	if len(m.speeds) > 0 && !slices.Contains(m.speeds, r.speed) {
		return false
	}
	if len(m.ipTypes) > 0 && !slices.Contains(m.ipTypes, r.ipClass) {
		return false
	}
	return true
}

// containsFold reports whether substr is within s, ignoring case. The standard library
// has EqualFold but no case-insensitive Contains; lowering every description on every
// List of a million interfaces would allocate a string per row, so ASCII text is compared
// in place and only non-ASCII text falls back to strings.ToLower.
func containsFold(s, substr string) bool {
	if !isASCII(s) || !isASCII(substr) {
		return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
	}
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
