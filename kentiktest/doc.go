// Package kentiktest runs an in-memory fake of Kentik for tests and demos, in the spirit
// of net/http/httptest and pstest: Kentik's v6 InterfaceService over gRPC and the V5 My
// Kentik tenant REST API, on loopback listeners, enforcing what Kentik enforces.
//
//	s := kentiktest.Start(t, kentiktest.WithInterfaces(1000, 1))
//	conn, _ := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
//	// send s.Credentials() as x-ch-auth-email / x-ch-auth-api-token metadata
//
// What the fake enforces:
//
//   - Credentials: every InterfaceService call and every V5 request must carry exactly
//     one email and one token, equal to the configured ones (DefaultEmail and
//     DefaultToken unless WithCredentials); otherwise UNAUTHENTICATED / HTTP 401. The
//     token is never echoed or logged.
//   - Rate limits, per API class as Kentik counts them (gRPC and V5 apart), with a
//     ratelimit.Enforcer each (default ratelimit.Admin): over the concurrency cap or a
//     hard window the call is refused with RESOURCE_EXHAUSTED, a google.rpc.RetryInfo
//     detail and the grpc-retry-pushback-ms trailer, or HTTP 429 with Retry-After in
//     whole seconds (rounded up); beyond a soft limit the answer is delayed. Credentials
//     are checked first: Kentik counts per customer, and an unauthenticated call cannot
//     be attributed to one, so it neither uses up nor is refused by the limits.
//   - The InterfaceService's rules: numeric ids assigned by the server, cdate/edate,
//     filters, validation (see the methods of the service and store.Compile).
//
// gRPC reflection and the health service are served without credentials and without
// counting against limits, so grpcurl and `buf curl` work out of the box.
//
// Tests can inject faults (FailNext, SetErrorRate, SetLatency, and an Outage: every call
// answered UNAVAILABLE, or connections refused, for a while), inspect the store
// (Interface, AllInterfaces), the counters (Stats, including the most concurrent calls
// and the fullest rolling window the limiter ever saw) and what each call carried
// (Requests, WithRequestHook).
package kentiktest
