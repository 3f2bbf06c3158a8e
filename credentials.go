package kentik

import (
	"errors"
	"fmt"
	"strings"
)

// Header names Kentik reads the credentials from, on V5 REST requests and on v6 REST
// calls. gRPC metadata keys travel in lower case: MetadataEmail and MetadataToken.
const (
	HeaderEmail = "X-CH-Auth-Email"
	HeaderToken = "X-CH-Auth-API-Token"

	MetadataEmail = "x-ch-auth-email"
	MetadataToken = "x-ch-auth-api-token"
)

// ErrMissingCredentials reports that an email or API token is empty. Both clients
// return it (wrapped, naming what is missing) before any connection is made.
var ErrMissingCredentials = errors.New("kentik: missing credentials: give an email and API token (the clients' WithCredentials option, or the environment variables " + EnvEmail + " and " + EnvToken + ")")

// ErrInvalidCredentials reports an email or token that cannot be sent in a request
// header: a control or non-ASCII character, which gRPC metadata and HTTP headers do
// not carry. The token's value is never part of the message.
var ErrInvalidCredentials = errors.New("kentik: invalid credentials")

// Credentials are a Kentik user's email and API token. The token is never printed:
// String, GoString and Format all redact it, whatever the verb.
type Credentials struct {
	Email string
	Token string
}

// Validate reports ErrMissingCredentials (wrapped, naming what is missing) when a
// field is empty, and ErrInvalidCredentials when one holds a character no request
// header can carry.
func (c Credentials) Validate() error {
	switch {
	case c.Email == "" && c.Token == "":
		return fmt.Errorf("%w (email and token are empty)", ErrMissingCredentials)
	case c.Email == "":
		return fmt.Errorf("%w (email is empty)", ErrMissingCredentials)
	case c.Token == "":
		return fmt.Errorf("%w (token is empty)", ErrMissingCredentials)
	case !HeaderSafe(c.Email):
		return fmt.Errorf("%w: the email holds a control or non-ASCII character", ErrInvalidCredentials)
	case !HeaderSafe(c.Token):
		return fmt.Errorf("%w: the token holds a control or non-ASCII character", ErrInvalidCredentials)
	}
	return nil
}

// HeaderSafe reports whether s is printable ASCII, all that gRPC metadata values and
// HTTP header values are sure to carry unchanged.
func HeaderSafe(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
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
func (c Credentials) GoString() string { return "kentik.Credentials" + c.String() }

// Format makes every verb (%v, %+v, %s, %q, %#v, ...) go through String or GoString.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}
