// Package interceptors holds the pieces every call to Kentik passes through: gRPC client
// interceptors (auth metadata, rate-limit slots, retries, logging) and the matching
// http.RoundTripper wrappers the V5 REST adapter uses. Each piece works alone on a plain
// grpc.ClientConn or http.Client; package client assembles them. The rate-limit and retry
// pieces take options: WithObserver reports their work (limiter waits, push-backs,
// retries) to a kentik.Observer.
package interceptors
