// Package interceptors holds the pieces every call to Kentik passes through: gRPC client
// interceptors (auth metadata, rate-limit tokens, retries, logging) and the matching
// http.RoundTripper wrappers used by the V5 REST adapter. Each piece works alone on a plain
// grpc.ClientConn or http.Client.
package interceptors

import (
	"errors"
	"fmt"
)

// Header names Kentik reads the credentials from. gRPC metadata keys travel in lower case.
const (
	HeaderEmail = "X-CH-Auth-Email"
	HeaderToken = "X-CH-Auth-API-Token"

	MetadataEmail = "x-ch-auth-email"
	MetadataToken = "x-ch-auth-api-token"
)

// ErrMissingCredentials reports that an email or API token is empty.
var ErrMissingCredentials = errors.New("kentik: missing credentials: set an email and API token (flags --email/--token or KENTIK_EMAIL/KENTIK_API_TOKEN)")

// Credentials are a Kentik user's email and API token. The token is never printed:
// String, GoString and Format all redact it.
type Credentials struct {
	Email string
	Token string
}

// Validate reports ErrMissingCredentials (wrapped, naming what is missing) when a field is empty.
func (c Credentials) Validate() error {
	switch {
	case c.Email == "" && c.Token == "":
		return fmt.Errorf("%w (email and token are empty)", ErrMissingCredentials)
	case c.Email == "":
		return fmt.Errorf("%w (email is empty)", ErrMissingCredentials)
	case c.Token == "":
		return fmt.Errorf("%w (token is empty)", ErrMissingCredentials)
	}
	return nil
}

// String shows the email and hides the token.
func (c Credentials) String() string {
	tok := "<empty>"
	if c.Token != "" {
		tok = "<redacted>"
	}
	return fmt.Sprintf("{Email:%s Token:%s}", c.Email, tok)
}

// GoString hides the token from %#v as well.
func (c Credentials) GoString() string { return "interceptors.Credentials" + c.String() }

// Format makes every verb (%v, %+v, %s, %q, %#v) go through String or GoString.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}
