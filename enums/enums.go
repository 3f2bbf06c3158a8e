// Package enums turns the names people type into Kentik's interface enum values and back.
//
// Every parser accepts a value's full protobuf name ("CONNECTIVITY_TYPE_TRANSIT"), the name
// without its prefix ("TRANSIT") and either in any case ("transit"). Hyphens and spaces
// count as underscores, so "paid-pni" and "Paid PNI" both mean CONNECTIVITY_TYPE_PAID_PNI.
// The CLI's filter flags and the bulk classify job share these rules.
package enums

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// ErrUnknownValue is wrapped by every *ParseError, for callers that only ask errors.Is.
var ErrUnknownValue = errors.New("unknown enum value")

// ParseError reports a name that matches no value of an enum. Its message lists the
// accepted short names so that a user can correct the input.
type ParseError struct {
	Enum  string   // the enum's name, e.g. "connectivity type"
	Input string   // what was given
	Valid []string // the accepted short names, lower case, sorted
}

func (e *ParseError) Error() string {
	in := e.Input
	if len(in) > 64 {
		in = in[:64] + "..."
	}
	return fmt.Sprintf("unknown %s %q (want one of: %s)", e.Enum, in, strings.Join(e.Valid, ", "))
}

// Unwrap lets errors.Is(err, ErrUnknownValue) match.
func (e *ParseError) Unwrap() error { return ErrUnknownValue }

// enum describes one generated enum: its prefix and its name→number table.
type enum struct {
	kind   string
	prefix string
	values map[string]int32
	names  map[int32]string
	valid  []string
}

func newEnum(kind, prefix string, values map[string]int32, names map[int32]string) *enum {
	e := &enum{kind: kind, prefix: prefix, values: values, names: names}
	for name := range values {
		e.valid = append(e.valid, strings.ToLower(strings.TrimPrefix(name, prefix)))
	}
	sort.Strings(e.valid)
	return e
}

var (
	connectivity = newEnum("connectivity type", "CONNECTIVITY_TYPE_", ifacev1.ConnectivityType_value, ifacev1.ConnectivityType_name)
	boundary     = newEnum("network boundary", "NETWORK_BOUNDARY_", ifacev1.NetworkBoundary_value, ifacev1.NetworkBoundary_name)
	ipFilter     = newEnum("ip type", "IP_FILTER_", ifacev1.IpFilter_value, ifacev1.IpFilter_name)
)

// separators are the spellings of "_" accepted in names ("free-pni", "free pni").
var separators = strings.NewReplacer("-", "_", " ", "_")

// maxInput bounds the work done on hostile input; no enum name is anywhere near as long.
const maxInput = 128

func (e *enum) parse(s string) (int32, error) {
	t := strings.TrimSpace(s)
	if t == "" || len(t) > maxInput {
		return 0, &ParseError{Enum: e.kind, Input: s, Valid: e.valid}
	}
	t = asciiUpper(separators.Replace(t))
	if v, ok := e.values[t]; ok {
		return v, nil
	}
	if v, ok := e.values[e.prefix+t]; ok {
		return v, nil
	}
	return 0, &ParseError{Enum: e.kind, Input: s, Valid: e.valid}
}

// asciiUpper upper-cases ASCII letters only. strings.ToUpper would also map look-alikes
// onto enum letters ("transıt" with a dotless i, the long s "ſ"), accepting names nobody
// meant to write.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func (e *enum) short(v int32) string {
	name, ok := e.names[v]
	if !ok {
		return fmt.Sprint(v)
	}
	return strings.ToLower(strings.TrimPrefix(name, e.prefix))
}

// ParseConnectivityType parses "transit", "TRANSIT" or "CONNECTIVITY_TYPE_TRANSIT" (any
// case; '-' or ' ' for '_'). "unspecified" is accepted: it is a valid value, and callers
// that must not send it check for it themselves.
func ParseConnectivityType(s string) (ifacev1.ConnectivityType, error) {
	v, err := connectivity.parse(s)
	return ifacev1.ConnectivityType(v), err
}

// ParseNetworkBoundary parses "external", "EXTERNAL" or "NETWORK_BOUNDARY_EXTERNAL" (any
// case; '-' or ' ' for '_').
func ParseNetworkBoundary(s string) (ifacev1.NetworkBoundary, error) {
	v, err := boundary.parse(s)
	return ifacev1.NetworkBoundary(v), err
}

// ParseIPFilter parses "public", "PUBLIC" or "IP_FILTER_PUBLIC" (any case; '-' or ' ' for
// '_').
func ParseIPFilter(s string) (ifacev1.IpFilter, error) {
	v, err := ipFilter.parse(s)
	return ifacev1.IpFilter(v), err
}

// ConnectivityTypeName returns the short lower-case name of v ("transit"), or its number
// when v is not a known value.
func ConnectivityTypeName(v ifacev1.ConnectivityType) string { return connectivity.short(int32(v)) }

// NetworkBoundaryName returns the short lower-case name of v ("external"), or its number
// when v is not a known value.
func NetworkBoundaryName(v ifacev1.NetworkBoundary) string { return boundary.short(int32(v)) }

// IPFilterName returns the short lower-case name of v ("public"), or its number when v is
// not a known value.
func IPFilterName(v ifacev1.IpFilter) string { return ipFilter.short(int32(v)) }

// ConnectivityTypeNames lists the accepted short names, sorted.
func ConnectivityTypeNames() []string { return append([]string(nil), connectivity.valid...) }

// NetworkBoundaryNames lists the accepted short names, sorted.
func NetworkBoundaryNames() []string { return append([]string(nil), boundary.valid...) }

// IPFilterNames lists the accepted short names, sorted.
func IPFilterNames() []string { return append([]string(nil), ipFilter.valid...) }
