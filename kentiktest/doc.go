// Package kentiktest runs an in-memory fake of Kentik for tests and demos, in the spirit
// of net/http/httptest and pstest: every public v6 service over gRPC and over Kentik's
// REST mapping, and the V5 My Kentik tenant REST API, on loopback listeners, enforcing
// what Kentik enforces.
//
//	s := kentiktest.Start(t, kentiktest.WithInterfaces(1000, 1))
//	conn, _ := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
//	// send s.Credentials() as x-ch-auth-email / x-ch-auth-api-token metadata
//
// What the fake answers:
//
//   - InterfaceService (kentik.interface.v202108alpha1) over an interface store: numeric
//     ids assigned by the server, cdate/edate, filters, validation (see the methods of
//     the service and store.Compile).
//   - My Kentik's v6 TenantService and TenantUserService (kentik.mkp.v202407) over the
//     tenants the V5 endpoints serve: a user added through either API is seen through
//     the other.
//   - Every other public v6 method answers UNIMPLEMENTED, saying how to program it,
//     until a test gives it an answer: Server.Respond (a canned response),
//     Server.Handle (a Handler computing the answer from the request, or an error), the
//     options WithResponse, WithHandler and WithResponses (canned protojson files,
//     `kentik fake --responses DIR`). A program also replaces the fake's own answer;
//     Server.Builtin returns that answer, for a Handler to wrap.
//   - Kentik's v6 REST mapping of every method with a google.api.http binding (RESTURL,
//     e.g. GET /interface/v202108alpha1/interfaces), generated with grpc-gateway: each
//     request becomes a gRPC call to the fake, so everything below applies to it too,
//     and errors are grpc-gateway's JSON with the gRPC code mapped to HTTP.
//
// What the fake enforces, on every service:
//
//   - Credentials: every v6 call and every V5 request must carry exactly one email and
//     one token, equal to the configured ones (DefaultEmail and DefaultToken unless
//     WithCredentials); otherwise UNAUTHENTICATED / HTTP 401. The token is never echoed
//     or logged.
//   - Rate limits, per API class as Kentik counts them (every v6 call in one class, as
//     the client counts them; V5 apart), with a ratelimit.Enforcer each (default
//     ratelimit.Admin): over the concurrency cap or a hard window the call is refused
//     with RESOURCE_EXHAUSTED, a google.rpc.RetryInfo detail and the
//     grpc-retry-pushback-ms trailer, or HTTP 429 with Retry-After in whole seconds
//     (rounded up); beyond a soft limit the answer is delayed. Credentials are checked
//     first: Kentik counts per customer, and an unauthenticated call cannot be
//     attributed to one, so it neither uses up nor is refused by the limits.
//
// gRPC reflection and the health service are served without credentials and without
// counting against limits, so grpcurl and `buf curl` work out of the box.
//
// Tests can inject faults (FailNext, SetErrorRate, SetLatency, and an Outage: every call
// answered UNAVAILABLE, or connections refused, for a while), inspect the store
// (Interface, AllInterfaces, Tenants), the counters (Stats, including the most
// concurrent calls and the fullest rolling window the limiter ever saw) and what each
// call carried (Requests, WithRequestHook). Methods are named there by short name for
// InterfaceService ("ManualClassify") and the V5 operations ("TenantList"), and by full
// gRPC name for every other service ("/kentik.mkp.v202407.TenantService/ListTenant").
package kentiktest
