package classify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// Format is the syntax of a plan file.
type Format int

// Plan formats. FormatAuto looks at the first byte that is not blank (nor a UTF-8 byte
// order mark): '{' means JSON lines, anything else CSV.
const (
	FormatAuto Format = iota
	FormatCSV
	FormatJSONL
)

// String returns "auto", "csv" or "jsonl".
func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONL:
		return "jsonl"
	case FormatAuto:
		return "auto"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat parses "auto" (or ""), "csv" or "jsonl" (also "json" and "ndjson"), in any
// case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "jsonl", "json", "ndjson":
		return FormatJSONL, nil
	}
	return FormatAuto, fmt.Errorf("classify: unknown plan format %q (want csv, jsonl or auto)", s)
}

// Classification is what one ManualClassify request sets on every interface it names.
// It is comparable, so it can key a map.
type Classification struct {
	ConnectivityType ifacev1.ConnectivityType
	NetworkBoundary  ifacev1.NetworkBoundary
	Provider         string
}

// String renders c as "connectivity/boundary/provider" with short lower-case enum names,
// e.g. "transit/external/Acme"; an empty provider is shown as "-".
func (c Classification) String() string {
	p := c.Provider
	if p == "" {
		p = "-"
	}
	return enums.ConnectivityTypeName(c.ConnectivityType) + "/" + enums.NetworkBoundaryName(c.NetworkBoundary) + "/" + p
}

// Request returns the ManualClassify request that sets c on ids.
func (c Classification) Request(ids []string) *ifacev1.ManualClassifyRequest {
	return &ifacev1.ManualClassifyRequest{
		InterfaceIds:     ids,
		ConnectivityType: c.ConnectivityType,
		NetworkBoundary:  c.NetworkBoundary,
		Provider:         c.Provider,
	}
}

// Matches reports whether the interface carries exactly the classification c.
func (c Classification) Matches(in *ifacev1.Interface) bool {
	return in.GetConnectivityType() == c.ConnectivityType &&
		in.GetNetworkBoundary() == c.NetworkBoundary &&
		in.GetProvider() == c.Provider
}

// maxIDLen and maxProviderLen bound what one row may hold, so that a corrupt file (a
// missing quote that swallows the rest of the file into one field) is reported as a bad
// row instead of being sent. Kentik's interface ids are decimal numbers.
const (
	maxIDLen       = 64
	maxProviderLen = 256
)

// rowParser validates rows. It remembers how the few distinct enum spellings of a plan
// parse: the enums parsers allocate on every call, which a million-row plan would feel.
type rowParser struct {
	ct map[string]ctResult
	nb map[string]nbResult
}

type ctResult struct {
	v  ifacev1.ConnectivityType
	ok bool
}

type nbResult struct {
	v  ifacev1.NetworkBoundary
	ok bool
}

// maxCached bounds each cache (a plan full of garbage must not grow it without end).
const maxCached = 256

func (rp *rowParser) connectivity(s string) (ifacev1.ConnectivityType, bool) {
	if r, ok := rp.ct[s]; ok {
		return r.v, r.ok
	}
	v, err := enums.ParseConnectivityType(s)
	if rp.ct == nil {
		rp.ct = make(map[string]ctResult)
	}
	if len(rp.ct) < maxCached {
		rp.ct[s] = ctResult{v, err == nil}
	}
	return v, err == nil
}

func (rp *rowParser) boundary(s string) (ifacev1.NetworkBoundary, bool) {
	if r, ok := rp.nb[s]; ok {
		return r.v, r.ok
	}
	v, err := enums.ParseNetworkBoundary(s)
	if rp.nb == nil {
		rp.nb = make(map[string]nbResult)
	}
	if len(rp.nb) < maxCached {
		rp.nb[s] = nbResult{v, err == nil}
	}
	return v, err == nil
}

// parse validates the four raw fields of a row. It returns the reason when the row is
// bad.
func (rp *rowParser) parse(id, ct, nb, provider string) (string, Classification, string) {
	var c Classification
	for k, v := range [4]string{id, ct, nb, provider} {
		if !utf8.ValidString(v) {
			return "", c, notUTF8(columns[k], v)
		}
	}
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "", c, "interface_id is empty"
	case len(id) > maxIDLen:
		return "", c, fmt.Sprintf("interface_id is %d bytes long (at most %d)", len(id), maxIDLen)
	case strings.ContainsFunc(id, isSpaceOrControl):
		return "", c, fmt.Sprintf("interface_id %q contains blanks or control characters", clip(id))
	case !isInterfaceID(id):
		// Sent, it would make the server refuse the whole batch it is in.
		return "", c, fmt.Sprintf("interface_id %q is not a Kentik interface id (a decimal number without leading zeros, e.g. 1000001)", clip(id))
	}
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return "", c, `connectivity_type is empty (write "unspecified" to clear it on purpose)`
	}
	v, ok := rp.connectivity(ct)
	if !ok {
		return "", c, fmt.Sprintf("unknown connectivity_type %q", clip(ct))
	}
	c.ConnectivityType = v
	if nb = strings.TrimSpace(nb); nb != "" {
		b, ok := rp.boundary(nb)
		if !ok {
			return "", c, fmt.Sprintf("unknown network_boundary %q", clip(nb))
		}
		c.NetworkBoundary = b
	}
	c.Provider = strings.TrimSpace(provider)
	if len(c.Provider) > maxProviderLen {
		return "", c, fmt.Sprintf("provider is %d bytes long (at most %d)", len(c.Provider), maxProviderLen)
	}
	if why := unsafeText(c.Provider); why != "" {
		return "", c, fmt.Sprintf("provider %+q contains %s", clip(c.Provider), why)
	}
	return id, c, ""
}

// notUTF8 is the reason for a field value that is not UTF-8, naming the first bad byte:
// most often a plan saved by a spreadsheet in a legacy encoding such as Latin-1.
// Protobuf strings must be UTF-8, so such a value would fail when its request is
// marshalled, after other batches went out.
func notUTF8(field, v string) string {
	i := 0
	for i < len(v) {
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}
	if i >= len(v) {
		return field + " is not valid UTF-8"
	}
	return fmt.Sprintf("%s is not valid UTF-8 (byte 0x%02X at offset %d; save the plan as UTF-8)", field, v[i], i)
}

// unsafeText reports what makes valid UTF-8 text unfit to be a provider name, or "" when
// nothing does: a control character (C0, DEL or C1: they move the cursor, ring, or start
// terminal escape sequences wherever the name is shown), an invisible formatting
// character (bidirectional overrides and isolates, which make a name display as another;
// zero-width characters; soft hyphens; a byte order mark), a line or paragraph separator,
// the replacement character U+FFFD (left where an earlier program failed to decode the
// text, or where an unpaired UTF-16 surrogate was escaped in JSON), or a Unicode
// noncharacter. All of these are invisible or ambiguous in a name that people read and
// filter on.
func unsafeText(s string) string {
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("the control character %U", r)
		case r == utf8.RuneError:
			return "U+FFFD, the replacement character (the text was damaged by a wrong decoding somewhere, or held an unpaired surrogate)"
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%U, an invisible formatting character (a bidirectional control, zero-width character, soft hyphen or byte order mark)", r)
		case unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			return fmt.Sprintf("%U, a line or paragraph separator", r)
		case isNoncharacter(r):
			return fmt.Sprintf("%U, a Unicode noncharacter", r)
		}
	}
	return ""
}

// isNoncharacter reports whether r is one of Unicode's 66 noncharacters.
func isNoncharacter(r rune) bool {
	return r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE
}

// isInterfaceID reports whether id is a positive decimal number written without leading
// zeros that fits in 64 bits, the only form Kentik's interface ids take (so that "007"
// and "7" cannot pass for two interfaces, and a 30-digit number does not make the server
// refuse its whole batch).
func isInterfaceID(id string) bool {
	if id == "" || id[0] == '0' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(id, 10, 64)
	return err == nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == 0xa0 }
