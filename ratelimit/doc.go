// Package ratelimit implements Kentik's published per-customer API rate-limit
// policy, for clients and for (fake) servers.
//
// Kentik's limits, per customer:
//
//	                                    non-query (admin)   query
//	concurrent requests                 1                   4
//	soft limit per rolling minute       20 (1.5 s delay)    30 (1 s delay)
//	hard limit per rolling minute       60                  100
//	limit per rolling hour              3750                1500
//
// A request counts against a rolling window for the window's length from its
// receipt, and is concurrent if it is received before the server answered the
// previous one. Beyond a soft limit the server delays its answer; beyond a
// hard limit it answers HTTP 429.
//
// A rolling window is not a token bucket (a bucket of rate r and burst b
// admits b + r*W calls in a window W): a call is admitted only when every
// window has room, that is when, for every window, the Limit-th most recent
// admission is at least Period (plus a safety margin on the client side) in
// the past.
//
// Clients call Limiter.Acquire before every attempt (New, or Shared for one
// limiter per account in a process), and PushBack when the server asks them
// to back off. Servers call Enforcer.Admit on receipt of every request.
// Policies are written as "off", "admin", "query" or a custom list such as
// "concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s" (see Parse), and can be run
// in compressed time with Policy.Scale.
package ratelimit
