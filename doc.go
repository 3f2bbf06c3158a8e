// Package kentik is the vocabulary every other package of this module shares: a
// Kentik user's Credentials and the headers that carry them, the regions with their
// endpoints, how the environment supplies credentials and endpoints (Resolve), the
// loopback rule that guards plaintext connections, one retry model for gRPC and V5
// (RetryPolicy), and the checks callers branch on for the errors of either client
// (IsNotFound, IsRateLimited, ...).
//
// It holds no connection and imports no middleware: the gRPC client is in package
// client, the V5 REST adapter in mykentik, the limiter in ratelimit.
package kentik

// Version is this library's version, sent in the user agent as kentik-go/Version.
const Version = "0.2.0"

// UserAgent is the product token both clients put first in their user agent.
const UserAgent = "kentik-go/" + Version
