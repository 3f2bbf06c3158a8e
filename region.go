package kentik

import (
	"errors"
	"fmt"
	"strings"
)

// Region is one of Kentik's clusters: US or EU. The zero value means US.
type Region string

// Kentik's regions.
const (
	US Region = "us"
	EU Region = "eu"
)

// ErrUnknownRegion is wrapped by ParseRegion for anything but "us" and "eu".
var ErrUnknownRegion = errors.New("kentik: unknown region")

// ParseRegion reads a region name, ignoring case and surrounding blanks. An empty name
// is US, Kentik's default cluster.
func ParseRegion(s string) (Region, error) {
	switch r := Region(strings.ToLower(strings.TrimSpace(s))); r {
	case "", US:
		return US, nil
	case EU:
		return EU, nil
	default:
		return "", fmt.Errorf("%w %q: want us or eu", ErrUnknownRegion, s)
	}
}

// String returns "us" or "eu".
func (r Region) String() string {
	if r == "" {
		return string(US)
	}
	return string(r)
}

// GRPCEndpoint returns the region's v6 gRPC endpoint as HOST:PORT:
// grpc.api.kentik.com:443 or grpc.api.kentik.eu:443.
func (r Region) GRPCEndpoint() string {
	if r == EU {
		return "grpc.api.kentik.eu:443"
	}
	return "grpc.api.kentik.com:443"
}

// V5BaseURL returns the region's V5 REST base URL: https://api.kentik.com/api/v5 or
// https://api.kentik.eu/api/v5.
func (r Region) V5BaseURL() string {
	if r == EU {
		return "https://api.kentik.eu/api/v5"
	}
	return "https://api.kentik.com/api/v5"
}
